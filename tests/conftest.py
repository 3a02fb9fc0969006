"""Fixtures: an app, a client and a CLI runner on a fresh database per backend.

SQLite in a temporary folder by default; PostgreSQL when TEST_DATABASE_URL is set, in a
schema of its own created for this test session and dropped after it. The schema is made by
running the migrations (so every run checks them); tables are emptied between tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from blog import create_app
from blog.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    if TEST_DATABASE_URL:
        schema = f"test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(TEST_DATABASE_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        uri = _with_search_path(TEST_DATABASE_URL, schema)
    else:
        uri = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    app = make_app(uri, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield uri
    if TEST_DATABASE_URL:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_app(database_uri: str, tmp_path: Path, **overrides) -> Flask:
    config = {
        "BLOG_CONFIG": "testing",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "SERVER_NAME": None,
        **overrides,
    }
    os.environ["BLOG_INSTANCE_PATH"] = str(tmp_path / "instance")
    try:
        return create_app(config)
    finally:
        del os.environ["BLOG_INSTANCE_PATH"]


@contextmanager
def fresh_app(database_uri: str, tmp_path: Path, **overrides) -> Iterator[Flask]:
    """An app on the test database whose rows are all deleted when it is done with."""
    app = make_app(database_uri, tmp_path, **overrides)
    try:
        yield app
    finally:
        from blog.services import outbox

        outbox.stop_all()  # no delivery thread of this test may take the next test's mail
        with app.app_context():
            db.session.remove()
            empty_tables()
            db.engine.dispose()


def empty_tables() -> None:
    """Delete every row, children first; the schema stays for the next test."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app(database_uri: str, tmp_path: Path) -> Iterator[Flask]:
    """The app, with no context pushed: each request gets its own, as in production.

    Tests open ``with app.app_context():`` to set up or inspect the database.
    """
    with fresh_app(database_uri, tmp_path) as app:
        yield app


@pytest.fixture
def csrf_app(app: Flask, database_uri: str, tmp_path: Path) -> Iterator[Flask]:
    """CSRF checks on, as in production (``app`` empties the tables afterwards)."""
    protected = make_app(database_uri, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    yield protected
    with protected.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


# --- helpers shared by the request tests ------------------------------------------------

PASSWORD = "correct horse battery"


def create_user(app: Flask, username: str, role: str = "admin", email: str = "") -> int:
    from blog.services.users import create_user as create

    with app.app_context():
        return create(username, PASSWORD, role, email or f"{username}@example.com").id


def create_post(
    app: Flask,
    author: str,
    title: str = "Hello world",
    body: str = "Some *text*.",
    action: str = "publish",
    **fields,
) -> tuple[int, str]:
    """(id, path) of a new post by ``author``."""
    from blog.services import posts
    from blog.services.users import find_user
    from blog.templating import post_path

    with app.app_context():
        user = find_user(author)
        assert user is not None
        post = posts.create_post(user, posts.PostInput(title=title, body=body, **fields), action)
        with app.test_request_context():
            return post.id, post_path(post)


def login(client: FlaskClient, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


@contextmanager
def recorded_statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement ``app``'s engine runs meanwhile, in order."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def count_statements(app: Flask, client: FlaskClient, path: str) -> int:
    """How many SQL statements a GET of ``path`` issues (N+1 checks); asserts a 200."""
    with recorded_statements(app) as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements)


@pytest.fixture
def admin(app: Flask) -> str:
    create_user(app, "admin", "admin")
    return "admin"


@pytest.fixture
def admin_client(client: FlaskClient, admin: str) -> FlaskClient:
    response = login(client, admin)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client

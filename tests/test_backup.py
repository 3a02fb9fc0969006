"""Backups taken while the blog serves comments, restored onto an empty database: every
comment acknowledged before the backup began is in it. SQLite's backup API, or pg_dump and
pg_restore with TEST_DATABASE_URL."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import TEST_DATABASE_URL, _with_search_path, make_app
from flask import Flask
from test_two_processes import blog_env, call, flask_cli, start_gunicorn, wait_ready

from blog.extensions import db

LOAD_SECONDS = 3.0


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the blog's database, an empty one to restore into), on the backend under test."""
    if not TEST_DATABASE_URL:
        yield "sqlite:///" + str(tmp_path / "blog.db"), "sqlite:///" + str(tmp_path / "back.db")
        return
    schema = f"test_backup_{uuid.uuid4().hex[:12]}"
    other = f"restore_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{other}"'))
    restored = sa.make_url(TEST_DATABASE_URL).set(database=other)
    try:
        yield (
            _with_search_path(TEST_DATABASE_URL, schema),
            _with_search_path(restored.render_as_string(hide_password=False), schema),
        )
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(sa.text(f'DROP DATABASE "{other}" WITH (FORCE)'))
        admin.dispose()


def comment_ids(uri: str, tmp_path: Path) -> set[int]:
    app = make_app(uri, tmp_path / f"read-{uuid.uuid4().hex[:6]}")
    with app.app_context():
        ids = set(db.session.execute(sa.text("SELECT id FROM comments")).scalars())
        db.engine.dispose()
    return ids


def test_a_backup_under_load_restores_every_acknowledged_comment(
    app: Flask, databases: tuple[str, str], tmp_path: Path
) -> None:
    uri, empty = databases
    env = blog_env(tmp_path, uri, "database")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "user", "create", "admin", "--role", "admin", "--email", "admin@example.com",
              "--password", "correct horse battery")  # fmt: skip
    flask_cli(env, "post", "create", "--author", "admin", "--title", "Busy", "--publish")
    token = flask_cli(env, "token", "create", "admin").splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    process, port = start_gunicorn(env, tmp_path / "gunicorn.log")
    acknowledged: list[tuple[float, int]] = []
    stop = threading.Event()
    try:
        wait_ready(process, port, tmp_path / "gunicorn.log")
        post_id = json.loads(call(port, "GET", "/api/v1/posts").body)["items"][0]["id"]

        def load() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                body = {"post": post_id, "content": f"Comment {n}", "author": "Load",
                        "email": "load@example.org"}  # fmt: skip
                reply = call(port, "POST", "/api/v1/comments", body, **auth)
                if reply.status == 201:
                    acknowledged.append((time.monotonic(), json.loads(reply.body)["id"]))

        writer = threading.Thread(target=load)
        writer.start()
        time.sleep(LOAD_SECONDS / 2)
        started = time.monotonic()
        target = tmp_path / "backups" / "blog.backup"
        out = flask_cli(env, "backup", "-o", str(target))
        assert f"Backed up to {target}" in out
        time.sleep(LOAD_SECONDS / 2)
    finally:
        stop.set()
        writer.join(timeout=30)
        process.terminate()
        process.wait(timeout=10)
    before = {cid for when, cid in acknowledged if when < started}
    assert len(before) >= 5, "the load did not get going"

    restored_env = blog_env(tmp_path / "restored", empty, "database")
    out = flask_cli(restored_env, "restore", str(target))
    assert "Restored" in out
    restored = comment_ids(empty, tmp_path)
    assert before <= restored, sorted(before - restored)[:10]
    assert restored <= {cid for _, cid in acknowledged}  # nothing made up, nothing torn
    if not TEST_DATABASE_URL:
        with sqlite3.connect(target) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The restored blog serves, its schema at the code's head.
    with_schema = make_app(empty, tmp_path / "serve")
    assert with_schema.test_client().get("/readyz").status_code == 200
    with with_schema.app_context():
        db.engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(
    app: Flask, databases: tuple[str, str], tmp_path: Path
) -> None:
    uri, _ = databases
    env = blog_env(tmp_path, uri, "database")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "user", "create", "someone", "--role", "admin", "--password", "a passphrase")
    target = tmp_path / "copy.backup"
    flask_cli(env, "backup", "-o", str(target))
    runner = make_app(uri, tmp_path / "cli").test_cli_runner()
    result = runner.invoke(args=["restore", str(target)])
    assert result.exit_code != 0
    assert "The database is not empty" in result.output
    again = runner.invoke(args=["backup", "-o", str(target)])
    assert again.exit_code != 0 and "exists already" in again.output

"""The migrations build the schema the models describe, on the backend under test."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import TEST_DATABASE_URL, _with_search_path, make_app
from flask_migrate import downgrade, upgrade

from blog.extensions import db


# SQLAlchemy cannot reflect expression indexes on SQLite (ix_comments_email_lower), so it
# says so and autogenerate leaves that one index uncompared there; test_query_plans checks
# that it exists and is used, on every backend.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning"
)
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_models_and_migrations_agree(app):
    """An empty database upgraded to head (conftest does it) leaves no autogenerate diff."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_sqlite_pragmas_are_on(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite pragmas; this run is on another backend")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        # FULL (2): an acknowledged comment is on the disk, whatever happens next.
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_sqlite_durability_is_a_setting(database_uri, tmp_path):
    if not database_uri.startswith("sqlite"):
        pytest.skip("SQLite pragmas; this run is on another backend")
    faster = make_app(database_uri, tmp_path, SQLITE_SYNCHRONOUS="normal")
    with faster.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    with faster.app_context():
        db.engine.dispose()
    with pytest.raises(RuntimeError, match="SQLITE_SYNCHRONOUS"):
        make_app(database_uri, tmp_path, SQLITE_SYNCHRONOUS="sometimes")



@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning"
)
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_every_migration_goes_down_and_up_again(tmp_path):
    """Each revision's downgrade undoes its upgrade: head to base leaves no table, and back
    to head the schema still matches the models. On a database of its own (SQLite, or a
    PostgreSQL schema of its own with TEST_DATABASE_URL)."""
    schema = f"migrate_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(TEST_DATABASE_URL) if TEST_DATABASE_URL else None
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        uri = _with_search_path(TEST_DATABASE_URL, schema)
    else:
        uri = "sqlite:///" + str(tmp_path / "migrate.db")
    app = make_app(uri, tmp_path)
    try:
        with app.app_context():
            upgrade()
            downgrade(revision="base")
            with db.engine.connect() as connection:
                left = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
            assert left == set()
            upgrade()
            with db.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, db.metadata) == []
            db.engine.dispose()
    finally:
        if admin is not None:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

"""The migrations build the schema the models describe, on the backend under test."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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

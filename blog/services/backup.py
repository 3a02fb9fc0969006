"""Backups while the blog serves, and restoring one onto an empty database.

SQLite: the backup API copies the database page by page into a new file, consistent as of
one moment, while readers and writers go on (WAL mode). PostgreSQL: ``pg_dump`` in its
custom format (``pg_restore`` reads it back), found on PATH; the schema named by the URL's
``search_path`` option when there is one, else the whole database.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import inspect
from sqlalchemy.engine import Engine, make_url

from blog.services import ServiceError

TOOLS = ("pg_dump", "pg_restore")


def default_name(uri: str, folder: Path, now: datetime) -> Path:
    suffix = "db" if uri.startswith("sqlite") else "dump"
    return folder / "backups" / f"blog-{now:%Y%m%d-%H%M%S}.{suffix}"


def sqlite_path(uri: str) -> Path:
    database = make_url(uri).database
    if not database or database == ":memory:":
        raise ServiceError("This SQLite database lives in memory: there is no file to back up.")
    return Path(database)


def _libpq(uri: str) -> tuple[str, str | None]:
    """A libpq connection string for the pg_ tools, and the schema its search_path names."""
    parts = urlsplit(uri.replace("postgresql+psycopg://", "postgresql://", 1))
    options = parse_qs(parts.query).get("options", [""])[0]
    schema = None
    for option in unquote(options).split():
        if option.startswith("-csearch_path="):
            schema = option.split("=", 1)[1].split(",")[0].strip('"') or None
    return parts._replace(query="").geturl(), schema


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ServiceError(
            f"{name} is not on PATH: install PostgreSQL's client programs (Debian: "
            f"apt-get install postgresql-client) in the version of the server, or newer."
        )
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise ServiceError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(uri: str, target: Path) -> Path:
    """A consistent copy of the database at ``target`` (which must not exist yet)."""
    if target.exists():
        raise ServiceError(f"{target} exists already: name a new file.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if uri.startswith("sqlite"):
        partial = target.with_name(target.name + ".partial")
        source = sqlite3.connect(f"file:{sqlite_path(uri)}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        try:
            with copy:
                source.backup(copy, pages=1024)  # in steps: writers get their turns
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
            source.close()
        partial.rename(target)  # never a half-written file under the final name
        return target
    connection, schema = _libpq(uri)
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}"]
    if schema:
        command.append(f"--schema={schema}")
    _run([*command, connection])
    return target


def _is_empty(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    if not names:
        return True
    with engine.connect() as connection:
        for name in ("users", "posts", "comments"):  # fixed names, never input
            query = f"SELECT 1 FROM {name} LIMIT 1"  # noqa: S608
            if name in names and connection.exec_driver_sql(query).first():
                return False
    return True


def restore(uri: str, source: Path, engine: Engine) -> None:
    """Put the backup ``source`` into the database ``uri``, which must be empty."""
    if not source.is_file():
        raise ServiceError(f"There is no backup at {source}.")
    if not _is_empty(engine):
        raise ServiceError(
            "The database is not empty: restore onto a new database (or an empty one), so "
            "that nothing of either is mixed with the other."
        )
    engine.dispose()
    if uri.startswith("sqlite"):
        with source.open("rb") as head:
            if head.read(16) != b"SQLite format 3\x00":
                raise ServiceError(f"{source} is not an SQLite backup.")
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        target = sqlite3.connect(sqlite_path(uri))
        try:
            with target:
                backup_db.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
            backup_db.close()
        return
    connection, schema = _libpq(uri)
    if schema:
        # The dump creates its schema: make room for it (it is empty, checked above).
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            f"--dbname={connection}",
            str(source),
        ]
    )

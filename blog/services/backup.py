"""Backups while the blog serves, and restoring one onto an empty database.

SQLite: the backup API copies the database page by page into a new file, consistent as of
one moment, while readers and writers go on (WAL mode). PostgreSQL: ``pg_dump`` in its
custom format (``pg_restore`` reads it back), found on PATH; the schema named by the URL's
``search_path`` option when there is one, else the whole database.

The media library's files go beside it in a tar (``NAME.uploads.tar``): uploaded files
are never changed once written (a new upload gets a new random name), so copying them
after the database means every file the copy names is in the tar; one uploaded meanwhile
is there too, named by nothing, which is harmless.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import inspect
from sqlalchemy.engine import Engine, make_url

from blog.services import ServiceError
from blog.services.media import is_stored_path

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


# --- the uploaded files ----------------------------------------------------------------------


def uploads_name(target: Path) -> Path:
    """Where the uploaded files of the backup ``target`` go: ``blog-DATE.db`` ->
    ``blog-DATE.uploads.tar``."""
    return target.with_name(f"{target.stem}.uploads.tar")


def _stored_files(folder: Path) -> list[tuple[str, Path]]:
    """(stored name, file) of every file the media library wrote under ``folder``; anything
    else there (a half-written ``.part``, a stray file) is not the library's and is left."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.rglob("*"):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and is_stored_path(name):
            found.append((name, path))
    return sorted(found)


def backup_uploads(folder: Path, target: Path) -> tuple[int, int]:
    """Copy the library's files under ``folder`` into the tar ``target`` (which must not
    exist); (files, bytes). Nothing is written when there are none."""
    files = _stored_files(folder)
    if not files:
        return 0, 0
    if target.exists():
        raise ServiceError(f"{target} exists already: name a new file.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    size = 0
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in files:
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
            size += info.size
    partial.rename(target)
    return len(files), size


def _members(tar: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    """Every member of an uploads tar, each checked to be a plain file under a name the
    media library gives; ServiceError for the first that is not (nothing is written)."""
    members = tar.getmembers()
    for member in members:
        if not member.isfile() or not is_stored_path(member.name):
            raise ServiceError(
                f"{source} holds {member.name!r}, which is not one of the media library's "
                "files (a link, a folder or a name it never gives): nothing was restored."
            )
    return members


def check_uploads(source: Path) -> int:
    """How many files the uploads tar ``source`` holds; ServiceError when it is not one."""
    try:
        with tarfile.open(source, "r:") as tar:
            return len(_members(tar, source))
    except (OSError, tarfile.TarError) as exc:
        raise ServiceError(f"{source} is not an uploads backup: {exc}") from None


def restore_uploads(source: Path, folder: Path) -> int:
    """Put the files of the uploads tar ``source`` under ``folder``; how many were written.
    A file already there keeps its place (a stored name is never given to other content)."""
    written = 0
    try:
        with tarfile.open(source, "r:") as tar:
            for member in _members(tar, source):
                path = folder / member.name
                if path.exists():
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
                extracted = tar.extractfile(member)
                assert extracted is not None  # a regular file, checked above
                with extracted, open(temporary, "xb") as handle:
                    shutil.copyfileobj(extracted, handle)
                os.replace(temporary, path)
                written += 1
    except (OSError, tarfile.TarError) as exc:
        raise ServiceError(f"{source} could not be restored: {exc}") from None
    return written

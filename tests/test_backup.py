"""Backups taken while the blog serves comments, restored onto an empty database: every
comment acknowledged before the backup began is in it. SQLite's backup API, or pg_dump and
pg_restore with TEST_DATABASE_URL."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
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


def _png(width: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, width // 2), (200, 90, 40)).save(out, "PNG")
    return out.getvalue()


def _hostile_tar(path: Path, kind: str) -> Path:
    """An uploads tar with one member that must never be written."""
    with tarfile.open(path, "w") as tar:
        if kind == "symlink":
            info = tarfile.TarInfo("2026/12/0123456789abcdef.png")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
            return path
        if kind == "folder":
            info = tarfile.TarInfo("2026/12")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
            return path
        name = {
            "climbing": "../../0123456789abcdef.png",
            "absolute": "/tmp/0123456789abcdef.png",
            "other name": "2026/12/index.html",
        }[kind]
        data = b"<script>alert(1)</script>"
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", ["symlink", "folder", "climbing", "absolute", "other name"])
def test_an_uploads_tar_with_anything_but_library_files_restores_nothing(
    tmp_path: Path, kind: str
) -> None:
    from blog.services import ServiceError
    from blog.services import backup as backup_service

    source = _hostile_tar(tmp_path / "evil.uploads.tar", kind)
    folder = tmp_path / "uploads"
    with pytest.raises(ServiceError, match="not one of the media library's files"):
        backup_service.check_uploads(source)
    with pytest.raises(ServiceError, match="nothing was restored"):
        backup_service.restore_uploads(source, folder)
    assert not folder.exists() and not (tmp_path / "0123456789abcdef.png").exists()


def test_a_backup_keeps_the_uploaded_files(
    app: Flask, databases: tuple[str, str], tmp_path: Path
) -> None:
    """`flask backup` writes the library's files beside the database (and nothing else of
    the folder); `flask restore` puts both back, and the restored blog serves the files."""
    from blog.services import media as media_service
    from blog.services.users import create_user, find_user

    uri, empty = databases
    site = make_app(uri, tmp_path / "site", UPLOAD_FOLDER=str(tmp_path / "uploads"))
    runner = site.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with site.app_context():
        create_user("writer", "correct horse battery", "author")
        stored = media_service.store_upload(find_user("writer"), _png(1000), "wall.png")
        names = [stored.stored_path, *(v["path"] for v in (stored.variants or []))]
        db.engine.dispose()
    assert len(names) >= 2  # the original and at least one smaller copy
    (tmp_path / "uploads" / "notes.txt").write_text("not the library's")
    (tmp_path / "uploads" / "2026").mkdir(exist_ok=True)
    (tmp_path / "uploads" / "2026" / ".half.part").write_bytes(b"half a file")

    target = tmp_path / "backups" / "blog.db"
    done = runner.invoke(args=["backup", "-o", str(target)])
    assert done.exit_code == 0, done.output
    tar_path = tmp_path / "backups" / "blog.uploads.tar"
    assert f"Uploaded files: {tar_path} ({len(names)} files" in done.output
    with tarfile.open(tar_path) as tar:
        assert sorted(tar.getnames()) == sorted(names)

    restored = make_app(empty, tmp_path / "restored", UPLOAD_FOLDER=str(tmp_path / "back"))
    evil = _hostile_tar(tmp_path / "x.tar", "absolute")
    refused = restored.test_cli_runner().invoke(
        args=["restore", str(target), "--uploads", str(evil)]
    )
    assert refused.exit_code != 0 and "nothing was restored" in refused.output
    engine = sa.create_engine(empty)
    assert sa.inspect(engine).get_table_names() == []  # the database was not touched either
    engine.dispose()

    done = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert done.exit_code == 0, done.output
    assert f"Restored {len(names)} uploaded files" in done.output
    for name in names:
        assert (tmp_path / "back" / name).read_bytes() == (tmp_path / "uploads" / name).read_bytes()
    served = make_app(empty, tmp_path / "serve", UPLOAD_FOLDER=str(tmp_path / "back"))
    answer = served.test_client().get(f"/uploads/{stored.stored_path}")
    assert answer.status_code == 200
    assert answer.data == (tmp_path / "uploads" / stored.stored_path).read_bytes()
    with served.app_context():
        db.engine.dispose()

"""An acknowledged comment survives kill -9: gunicorn killed (master and workers, SIGKILL)
in the middle of a stream of comments, every comment answered 201 is in the database.
On SQLite and, with TEST_DATABASE_URL, PostgreSQL. (A killed process leaves the operating
system's buffers behind; what a power cut would take is SQLITE_SYNCHRONOUS's business,
which this cannot show.)"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path

from conftest import make_app
from flask import Flask
from sqlalchemy import text
from test_outbox import own_database  # noqa: F401 - a fixture
from test_two_processes import blog_env, call, flask_cli, start_gunicorn, wait_ready

from blog.extensions import db

WRITERS = 4
LOAD_SECONDS = 2.0


def test_every_acknowledged_comment_survives_kill_9(
    app: Flask, own_database: str, tmp_path: Path  # noqa: F811
) -> None:
    env = blog_env(tmp_path, own_database, "database")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "user", "create", "admin", "--role", "admin", "--password", "a passphrase")
    flask_cli(env, "post", "create", "--author", "admin", "--title", "Durable", "--publish")
    process, port = start_gunicorn(env, tmp_path / "gunicorn.log")
    acknowledged: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()
    try:
        wait_ready(process, port, tmp_path / "gunicorn.log")
        post_id = json.loads(call(port, "GET", "/api/v1/posts").body)["items"][0]["id"]

        def write(writer: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                body = {"post": post_id, "content": f"Writer {writer}, comment {n}",
                        "author": f"W{writer}", "email": f"w{writer}@example.org"}  # fmt: skip
                try:
                    reply = call(port, "POST", "/api/v1/comments", body)
                except (OSError, http.client.HTTPException):
                    # The server is gone, maybe in the middle of an answer (IncompleteRead,
                    # BadStatusLine): whatever was not answered in full was not promised.
                    return
                if reply.status == 201:
                    with lock:
                        acknowledged.add(json.loads(reply.body)["id"])

        writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
        for thread in writers:
            thread.start()
        time.sleep(LOAD_SECONDS)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # no shutdown: whatever the process held is lost
        process.wait(timeout=10)
        stop.set()
    for thread in writers:
        thread.join(timeout=20)
    assert len(acknowledged) >= 10, "the load did not get going"
    reader = make_app(own_database, tmp_path / "reader")
    with reader.app_context():
        stored = set(db.session.execute(text("SELECT id FROM comments")).scalars())
        db.engine.dispose()
    assert acknowledged <= stored, sorted(acknowledged - stored)[:10]

"""The database going away, for real, and coming back: every answer is a clear and temporary
one, nothing typed is lost, and the blog recovers by itself.

SQLite: the database's folder moved away (new connections cannot open the file), and a
write lock held by another connection past the busy timeout. PostgreSQL (with
TEST_DATABASE_URL): a TCP proxy in front of the server, stopped (every connection cut,
new ones refused) and started again.
"""

from __future__ import annotations

import logging
import re
import select
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from comment_helpers import comment_data
from conftest import TEST_DATABASE_URL, _with_search_path, create_post, create_user, make_app
from flask import Flask
from flask_migrate import upgrade

from blog.extensions import db


class Proxy:
    """A TCP forwarder to PostgreSQL that can be cut off and put back, on one port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (a close alone does not)
            listener.close()
        with self._lock:
            for connection in self._open:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except (OSError, ValueError):  # cut by down(): a closed socket has no descriptor
            return
        finally:
            for end in (a, b):
                with suppress(OSError):
                    end.close()
            with self._lock:
                self._open -= {a, b}


class Fault:
    """The database of one app, made unreachable and reachable again."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.proxy: Proxy | None = None
        self.schema = ""
        if TEST_DATABASE_URL:
            address = urlsplit(TEST_DATABASE_URL)
            self.proxy = Proxy((address.hostname or "127.0.0.1", address.port or 5432))
            self.proxy.up()
            netloc = address.netloc.rsplit("@", 1)
            host = f"127.0.0.1:{self.proxy.port}"
            netloc = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
            self.schema = f"test_outage_{abs(hash(tmp_path)) % 10**12}"
            self.admin = sa.create_engine(TEST_DATABASE_URL)
            with self.admin.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            through = urlunsplit(address._replace(netloc=netloc))
            self.uri = _with_search_path(through, self.schema)
        else:
            self.folder = tmp_path / "data"
            self.folder.mkdir()
            self.uri = "sqlite:///" + str(self.folder / "blog.db")

    def down(self, app: Flask) -> None:
        if self.proxy is not None:
            self.proxy.down()
        else:
            self.folder.rename(self.tmp_path / "data-away")
            with app.app_context():
                db.engine.dispose()  # open files would still read the moved database

    def up(self) -> None:
        if self.proxy is not None:
            self.proxy.up()
        else:
            (self.tmp_path / "data-away").rename(self.folder)

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.down()
            with self.admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            self.admin.dispose()


@pytest.fixture
def fault(tmp_path: Path) -> Iterator[Fault]:
    made = Fault(tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def blog(fault: Fault, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(fault.uri, tmp_path, SQLITE_BUSY_TIMEOUT=200)
    with app.app_context():
        upgrade()
    create_user(app, "admin", "admin")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_an_outage_is_a_clear_temporary_answer_and_ends_by_itself(
    blog: Flask, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    _, stored = create_post(blog, "admin", title="Read before the outage")
    _, other = create_post(blog, "admin", title="Never read before")
    reader = blog.test_client()
    assert reader.get(stored).status_code == 200  # kept by the page cache
    assert reader.get(stored).status_code == 200  # ...and served from it

    fault.down(blog)
    caplog.set_level(logging.WARNING, logger="blog.errors")
    try:
        # The page a reader had: still there, marked so nobody keeps it.
        kept = reader.get(stored)
        assert kept.status_code == 200
        assert "Read before the outage" in kept.get_data(as_text=True)
        assert kept.headers["Cache-Control"] == "no-store" and "ETag" not in kept.headers

        # A page never made: 503, saying so, with Retry-After.
        for _ in range(3):
            page = reader.get(other)
            assert page.status_code == 503
            assert page.headers["Retry-After"] == "30"
            assert "back shortly" in page.get_data(as_text=True).lower()

        # A comment: 503 with the form and everything typed in it.
        typed = comment_data(author="Ann <Reader>", comment='Kept "as typed" & <b>safe</b>.')
        answer = reader.post(stored, data={**typed, "csrf_token": "stamp-from-the-page"})
        assert answer.status_code == 503
        body = answer.get_data(as_text=True)
        assert 'value="Ann &lt;Reader&gt;"' in body
        assert "Kept &#34;as typed&#34; &amp; &lt;b&gt;safe&lt;/b&gt;.</textarea>" in body
        assert 'name="csrf_token" value="stamp-from-the-page"' in body
        assert f'action="{stored}"' in body

        # The API: JSON.
        api = reader.get("/api/v1/posts")
        assert api.status_code == 503
        assert api.get_json()["error"]["code"] == "unavailable"
        assert reader.get("/healthz").status_code == 200
        assert reader.get("/readyz").status_code == 503
    finally:
        fault.up()

    # Back, with no restart: the pool's dead connections are noticed and replaced.
    assert reader.get(other).status_code == 200
    answer = reader.post(stored, data=comment_data(comment="After the outage."))
    assert answer.status_code == 303
    fresh = blog.test_client().get(stored)  # a reader with no cookie: a page kept again
    assert fresh.status_code == 200 and "ETag" in fresh.headers

    # Logged once when it began and once when it ended, not once per request.
    messages = [r.getMessage() for r in caplog.records if r.name == "blog.errors"]
    assert len([m for m in messages if m.startswith("database unreachable")]) == 1, messages
    ended = [m for m in messages if m.startswith("database reachable again")]
    assert len(ended) == 1 and re.search(r"\(\d+ requests answered 503\)", ended[0]), messages


def test_sqlite_locked_past_its_busy_timeout_is_a_503_that_keeps_the_text(
    blog: Flask, fault: Fault
) -> None:
    if TEST_DATABASE_URL:
        pytest.skip("SQLite's write lock")
    _, path = create_post(blog, "admin", title="Locked")
    client = blog.test_client()
    assert client.get(path).status_code == 200
    holder = sqlite3.connect(str(fault.folder / "blog.db"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
        answer = client.post(path, data=comment_data(comment="Wait for the lock."))
        assert answer.status_code == 503
        assert "Wait for the lock.</textarea>" in answer.get_data(as_text=True)
        assert client.get(path).status_code == 200  # readers are not held up (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert client.post(path, data=comment_data(comment="Wait for the lock.")).status_code == 303


@pytest.mark.parametrize("fault_kind", ["disk full", "read-only"])
def test_sqlite_full_or_read_only_refuses_writes_with_a_503(
    blog: Flask, fault: Fault, tmp_path: Path, fault_kind: str
) -> None:
    """SQLite's own errors for a full disk (SQLITE_FULL: the database may grow no more) and
    a read-only file (opened read-only): readers still read, a comment gets a 503 that
    keeps its text, and nothing is half-written."""
    if TEST_DATABASE_URL:
        pytest.skip("SQLite's full and read-only databases")
    _, path = create_post(blog, "admin", title=fault_kind.capitalize())
    database = fault.folder / "blog.db"
    if fault_kind == "read-only":
        uri = f"sqlite:///file:{database}?mode=ro&uri=true"
        hurt = make_app(uri, tmp_path / "hurt")
    else:
        hurt = make_app(fault.uri, tmp_path / "hurt")
        with hurt.app_context():
            engine = db.engine
        pages = sqlite3.connect(database).execute("PRAGMA page_count").fetchone()[0]

        @sa.event.listens_for(engine, "connect")
        def _no_room(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    client = hurt.test_client()
    assert client.get(path).status_code == 200
    before = sqlite3.connect(database).execute("SELECT count(*) FROM comments").fetchone()[0]
    text = "A comment long enough to need a new page. " * 200
    answer = client.post(path, data=comment_data(comment=text))
    assert answer.status_code == 503, answer.status_code
    assert text.strip() in answer.get_data(as_text=True)
    after = sqlite3.connect(database).execute("SELECT count(*) FROM comments").fetchone()[0]
    assert after == before
    with hurt.app_context():
        db.engine.dispose()


def test_postgresql_in_read_only_mode_refuses_writes_with_a_503(
    blog: Flask, fault: Fault, tmp_path: Path
) -> None:
    """Every transaction read-only, as on a standby after a failover: readers read, a
    comment gets a 503 that keeps its text, not a 500."""
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL's read-only transactions")
    _, path = create_post(blog, "admin", title="Read-only")
    read_only = fault.uri.replace("options=", "options=-cdefault_transaction_read_only%3Don%20")
    hurt = make_app(read_only, tmp_path / "hurt")
    client = hurt.test_client()
    assert client.get(path).status_code == 200
    answer = client.post(path, data=comment_data(comment="Kept while read-only."))
    assert answer.status_code == 503, answer.status_code
    assert "Kept while read-only.</textarea>" in answer.get_data(as_text=True)
    with hurt.app_context():
        db.engine.dispose()

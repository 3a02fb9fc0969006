"""Two gunicorn masters on one database: once a write has returned, no reader sees it stale.

Each master runs two workers, and each worker keeps its own page cache, so the only thing
tying them together is the version store: the database's ``cache_versions`` table (SQLite
here) or Redis (PostgreSQL + Redis, when TEST_DATABASE_URL is set). Every round fills the
caches of both processes, writes through process A (a new approved comment, that comment
to spam, approved again) and reads the post from process B the moment the write has
answered. ``test_pages_are_served_from_the_store`` shows the caches really hold the page,
so the rounds would fail without the version checks. The login throttle is held to the
same standard: a burst of guesses spread over both masters gets no more checks than one
process would give.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, TEST_DATABASE_URL, _with_search_path

PROJECT = Path(__file__).resolve().parent.parent
REDIS_URI = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
VERSION_PREFIX = "blog:cache-version:"  # blog.pagecache.versions.RedisVersions.PREFIX
HOST = "127.0.0.1"
TIMEOUT = 10.0  # seconds, for every request
COMMAND_SECONDS = 60.0  # for each flask command (each one imports the app)
READY_SECONDS = 20.0
ROUNDS = 30
ROUNDS_SECONDS = 20.0
READS = 8  # per process and per check: each process has two workers, each its own cache
PUBLIC = "public, max-age=0, must-revalidate"


# --- talking to a server ------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: str


def call(port: int, method: str, path: str, body: object = None, **headers: str) -> Reply:
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read().decode())
    finally:
        connection.close()


def read(port: int, path: str, etags: Collection[str] = ()) -> Reply:
    """A reader's GET (no cookie, no token), optionally revalidating ``etags``."""
    headers = {"If-None-Match": ", ".join(sorted(etags))} if etags else {}
    reply = call(port, "GET", path, **headers)
    assert reply.status in (200, 304), (port, reply.status, reply.body[:500])
    assert reply.headers.get_all("Set-Cookie") is None, (port, reply.headers.get_all("Set-Cookie"))
    assert reply.headers["Cache-Control"] == PUBLIC, (port, reply.headers["Cache-Control"])
    assert reply.headers["ETag"], port
    return reply


def shows(body: str, comment_id: int) -> bool:
    return f'id="comment-{comment_id}"' in body


def check_page(reply: Reply, shown: set[int], hidden: set[int], when: str) -> None:
    assert reply.status == 200, (when, reply.status)
    missing = sorted(c for c in shown if not shows(reply.body, c))
    stale = sorted(c for c in hidden if shows(reply.body, c))
    assert not missing and not stale, (
        f"{when}: stale page (ETag {reply.headers['ETag']}, Last-Modified "
        f"{reply.headers['Last-Modified']}): approved comments missing {missing}, "
        f"comments shown that are no longer approved {stale}"
    )


def fill(port: int, path: str, shown: set[int], hidden: set[int], when: str) -> set[str]:
    """Read ``path`` READS times (each worker stores it); the ETags seen."""
    etags = set()
    for _ in range(READS):
        reply = read(port, path)
        check_page(reply, shown, hidden, when)
        etags.add(reply.headers["ETag"])
    return etags


# --- the two servers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    a: int  # ports of the two masters
    b: int
    path: str  # the post's page
    post_id: int
    token: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def blog_env(tmp_path: Path, database_uri: str, cache_url: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FLASK_", "BLOG_")) and name != "DATABASE_URL"
    }
    env.update(
        BLOG_CONFIG="default",
        BLOG_INSTANCE_PATH=str(tmp_path / "instance"),
        FLASK_SECRET_KEY="two-processes-test-secret",
        FLASK_SQLALCHEMY_DATABASE_URI=database_uri,
        FLASK_CACHE_URL=cache_url,
        FLASK_RATELIMIT_ENABLED="false",
        FLASK_COMMENT_FLOOD_SECONDS="0",
    )
    return env


def flask_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout.strip()


def wait_ready(process: subprocess.Popen, port: int, log: Path) -> None:
    """Until the port answers HTTP, or fail with the server's log."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn on {port} exited:\n{log.read_text()}"
        try:
            if call(port, "GET", "/api/v1/posts").status == 200:
                return
        except OSError:
            pass  # not listening yet, or no worker booted
        time.sleep(0.05)
    pytest.fail(f"gunicorn on {port} not ready after {READY_SECONDS} s:\n{log.read_text()}")


def start_gunicorn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """One master with two workers on a free port, in a process group of its own."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"{HOST}:{port}",
             "--graceful-timeout", "3", "app:app"],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so its workers can be killed with it if need be
        )  # fmt: skip
    return process, port


@contextmanager
def two_masters(env: dict[str, str], logs: Path) -> Iterator[tuple[int, int]]:
    """The ports of two masters, both ready; stopped (by their pids) on the way out."""
    servers: list[tuple[subprocess.Popen, int, Path]] = []
    try:
        for name in ("a", "b"):
            log = logs / f"gunicorn-{name}.log"
            servers.append((*start_gunicorn(env, log), log))
        for process, port, log in servers:
            wait_ready(process, port, log)
        yield servers[0][1], servers[1][1]
    finally:
        for process, _, _ in servers:
            if process.poll() is None:
                process.terminate()
        for process, _, _ in servers:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # the group start_gunicorn made
                process.wait(timeout=5)


@contextmanager
def blog_site(tmp_path: Path, database_uri: str, cache_url: str) -> Iterator[Site]:
    """A migrated database with an admin, a published post and a token; two masters on it."""
    env = blog_env(tmp_path, database_uri, cache_url)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "user", "create", "admin", "--role", "admin", "--email",
              "admin@example.com", "--password", PASSWORD)  # fmt: skip
    path = flask_cli(env, "post", "create", "--author", "admin", "--title", "Two processes",
                     "--publish").splitlines()[-1]  # fmt: skip
    token = flask_cli(env, "token", "create", "admin").splitlines()[-1]
    with two_masters(env, tmp_path) as (a, b):
        posts = json.loads(call(a, "GET", "/api/v1/posts").body)["items"]
        post_id = next(post["id"] for post in posts if post["url"] == path)
        yield Site(a, b, path, post_id, token)


# --- the backends -------------------------------------------------------------------------


def _redis_up() -> bool:
    address = urlsplit(REDIS_URI)
    try:
        with socket.create_connection((address.hostname, address.port or 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _forget_versions() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URI, socket_timeout=TIMEOUT)
    try:
        names = list(client.scan_iter(match=VERSION_PREFIX + "*", count=1000))
        if names:
            client.delete(*names)
    finally:
        client.close()


@contextmanager
def sqlite_site(tmp_path: Path) -> Iterator[Site]:
    with blog_site(tmp_path, "sqlite:///" + str(tmp_path / "blog.db"), "database") as site:
        yield site


@contextmanager
def postgresql_redis_site(tmp_path: Path) -> Iterator[Site]:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379; .ci/run should start it")
        pytest.skip("no Redis on 127.0.0.1:6379")
    schema = f"test_procs_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    _forget_versions()
    try:
        with blog_site(tmp_path, _with_search_path(TEST_DATABASE_URL, schema), REDIS_URI) as site:
            yield site
    finally:
        _forget_versions()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


BACKENDS = [
    pytest.param(sqlite_site, id="sqlite-database-versions"),
    pytest.param(
        postgresql_redis_site,
        id="postgresql-redis-versions",
        marks=pytest.mark.skipif(not TEST_DATABASE_URL, reason="TEST_DATABASE_URL is not set"),
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One blog per backend for this module's tests (starting one takes a few seconds)."""
    with request.param(tmp_path_factory.mktemp("two-processes")) as site:
        yield site


# --- the tests ----------------------------------------------------------------------------


def stamp_of(body: str) -> str:
    """The comment form's stamp: made with the second of each render, kept with a stored page
    (the ETag leaves it out, so it does not tell a render from a stored copy)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    assert match, "no comment form token on the page"
    return match.group(1)


def test_pages_are_served_from_the_store(site: Site) -> None:
    """What makes the other test meaningful: a worker that holds the page sends it without
    rendering it again, so without version checks it would go on sending what it holds."""
    for port in (site.a, site.b):
        first = [read(port, site.path) for _ in range(READS)]
        before = {stamp_of(reply.body) for reply in first}
        etags = {reply.headers["ETag"] for reply in first}
        # The ETag is the page's, not the render's: every worker's copy validates.
        assert len(etags) == 1, etags
        # Every render stamps its comment form with the second it was made in, so after this
        # pause a stamp seen before it can only come from a stored page.
        time.sleep(1.1)
        stored = not_modified = 0
        rendered: set[str] = set()
        deadline = time.monotonic() + 5
        # The kernel, not us, picks each request's worker, and it may have given every one
        # of the first reads to the same worker: the other renders once, now, and keeps that.
        while (stored < 3 or not_modified < 3) and time.monotonic() < deadline:
            stamp = stamp_of(read(port, site.path).body)
            if stamp in before:
                stored += 1
            else:
                rendered.add(stamp)
            if read(port, site.path, etags).status == 304:
                not_modified += 1
            time.sleep(0.01)
        assert stored >= 3 and not_modified >= 3, (port, stored, not_modified, rendered)
        # Stored, not rendered at each request: at most that one new page.
        assert len(rendered) <= 1, (port, before, rendered)


def test_no_stale_page_from_the_other_process_after_a_write(site: Site) -> None:
    auth = {"Authorization": f"Bearer {site.token}"}
    shown: set[int] = set()
    hidden: set[int] = set()
    latest = 0
    deadline = time.monotonic() + ROUNDS_SECONDS
    rounds = 0
    while rounds < ROUNDS and time.monotonic() < deadline:
        before = f"round {rounds}, before the write"
        seen = {port: fill(port, site.path, shown, hidden, before) for port in (site.a, site.b)}
        for port, etags in seen.items():
            # A worker holding the page answers 304: what the version check must overrule
            # after the write. One the reads above missed renders now, and must render it
            # current.
            reply = read(port, site.path, etags)
            if reply.status == 200:
                check_page(reply, shown, hidden, before)
                etags.add(reply.headers["ETag"])

        step = rounds % 3
        if step == 0:
            content = f"Round {rounds}: {uuid.uuid4().hex}"
            body = {"post": site.post_id, "content": content, "author": "Admin",
                    "email": "admin@example.com"}  # fmt: skip
            reply = call(site.a, "POST", "/api/v1/comments", body, **auth)
            assert reply.status == 201, reply.body
            latest = json.loads(reply.body)["id"]
            write = f"new approved comment {latest}"
            expected_status = "approved"
        else:
            expected_status = "spam" if step == 1 else "approved"
            body = {"status": expected_status}
            reply = call(site.a, "PATCH", f"/api/v1/comments/{latest}", body, **auth)
            assert reply.status == 200, reply.body
            write = f"comment {latest} to {expected_status}"
        assert json.loads(reply.body)["status"] == expected_status, reply.body
        if expected_status == "approved":
            hidden.discard(latest)
            shown.add(latest)
        else:
            shown.discard(latest)
            hidden.add(latest)

        after = f"round {rounds}, {write} through A (:{site.a}), read from B (:{site.b})"
        for _ in range(READS):
            reply = read(site.b, site.path)
            check_page(reply, shown, hidden, after)
            assert reply.headers["ETag"] not in seen[site.b], after
        # A stored page must not answer its old validators with a 304 either.
        check_page(read(site.b, site.path, seen[site.b]), shown, hidden, after + ", revalidating")
        rounds += 1
    assert rounds >= 9, f"only {rounds} rounds in {ROUNDS_SECONDS} s"


# --- the login throttle across processes ---------------------------------------------------

GUESSES = 24  # wrong passwords sent at once, spread over both masters' four workers


def login_form(port: int) -> tuple[str, str]:
    """(session cookie, CSRF token) of a fresh login form from ``port``."""
    reply = call(port, "GET", "/login")
    assert reply.status == 200, reply.status
    cookie = next(
        header.split(";", 1)[0]
        for header in reply.headers.get_all("Set-Cookie") or []
        if header.startswith("session=")
    )
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', reply.body)
    assert match, "no CSRF token on the login form"
    return cookie, match.group(1)


def guess(port: int, cookie: str, token: str, username: str) -> Reply:
    body = urlencode({"csrf_token": token, "username": username, "password": "a wrong guess"})
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        connection.request("POST", "/login", body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read().decode())
    finally:
        connection.close()


def test_the_login_throttle_holds_across_processes(site: Site) -> None:
    """Guesses at one account sent at once to two masters (four workers, each with its own
    memory): the throttle's counts are in the database they share, so no more passwords are
    checked than the allowance plus the turns that came due while the burst lasted (a
    per-process limit let four times the allowance through)."""
    username = f"target-{uuid.uuid4().hex[:8]}"  # an account of its own: nothing else waits
    forms = [(port, *login_form(port)) for port in (site.a, site.b) * (GUESSES // 2)]
    barrier = threading.Barrier(len(forms))
    replies: list[Reply] = []

    def send(port: int, cookie: str, token: str) -> None:
        barrier.wait(timeout=TIMEOUT)
        replies.append(guess(port, cookie, token, username))

    started = time.monotonic()
    threads = [threading.Thread(target=send, args=form) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 3)
    elapsed = time.monotonic() - started
    assert len(replies) == len(forms), "a guess did not come back"
    codes = Counter(reply.status for reply in replies)
    assert set(codes) <= {401, 429}, codes
    free = 5  # LOGIN_FREE_FAILURES_PER_ACCOUNT's default, which the servers run with
    # Past the allowance a turn comes after 1 s, then 2 s more, then 4...: n turns take
    # 2**n - 1 seconds.
    due = int(math.log2(elapsed + 1))
    assert 1 <= codes[401] <= free + due, (codes, f"{elapsed:.1f} s")
    for reply in replies:
        if reply.status == 429:
            assert int(reply.headers["Retry-After"]) >= 1
            assert "Too many failed logins" in reply.body

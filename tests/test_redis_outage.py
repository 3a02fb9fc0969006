"""Redis unreachable where it is configured (rate limits, cache generations): the site stays
up, limits fall back to memory (or refuse, as set), and no page outlives the outage stale.

A TCP proxy in front of the real Redis (127.0.0.1:6379) is cut and put back."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from comment_helpers import comment_data
from conftest import create_post, create_user, make_app
from flask import Flask
from test_outages import Proxy
from test_two_processes import blog_env, call, flask_cli, start_gunicorn, wait_ready

from blog.extensions import db
from blog.pagecache.versions import RedisVersions

REDIS = ("127.0.0.1", 6379)
DATABASE = 15  # the suite's Redis database (test_two_processes, test_ratelimit)


def _redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379; .ci/run should start it")
        pytest.skip("no Redis on 127.0.0.1:6379")
    through = Proxy(REDIS)
    through.up()
    try:
        yield through
    finally:
        through.down()


def _site(database_uri: str, tmp_path: Path, proxy: Proxy, **overrides) -> Flask:
    url = f"redis://127.0.0.1:{proxy.port}/{DATABASE}"
    site = make_app(
        database_uri,
        tmp_path,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=url,
        CACHE_URL=url,
        COMMENT_RATE_LIMIT="1000 per minute",
        **overrides,
    )
    create_user(site, "admin", "admin")
    return site


def test_the_site_stays_up_without_redis(
    app: Flask, database_uri: str, tmp_path: Path, proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    site = _site(database_uri, tmp_path, proxy)
    _, path = create_post(site, "admin", title="Without Redis")
    reader = site.test_client()
    assert reader.get(path).status_code == 200
    assert reader.get(path).status_code == 200  # kept
    proxy.down()
    caplog.set_level(logging.WARNING)
    try:
        for _ in range(3):
            assert site.test_client().get(path).status_code == 200  # rendered each time
        answer = site.test_client().post(path, data=comment_data(comment="Redis is down."))
        assert answer.status_code == 303  # limited in memory meanwhile
    finally:
        proxy.up()
    errors = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert site.test_client().get(path).status_code == 200
    with site.app_context():
        db.engine.dispose()


def test_limits_can_refuse_instead(tmp_path: Path, proxy: Proxy) -> None:
    """RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=false: what needs a limit is refused (503, the
    text kept) until Redis is back. In a process of its own: Flask-Limiter keeps its
    fallback state per process."""
    env = blog_env(tmp_path, "sqlite:///" + str(tmp_path / "refusing.db"), "database")
    url = f"redis://127.0.0.1:{proxy.port}/{DATABASE}"
    env.update(
        FLASK_RATELIMIT_ENABLED="true",
        FLASK_RATELIMIT_STORAGE_URI=url,
        FLASK_RATELIMIT_IN_MEMORY_FALLBACK_ENABLED="false",
        FLASK_COMMENT_RATE_LIMIT="1000 per minute",
    )
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "user", "create", "admin", "--role", "admin", "--password", "a passphrase")
    token = flask_cli(env, "token", "create", "admin").splitlines()[-1]
    path = flask_cli(env, "post", "create", "--author", "admin", "--title", "Refusing",
                     "--publish").splitlines()[-1]  # fmt: skip
    process, port = start_gunicorn(env, tmp_path / "gunicorn.log")
    try:
        wait_ready(process, port, tmp_path / "gunicorn.log")
        post_id = json.loads(call(port, "GET", "/api/v1/posts").body)["items"][0]["id"]
        body = {"post": post_id, "content": "Typed during it.", "author": "R",
                "email": "r@example.org"}  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}
        proxy.down()
        try:
            refused = call(port, "POST", "/api/v1/comments", body, **auth)
            assert refused.status == 503, refused.body
            assert refused.headers["Retry-After"] == "30"
            assert json.loads(refused.body)["error"]["code"] == "unavailable"
            assert call(port, "GET", path).status == 200  # reading needs no limit
        finally:
            proxy.up()
        assert call(port, "POST", "/api/v1/comments", body, **auth).status == 201
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_bump_lost_to_an_outage_is_made_when_redis_answers(proxy: Proxy) -> None:
    """Otherwise a page kept by another process before the write would be served again,
    as current, once Redis is back."""
    import redis

    name = f"test-owed-{os.getpid()}"
    direct = redis.Redis(*REDIS, db=DATABASE)
    direct.delete(RedisVersions.PREFIX + name)
    versions = RedisVersions(f"redis://127.0.0.1:{proxy.port}/{DATABASE}")
    try:
        assert versions.read([name]) == (0,)
        proxy.down()
        versions.bump_after_commit([name])  # the write committed; Redis did not hear of it
        assert versions.read([name]) is None
        proxy.up()
        assert versions.read([name]) == (1,)  # paid before reading
        assert direct.get(RedisVersions.PREFIX + name) == b"1"
    finally:
        direct.delete(RedisVersions.PREFIX + name)
        direct.close()

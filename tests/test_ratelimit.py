"""Rate limits hold across processes when they share Redis (RATELIMIT_STORAGE_URI)."""
from __future__ import annotations

import os
import socket
import uuid

import pytest
from conftest import make_app

REDIS_URI = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_uri() -> str:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379; .ci/run should start it")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return REDIS_URI


def test_login_limit_is_shared_by_two_apps_through_redis(database_uri, tmp_path, redis_uri):
    """Two app objects stand for two gunicorn workers: the limit counts both."""
    config = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": redis_uri,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "LOGIN_RATE_LIMIT": "3 per minute",
    }
    first = make_app(database_uri, tmp_path / "a", **config).test_client()
    second = make_app(database_uri, tmp_path / "b", **config).test_client()
    form = {"username": "nobody", "password": "wrong password"}
    statuses = [
        first.post("/login", data=form).status_code,
        second.post("/login", data=form).status_code,
        first.post("/login", data=form).status_code,
        second.post("/login", data=form).status_code,
    ]
    assert statuses == [401, 401, 401, 429]
    # GETs of the login page are not limited.
    assert second.get("/login").status_code == 200


def test_memory_storage_limits_one_process(database_uri, tmp_path):
    app = make_app(
        database_uri, tmp_path, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
        LOGIN_RATE_LIMIT="2 per minute",
    )
    client = app.test_client()
    form = {"username": "nobody", "password": "wrong password"}
    assert [client.post("/login", data=form).status_code for _ in range(3)] == [401, 401, 429]
    page = client.post("/login", data=form)
    assert "Too many requests" in page.get_data(as_text=True)

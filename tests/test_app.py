"""The application factory, configuration, cookies, security headers and error pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD, create_user, login, make_app
from flask import Flask, abort
from sqlalchemy import text

import config
from blog import create_app
from blog.extensions import db, limiter

ENV_NAMES = (
    "BLOG_CONFIG",
    "DATABASE_URL",
    "FLASK_SECRET_KEY",
    "FLASK_SQLALCHEMY_DATABASE_URI",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No configuration leaking in from the shell; the instance folder in a temp dir."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BLOG_INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.engine.dispose()


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "testing", "debug"),
    [
        ("default", False, False),
        ("development", False, True),
        ("testing", True, False),
        (config.Default, False, False),
        (config.Development, False, True),
        (config.Testing, True, False),
    ],
)
def test_create_app_with_each_config(clean_env, choice, testing: bool, debug: bool) -> None:
    app = create_app(choice)
    assert app.testing is testing
    assert app.debug is debug
    assert app.config["IS_PRODUCTION"] is False
    # Without a key in the environment, development keeps a generated one in instance/.
    assert app.config["SECRET_KEY"]
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    _dispose(app)


def test_generated_secret_key_survives_a_restart(clean_env) -> None:
    first = create_app("default").config["SECRET_KEY"]
    second = create_app("default").config["SECRET_KEY"]
    assert first == second
    assert len(first) >= 32


def test_blog_config_picks_the_class(clean_env) -> None:
    clean_env.setenv("BLOG_CONFIG", "Testing")
    assert create_app().testing is True


def test_unknown_config_name_is_refused(clean_env) -> None:
    with pytest.raises(RuntimeError, match="Unknown BLOG_CONFIG 'staging'"):
        create_app("staging")


def test_flask_prefixed_env_overrides_settings(clean_env) -> None:
    clean_env.setenv("FLASK_SITE_NAME", "From the environment")
    clean_env.setenv("FLASK_POSTS_PER_PAGE", "5")
    clean_env.setenv("FLASK_RATELIMIT_ENABLED", "true")
    clean_env.setenv("FLASK_COMMENT_FLOOD_SECONDS", "60")
    clean_env.setenv("FLASK_SECRET_KEY", "from-env-" + "x" * 40)
    app = create_app(config.Testing)
    assert app.config["SITE_NAME"] == "From the environment"
    assert app.config["POSTS_PER_PAGE"] == 5
    assert app.config["RATELIMIT_ENABLED"] is True
    assert app.config["COMMENT_FLOOD_SECONDS"] == 60
    assert app.config["SECRET_KEY"] == "from-env-" + "x" * 40


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://blog@db.example/blog", "postgresql+psycopg://blog@db.example/blog"),
        (
            "postgres://blog:pw@db.example:5433/blog",
            "postgresql+psycopg://blog:pw@db.example:5433/blog",
        ),
        ("postgresql+psycopg://blog@db.example/blog", "postgresql+psycopg://blog@db.example/blog"),
        ("sqlite:////srv/blog/blog.db", "sqlite:////srv/blog/blog.db"),
    ],
)
def test_database_url_is_accepted(clean_env, url: str, expected: str) -> None:
    clean_env.setenv("DATABASE_URL", url)
    app = create_app(config.Testing)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    _dispose(app)


def test_flask_database_uri_wins_over_database_url(clean_env) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://loser@db.example/blog")
    clean_env.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "postgresql://winner@db.example/blog")
    app = create_app(config.Testing)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://winner@db.example/blog"
    _dispose(app)


@pytest.mark.parametrize("how", ["env", "class", "name"])
def test_production_without_secret_key_refuses_to_start(
    clean_env, tmp_path: Path, how: str
) -> None:
    # A key file left in instance/ by a development run must not be picked up either.
    instance = tmp_path / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "secret_key").write_text("left-over-development-key")
    with pytest.raises(RuntimeError, match="FLASK_SECRET_KEY is not set") as excinfo:
        if how == "env":
            clean_env.setenv("BLOG_CONFIG", "production")
            create_app()
        elif how == "class":
            create_app(config.Production)
        else:
            create_app("production")
    assert "refuses to start" in str(excinfo.value)


@pytest.fixture
def production_app(clean_env, app: Flask, database_uri: str) -> Iterator[Flask]:
    """A production app on the test database (``app`` empties the tables afterwards)."""
    clean_env.setenv("FLASK_SECRET_KEY", "production-test-key-" + "k" * 40)
    clean_env.setenv("FLASK_SQLALCHEMY_DATABASE_URI", database_uri)
    clean_env.setenv("FLASK_RATELIMIT_ENABLED", "false")
    production = create_app(config.Production)
    yield production
    _dispose(production)


def test_production_with_a_key_starts_with_secure_cookies(production_app: Flask) -> None:
    assert production_app.config["IS_PRODUCTION"] is True
    assert production_app.config["SECRET_KEY"].startswith("production-test-key-")
    assert production_app.debug is False
    response = production_app.test_client().get("/login")
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_no_hsts_outside_production(client) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_session_cookie_is_httponly_and_samesite_lax(app: Flask, client) -> None:
    create_user(app, "alice", "author")
    response = login(client, "alice")
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie
    # Development over plain http: a Secure cookie would never come back.
    assert "Secure" not in session_cookie


def test_remember_cookie_is_httponly_too(app: Flask, client) -> None:
    create_user(app, "alice", "author")
    response = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "remember": "y"}
    )
    remember = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")
    )
    assert "HttpOnly" in remember
    assert "SameSite=Lax" in remember


# --- security headers ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/no-such-page/", "/api/v1/no-such-thing"])
def test_security_headers_on_every_response(client, path: str) -> None:
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_admin_and_login_pages_are_not_cached(admin_client) -> None:
    for path in ("/login", "/admin/"):
        assert admin_client.get(path).headers["Cache-Control"] == "no-store"


# --- error pages ---------------------------------------------------------------------------

SECRET_DETAIL = "boom: internal detail that must not leak"


def _add_error_routes(app: Flask) -> None:
    """Test-only routes that fail on purpose, for pages and for the API."""

    def fail(code: int):
        if code == 500:
            raise RuntimeError(SECRET_DETAIL)
        abort(code)

    app.add_url_rule("/_test/error/<int:code>", "test_error_page", fail)
    app.add_url_rule("/api/v1/_test/error/<int:code>", "test_error_api", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False


@pytest.fixture
def error_client(app: Flask):
    _add_error_routes(app)
    return app.test_client()


@pytest.mark.parametrize("code", [400, 403, 404, 405, 413, 429, 500])
def test_error_pages_are_html_without_traceback(error_client, code: int) -> None:
    response = error_client.get(f"/_test/error/{code}")
    assert response.status_code == code
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "<h1>" in body
    assert "Traceback" not in body
    assert SECRET_DETAIL not in body
    assert 'href="/"' in body  # a way back


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (400, "bad_request"),
        (403, "forbidden"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "too_large"),
        (429, "rate_limited"),
        (500, "server_error"),
    ],
)
def test_api_errors_are_json(error_client, code: int, name: str) -> None:
    response = error_client.get(f"/api/v1/_test/error/{code}")
    assert response.status_code == code
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == name
    assert error["message"]
    assert SECRET_DETAIL not in response.get_data(as_text=True)


def test_500_after_a_database_error_still_renders_the_page(app: Flask) -> None:
    """A failed statement leaves PostgreSQL's transaction aborted; the page must not care."""

    def broken():
        db.session.execute(text("SELECT * FROM no_such_table"))

    app.add_url_rule("/_test/broken-db", "broken_db", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/_test/broken-db")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Server error" in body
    assert "no_such_table" not in body


def test_real_404_page_helps(client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert 'action="/search/"' in body
    assert 'name="q"' in body
    assert 'href="/archives/"' in body


def test_real_404_under_api_is_json(client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_real_405_names_the_allowed_methods(client) -> None:
    response = client.get("/admin/comments/undo")  # a POST-only URL (/logout has a page now)
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "POST" in response.headers["Allow"]


def test_real_413_for_a_huge_form(app: Flask, client) -> None:
    huge = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/login", data={"username": "someone", "password": huge})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True).lower()


def test_real_403_for_a_subscriber_in_the_admin(app: Flask, client) -> None:
    create_user(app, "sub", "subscriber")
    login(client, "sub")
    response = client.get("/admin/posts")
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)


@pytest.fixture
def limited_app(app: Flask, database_uri: str, tmp_path: Path) -> Iterator[Flask]:
    limited = make_app(
        database_uri, tmp_path / "limited", RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute"
    )
    yield limited
    _dispose(limited)
    limiter.reset()


def test_429_when_login_is_hammered(limited_app: Flask) -> None:
    client = limited_app.test_client()
    statuses = [
        client.post("/login", data={"username": "x", "password": "wrong password"}).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    response = client.post("/login", data={"username": "x", "password": "wrong password"})
    assert response.status_code == 429
    body = response.get_data(as_text=True)
    assert "Slow down" in body
    assert "Wait a minute" in body
    # Reading pages is not limited by the login limit.
    assert client.get("/login").status_code == 200


def test_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    """A temporary answer, on a page that needs no settings (none can be read): no
    traceback, nothing of the driver's message (tests/test_outages.py has the rest)."""
    unreachable = "sqlite:///" + str(tmp_path / "missing-folder" / "blog.db")
    app = make_app(unreachable, tmp_path, PROPAGATE_EXCEPTIONS=False)
    response = app.test_client().get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    body = response.get_data(as_text=True)
    assert "Back shortly" in body
    assert "Traceback" not in body
    assert "sqlite" not in body.lower()
    _dispose(app)


def test_a_mapping_builds_on_blog_config_not_on_testing(clean_env) -> None:
    """Overrides alone must not quietly switch CSRF checks off, as the testing class does."""
    plain = create_app({"SITE_NAME": "Mine"})
    assert plain.config["SITE_NAME"] == "Mine"
    assert plain.config.get("WTF_CSRF_ENABLED", True) is True
    assert plain.testing is False
    clean_env.setenv("BLOG_CONFIG", "production")
    with pytest.raises(RuntimeError, match="FLASK_SECRET_KEY is not set"):
        create_app({"SITE_NAME": "Mine"})
    assert create_app({"BLOG_CONFIG": "testing"}).testing is True
    with pytest.raises(RuntimeError, match="Unknown BLOG_CONFIG"):
        create_app({"BLOG_CONFIG": "staging"})

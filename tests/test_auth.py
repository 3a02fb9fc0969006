"""Logging in and out: credentials, redirects, sessions, CSRF, password changes."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD, create_user, login
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from blog.extensions import db
from blog.models import User
from blog.services.users import find_user

NEW_PASSWORD = "a brand new passphrase"


def _logged_in(client: FlaskClient) -> bool:
    """The admin answers 200 to a logged-in user and sends anyone else to /login."""
    response = client.get("/admin/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert response.location.startswith("/login")
    return False


def _csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


# --- logging in ----------------------------------------------------------------------------


def test_login_page_has_the_interface_fields(client: FlaskClient) -> None:
    body = client.get("/login").get_data(as_text=True)
    for name in ("username", "password"):
        assert f'name="{name}"' in body
    assert 'method="post"' in body


def test_login_success_goes_to_the_dashboard(app: Flask, client: FlaskClient) -> None:
    create_user(app, "alice", "author")
    response = login(client, "alice")
    assert response.status_code == 302
    assert response.location == "/admin/"
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "Logged in as <strong>alice</strong>" in dashboard


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("ALICE", PASSWORD)],
)
def test_login_failure_says_so_and_keeps_the_username(
    app: Flask, client: FlaskClient, username: str, password: str
) -> None:
    create_user(app, "alice", "author")
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "That username and password do not match." in body
    assert f'value="{username}"' in body
    # The password is never sent back into the page.
    assert password not in body
    assert not _logged_in(client)


def test_login_with_empty_fields_is_a_400_with_the_form(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "", "password": ""})
    assert response.status_code == 400
    assert 'name="username"' in response.get_data(as_text=True)


def test_logged_in_user_visiting_login_is_sent_on(app: Flask, client: FlaskClient) -> None:
    create_user(app, "alice", "author")
    login(client, "alice")
    response = client.get("/login")
    assert response.status_code == 302
    assert response.location == "/admin/"


@pytest.mark.parametrize("target", ["/admin/posts", "/2024/01/hello/", "/search/?q=a+b"])
def test_next_takes_local_paths(app: Flask, client: FlaskClient, target: str) -> None:
    create_user(app, "alice", "author")
    response = client.post(
        "/login", query_string={"next": target}, data={"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.location == target


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " //evil.example",
        "/foo\r\nSet-Cookie: planted=1",
        "/\x00//evil.example",
        "/\x7f",
    ],
)
def test_next_never_leaves_the_site(app: Flask, client: FlaskClient, target: str) -> None:
    create_user(app, "alice", "author")
    response = client.post(
        "/login", query_string={"next": target}, data={"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.location == "/admin/"
    # Already logged in, the same redirect is made from the login page: same rule.
    again = client.get("/login", query_string={"next": target})
    assert again.location == "/admin/"


def test_admin_page_sends_anonymous_readers_to_login_and_back(
    app: Flask, client: FlaskClient
) -> None:
    create_user(app, "alice", "author")
    response = client.get("/admin/posts")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    back = client.post(response.location, data={"username": "alice", "password": PASSWORD})
    assert back.location == "/admin/posts"


def test_login_starts_a_fresh_session(app: Flask, client: FlaskClient) -> None:
    create_user(app, "alice", "author")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, "alice")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(str(find_user_id(app, "alice")) + ":")


def find_user_id(app: Flask, username: str) -> int:
    with app.app_context():
        user = find_user(username)
        assert user is not None
        return user.id


def test_inactive_user_cannot_log_in(app: Flask, client: FlaskClient) -> None:
    create_user(app, "alice", "author")
    _set_active(app, "alice", False)
    response = login(client, "alice")
    assert response.status_code == 401
    assert not _logged_in(client)


def test_deactivating_a_user_ends_their_sessions(app: Flask, client: FlaskClient) -> None:
    create_user(app, "alice", "author")
    login(client, "alice")
    assert _logged_in(client)
    _set_active(app, "alice", False)
    assert not _logged_in(client)


def _set_active(app: Flask, username: str, active: bool) -> None:
    with app.app_context():
        user = find_user(username)
        assert user is not None
        user.active = active
        db.session.commit()


@pytest.mark.parametrize("role", ["admin", "subscriber"])
def test_passwords_are_stored_as_argon2id_hashes(app: Flask, role: str) -> None:
    create_user(app, "alice", role)
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_identical_passwords_get_different_hashes(app: Flask) -> None:
    create_user(app, "alice", "author")
    create_user(app, "bob", "author")
    with app.app_context():
        hashes = set(db.session.scalars(select(User.password_hash)))
    assert len(hashes) == 2


# --- logging out ---------------------------------------------------------------------------


def test_logout_is_post_only(app: Flask, client: FlaskClient) -> None:
    """A GET (a link, an image) shows the button; only the POST logs out."""
    assert client.get("/logout").headers["Location"].endswith("/login")  # not logged in
    create_user(app, "alice", "author")
    login(client, "alice")
    response = client.get("/logout")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "logged in as <strong>alice</strong>" in body
    assert re.search(r'<form method="post" action="/logout">', body)
    assert _logged_in(client)
    response = client.post("/logout")
    assert response.status_code == 302
    assert not _logged_in(client)


def test_every_page_offers_logout_as_a_form(app: Flask, client: FlaskClient) -> None:
    create_user(app, "alice", "author")
    login(client, "alice")
    body = client.get("/").get_data(as_text=True)
    assert re.search(r'<form[^>]*method="post"[^>]*action="/logout"', body)
    assert 'href="/logout"' not in body


def test_login_and_logout_need_the_csrf_token(csrf_app: Flask) -> None:
    create_user(csrf_app, "alice", "author")
    client = csrf_app.test_client()
    # Without the token, even the right password is refused.
    refused = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert refused.status_code == 400
    assert "reload the page" in refused.get_data(as_text=True)
    assert not _logged_in(client)

    token = _csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert _logged_in(client)

    # A cross-site form cannot log the user out: no token, no logout.
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert _logged_in(client)

    response = client.post("/logout", data={"csrf_token": _csrf_token(client, "/admin/")})
    assert response.status_code == 302
    assert not _logged_in(client)


# --- password changes ----------------------------------------------------------------------


def test_password_change_ends_old_sessions(app: Flask, client: FlaskClient, runner) -> None:
    create_user(app, "alice", "author")
    login(client, "alice")
    other_device = app.test_client()
    remembered = other_device.post(
        "/login", data={"username": "alice", "password": PASSWORD, "remember": "y"}
    )
    assert remembered.status_code == 302
    assert _logged_in(client) and _logged_in(other_device)

    result = runner.invoke(args=["user", "password", "alice", "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert "Password changed for 'alice'" in result.output

    assert not _logged_in(client)
    # The remember-me cookie carries the old session version too: it no longer works.
    other_device.delete_cookie("session")
    assert not _logged_in(other_device)

    assert login(client, "alice").status_code == 401
    assert login(client, "alice", NEW_PASSWORD).status_code == 302
    assert _logged_in(client)


def test_remember_me_survives_the_end_of_the_browser_session(
    app: Flask, client: FlaskClient
) -> None:
    create_user(app, "alice", "author")
    client.post("/login", data={"username": "alice", "password": PASSWORD, "remember": "y"})
    client.delete_cookie("session")
    assert _logged_in(client)


def test_password_change_from_stdin_and_too_short(app: Flask, runner) -> None:
    create_user(app, "alice", "author")
    short = runner.invoke(args=["user", "password", "alice"], input="short\n")
    assert short.exit_code == 1
    assert "at least 8 characters" in short.output
    result = runner.invoke(args=["user", "password", "alice"], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert login(client, "alice", NEW_PASSWORD).status_code == 302


def test_password_change_for_unknown_user(runner) -> None:
    result = runner.invoke(args=["user", "password", "ghost", "--password", NEW_PASSWORD])
    assert result.exit_code == 1
    assert "No user 'ghost'" in result.output


def test_raising_the_hash_cost_rehashes_at_next_login(app: Flask, client: FlaskClient) -> None:
    create_user(app, "alice", "author")
    with app.app_context():
        before = db.session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert before is not None and ",t=1," in before
    app.config["ARGON2_TIME_COST"] = 2
    assert login(client, "alice").status_code == 302
    with app.app_context():
        after = db.session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert after is not None and ",t=2," in after
    assert login(app.test_client(), "alice").status_code == 302


def test_a_first_login_is_welcomed_and_a_later_one_welcomed_back(app: Flask, client: FlaskClient):
    create_user(app, "mo", "moderator")
    first = login(client, "mo")
    assert "Welcome, mo." in client.get(first.headers["Location"]).get_data(as_text=True)
    client.post("/logout")
    again = login(client, "mo")
    assert "Welcome back, mo." in client.get(again.headers["Location"]).get_data(as_text=True)

"""Logins and API tokens end when they are ended: copies of cookies, remember-me, tokens."""

from __future__ import annotations

from datetime import timedelta

from conftest import PASSWORD, create_user, login, recorded_statements
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.models import ApiToken, UserSession, utcnow
from blog.services import users as user_service


def _logged_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def _copy_cookies(source: FlaskClient, target: FlaskClient) -> None:
    for name in ("session", "remember_token"):
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value)


def test_logging_out_ends_every_copy_of_the_session(app: Flask, admin_client) -> None:
    thief = app.test_client()
    _copy_cookies(admin_client, thief)
    assert _logged_in(thief)
    admin_client.post("/logout")
    assert not _logged_in(admin_client)
    assert not _logged_in(thief)  # a copy of the old cookie no longer works


def test_logging_out_ends_the_remember_me_cookie_too(app: Flask, admin: str) -> None:
    browser = app.test_client()
    browser.post("/login", data={"username": admin, "password": PASSWORD, "remember": "y"})
    remember = browser.get_cookie("remember_token").value
    returning = app.test_client()
    returning.set_cookie("remember_token", remember)
    assert _logged_in(returning)  # remember-me works while the login lasts
    browser.post("/logout")
    later = app.test_client()
    later.set_cookie("remember_token", remember)
    assert not _logged_in(later)


def test_log_out_everywhere_else_from_the_account_page(app: Flask, admin: str) -> None:
    here, there = app.test_client(), app.test_client()
    login(here, admin)
    login(there, admin)
    with app.app_context():
        user = user_service.find_user(admin)
        kept_token = user_service.create_token(user, "kept")
    page = here.get("/admin/account").get_data(as_text=True)
    assert page.count("<tr>") >= 3 and "this browser" in page
    # The box unticked (a browser sends the form's other fields, not the box).
    response = here.post("/admin/account/logout-everywhere", data={"csrf_token": ""})
    assert response.status_code == 303
    assert _logged_in(here) and not _logged_in(there)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {kept_token}"}
    assert api.get("/api/v1/comments?status=pending", headers=headers).status_code == 200
    login(there, admin)
    here.post("/admin/account/logout-everywhere", data={"revoke_tokens": "y"})
    assert not _logged_in(there)
    assert api.get("/api/v1/comments?status=pending", headers=headers).status_code == 401


def test_a_password_change_ends_other_logins_and_says_what_of_tokens(app: Flask, admin, runner):
    elsewhere = app.test_client()
    login(elsewhere, admin)
    result = runner.invoke(args=["user", "password", admin, "--password", "another password"])
    assert result.exit_code == 0
    assert "API tokens were kept" in result.output
    assert not _logged_in(elsewhere)
    with app.app_context():
        user_service.create_token(user_service.find_user(admin))
    result = runner.invoke(
        args=["user", "password", admin, "--password", "a third one!", "--revoke-tokens"]
    )
    assert "1 API tokens revoked" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 0


def test_log_out_everywhere_from_the_command_line(app: Flask, admin: str, runner) -> None:
    elsewhere = app.test_client()
    login(elsewhere, admin)
    result = runner.invoke(args=["user", "logout-everywhere", admin])
    assert result.exit_code == 0 and "Ended 1 sessions" in result.output
    assert not _logged_in(elsewhere)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(UserSession)) == 0


def test_tokens_have_names_expiry_and_can_be_revoked(app: Flask, admin: str, runner) -> None:
    result = runner.invoke(args=["token", "create", admin, "--name", "backup script",
                                 "--expires-days", "30"])  # fmt: skip
    token = result.output.strip()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/comments?status=pending", headers=headers).status_code == 200
    listed = runner.invoke(args=["token", "list", admin]).output
    assert "backup script" in listed and token[:12] in listed and token not in listed
    token_id = int(listed.split("\t", 1)[0])
    with app.app_context():
        row = db.session.get(ApiToken, token_id)
        assert row.expires_at - utcnow() > timedelta(days=29)
        assert row.last_used_at is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert api.get("/api/v1/comments?status=pending", headers=headers).status_code == 401
    assert "Revoked token" in runner.invoke(args=["token", "revoke", str(token_id)]).output
    assert runner.invoke(args=["token", "revoke", str(token_id)]).exit_code != 0


def test_the_account_page_makes_a_token_shown_once(app: Flask, admin_client) -> None:
    made = admin_client.post("/admin/account/tokens", data={"name": "deploy", "expires_days": ""})
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    body = made.get_data(as_text=True)
    token = body.split('<code id="new-token">', 1)[1].split("</code>", 1)[0]
    assert token.startswith("blog_")
    again = admin_client.get("/admin/account").get_data(as_text=True)
    assert token not in again and "deploy" in again
    assert "Set-Cookie" not in made.headers or token not in made.headers["Set-Cookie"]


def test_only_the_owner_or_an_admin_revokes_a_token(app: Flask, admin: str) -> None:
    create_user(app, "writer", "author")
    create_user(app, "other", "author")
    with app.app_context():
        user_service.create_token(user_service.find_user("writer"), "mine")
        token_id = db.session.scalar(db.select(ApiToken.id))
    other = app.test_client()
    login(other, "other")
    assert other.post(f"/admin/tokens/{token_id}/revoke").status_code == 403
    assert other.get("/admin/tokens").status_code == 403
    boss = app.test_client()
    login(boss, admin)
    assert "mine" in boss.get("/admin/tokens").get_data(as_text=True)
    assert boss.post(f"/admin/tokens/{token_id}/revoke").status_code == 303
    with app.app_context():
        assert db.session.get(ApiToken, token_id) is None


def test_a_logged_in_request_reads_its_user_and_login_in_one_statement(
    app: Flask, admin_client: FlaskClient
) -> None:
    assert admin_client.get("/admin/").status_code == 200  # last seen: now
    with recorded_statements(app) as statements:
        assert admin_client.get("/admin/").status_code == 200
    logins = [s for s in statements if "user_sessions" in s]
    assert len(logins) == 1 and "JOIN" in logins[0], logins
    assert not [s for s in statements if "user_sessions" not in s and "FROM users" in s]

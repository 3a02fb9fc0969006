"""Admin -> Users: the list, adding, changing a role, disabling, one-time password links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, create_post, create_user, login, make_app
from flask import Flask
from flask.testing import FlaskClient
from test_notifications import Inbox, inbox, mail_app, smtp  # noqa: F401 - fixtures

from blog.extensions import db
from blog.models import (
    PERMISSION_WORDS,
    ROLE_PERMISSIONS,
    OutboxMessage,
    PasswordLink,
    Permission,
    Role,
    User,
    UserSession,
    utcnow,
)
from blog.services import password_links
from blog.services import users as user_service

LINK_RE = re.compile(r'<code id="password-link">[^<]*/password/([A-Za-z0-9_-]+)</code>')


def _user(app: Flask, username: str) -> User:
    with app.app_context():
        user = user_service.find_user(username)
        assert user is not None
        db.session.expunge(user)
        return user


def _id(app: Flask, username: str) -> int:
    return _user(app, username).id


def _logged_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def _link_from(response) -> str:
    found = LINK_RE.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:2000]
    return found.group(1)


def _new_link(app: Flask, admin_client: FlaskClient, username: str) -> str:
    response = admin_client.post(f"/admin/users/{_id(app, username)}/password-link")
    assert response.status_code == 201
    return _link_from(response)


@pytest.fixture
def people(app: Flask, admin: str) -> dict[str, int]:
    return {
        "ann": create_user(app, "ann", "author"),
        "ed": create_user(app, "ed", "editor"),
        "sub": create_user(app, "sub", "subscriber"),
    }


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_every_user_with_role_status_posts_and_login(
    app: Flask, admin_client: FlaskClient, people
) -> None:
    create_post(app, "ann", title="One")
    create_post(app, "ann", title="Two")
    page = admin_client.get("/admin/users").get_data(as_text=True)
    for name in ("admin", "ann", "ed", "sub"):
        assert f">{name}</a>" in page
    ann_row = page.split(f'id="user-{people["ann"]}"', 1)[1].split("</tr>", 1)[0]
    assert "ann@example.com" in ann_row
    assert ">2</a>" in ann_row  # two posts, linked to the posts list
    assert "status-active" in ann_row and "never" in ann_row  # never logged in
    admin_row = page.split(f'id="user-{_id(app, "admin")}"', 1)[1].split("</tr>", 1)[0]
    assert "<time" in admin_row and ">you<" in admin_row
    assert "All (4)" in page and "Author (1)" in page


def test_filter_by_role_and_search(app: Flask, admin_client: FlaskClient, people) -> None:
    page = admin_client.get("/admin/users?role=editor").get_data(as_text=True)
    assert ">ed</a>" in page and ">ann</a>" not in page
    page = admin_client.get("/admin/users?s=ANN@EXAMPLE").get_data(as_text=True)
    assert ">ann</a>" in page and ">ed</a>" not in page
    # LIKE's wildcards are matched literally.
    page = admin_client.get("/admin/users?s=%25").get_data(as_text=True)
    assert "No users match." in page
    # An unknown role shows everyone; an over-long search says so.
    assert ">sub</a>" in admin_client.get("/admin/users?role=bogus").get_data(as_text=True)
    response = admin_client.get("/admin/users?s=" + "x" * 101)
    assert response.status_code == 400
    assert "at most 100" in response.get_data(as_text=True)
    assert admin_client.get("/admin/users?s=a%00b").status_code == 400


def test_each_role_is_shown_with_the_permissions_it_grants(
    app: Flask, admin_client: FlaskClient
) -> None:
    assert set(PERMISSION_WORDS) == set(Permission)  # a new permission needs its words
    page = admin_client.get("/admin/users").get_data(as_text=True)
    for role, granted in ROLE_PERMISSIONS.items():
        item = page.split(f'id="role-{role.value}"', 1)[1].split("</div>", 1)[0]
        for flag, words in PERMISSION_WORDS.items():
            assert (words.replace("'", "&#39;") in item) == (flag in granted), (role, flag)


def test_the_nav_shows_users_to_admins_only(app: Flask, admin_client, people) -> None:
    assert 'href="/admin/users"' in admin_client.get("/admin/").get_data(as_text=True)
    editor = app.test_client()
    login(editor, "ed")
    assert 'href="/admin/users"' not in editor.get("/admin/").get_data(as_text=True)
    assert editor.get("/admin/users").status_code == 403


# --- adding a user ---------------------------------------------------------------------------


def test_add_a_user_with_a_password(app: Flask, admin_client: FlaskClient) -> None:
    response = admin_client.post(
        "/admin/users/new",
        data={
            "username": "zoe",
            "display_name": "Zoë Z.",
            "email": "zoe@example.org",
            "role": "author",
            "password": "a long password",
        },
    )
    assert response.status_code == 303
    zoe = _user(app, "zoe")
    assert (zoe.role, zoe.display_name, zoe.email) == (Role.AUTHOR, "Zoë Z.", "zoe@example.org")
    assert login(app.test_client(), "zoe", "a long password").status_code == 302


def test_add_a_user_without_a_password_gives_a_one_time_link(
    app: Flask, admin_client: FlaskClient
) -> None:
    response = admin_client.post(
        "/admin/users/new", data={"username": "nopw", "email": "", "role": "subscriber"}
    )
    assert response.status_code == 201
    token = _link_from(response)
    assert "no mail was sent" in response.get_data(as_text=True)
    reader = app.test_client()
    form = reader.get(f"/password/{token}")
    assert form.status_code == 200 and "nopw" in form.get_data(as_text=True)
    done = reader.post(
        f"/password/{token}", data={"password": "my own pass", "confirm": "my own pass"}
    )
    assert done.status_code == 303 and done.location.endswith("/login")
    assert login(reader, "nopw", "my own pass").status_code == 302


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "bad name"}, "A username is 1 to 60"),
        ({"username": "admin"}, "is taken"),
        ({"username": "x" * 61}, "Field cannot be longer than 60"),
        ({"email": "not-an-address"}, "one address of at most 100"),
        ({"email": "admin@example.com"}, "Another user has the email"),
        ({"email": "ADMIN@example.com"}, "Another user has the email"),
        ({"email": "a" * 95 + "@x.org"}, "longer than 100"),
        ({"display_name": "n" * 251}, "longer than 250"),
        ({"display_name": "bell\x07"}, "plain characters"),
        ({"password": "short"}, "at least 8"),
        ({"role": "overlord"}, "Not a valid choice"),
    ],
)
def test_add_a_user_refuses_bad_input_and_keeps_it(
    app: Flask, admin_client: FlaskClient, fields, message
) -> None:
    data = {"username": "newbie", "display_name": "Kept Name", "email": "", "role": "author"}
    data |= fields
    response = admin_client.post("/admin/users/new", data=data)
    assert response.status_code in (400, 409)
    page = response.get_data(as_text=True)
    assert message in page, page[:3000]
    if "display_name" not in fields:
        assert 'value="Kept Name"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_the_command_line_uses_the_same_service(app: Flask, runner) -> None:
    result = runner.invoke(
        args=["user", "create", "cli", "--role", "editor", "--email", "bad", "--password", "x" * 9]
    )
    assert result.exit_code != 0 and "one address" in result.output
    result = runner.invoke(
        args=["user", "create", "cli", "--role", "editor", "--password", "x" * 9]
    )
    assert result.exit_code == 0, result.output


# --- changing a user -------------------------------------------------------------------------


def _edit(client: FlaskClient, user_id: int, **fields):
    data = {"display_name": "", "email": "", "role": "author"} | fields
    return client.post(f"/admin/users/{user_id}", data=data)


def test_change_role_name_and_email(app: Flask, admin_client: FlaskClient, people) -> None:
    response = _edit(
        admin_client, people["ann"], role="editor", display_name="Ann A.", email="ann@new.org"
    )
    assert response.status_code == 303
    page = admin_client.get(response.location).get_data(as_text=True)
    assert "role author → editor, display name, email changed" in page
    ann = _user(app, "ann")
    assert (ann.role, ann.display_name, ann.email) == (Role.EDITOR, "Ann A.", "ann@new.org")
    # The new role counts at once, in a login that was already open.
    assert ann.can(Permission.EDIT_OTHERS)


def test_a_role_change_applies_to_an_open_login(app: Flask, admin_client, people) -> None:
    ann = app.test_client()
    login(ann, "ann")
    assert ann.get("/admin/posts/new").status_code == 200
    _edit(admin_client, people["ann"], role="subscriber")
    assert ann.get("/admin/posts/new").status_code == 403


def test_a_new_display_name_shows_on_the_cached_post_page(
    app: Flask, admin_client: FlaskClient, people
) -> None:
    _, path = create_post(app, "ann", title="Cached")
    reader = app.test_client()
    assert ">ann<" in reader.get(path).get_data(as_text=True)
    assert reader.get(path).headers.get("ETag")  # served from the page cache
    _edit(admin_client, people["ann"], display_name="Annabel Writer", email="ann@example.com")
    page = reader.get(path).get_data(as_text=True)
    assert "Annabel Writer" in page


def test_an_admin_cannot_demote_or_disable_themselves(app: Flask, admin_client) -> None:
    me = _id(app, "admin")
    create_user(app, "other", "admin")  # not the last admin: still refused
    response = _edit(admin_client, me, role="editor", email="admin@example.com")
    assert response.status_code == 409
    assert "You cannot demote yourself" in response.get_data(as_text=True)
    response = admin_client.post(f"/admin/users/{me}/disable", follow_redirects=True)
    assert "You cannot disable yourself" in response.get_data(as_text=True)
    me_now = _user(app, "admin")
    assert me_now.role == Role.ADMIN and me_now.active


def test_the_last_active_admin_stays_an_admin(app: Flask, admin: str) -> None:
    boss = create_user(app, "boss", "admin")
    with app.app_context():
        # Another active admin: boss may be demoted by the admin.
        admin_user = user_service.find_user("admin")
        from blog.services import user_admin

        user_admin.update_user(
            db.session.get(User, boss), admin_user, role="editor", display_name="", email=""
        )
        # The command line (no actor) cannot take the last admin away either.
        with pytest.raises(user_service.ServiceError, match="last active admin"):
            user_admin.update_user(
                user_service.find_user("admin"), None, role="editor", display_name="", email=""
            )
        with pytest.raises(user_service.ServiceError, match="last active admin"):
            user_admin.set_active(user_service.find_user("admin"), None, False)
        # A disabled admin does not count as one.
        third = user_service.create_user("third", PASSWORD, "admin")
        user_admin.set_active(third, None, False)
        with pytest.raises(user_service.ServiceError, match="last active admin"):
            user_admin.set_active(user_service.find_user("admin"), None, False)


def test_edit_refuses_a_taken_email_and_keeps_the_form(app, admin_client, people) -> None:
    response = _edit(admin_client, people["ann"], email="ED@example.com", display_name="Typed")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Another user has the email" in page and 'value="Typed"' in page
    assert _user(app, "ann").email == "ann@example.com"


def test_unknown_users_are_404(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/users/999999").status_code == 404
    assert admin_client.get("/admin/users/99999999999").status_code == 404
    assert admin_client.post("/admin/users/999999/disable").status_code == 404


# --- disabling -------------------------------------------------------------------------------


def test_disabling_ends_logins_tokens_and_refuses_login(
    app: Flask, admin_client: FlaskClient, people
) -> None:
    ann = app.test_client()
    login(ann, "ann", PASSWORD)
    remembered = app.test_client()
    remembered.post("/login", data={"username": "ann", "password": PASSWORD, "remember": "y"})
    with app.app_context():
        token = user_service.create_token(db.session.get(User, people["ann"]), "laptop")
    api = {"Authorization": f"Bearer {token}"}
    assert ann.get("/api/v1/posts?status=draft", headers=api).status_code == 200
    assert _logged_in(ann) and _logged_in(remembered)

    response = admin_client.post(f"/admin/users/{people['ann']}/disable")
    assert response.status_code == 303
    assert "is disabled" in admin_client.get(response.location).get_data(as_text=True)
    assert not _logged_in(ann) and not _logged_in(remembered)
    with app.app_context():
        assert not db.session.scalars(
            sa.select(UserSession).where(UserSession.user_id == people["ann"])
        ).all()
    assert app.test_client().get("/api/v1/posts", headers=api).status_code == 401
    denied = app.test_client().post("/api/v1/posts", json={"title": "x"}, headers=api)
    assert denied.status_code == 401
    assert login(app.test_client(), "ann").status_code == 401

    # Enabled again: logins work, and so does the token that was kept.
    admin_client.post(f"/admin/users/{people['ann']}/enable")
    assert login(app.test_client(), "ann").status_code == 302
    created = app.test_client().post(
        "/api/v1/posts", json={"title": "Back", "status": "draft"}, headers=api
    )
    assert created.status_code == 201


def test_a_disabled_users_old_session_row_counts_for_nothing(app: Flask, people) -> None:
    """Even if a session row outlived the disabling (a request racing it), it is refused."""
    ann = app.test_client()
    login(ann, "ann")
    with app.app_context():
        db.session.get(User, people["ann"]).active = False
        db.session.commit()  # the rows are still there
        assert db.session.scalars(sa.select(UserSession)).all()
    assert not _logged_in(ann)


# --- one-time password links -----------------------------------------------------------------


def test_a_reset_link_sets_the_password_once_and_ends_other_logins(
    app: Flask, admin_client: FlaskClient, people
) -> None:
    ann = app.test_client()
    login(ann, "ann")
    token = _new_link(app, admin_client, "ann")
    with app.app_context():
        row = db.session.scalars(sa.select(PasswordLink)).one()
        # Only the hash is stored; the token is nowhere in the database.
        assert row.token_hash == password_links._digest(token) and token not in row.token_hash
        assert row.expires_at - utcnow() > timedelta(hours=23)
    # The old password still works until the link is used.
    assert login(app.test_client(), "ann").status_code == 302
    stranger = app.test_client()
    page = stranger.get(f"/password/{token}")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in page.headers["Cache-Control"]
    mismatch = stranger.post(f"/password/{token}", data={"password": "new pass 1", "confirm": "x"})
    assert mismatch.status_code == 400 and "not the same" in mismatch.get_data(as_text=True)
    short = stranger.post(f"/password/{token}", data={"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "at least 8" in short.get_data(as_text=True)
    done = stranger.post(
        f"/password/{token}", data={"password": "new pass 1", "confirm": "new pass 1"}
    )
    assert done.status_code == 303
    assert "Your password is set" in stranger.get("/login").get_data(as_text=True)
    assert not _logged_in(ann)  # every login of ann's ended
    assert login(app.test_client(), "ann").status_code == 401
    assert login(app.test_client(), "ann", "new pass 1").status_code == 302
    # Used once: the same link is refused, for the form and the POST alike.
    again = app.test_client().get(f"/password/{token}")
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)
    replay = app.test_client().post(
        f"/password/{token}", data={"password": "x" * 9, "confirm": "x" * 9}
    )
    assert replay.status_code == 410
    assert login(app.test_client(), "ann", "new pass 1").status_code == 302


def test_a_link_expires(app: Flask, admin_client: FlaskClient, people) -> None:
    token = _new_link(app, admin_client, "ann")
    with app.app_context():
        row = db.session.scalars(sa.select(PasswordLink)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = app.test_client().get(f"/password/{token}")
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    posted = app.test_client().post(
        f"/password/{token}", data={"password": "x" * 9, "confirm": "x" * 9}
    )
    assert posted.status_code == 410
    assert login(app.test_client(), "ann").status_code == 302  # the old password stands


def test_the_link_lifetime_is_a_setting(database_uri: str, tmp_path: Path, app, people) -> None:
    short = make_app(database_uri, tmp_path / "short", PASSWORD_LINK_HOURS=2)
    with short.test_request_context():
        user = user_service.find_user("ann")
        link = password_links.issue(user, None)
        assert timedelta(hours=1, minutes=59) < link.expires_at - utcnow() <= timedelta(hours=2)
        db.session.remove()
    with short.app_context():
        db.engine.dispose()


def test_unknown_and_replaced_links_are_refused(app: Flask, admin_client, people) -> None:
    for token in ("nope", "x" * 300, "%00"):
        response = app.test_client().get(f"/password/{token}")
        assert response.status_code == 404
        assert "This link is not known" in response.get_data(as_text=True)
    first = _new_link(app, admin_client, "ann")
    second = _new_link(app, admin_client, "ann")
    assert app.test_client().get(f"/password/{first}").status_code == 404
    assert app.test_client().get(f"/password/{second}").status_code == 200


def test_a_disabled_user_gets_no_link_and_cannot_use_one(app, admin_client, people) -> None:
    token = _new_link(app, admin_client, "ann")
    admin_client.post(f"/admin/users/{people['ann']}/disable")
    response = app.test_client().get(f"/password/{token}")
    assert response.status_code == 410 and "disabled" in response.get_data(as_text=True)
    refused = admin_client.post(
        f"/admin/users/{people['ann']}/password-link", follow_redirects=True
    )
    assert "enable the account before" in refused.get_data(as_text=True)


def test_the_link_form_needs_its_csrf_token(csrf_app: Flask, people) -> None:
    with csrf_app.test_request_context():
        token = password_links.issue(user_service.find_user("ann"), None).url.rsplit("/", 1)[1]
        db.session.remove()
    client = csrf_app.test_client()
    response = client.post(f"/password/{token}", data={"password": "x" * 9, "confirm": "x" * 9})
    assert response.status_code == 400
    with csrf_app.app_context():
        assert db.session.scalars(sa.select(PasswordLink)).one().used_at is None


# --- mail ------------------------------------------------------------------------------------


@pytest.fixture
def mailing(app: Flask, database_uri: str, tmp_path: Path) -> Iterator[Flask]:
    """The app with a mail server set (no worker: the outbox rows are what is checked)."""
    sending = make_app(
        database_uri, tmp_path / "mail", MAIL_SERVER="127.0.0.1", MAIL_PORT=1, OUTBOX_WORKER=False
    )
    yield sending
    with sending.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_link_is_mailed_when_mail_is_set_up(mailing: Flask) -> None:
    create_user(mailing, "admin", "admin")
    create_user(mailing, "ann", "author", email="ann@example.org")
    client = mailing.test_client()
    login(client, "admin")
    response = client.post(f"/admin/users/{_id(mailing, 'ann')}/password-link")
    assert response.status_code == 201
    token = _link_from(response)
    assert "has been mailed to ann@example.org" in response.get_data(as_text=True)
    with mailing.app_context():
        mail = db.session.scalars(sa.select(OutboxMessage)).one()
        assert mail.recipients == ["ann@example.org"]
        assert "Set a new password" in mail.subject
        assert f"/password/{token}" in mail.body and "24 hours" in mail.body
    # A new account with no password typed: mailed too, worded as a welcome.
    client.post(
        "/admin/users/new", data={"username": "neo", "email": "neo@example.org", "role": "author"}
    )
    with mailing.app_context():
        mails = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert mails[-1].recipients == ["neo@example.org"] and "Your account" in mails[-1].subject


def test_no_mail_without_a_mail_server(app: Flask, admin_client, people) -> None:
    response = admin_client.post(f"/admin/users/{people['ann']}/password-link")
    assert "no mail was sent" in response.get_data(as_text=True)
    with app.app_context():
        assert not db.session.scalars(sa.select(OutboxMessage)).all()


def test_an_unchanged_shared_email_does_not_block_saving(app: Flask, admin_client, people) -> None:
    """Two users with one address (an import) can still have their other fields edited."""
    with app.app_context():
        db.session.get(User, people["ann"]).email = "ed@example.com"
        db.session.commit()
    response = _edit(admin_client, people["ann"], email="ED@example.com", display_name="Ann")
    assert response.status_code == 303
    assert _user(app, "ann").display_name == "Ann"


def test_role_changes_and_disabling_are_logged(app, admin_client, people, caplog) -> None:
    with caplog.at_level("INFO", logger="blog.services.user_admin"):
        _edit(admin_client, people["ann"], role="editor", email="ann@example.com")
        admin_client.post(f"/admin/users/{people['ann']}/disable")
    assert "user ann changed by admin: role author → editor" in caplog.text
    assert "user ann disabled by admin" in caplog.text


def test_the_link_reaches_the_users_mailbox(mail_app: Flask, inbox: Inbox) -> None:  # noqa: F811
    """Delivered for real, through the outbox, to an SMTP server; and it works."""
    create_user(mail_app, "admin", "admin")
    create_user(mail_app, "ann", "author", email="ann@example.org")
    client = mail_app.test_client()
    login(client, "admin")
    token = _link_from(client.post(f"/admin/users/{_id(mail_app, 'ann')}/password-link"))
    [mail] = inbox.to("ann@example.org")
    assert "Set a new password" in mail.subject and f"/password/{token}" in mail.body
    form = {"password": "from my inbox", "confirm": "from my inbox"}
    assert mail_app.test_client().post(f"/password/{token}", data=form).status_code == 303
    assert login(mail_app.test_client(), "ann", "from my inbox").status_code == 302

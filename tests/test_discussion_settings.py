"""Settings → Discussion: WordPress's names and defaults, validation that keeps what was typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from comment_helpers import by_id, discussion_form, form_values, page, text, with_class
from conftest import PASSWORD, create_user, login, make_app
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.moderation import DiscussionSettings
from blog.sanitize import DEFAULT_COMMENT_WHITELIST, format_whitelist

URL = "/admin/settings/discussion"


def settings_form(response):
    return next(f for f in page(response).iter("form") if "settings-form" in f.get("class", ""))


def stored(app: Flask) -> tuple[DiscussionSettings, str]:
    from blog.services import settings as settings_service

    with app.app_context():
        return settings_service.discussion_settings(), settings_service.comment_whitelist_text()


def test_page_shows_wordpress_names_and_defaults(admin_client: FlaskClient) -> None:
    response = admin_client.get(URL)
    assert response.status_code == 200
    values = form_values(settings_form(response))
    values.pop("csrf_token", None)
    assert values == {
        "default_comment_status_open": "y",
        "require_name_email": "y",
        "close_comments_days_old": "14",
        "thread_comments": "y",
        "thread_comments_depth": "5",
        "comments_per_page": "50",
        "default_comments_page": "newest",
        "comment_order": "asc",
        "comments_notify": "y",
        "moderation_notify": "y",
        "comment_previously_approved": "y",
        "comment_max_links": "2",
        "moderation_keys": "",
        "disallowed_keys": "",
        "comment_whitelist": format_whitelist(DEFAULT_COMMENT_WHITELIST),
        "show_avatars": "y",
        "avatar_source": "gravatar",
        "spam_hold_percent": "25",
        "spam_percent": "90",
        "spam_min_decisions": "50",
    }
    # Every WordPress option is on the page, ticked or not.
    names = {e.get("name") for e in settings_form(response).iter() if e.get("name")}
    assert set(DiscussionSettings.__dataclass_fields__) <= names


def test_saving_round_trips(app: Flask, admin_client: FlaskClient) -> None:
    data = discussion_form(
        require_name_email=False,
        comment_registration=True,
        thread_comments_depth="3",
        page_comments=True,
        comments_per_page="7",
        default_comments_page="oldest",
        comment_order="desc",
        comment_max_links="0",
        moderation_keys="viagra\n\n  cheap pills  \nVIAGRA\n",
        disallowed_keys="casino",
        comment_whitelist="b\nA   HREF title\n",
    )
    response = admin_client.post(URL, data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == URL
    assert "Discussion settings saved." in text(page(admin_client.get(URL)))

    settings, whitelist = stored(app)
    assert settings.require_name_email is False
    assert settings.comment_registration is True
    assert settings.thread_comments_depth == 3
    assert (settings.page_comments, settings.comments_per_page) == (True, 7)
    assert (settings.default_comments_page, settings.comment_order) == ("oldest", "desc")
    assert settings.comment_max_links == 0
    assert settings.moderation_keys == ("viagra", "cheap pills")
    assert settings.disallowed_keys == ("casino",)
    assert whitelist == "b\na href title"

    shown = form_values(settings_form(admin_client.get(URL)))
    assert shown["moderation_keys"] == "viagra\ncheap pills"
    assert "require_name_email" not in shown and shown["comment_registration"] == "y"
    assert shown["comment_whitelist"] == "b\na href title"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("thread_comments_depth", "1", "Number must be between 2 and 10."),
        ("thread_comments_depth", "11", "Number must be between 2 and 10."),
        ("thread_comments_depth", "five", "Not a valid integer value."),
        ("comments_per_page", "0", "Number must be between 1 and 1000."),
        ("comments_per_page", "1001", "Number must be between 1 and 1000."),
        ("close_comments_days_old", "0", "Number must be between 1 and 36500."),
        ("comment_max_links", "-1", "Number must be between 0 and 100."),
        ("comment_max_links", "101", "Number must be between 0 and 100."),
        ("comment_max_links", "99999999999999999999999", "Number must be between 0 and 100."),
        ("default_comments_page", "middle", "Not a valid choice"),
        ("comment_order", "random", "Not a valid choice"),
        ("comment_whitelist", "", "This field is required."),
    ],
)
def test_out_of_range_values_are_refused_and_kept(
    app: Flask, admin_client: FlaskClient, field: str, value: str, message: str
) -> None:
    before = stored(app)
    data = discussion_form(**{field: value}, moderation_keys="typed words", page_comments=True)
    response = admin_client.post(URL, data=data)
    assert response.status_code == 400
    root = page(response)
    errors = text(next(with_class(root, "form-errors")))
    assert message in errors
    kept = form_values(settings_form(response))
    if field not in ("default_comments_page", "comment_order"):
        assert kept[field] == value
    assert kept["moderation_keys"] == "typed words"
    assert kept["page_comments"] == "y"
    assert stored(app) == before


@pytest.mark.parametrize(
    ("whitelist", "message"),
    [
        ("b\nscript", "Line 2: <script> is never allowed in comments"),
        ("a href onclick", "Line 1: The 'onclick' attribute is never allowed"),
        ("b style", "The 'style' attribute is never allowed"),
        ("img src", "<img> is never allowed in comments"),
        ("svg", "<svg> is never allowed"),
        ("a href\nstyle", "Line 2: <style> is never allowed"),
        ("p", "<p> is made from line breaks automatically"),
        ("my-widget", "custom element"),
        ("b\n<i>", "is not a tag name"),
    ],
)
def test_dangerous_whitelist_is_refused(
    app: Flask, admin_client: FlaskClient, whitelist: str, message: str
) -> None:
    before = stored(app)
    response = admin_client.post(URL, data=discussion_form(comment_whitelist=whitelist))
    assert response.status_code == 400
    root = page(response)
    field = by_id(root, "comment_whitelist")
    assert "".join(field.itertext()) == whitelist
    assert message in text(next(with_class(root, "form-errors")))
    assert stored(app) == before


@pytest.mark.parametrize("role", ["editor", "author", "moderator", "subscriber"])
def test_only_site_managers_change_discussion_settings(app: Flask, role: str) -> None:
    create_user(app, "someone", role)
    client = app.test_client()
    login(client, "someone")
    before = stored(app)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data=discussion_form(comment_registration=True)).status_code == 403
    assert stored(app) == before


def test_anonymous_is_sent_to_log_in(client: FlaskClient) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_saving_needs_the_csrf_token(
    app: Flask, admin: str, database_uri: str, tmp_path: Path
) -> None:
    strict = make_app(database_uri, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    client = strict.test_client()
    token = page(client.get("/login")).find(".//input[@name='csrf_token']").get("value")
    assert (
        client.post(
            "/login", data={"username": admin, "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    data = discussion_form(comment_registration=True)
    refused = client.post(URL, data=data)
    assert refused.status_code == 400
    assert stored(strict)[0].comment_registration is False
    data["csrf_token"] = form_values(settings_form(client.get(URL)))["csrf_token"]
    assert client.post(URL, data=data).status_code == 303
    assert stored(strict)[0].comment_registration is True
    with strict.app_context():
        db.session.remove()
        db.engine.dispose()


def test_settings_take_effect_on_the_post_page(
    app: Flask, admin: str, admin_client: FlaskClient
) -> None:
    from conftest import create_post

    path = create_post(app, admin, title="Settings in effect")[1]
    admin_client.post(URL, data=discussion_form(require_name_email=False, show_avatars=False))
    reader = app.test_client()
    root = page(reader.get(path))
    author = root.find(".//input[@name='author']")
    assert author.get("required") is None
    response = reader.post(path, data={"comment": "No name given.", "comment_parent": "0"})
    assert response.status_code == 303
    assert not [i for i in page(reader.get(path)).iter("img") if "avatar" in i.get("class", "")]

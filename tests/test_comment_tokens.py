"""The comment form from a page shared by every reader: its stamp, and forged posts refused.

Request tests run with CSRF checks on, as in production. A reader's page carries a signed
stamp naming the post in ``csrf_token`` (no session, no cookie); a cross-site post is told
apart by the headers a browser sends; logged-in users keep session-bound tokens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from comment_helpers import all_comments, by_id, form_values, page, text
from conftest import PASSWORD, create_post, make_app
from flask import Flask
from flask.testing import FlaskClient

from blog.comments import tokens
from blog.extensions import db

SECRET = "not-a-real-secret"


# --- the stamp ------------------------------------------------------------------------------


def test_a_stamp_names_its_post_and_its_time() -> None:
    before = time.time()
    stamp = tokens.check(SECRET, tokens.issue(SECRET, 42), 42)
    assert stamp.ok
    assert stamp.issued_at is not None and before - 1 <= stamp.issued_at <= time.time()


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (None, tokens.MISSING),
        ("", tokens.MISSING),
        ("garbage", tokens.FORGED),
        (tokens.issue(SECRET, 7), tokens.FORGED),  # another post's
        (tokens.issue("another-site", 42), tokens.FORGED),
        (tokens.issue(SECRET, 42)[:-2] + "xx", tokens.FORGED),
        (tokens.issue(SECRET, 42, at=time.time() - tokens.MAX_AGE - 60), tokens.STALE),
        (tokens.issue(SECRET, 42, at=time.time() + 3600), tokens.FORGED),
    ],
)
def test_bad_stamps_are_refused_with_a_reason(token: str | None, problem: str) -> None:
    stamp = tokens.check(SECRET, token, 42)
    assert not stamp.ok and stamp.problem == problem
    assert tokens.seconds_since(stamp) == 0.0


def test_seconds_since_measures_from_the_stamp() -> None:
    stamp = tokens.check(SECRET, tokens.issue(SECRET, 1, at=time.time() - 90), 1)
    assert 89 <= tokens.seconds_since(stamp) <= 95


OWN = ("http://blog.example/", "https://blog.example")


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({}, False),
        ({"Sec-Fetch-Site": "same-origin"}, False),
        ({"Sec-Fetch-Site": "none"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"Sec-Fetch-Site": "same-site"}, True),
        ({"Sec-Fetch-Site": "CROSS-SITE"}, True),
        ({"Origin": "http://blog.example"}, False),
        ({"Origin": "http://blog.example:80"}, False),
        ({"Origin": "https://blog.example"}, False),
        ({"Origin": "HTTP://Blog.Example"}, False),
        ({"Origin": "http://blog.example:8080"}, True),
        ({"Origin": "http://evil.example"}, True),
        ({"Origin": "http://blog.example.evil.example"}, True),
        ({"Origin": "null"}, True),
        ({"Origin": ""}, True),
        ({"Origin": "http://blog.example", "Sec-Fetch-Site": "cross-site"}, True),
    ],
)
def test_cross_site_requests_are_told_by_their_headers(headers: dict, cross: bool) -> None:
    assert tokens.cross_site(headers, OWN) is cross


# --- through the form, CSRF on --------------------------------------------------------------


@pytest.fixture
def site(app: Flask, database_uri: str, tmp_path, admin: str) -> Iterator[Flask]:
    protected = make_app(database_uri, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    yield protected
    with protected.app_context():
        db.engine.dispose()


@pytest.fixture
def post(app: Flask, admin: str) -> tuple[int, str]:
    return create_post(app, admin, title="Comment here")


def fields_of(client: FlaskClient, path: str) -> dict[str, str]:
    """What a browser without JavaScript sends back: every field of the form as served."""
    response = client.get(path)
    assert "Set-Cookie" not in response.headers
    return form_values(by_id(page(response), "commentform"))


def typed(**changes: str) -> dict[str, str]:
    values = {"author": "Ann Reader", "email": "ann@example.org", "comment": "Kept, always."}
    values.update(changes)
    return values


def test_a_script_that_posts_the_form_back_is_served_like_a_browser(site: Flask, post) -> None:
    client = site.test_client()
    sent = {**fields_of(client, post[1]), **typed()}
    response = client.post(post[1], data=sent)
    assert response.status_code == 303
    assert [c.content for c in all_comments(site)] == ["Kept, always."]


def test_one_pages_token_serves_several_comments(site: Flask, post) -> None:
    fields = fields_of(site.test_client(), post[1])
    for n in range(3):
        client = site.test_client()
        sent = {**fields, **typed(comment=f"Comment {n}", email=f"r{n}@example.org")}
        assert client.post(post[1], data=sent).status_code == 303
    assert len(all_comments(site)) == 3


def test_the_token_comes_from_the_page_cache_too(site: Flask, post) -> None:
    client = site.test_client()
    client.get(post[1])
    hits = site.extensions["pagecache"].store.hits
    fields = fields_of(client, post[1])
    assert site.extensions["pagecache"].store.hits == hits + 1
    assert client.post(post[1], data={**fields, **typed()}).status_code == 303


def _refused(response, status: int, message: str) -> None:
    assert response.status_code == status
    root = page(response)
    assert message in text(by_id(root, "comment-errors"))
    form = by_id(root, "commentform")
    assert form_values(form)["comment"].strip() == "Kept, always."
    assert form_values(form)["author"] == "Ann Reader"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "security token is missing"),
        ("made-up", "not valid for this post"),
        ("other-post", "not valid for this post"),
        ("stale", "has expired"),
    ],
)
def test_a_post_without_a_good_token_is_refused_and_keeps_the_text(
    site: Flask, admin: str, post, token: str | None, message: str
) -> None:
    client = site.test_client()
    sent = typed()
    secret = site.config["SECRET_KEY"]
    if token == "made-up":
        sent["csrf_token"] = "WzFd.made.up"
    elif token == "other-post":
        other = create_post(site, admin, title="Elsewhere")
        sent["csrf_token"] = tokens.issue(secret, other[0])
    elif token == "stale":
        sent["csrf_token"] = tokens.issue(secret, post[0], at=time.time() - tokens.MAX_AGE - 5)
    response = client.post(post[1], data=sent)
    _refused(response, 400, message)
    assert all_comments(site) == []
    # The form sent back carries a fresh token: sending it again works.
    again = form_values(by_id(page(response), "commentform"))
    assert client.post(post[1], data=again).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://sub.localhost"},
    ],
)
def test_a_cross_site_post_is_refused_even_with_a_valid_token(
    site: Flask, post, headers: dict[str, str]
) -> None:
    client = site.test_client()
    sent = {**fields_of(client, post[1]), **typed()}
    response = client.post(post[1], data=sent, headers=headers)
    _refused(response, 403, "only be sent from this site's own pages")
    assert all_comments(site) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://127.0.0.1:5000"},  # SITE_URL, where a proxy serves the blog
    ],
)
def test_a_same_origin_post_is_taken(site: Flask, post, headers: dict[str, str]) -> None:
    client = site.test_client()
    sent = {**fields_of(client, post[1]), **typed()}
    assert client.post(post[1], data=sent, headers=headers).status_code == 303


def test_logged_in_users_keep_session_bound_tokens(site: Flask, admin: str, post) -> None:
    client = site.test_client()
    # A token from the reader's page (opened before logging in) is not a session's token.
    readers = fields_of(site.test_client(), post[1])
    forms = page(client.get("/login")).iter("form")
    login_form = form_values(next(f for f in forms if f.get("class") == "stacked-form"))
    signed_in = client.post("/login", data={**login_form, "username": admin, "password": PASSWORD})
    assert signed_in.status_code == 302
    response = client.post(post[1], data={**readers, **typed()})
    assert response.status_code == 400
    assert "opened before you logged in" in text(by_id(page(response), "comment-errors"))
    renewed = form_values(by_id(page(response), "commentform"))
    assert renewed["csrf_token"] != readers["csrf_token"]
    assert client.post(post[1], data=renewed).status_code == 303
    # Another browser cannot use this user's token.
    stranger = site.test_client()
    sent = {**renewed, "comment": "Forged as the admin."}
    assert stranger.post(post[1], data=sent).status_code == 400


def test_a_stamp_is_signed_once_per_post_and_second(monkeypatch) -> None:
    """Pages rendered within one second carry the same stamp; it is not signed again."""
    signed = []
    real = tokens.URLSafeTimedSerializer

    class Counting(real):  # type: ignore[misc, valid-type]
        def dumps(self, obj, salt=None):
            signed.append(obj)
            return super().dumps(obj, salt)

    monkeypatch.setattr(tokens, "URLSafeTimedSerializer", Counting)
    now = int(time.time()) - 100 + 0.2
    first = tokens.issue("a secret", 7, at=now)
    assert tokens.issue("a secret", 7, at=now + 0.5) == first
    assert signed == [7]
    assert tokens.issue("a secret", 8, at=now) != first
    later = tokens.issue("a secret", 7, at=now + 1)
    assert later != first and signed == [7, 8, 7]
    assert tokens.check("a secret", later, 7).issued_at == int(now + 1)

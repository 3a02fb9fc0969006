"""The JSON API under /api/v1: tokens, roles, paging, strict JSON, the comment path, OpenAPI."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import create_post, make_app
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment, ModerationLog, Post, Role, User
from blog.moderation import CommentStatus
from blog.sanitize import DEFAULT_COMMENT_WHITELIST
from blog.services import comments as comment_service
from blog.services.settings import save
from blog.services.users import create_token

API = "/api/v1"
ROLES = ["anonymous", "subscriber", "author", "other_author", "moderator", "editor", "admin"]
MODERATORS = ["moderator", "editor", "admin"]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def add_user(app: Flask, username: str, role: str, active: bool = True) -> dict[str, str]:
    """A user straight in the table (no password hashing: the API never asks for one)."""
    with app.app_context():
        user = User(
            username=username,
            email=f"{username}@example.com",
            display_name=username.title(),
            role=Role(role),
            password_hash="!",
            active=active,
        )
        db.session.add(user)
        db.session.commit()
        return {"Authorization": f"Bearer {create_token(user)}"}


def add_comment(
    app: Flask, post_id: int, status: CommentStatus, content: str, minutes_ago: int = 0
) -> int:
    """A stored comment with the status asked for, through the importer's service path."""
    with app.app_context():
        post = db.session.get(Post, post_id)
        data = comment_service.CommentInput(
            content=content, author="Carol", email="carol@example.org", ip="198.51.100.7"
        )
        when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        comment = comment_service.import_comment(
            post, data, status, when, DEFAULT_COMMENT_WHITELIST
        )
        db.session.commit()
        return comment.id


@dataclass
class Site:
    headers: dict[str, dict[str, str]]
    posts: dict[str, int]
    comments: dict[str, int]


@pytest.fixture
def site(app: Flask) -> Site:
    """One user per role; "author" owns the posts "own" and "draft", "other_author" "other"."""
    names = {
        "subscriber": "sub",
        "author": "ann",
        "other_author": "bob",
        "moderator": "mod",
        "editor": "ed",
        "admin": "root",
    }
    headers = {"anonymous": {}}
    for label, username in names.items():
        role = "author" if label == "other_author" else label
        headers[label] = add_user(app, username, role)
    posts = {
        "own": create_post(app, "ann", "Ann's post")[0],
        "other": create_post(app, "bob", "Bob's post")[0],
        "draft": create_post(app, "ann", "Ann's draft", action="draft")[0],
    }
    A, P, S = CommentStatus.APPROVED, CommentStatus.PENDING, CommentStatus.SPAM
    plan = [
        ("own_approved", "own", A),
        ("own_pending", "own", P),
        ("own_spam", "own", S),
        ("other_approved", "other", A),
        ("other_pending", "other", P),
        ("draft_approved", "draft", A),
    ]
    comments = {
        key: add_comment(app, posts[post], status, f"Comment {key}", minutes_ago=len(plan) - i)
        for i, (key, post, status) in enumerate(plan)
    }
    return Site(headers, posts, comments)


def error_of(response) -> dict[str, Any]:
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert body["error"]["message"]
    return body["error"]


def document(client: FlaskClient) -> dict[str, Any]:
    return client.get(f"{API}/openapi.json").get_json()


def assert_matches(client: FlaskClient, schema_name: str, instance: Any) -> None:
    """The instance is valid against the named schema of the API's own OpenAPI document."""
    doc = document(client)
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    OAS31Validator(schema).validate(instance)


# --- auth and errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    ["Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz", "blog_token_without_scheme", "Bearer \x7f"],
)
def test_bad_tokens_are_refused_with_401(app, client, authorization):
    add_user(app, "ann", "author")
    response = client.get(f"{API}/posts", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_users_token_stops_working(app, client):
    headers = add_user(app, "gone", "admin", active=False)
    assert client.get(f"{API}/posts", headers=headers).status_code == 401


def test_a_valid_token_is_accepted_and_not_cached(app, client):
    headers = add_user(app, "ann", "author")
    response = client.get(f"{API}/posts", headers=headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Authorization" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/nowhere", 404),
        ("get", "/posts/0", 404),
        ("get", "/posts/99999999999999999999", 404),
        ("get", "/posts/abc", 404),
        ("put", "/posts", 405),
        ("delete", "/posts/1", 405),
        ("post", "/openapi.json", 405),
    ],
)
def test_unknown_paths_and_methods_answer_json(client, method, path, status):
    response = getattr(client, method)(API + path)
    assert response.status_code == status
    error_of(response)
    if status == 405:
        assert response.headers["Allow"]


def test_a_session_cookie_does_not_authenticate_the_api(database_uri, tmp_path, app):
    """CSRF is on and the API is exempt from it, so a browser's cookies must count for nothing."""
    csrf_app = make_app(database_uri, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    try:
        add_user(csrf_app, "root", "admin")
        post_id, post_path = create_post(csrf_app, "root")
        with csrf_app.app_context():
            from blog.services.users import start_session

            user = db.session.scalar(select(User).where(User.username == "root"))
            start_session(user)  # a real login's row, as the login form makes it
            session_id = user.get_id()
        browser = csrf_app.test_client()
        with browser.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True
        assert browser.get("/admin/comments").status_code == 200  # the session is good
        form = {"author": "A", "email": "a@example.org", "comment": "Hi"}
        assert browser.post(post_path, data=form).status_code == 400  # the form needs a token
        response = browser.post(f"{API}/posts", json={"title": "Forged"})
        assert response.status_code == 401
        response = browser.post(
            f"{API}/comments",
            json={"post": post_id, "content": "Forged?", "author": "X", "email": "x@example.org"},
        )
        assert response.status_code == 201
        with csrf_app.app_context():
            stored = db.session.get(Comment, response.get_json()["id"])
            assert stored.user_id is None  # posted as a stranger, not as the logged-in admin
    finally:
        with csrf_app.app_context():
            db.engine.dispose()


# --- posts -------------------------------------------------------------------------------


def test_post_list_pages_and_totals(app, client):
    add_user(app, "ann", "author")
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for day in range(5):
        create_post(app, "ann", f"Post {day}", published_at=base + timedelta(days=day))
    create_post(app, "ann", "A draft", action="draft")
    create_post(
        app, "ann", "Later", action="schedule", published_at=datetime.now(UTC) + timedelta(days=9)
    )
    create_post(app, "ann", "About", type="page")

    first = client.get(f"{API}/posts?per_page=2").get_json()
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 5)
    assert [p["title"] for p in first["items"]] == ["Post 4", "Post 3"]
    last = client.get(f"{API}/posts?per_page=2&page=3").get_json()
    assert [p["title"] for p in last["items"]] == ["Post 0"]
    beyond = client.get(f"{API}/posts?per_page=2&page=4").get_json()
    assert beyond["items"] == [] and beyond["total"] == 5
    pages = client.get(f"{API}/posts?type=page").get_json()
    assert [p["title"] for p in pages["items"]] == ["About"]
    default = client.get(f"{API}/posts").get_json()
    assert default["per_page"] == 20
    assert_matches(client, "PostList", default)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=99999999999", "page"),
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=1.5", "per_page"),
        ("type=attachment", "type"),
    ],
)
def test_post_list_refuses_bad_paging(client, query, field):
    response = client.get(f"{API}/posts?{query}")
    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_post_json_has_every_field(app, client):
    add_user(app, "ann", "author")
    post_id, path = create_post(
        app, "ann", "Hello", body="Some *text*.", tags=["Flask"], categories=["Web/Python"]
    )
    response = client.get(f"{API}/posts/{post_id}")
    assert response.status_code == 200
    post = response.get_json()
    assert post["id"] == post_id and post["url"] == path and post["type"] == "post"
    assert post["status"] == "published" and post["body"] == "Some *text*."
    assert "<em>text</em>" in post["body_html"]
    assert post["author"] == {"id": post["author"]["id"], "username": "ann", "name": "Ann"}
    assert post["tags"] == ["Flask"] and post["categories"] == ["Python"]
    assert post["published_at"].endswith("+00:00")
    assert post["comments_open"] is True and post["comment_count"] == 0
    assert_matches(client, "Post", post)


@pytest.mark.parametrize(
    ("role", "sees_draft"),
    [
        ("anonymous", False),
        ("subscriber", False),
        ("author", True),
        ("other_author", False),
        ("moderator", False),
        ("editor", True),
        ("admin", True),
    ],
)
def test_an_unpublished_post_is_shown_only_to_who_may_edit_it(client, site, role, sees_draft):
    headers = site.headers[role]
    draft = client.get(f"{API}/posts/{site.posts['draft']}", headers=headers)
    assert draft.status_code == (200 if sees_draft else 404)
    if sees_draft:
        assert draft.get_json()["status"] == "draft"
    else:
        assert error_of(draft)["code"] == "not_found"
    assert client.get(f"{API}/posts/{site.posts['own']}", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 401),
        ("subscriber", 403),
        ("moderator", 403),
        ("author", 201),
        ("editor", 201),
        ("admin", 201),
    ],
)
def test_who_may_create_posts(client, site, role, status):
    response = client.post(
        f"{API}/posts",
        json={"title": "From the API", "body": "# Hi\n\nThere.", "status": "publish"},
        headers=site.headers[role],
    )
    assert response.status_code == status, response.get_data(as_text=True)
    if status != 201:
        error_of(response)
        return
    post = response.get_json()
    assert response.headers["Location"] == f"{API}/posts/{post['id']}"
    assert post["status"] == "published" and post["slug"] == "from-the-api"
    assert client.get(response.headers["Location"]).get_json() == post


def test_create_post_with_every_field(app, client):
    headers = add_user(app, "ann", "author")
    response = client.post(
        f"{API}/posts",
        json={
            "title": "Full",
            "body": "Text <script>alert(1)</script>",
            "slug": "my slug",
            "excerpt": "Short.",
            "tags": ["One", "Two"],
            "categories": ["News/Local"],
            "status": "publish",
            "published_at": "2024-01-02T03:04:05+02:00",
            "comments_open": False,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    post = response.get_json()
    assert post["slug"] == "my-slug" and post["excerpt"] == "Short."
    assert post["tags"] == ["One", "Two"] and post["categories"] == ["Local"]
    assert post["published_at"] == "2024-01-02T01:04:05+00:00"
    assert post["url"] == "/2024/01/my-slug/"
    assert post["comments_open"] is False
    assert "<script" not in post["body_html"]


def test_a_scheduled_post_waits_and_is_shown_to_its_author(app, client):
    headers = add_user(app, "ann", "author")
    when = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    response = client.post(
        f"{API}/posts",
        json={"title": "Soon", "status": "schedule", "published_at": when},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["status"] == "scheduled"
    location = response.headers["Location"]
    assert client.get(location).status_code == 404
    assert client.get(location, headers=headers).status_code == 200
    assert client.get(f"{API}/posts").get_json()["total"] == 0


LONE_SURROGATE = '{"title": "bad \\ud800 title"}'
NUL = '{"title": "bad \\u0000 title"}'


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        ("title=x", "application/x-www-form-urlencoded", 400, None),
        ('{"title": "x"', "application/json", 400, None),
        ('["title"]', "application/json", 400, None),
        ("null", "application/json", 400, None),
        ("[" * 50_000 + "]" * 50_000, "application/json", 400, None),
        (b'{"title": "\xff"}', "application/json", 400, None),
        ("{}", "application/json", 422, "title"),
        ('{"title": 5}', "application/json", 422, "title"),
        ('{"title": "x", "author_id": 1}', "application/json", 422, "author_id"),
        ('{"title": "x", "status": "published"}', "application/json", 422, "status"),
        ('{"title": "x", "type": "attachment"}', "application/json", 422, "type"),
        ('{"title": "x", "tags": "a, b"}', "application/json", 422, "tags"),
        ('{"title": "x", "tags": [1]}', "application/json", 422, "tags"),
        ('{"title": "x", "categories": ["' + "c" * 201 + '"]}', "application/json", 422, None),
        ('{"title": "x", "comments_open": "yes"}', "application/json", 422, "comments_open"),
        ('{"title": "x", "published_at": "2024-01-01T10:00:00"}', "application/json", 422, None),
        ('{"title": "x", "published_at": "tomorrow"}', "application/json", 422, None),
        ('{"title": "x", "published_at": 1700000000}', "application/json", 422, None),
        ('{"title": "x", "published_at": "0001-01-01T00:00+01:00"}', "application/json", 422, None),
        (LONE_SURROGATE, "application/json", 422, "title"),
        (NUL, "application/json", 422, "title"),
        ('{"title": "   "}', "application/json", 400, "title"),
        ('{"title": "' + "t" * 301 + '"}', "application/json", 400, "title"),
        ('{"title": "x", "status": "schedule"}', "application/json", 400, "published_at"),
    ],
)
def test_create_post_refuses_bad_input(app, client, body, content_type, status, field):
    headers = add_user(app, "ann", "author")
    response = client.post(
        f"{API}/posts", data=body, headers={**headers, "Content-Type": content_type}
    )
    assert response.status_code == status, response.get_data(as_text=True)
    error = error_of(response)
    if field is not None:
        assert error["field"] == field
    elif status == 422:
        assert error["field"] in ("categories", "published_at")
    with app.app_context():
        assert db.session.scalar(select(Post.id)) is None


def test_a_too_large_body_answers_413_json(app, client):
    headers = add_user(app, "ann", "author")
    body = json.dumps({"title": "Big", "body": "x" * (1024 * 1024 + 1)})
    response = client.post(
        f"{API}/posts", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"


# --- listing comments --------------------------------------------------------------------

EVERY_COMMENT = {
    "own_approved",
    "own_pending",
    "own_spam",
    "other_approved",
    "other_pending",
    "draft_approved",
}
PUBLIC = {"own_approved", "other_approved"}
AUTHOR_OWN = {"own_approved", "own_pending", "own_spam", "draft_approved"}
OTHER_OWN = {"other_approved", "other_pending"}
# role -> (comments listed without a status, the ones shown with email and ip)
VISIBILITY = {
    "anonymous": (PUBLIC, set()),
    "subscriber": (PUBLIC, set()),
    "author": (PUBLIC | AUTHOR_OWN, AUTHOR_OWN),
    "other_author": (PUBLIC | OTHER_OWN, OTHER_OWN),
    "moderator": (EVERY_COMMENT, EVERY_COMMENT),
    "editor": (EVERY_COMMENT, EVERY_COMMENT),
    "admin": (EVERY_COMMENT, EVERY_COMMENT),
}


@pytest.mark.parametrize("role", ROLES)
def test_comment_list_shows_each_role_what_it_may_see(client, site, role):
    listed, private = VISIBILITY[role]
    response = client.get(f"{API}/comments", headers=site.headers[role])
    assert response.status_code == 200
    body = response.get_json()
    by_id = {v: k for k, v in site.comments.items()}
    seen = {by_id[item["id"]]: item for item in body["items"]}
    assert set(seen) == listed
    assert body["total"] == len(listed)
    for key, item in seen.items():
        if key in private:
            assert item["email"] == "carol@example.org" and item["ip"] == "198.51.100.7"
            assert item["reasons"] == ["imported"] and "user_agent" in item
        else:
            assert not {"email", "ip", "user_agent", "reasons"} & set(item)
            assert item["status"] == "approved"
    assert_matches(client, "CommentList", body)


@pytest.mark.parametrize(
    ("role", "status", "expected"),
    [
        ("anonymous", 401, None),
        ("subscriber", 403, None),
        ("author", 200, {"own_pending"}),
        ("other_author", 200, {"other_pending"}),
        ("moderator", 200, {"own_pending", "other_pending"}),
        ("admin", 200, {"own_pending", "other_pending"}),
    ],
)
def test_held_comments_are_listed_only_to_their_moderators(client, site, role, status, expected):
    response = client.get(f"{API}/comments?status=pending", headers=site.headers[role])
    assert response.status_code == status
    if expected is None:
        error_of(response)
        return
    by_id = {v: k for k, v in site.comments.items()}
    assert {by_id[item["id"]] for item in response.get_json()["items"]} == expected


def test_comment_list_filters_by_post_and_pages(client, site):
    admin = site.headers["admin"]
    url = f"{API}/comments?post={site.posts['own']}&per_page=2"
    first = client.get(url, headers=admin).get_json()
    assert (first["total"], len(first["items"]), first["per_page"]) == (3, 2, 2)
    # Newest first.
    assert [c["id"] for c in first["items"]] == [
        site.comments["own_spam"],
        site.comments["own_pending"],
    ]
    second = client.get(url + "&page=2", headers=admin).get_json()
    assert [c["id"] for c in second["items"]] == [site.comments["own_approved"]]
    spam = client.get(f"{API}/comments?status=spam", headers=admin).get_json()
    assert [c["id"] for c in spam["items"]] == [site.comments["own_spam"]]
    public = client.get(f"{API}/comments?post={site.posts['draft']}").get_json()
    assert public["items"] == [] and public["total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=deleted", "status"), ("post=abc", "post"), ("post=0", "post"), ("page=0", "page")],
)
def test_comment_list_refuses_bad_parameters(client, site, query, field):
    response = client.get(f"{API}/comments?{query}", headers=site.headers["admin"])
    assert response.status_code == 422
    assert error_of(response)["field"] == field


@pytest.mark.parametrize(
    ("role", "comment", "status", "private"),
    [
        ("anonymous", "own_approved", 200, False),
        ("anonymous", "own_pending", 404, False),
        ("anonymous", "draft_approved", 404, False),
        ("subscriber", "own_spam", 404, False),
        ("other_author", "own_pending", 404, False),
        ("author", "own_pending", 200, True),
        ("author", "other_approved", 200, False),
        ("moderator", "other_pending", 200, True),
    ],
)
def test_get_one_comment(client, site, role, comment, status, private):
    response = client.get(f"{API}/comments/{site.comments[comment]}", headers=site.headers[role])
    assert response.status_code == status
    if status == 200:
        assert ("email" in response.get_json()) is private
    else:
        error_of(response)


# --- posting comments --------------------------------------------------------------------


def post_comment(client: FlaskClient, headers: dict[str, str] | None = None, **fields: Any):
    return client.post(f"{API}/comments", json=fields, headers=headers or {})


def test_a_comment_goes_through_the_sanitizer(app, client, site):
    content = (
        'Hi <script>alert(1)</script><a href="javascript:alert(2)">bad</a> '
        '<a href="https://example.com/" onclick="x()">good</a> <b>bold</b>'
    )
    response = post_comment(
        client,
        post=site.posts["own"],
        content=content,
        author="Dee",
        email="dee@example.org",
        url="dee.example.org",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    comment = response.get_json()
    html = comment["content_html"]
    assert "<script" not in html and "javascript:" not in html and "onclick" not in html
    assert 'href="https://example.com/"' in html and 'rel="nofollow ugc"' in html
    assert "<b>bold</b>" in html
    assert comment["content"] == content  # the raw text is kept as typed
    assert comment["url"] == "http://dee.example.org"
    assert comment["status"] == "pending"  # a first comment is held (WordPress's default)
    assert not {"email", "ip", "user_agent", "reasons"} & set(comment)
    assert response.headers["Location"] == f"{API}/comments/{comment['id']}"
    assert_matches(client, "Comment", comment)
    with app.app_context():
        stored = db.session.get(Comment, comment["id"])
        assert stored.ip == "127.0.0.1" and stored.email == "dee@example.org"
        assert stored.status == CommentStatus.PENDING
        log = db.session.scalar(select(ModerationLog).where(ModerationLog.comment_id == stored.id))
        assert log.action == "submitted" and log.actor_id is None


def test_a_comment_held_as_spam_is_reported_as_pending_to_its_sender(app, client, site):
    with app.app_context():
        save({"disallowed_keys": "casino"})
    response = post_comment(
        client, post=site.posts["own"], content="Best casino", author="Spam", email="s@example.org"
    )
    assert response.status_code == 201
    assert response.get_json()["status"] == "pending"
    with app.app_context():
        assert db.session.get(Comment, response.get_json()["id"]).status == CommentStatus.TRASH


def test_a_moderators_comment_is_published_as_them(app, client, site):
    response = post_comment(
        client,
        site.headers["moderator"],
        post=site.posts["own"],
        content="Thanks all.",
        parent=site.comments["own_approved"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    comment = response.get_json()
    assert comment["status"] == "approved" and comment["author"] == "Mod"
    assert comment["parent_id"] == site.comments["own_approved"]
    assert comment["email"] == "mod@example.com"  # a moderator sees private fields
    assert client.get(f"{API}/posts/{site.posts['own']}").get_json()["comment_count"] == 2


@pytest.mark.parametrize(
    ("fields", "status", "refused"),
    [
        ({"content": "Hello"}, 400, {"author", "email"}),
        ({"content": "Hi", "author": "A", "email": "not-an-email"}, 400, {"email"}),
        ({"content": "Hi", "author": "A", "email": "a@x.org", "url": "ftp://x"}, 400, {"url"}),
        ({"content": "bad \ud800", "author": "A", "email": "a@example.org"}, 400, {"content"}),
        ({"content": "Hi", "author": "A\x00", "email": "a@example.org"}, 400, {"author"}),
        ({"content": "x" * 65_526, "author": "A", "email": "a@example.org"}, 400, {"content"}),
        ({"content": "   ", "author": "A", "email": "a@example.org"}, 400, {"content"}),
        (
            {"content": "Hi", "author": "A", "email": "a@example.org", "parent": "pending"},
            400,
            {None},
        ),
    ],
)
def test_comment_refusals_name_each_field(app, client, site, fields, status, refused):
    if fields.get("parent") == "pending":
        fields = {**fields, "parent": site.comments["own_pending"]}
    before = client.get(f"{API}/comments", headers=site.headers["admin"]).get_json()["total"]
    response = post_comment(client, post=site.posts["own"], **fields)
    assert response.status_code == status, response.get_data(as_text=True)
    error = error_of(response)
    assert error["code"] == "comment_refused"
    assert {r["field"] for r in error["refusals"]} == refused
    assert all(r["message"] for r in error["refusals"])
    after = client.get(f"{API}/comments", headers=site.headers["admin"]).get_json()["total"]
    assert after == before


def test_a_comment_on_a_closed_post_is_forbidden(app, client):
    headers = add_user(app, "ann", "author")
    post = client.post(
        f"{API}/posts",
        json={"title": "Closed", "status": "publish", "comments_open": False},
        headers=headers,
    ).get_json()
    response = post_comment(
        client, post=post["id"], content="Hi", author="A", email="a@example.org"
    )
    assert response.status_code == 403
    assert error_of(response)["refusals"] == [{"field": None, "message": "Comments are closed."}]


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"post": "1", "content": "Hi"}, 422, "post"),
        ({"post": True, "content": "Hi"}, 422, "post"),
        ({"post": 1.5, "content": "Hi"}, 422, "post"),
        ({"post": 10**30, "content": "Hi"}, 422, "post"),
        ({"content": "Hi"}, 422, "post"),
        ({"post": "own"}, 422, "content"),
        ({"post": "own", "content": ["Hi"]}, 422, "content"),
        ({"post": "own", "content": "Hi", "author": None}, 422, "author"),
        ({"post": "own", "content": "Hi", "parent": -1}, 422, "parent"),
        ({"post": "own", "content": "Hi", "notify": True}, 422, "notify"),
        ({"post": 999_999, "content": "Hi"}, 404, "post"),
        ({"post": "draft", "content": "Hi"}, 404, "post"),
    ],
)
def test_comment_input_is_checked_strictly(client, site, fields, status, field):
    if isinstance(fields.get("post"), str) and fields["post"] in site.posts:
        fields = {**fields, "post": site.posts[fields["post"]]}
    response = post_comment(client, **fields)
    assert response.status_code == status, response.get_data(as_text=True)
    assert error_of(response)["field"] == field


def test_an_integral_number_is_an_integer(client, site):
    """JSON has one number type and JSON Schema calls 3.0 an integer: so does the API."""
    response = post_comment(
        client, post=float(site.posts["own"]), content="Hi", author="A", email="a@example.org"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["post_id"] == site.posts["own"]


def test_comment_posts_are_rate_limited(database_uri, tmp_path, app):
    limited = make_app(
        database_uri, tmp_path / "limited", RATELIMIT_ENABLED=True, COMMENT_RATE_LIMIT="2/minute"
    )
    try:
        add_user(limited, "ann", "author")
        post_id, _ = create_post(limited, "ann")
        client = limited.test_client()
        codes = [
            post_comment(
                client, post=post_id, content=f"Hi {n}", author="A", email="a@example.org"
            ).status_code
            for n in range(3)
        ]
        assert codes == [201, 201, 429]
        response = post_comment(client, post=post_id, content="Again", author="A")
        assert error_of(response)["code"] == "rate_limited"
        assert client.get(f"{API}/comments").status_code == 200  # reading is not limited
    finally:
        with limited.app_context():
            db.engine.dispose()


# --- moderating --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "comment", "status"),
    [
        ("anonymous", "own_pending", 401),
        ("subscriber", "own_pending", 404),
        ("subscriber", "own_approved", 403),
        ("other_author", "own_pending", 404),
        ("other_author", "own_approved", 403),
        ("author", "own_pending", 200),
        ("moderator", "own_pending", 200),
        ("editor", "other_pending", 200),
        ("admin", "other_pending", 200),
    ],
)
def test_who_may_moderate(app, client, site, role, comment, status):
    comment_id = site.comments[comment]
    response = client.patch(
        f"{API}/comments/{comment_id}", json={"status": "spam"}, headers=site.headers[role]
    )
    assert response.status_code == status, response.get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(Comment, comment_id)
        if status == 200:
            assert response.get_json()["status"] == "spam"
            assert stored.status == CommentStatus.SPAM
        else:
            error_of(response)
            assert stored.status != CommentStatus.SPAM


def test_patch_writes_the_moderation_log_with_actor_and_reason(app, client, site):
    comment_id = site.comments["own_pending"]
    response = client.patch(
        f"{API}/comments/{comment_id}",
        json={"status": "approved", "reason": "Looks fine"},
        headers=site.headers["moderator"],
    )
    assert response.status_code == 200
    comment = response.get_json()
    assert comment["status"] == "approved" and comment["email"] == "carol@example.org"
    with app.app_context():
        row = db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.comment_id == comment_id)
            .order_by(ModerationLog.id.desc())
        ).first()
        assert row.actor.username == "mod" and row.action == "approve"
        assert row.from_status == CommentStatus.PENDING
        assert row.to_status == CommentStatus.APPROVED and row.reason == "Looks fine"
    assert client.get(f"{API}/posts/{site.posts['own']}").get_json()["comment_count"] == 2


def test_patch_to_the_same_status_changes_and_logs_nothing(app, client, site):
    comment_id = site.comments["own_approved"]
    with app.app_context():
        before = len(db.session.scalars(select(ModerationLog.id)).all())
    response = client.patch(
        f"{API}/comments/{comment_id}", json={"status": "approved"}, headers=site.headers["admin"]
    )
    assert response.status_code == 200 and response.get_json()["status"] == "approved"
    with app.app_context():
        assert len(db.session.scalars(select(ModerationLog.id)).all()) == before


def test_patch_edits_content_resanitized_and_logged(app, client, site):
    comment_id = site.comments["own_approved"]
    response = client.patch(
        f"{API}/comments/{comment_id}",
        json={"content": 'Edited <script>x</script><a href="javascript:y">z</a>'},
        headers=site.headers["author"],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_json()["content_html"]
    assert "<script" not in html and "javascript:" not in html and "Edited" in html
    with app.app_context():
        row = db.session.scalars(
            select(ModerationLog).where(
                ModerationLog.comment_id == comment_id, ModerationLog.action == "edit"
            )
        ).one()
        assert row.actor.username == "ann" and "text" in row.reason


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"status": "deleted"}, 422, "status"),
        ({"status": 1}, 422, "status"),
        ({"status": None}, 422, "status"),
        ({}, 422, "status"),
        ({"reason": "why"}, 422, "status"),
        ({"status": "spam", "reason": 5}, 422, "reason"),
        ({"status": "spam", "reason": "r" * 1001}, 422, "reason"),
        ({"status": "spam", "reason": "bad \x00"}, 422, "reason"),
        ({"status": "spam", "colour": "red"}, 422, "colour"),
        ({"content": ""}, 400, "content"),
        ({"content": "bad \ud800"}, 400, "content"),
        ({"email": "nope"}, 400, "email"),
        (["status", "spam"], 400, None),
    ],
)
def test_patch_refuses_bad_input(app, client, site, body, status, field):
    comment_id = site.comments["own_pending"]
    response = client.patch(
        f"{API}/comments/{comment_id}", json=body, headers=site.headers["admin"]
    )
    assert response.status_code == status, response.get_data(as_text=True)
    assert error_of(response).get("field") == field
    with app.app_context():
        stored = db.session.get(Comment, comment_id)
        assert stored.status == CommentStatus.PENDING
        assert stored.content == "Comment own_pending"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 401),
        ("subscriber", 403),
        ("author", 403),
        ("moderator", 403),
        ("editor", 403),
        ("admin", 204),
    ],
)
def test_only_admins_delete_for_good(app, client, site, role, status):
    comment_id = site.comments["own_approved"]
    response = client.delete(f"{API}/comments/{comment_id}", headers=site.headers[role])
    assert response.status_code == status
    with app.app_context():
        gone = db.session.get(Comment, comment_id) is None
        assert gone is (status == 204)
        if status == 204:
            assert response.get_data() == b""
            row = db.session.scalar(select(ModerationLog).where(ModerationLog.action == "delete"))
            assert row.actor.username == "root"
        else:
            error_of(response)


def test_delete_of_a_missing_comment_is_404(client, site):
    response = client.delete(f"{API}/comments/999999", headers=site.headers["admin"])
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# --- the OpenAPI document ----------------------------------------------------------------


def test_openapi_document_is_valid_3_1(client):
    doc = document(client)
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert {"Post", "Comment", "Error", "PostList", "CommentList"} <= set(
        doc["components"]["schemas"]
    )
    validate_spec(doc)


def test_openapi_document_lists_every_api_route(app, client):
    doc = document(client)
    documented = {
        (path, method.upper())
        for path, operations in doc["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"{API}/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routed |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed and documented == routed
    parameters = doc["components"]["parameters"]
    for path, operations in doc["paths"].items():
        wanted = set(re.findall(r"{(\w+)}", path))
        for operation in operations.values():
            declared = {
                parameters[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p else p["name"]
                for p in operation.get("parameters", [])
            }
            assert wanted <= declared, (path, operation["operationId"])


def test_errors_match_the_documented_error_schema(client, site):
    responses = [
        client.get(f"{API}/posts/999999"),
        client.get(f"{API}/posts?page=0"),
        client.post(f"{API}/posts", json={"title": "x"}),
        post_comment(client, post=site.posts["own"], content="Hi"),
    ]
    for response in responses:
        assert_matches(client, "Error", response.get_json())


def test_docs_mention_every_path(client):
    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    for path in document(client)["paths"]:
        assert path.split("{")[0].rstrip("/") in text


def test_an_anonymous_api_comment_is_held_even_from_a_trusted_email(app, client, site):
    """No form was shown, so nothing timed it: instant comments from scripts wait."""
    from comment_helpers import add_comment

    add_comment(app, site.posts["own"], "Earlier, approved.", email="old@example.org")
    response = post_comment(
        client, post=site.posts["own"], content="Instant.", author="Old", email="old@example.org"
    )
    assert response.status_code == 201
    assert response.get_json()["status"] == "pending"
    with app.app_context():
        stored = db.session.get(Comment, response.get_json()["id"])
        assert "sent through the API without an account (no form to time)" in stored.reasons


def test_api_comments_get_the_flood_and_duplicate_answers_of_the_form(
    app, database_uri, tmp_path, site
):
    flooded = make_app(database_uri, tmp_path / "flood", COMMENT_FLOOD_SECONDS=60)
    client = flooded.test_client()
    fields = {"post": site.posts["own"], "author": "Al", "email": "al@example.org"}
    assert post_comment(client, content="First.", **fields).status_code == 201
    again = post_comment(client, content="Second.", **fields)
    assert again.status_code == 429
    assert 55 <= int(again.headers["Retry-After"]) <= 60
    assert error_of(again)["code"] == "comment_refused"
    plain = app.test_client()  # no flood rule in tests: the duplicate rule alone
    same = {**fields, "email": "other@example.org", "author": "Other"}
    assert post_comment(plain, content="Once only.", **same).status_code == 201
    twice = post_comment(plain, content="Once only.", **same)
    assert twice.status_code == 409 and "Retry-After" not in twice.headers

"""The Atom feeds: what they list and leave out, their links, escaping, caching and cost.

The feeds are parsed with ``xml.etree.ElementTree``: they are this application's own
output, never untrusted XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from comment_helpers import add_comment, approve
from conftest import count_statements, create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.models import Comment, Post, PostStatus, PostType
from blog.moderation import CommentStatus

A = "{http://www.w3.org/2005/Atom}"
# Absolute links come from SITE_URL (config.Default), never from the Host of the request.
HOST = "http://127.0.0.1:5000"


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def _feed(client: FlaskClient, path: str) -> ET.Element:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(response.data)  # noqa: S314 - our own output


def _entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def _text(element: ET.Element, name: str) -> str:
    found = element.find(f"{A}{name}")
    assert found is not None, name
    return found.text or ""


def _titles(root: ET.Element) -> list[str]:
    return [_text(entry, "title") for entry in _entries(root)]


def _link(element: ET.Element, rel: str = "alternate") -> str:
    """The href of the link with ``rel`` (Atom: a link without rel is the alternate)."""
    for link in element.findall(f"{A}link"):
        if link.get("rel", "alternate") == rel:
            return link.get("href", "")
    raise AssertionError(f"no {rel} link")


def _aware_utc(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    assert when.utcoffset() == timedelta(0), value
    return when


@pytest.fixture
def author(app: Flask) -> str:
    create_user(app, "alice", "author")
    return "alice"


def _set_post(app: Flask, post_id: int, **values: object) -> None:
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        for name, value in values.items():
            setattr(post, name, value)
        db.session.commit()


def _trash(app: Flask, post_id: int, username: str) -> None:
    from blog.services import posts
    from blog.services.users import find_user

    with app.app_context():
        user = find_user(username)
        post = db.session.get(Post, post_id)
        assert user is not None and post is not None
        posts.trash(post, user)


def _due_scheduled(app: Flask, username: str, title: str) -> tuple[int, str]:
    """A post scheduled for the future whose time has since come (status still scheduled)."""
    post_id, _ = create_post(
        app, username, title, action="schedule", published_at=datetime.now(UTC) + timedelta(days=2)
    )
    _set_post(app, post_id, published_at=_at(20))
    with app.app_context(), app.test_request_context():
        from blog.templating import post_path

        post = db.session.get(Post, post_id)
        assert post is not None and post.status == PostStatus.SCHEDULED
        return post_id, post_path(post)


# --- routing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/feed/", "feeds.posts"),
        ("/comments/feed/", "feeds.comments"),
        ("/2026/11/hello-world/feed/", "feeds.post_comments"),
        ("/about/feed/", "feeds.page_comments"),
        ("/2026/11/hello-world/", "posts.post"),
        ("/about/", "posts.page"),
    ],
)
def test_feed_addresses_are_not_taken_by_the_post_catch_alls(
    app: Flask, path: str, endpoint: str
) -> None:
    assert app.url_map.bind("localhost").match(path)[0] == endpoint


# --- the posts feed ---------------------------------------------------------------------


def test_posts_feed_lists_visible_posts_newest_first(
    app: Flask, client: FlaskClient, author: str
) -> None:
    create_user(app, "editor", "editor")
    old_id, old_path = create_post(app, author, "Old news", published_at=_at(1))
    new_id, new_path = create_post(
        app, author, "Fresh", body="Hello <b>there</b> & *you*.", published_at=_at(3)
    )
    _, due_path = _due_scheduled(app, author, "Was scheduled")
    create_post(app, author, "Unfinished", action="draft")
    create_post(
        app, author, "Future", action="schedule", published_at=datetime.now(UTC) + timedelta(days=9)
    )
    trashed_id, _ = create_post(app, author, "Regrets", published_at=_at(2))
    _trash(app, trashed_id, "editor")
    create_post(app, author, "About me", type=PostType.PAGE)

    root = _feed(client, "/feed/")
    assert _titles(root) == ["Was scheduled", "Fresh", "Old news"]
    entries = _entries(root)
    assert [_link(e) for e in entries] == [HOST + p for p in (due_path, new_path, old_path)]
    assert len({_text(e, "id") for e in entries}) == 3

    fresh = entries[1]
    with app.app_context():
        post = db.session.get(Post, new_id)
        assert post is not None
        stored_html, excerpt = post.body_html, post.excerpt
    content = fresh.find(f"{A}content")
    assert content is not None and content.get("type") == "html"
    assert content.text == stored_html
    assert _text(fresh, "summary") == excerpt
    assert _text(fresh, "author/" + A + "name") == "alice"
    assert _aware_utc(_text(fresh, "published")) == _at(3)
    assert _aware_utc(_text(fresh, "updated")) >= _at(3)
    # The feed is as new as its newest entry.
    assert _text(root, "updated") == max(_text(e, "updated") for e in entries)


def test_feed_level_fields_come_from_the_site_settings(
    app: Flask, client: FlaskClient, admin: str
) -> None:
    from blog.services import settings

    with app.app_context():
        settings.save_site("Notes & Sketches", "Things <I> saw", "UTC", 10)
    root = _feed(client, "/feed/")
    assert _text(root, "title") == "Notes & Sketches"
    assert _text(root, "subtitle") == "Things <I> saw"
    assert _link(root, "self") == HOST + "/feed/"
    assert _link(root) == HOST + "/"
    # No posts yet: still a valid feed, updated now.
    assert _entries(root) == []
    assert abs(_aware_utc(_text(root, "updated")) - datetime.now(UTC)) < timedelta(minutes=5)


# --- the comment feeds -------------------------------------------------------------------


@pytest.fixture
def commented(app: Flask, author: str) -> dict[str, object]:
    """Two posts with comments of every status, and a draft with an approved comment."""
    first_id, first_path = create_post(app, author, "First post", published_at=_at(1))
    second_id, second_path = create_post(app, author, "Second post", published_at=_at(2))
    draft_id, _ = create_post(app, author, "Draft", action="draft")
    ids = {
        "one": add_comment(app, first_id, "One", author="Ann", created_at=_at(10)),
        "two": add_comment(app, second_id, "Two", author="Bo", created_at=_at(11)),
        "three": add_comment(app, first_id, "Three", author="", created_at=_at(12)),
        "held": add_comment(app, first_id, "Held", CommentStatus.PENDING, created_at=_at(13)),
        "spam": add_comment(app, first_id, "Spam", CommentStatus.SPAM, created_at=_at(14)),
        "trash": add_comment(app, second_id, "Trash", CommentStatus.TRASH, created_at=_at(15)),
        "on draft": add_comment(app, draft_id, "Hidden", created_at=_at(16)),
    }
    return {"ids": ids, "first": (first_id, first_path), "second": (second_id, second_path)}


def test_comments_feed_lists_approved_comments_on_visible_posts(
    app: Flask, client: FlaskClient, commented: dict
) -> None:
    ids, (_, first_path), (_, second_path) = (
        commented["ids"],
        commented["first"],
        commented["second"],
    )
    root = _feed(client, "/comments/feed/")
    assert _titles(root) == [
        "Comment on First post by Anonymous",
        "Comment on Second post by Bo",
        "Comment on First post by Ann",
    ]
    entries = _entries(root)
    assert [_link(e) for e in entries] == [
        f"{HOST}{first_path}#comment-{ids['three']}",
        f"{HOST}{second_path}#comment-{ids['two']}",
        f"{HOST}{first_path}#comment-{ids['one']}",
    ]
    assert [_text(e, "content") for e in entries] == ["<p>Three</p>", "<p>Two</p>", "<p>One</p>"]
    assert _aware_utc(_text(entries[0], "published")) == _at(12)
    assert _text(root, "title") == "Comments · My Blog"
    assert _link(root, "self") == HOST + "/comments/feed/"


def test_post_feed_lists_only_that_posts_approved_comments(
    app: Flask, client: FlaskClient, commented: dict
) -> None:
    ids, (_, first_path) = commented["ids"], commented["first"]
    root = _feed(client, first_path + "feed/")
    assert _titles(root) == ["Comment on First post by Anonymous", "Comment on First post by Ann"]
    assert _link(root) == HOST + first_path
    assert _link(root, "self") == HOST + first_path + "feed/"
    assert _text(root, "title") == "Comments on First post · My Blog"
    # Approving a held comment brings it in, and moves the feed's time.
    before = _text(root, "updated")
    approve(app, ids["held"])
    root = _feed(client, first_path + "feed/")
    assert _titles(root)[0] == "Comment on First post by Bob"
    assert _text(root, "updated") > before


def test_a_page_has_a_comment_feed_too(app: Flask, client: FlaskClient, author: str) -> None:
    page_id, path = create_post(app, author, "About me", type=PostType.PAGE)
    assert path == "/about-me/"
    add_comment(app, page_id, "Nice page", author="Ann")
    root = _feed(client, "/about-me/feed/")
    assert _titles(root) == ["Comment on About me by Ann"]
    assert _link(_entries(root)[0]).startswith(HOST + "/about-me/#comment-")
    # On the site-wide comment feed as well.
    assert _titles(_feed(client, "/comments/feed/")) == ["Comment on About me by Ann"]


def test_post_feed_without_comments_is_empty_and_dated_by_the_post(
    app: Flask, client: FlaskClient, author: str
) -> None:
    _, path = create_post(app, author, "Quiet", published_at=_at(4))
    root = _feed(client, path + "feed/")
    assert _entries(root) == []
    assert _aware_utc(_text(root, "updated")) >= _at(4)


def test_scheduled_post_that_is_due_has_a_feed(
    app: Flask, client: FlaskClient, author: str
) -> None:
    post_id, path = _due_scheduled(app, author, "Was scheduled")
    add_comment(app, post_id, "Finally", author="Ann")
    assert _titles(_feed(client, path + "feed/")) == ["Comment on Was scheduled by Ann"]


@pytest.mark.parametrize("state", ["draft", "future", "trash"])
def test_feed_of_an_unpublished_post_is_404_even_for_its_author(
    app: Flask, client: FlaskClient, author: str, state: str
) -> None:
    when = datetime.now(UTC) + timedelta(days=3) if state == "future" else _at(5)
    action = {"draft": "draft", "future": "schedule", "trash": "publish"}[state]
    post_id, path = create_post(app, author, "Secret", action=action, published_at=when)
    if state == "trash":
        create_user(app, "editor", "editor")
        _trash(app, post_id, "editor")
    add_comment(app, post_id, "Leak?", author="Ann")
    login(client, author)
    dated = f"/{when:%Y/%m}/secret/feed/"
    assert client.get(dated).status_code == 404
    assert client.get("/secret/feed/").status_code == 404
    assert path.endswith("/secret/")
    assert "Leak?" not in client.get("/comments/feed/").text


@pytest.mark.parametrize(
    "path", ["/2024/03/no-such-post/feed/", "/no-such-page/feed/", "/2024/03/feed/"]
)
def test_feed_of_an_unknown_post_is_404(app: Flask, client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_feed_at_a_wrong_or_old_address_redirects_to_the_current_one(
    app: Flask, client: FlaskClient, author: str
) -> None:
    from blog.services import posts
    from blog.services.users import find_user

    post_id, path = create_post(app, author, "Hello there", published_at=_at(5))
    page_id, page_path = create_post(app, author, "About me", type=PostType.PAGE)
    assert path == "/2024/03/hello-there/"
    assert client.get("/2024/04/hello-there/feed/").location == path + "feed/"
    assert client.get("/hello-there/feed/").location == path + "feed/"
    assert client.get("/2024/03/about-me/feed/").location == page_path + "feed/"
    with app.app_context():
        user = find_user(author)
        post = db.session.get(Post, post_id)
        assert user is not None and post is not None
        posts.update_post(post, user, posts.PostInput(title="Hello there", slug="renamed"))
    moved = client.get("/2024/03/hello-there/feed/")
    assert moved.status_code == 301
    assert moved.location == "/2024/03/renamed/feed/"
    assert client.get(moved.location).status_code == 200


# --- what a comment entry may show ---------------------------------------------------------


def test_comment_html_is_the_stored_sanitized_html_escaped_once(
    app: Flask, client: FlaskClient, author: str
) -> None:
    post_id, path = create_post(app, author, "Target", published_at=_at(5))
    typed = (
        'Hi <script>alert("x")</script><b onclick="evil()">bold</b> <a href="javascript:x">y</a>'
    )
    comment_id = add_comment(app, post_id, typed, author="<i>Mallory</i>")
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert comment is not None
        stored = comment.content_html
    assert "script" not in stored and "onclick" not in stored and "javascript" not in stored

    for feed_path in ("/comments/feed/", path + "feed/"):
        response = client.get(feed_path)
        raw = response.get_data(as_text=True)
        # Escaped as text inside <content>: no markup of the comment is XML markup.
        assert "<b>" not in raw and "&lt;b&gt;bold&lt;/b&gt;" in raw
        assert "script" not in raw and "alert" not in raw
        entry = _entries(ET.fromstring(response.data))[0]  # noqa: S314 - our own output
        content = entry.find(f"{A}content")
        assert content is not None and content.get("type") == "html"
        assert content.text == stored
        assert _text(entry, "title") == "Comment on Target by <i>Mallory</i>"
        assert _text(entry, "author/" + A + "name") == "<i>Mallory</i>"


def test_comment_feeds_never_show_email_or_ip(app: Flask, client: FlaskClient, author: str) -> None:
    post_id, path = create_post(app, author, "Target", published_at=_at(5))
    add_comment(
        app, post_id, "Hello", author="Ann", email="ann.secret@example.org", ip="203.0.113.9"
    )
    for feed_path in ("/comments/feed/", path + "feed/"):
        raw = client.get(feed_path).get_data(as_text=True)
        assert "Hello" in raw
        assert "ann.secret" not in raw and "203.0.113.9" not in raw
        assert f"{A}email" not in {el.tag for el in ET.fromstring(raw).iter()}  # noqa: S314


def test_a_character_xml_cannot_carry_does_not_break_the_feed(
    app: Flask, client: FlaskClient, author: str
) -> None:
    # U+FFFF passes the input checks and is fine in HTML, but XML 1.0 has no place for it.
    post_id, _ = create_post(app, author, "Target", published_at=_at(5))
    add_comment(app, post_id, "odd \uffff char", author="Ann\ufffe")
    entry = _entries(_feed(client, "/comments/feed/"))[0]
    assert _text(entry, "content") == "<p>odd \ufffd char</p>"
    assert _text(entry, "author/" + A + "name") == "Ann\ufffd"


# --- links in pages ------------------------------------------------------------------------


def _feed_links(client: FlaskClient, path: str) -> list[str]:
    from comment_helpers import page

    root = page(client.get(path))
    return [
        link.get("href", "")
        for link in root.iter("link")
        if link.get("rel") == "alternate" and link.get("type") == "application/atom+xml"
    ]


def test_pages_link_their_feeds(app: Flask, client: FlaskClient, author: str) -> None:
    _, path = create_post(app, author, "Hello there", published_at=_at(5))
    _, draft_path = create_post(app, author, "Unfinished", action="draft")
    assert _feed_links(client, "/") == ["/feed/", "/comments/feed/"]
    assert _feed_links(client, path) == ["/feed/", "/comments/feed/", path + "feed/"]
    # The author's preview of a draft does not point at a feed that would be 404.
    login(client, author)
    assert _feed_links(client, draft_path) == ["/feed/", "/comments/feed/"]


# --- caching and cost ----------------------------------------------------------------------


@pytest.mark.parametrize("feed", ["/feed/", "/comments/feed/", "post"])
@pytest.mark.parametrize("header", ["If-None-Match", "If-Modified-Since"])
def test_a_repeated_conditional_request_is_304(
    app: Flask, client: FlaskClient, author: str, feed: str, header: str
) -> None:
    post_id, path = create_post(app, author, "Hello there", published_at=_at(5))
    # Last-Modified counts whole seconds: keep the first state well before the change.
    _set_post(app, post_id, updated_at=_at(5))
    add_comment(app, post_id, "First!", author="Ann", created_at=_at(6))
    url = path + "feed/" if feed == "post" else feed
    first = client.get(url)
    assert first.status_code == 200
    validator = first.headers["ETag" if header == "If-None-Match" else "Last-Modified"]
    again = client.get(url, headers={header: validator})
    assert again.status_code == 304
    assert again.data == b""
    # Something new: the full feed again.
    add_comment(app, post_id, "Second!", author="Bo")
    create_post(app, author, "Newer")
    changed = client.get(url, headers={header: validator})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize("feed", ["/feed/", "/comments/feed/", "post"])
def test_feed_queries_do_not_grow_with_entries(
    app: Flask, client: FlaskClient, author: str, feed: str
) -> None:
    create_user(app, "bob", "author")
    create_user(app, "carol", "author")
    counts: dict[int, int] = {}
    total = 0
    for size in (2, 24):
        # More posts and authors in the larger round, so that a load per entry would show.
        authors = ("alice",) if size == 2 else ("alice", "bob", "carol")
        post_ids = [
            create_post(app, authors[n % len(authors)], f"P{size}-{n}")[0]
            for n in range(size if feed == "/feed/" else len(authors))
        ]
        url = feed
        if feed == "post":
            post_ids[:] = post_ids[-1:]
            url = _path_of(app, post_ids[0]) + "feed/"
        if feed != "/feed/":
            for n in range(size):
                add_comment(app, post_ids[n % len(post_ids)], f"c{size}-{n}", author=f"A{n}")
        counts[size] = count_statements(app, client, url)
        total = size if feed == "post" else total + size
        assert len(_entries(_feed(client, url))) == min(total, 20)
    assert counts[2] == counts[24]


def _path_of(app: Flask, post_id: int) -> str:
    from blog.templating import post_path

    with app.app_context(), app.test_request_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        return post_path(post)


def test_comment_links_carry_the_comment_page_when_comments_are_paged(
    app: Flask, client: FlaskClient, author: str
) -> None:
    from comment_helpers import set_discussion

    _, path = create_post(app, author, "Paged", published_at=_at(1))
    with app.app_context():
        post_id = db.session.scalar(db.select(Post.id).where(Post.title == "Paged"))
    first = add_comment(app, post_id, "Thread one.", created_at=_at(2))
    reply = add_comment(app, post_id, "Reply in thread one.", parent_id=first, created_at=_at(4))
    second = add_comment(app, post_id, "Thread two.", created_at=_at(3))
    root = _feed(client, "/comments/feed/")
    assert {_link(e) for e in _entries(root)} == {
        f"{HOST}{path}#comment-{c}" for c in (first, reply, second)
    }
    set_discussion(app, page_comments=True, comments_per_page=1)
    root = _feed(client, "/comments/feed/")
    assert sorted(_link(e) for e in _entries(root)) == sorted(
        [
            f"{HOST}{path}?cpage=1#comment-{first}",
            f"{HOST}{path}?cpage=1#comment-{reply}",
            f"{HOST}{path}?cpage=2#comment-{second}",
        ]
    )
    # The links lead to the page that shows the comment.
    assert f'id="comment-{second}"' in client.get(f"{path}?cpage=2").get_data(as_text=True)
    assert f'id="comment-{second}"' not in client.get(f"{path}?cpage=1").get_data(as_text=True)


def test_a_forged_host_changes_no_link_or_id(app, client, admin) -> None:
    """Host: evil.test is answered with the site's own links and ids (SITE_URL)."""
    create_post(app, admin, title="Hosted")
    body = client.get("/feed/", headers={"Host": "evil.test"}).get_data(as_text=True)
    assert "evil.test" not in body
    assert HOST + "/feed/" in body


def test_trusted_hosts_refuse_any_other(app, database_uri, tmp_path, admin) -> None:
    from conftest import make_app

    guarded = make_app(database_uri, tmp_path / "hosts", TRUSTED_HOSTS=["blog.example"])
    client = guarded.test_client()
    assert client.get("/feed/", headers={"Host": "blog.example"}).status_code == 200
    assert client.get("/feed/", headers={"Host": "evil.test"}).status_code == 400

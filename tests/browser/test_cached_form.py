"""The comment form on a cached post page, in a real browser.

A reader's post page is stored bytes shared by everyone (``blog.pagecache``), so its form
carries a signed stamp for the post instead of a session token (``blog.comments.tokens``).
These tests check what that promises from the browser's side: a reader gets no cookie, the
next reader gets the very same stored page, the form on it posts a comment and a reply with
and without JavaScript, and a page on another origin that copies the public stamp into a
form of its own is refused because the browser says where the form came from.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
from conftest import create_post, create_user
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from blog.comments import tokens
from blog.extensions import db
from blog.models import Comment
from blog.moderation import CommentStatus
from blog.pagecache.store import PageStore
from tests.browser.helpers import Session, add_comment, screenshot

pytestmark = pytest.mark.browser

HELD = "Your comment is awaiting moderation."
HELD_NOTICE = "Thank you: your comment is awaiting moderation."
PUBLIC = "public, max-age=0, must-revalidate"
COMMENT_URL = re.compile(r"#comment-(\d+)$")


class Thread(NamedTuple):
    id: int
    path: str
    parent_id: int  # an approved comment by Alice, so the page offers a Reply link


@pytest.fixture
def thread(live_app: Flask) -> Thread:
    create_user(live_app, "admin", "admin")
    post_id, path = create_post(live_app, "admin", title="Cached thread", body="Say hello.")
    return Thread(post_id, path, add_comment(live_app, post_id, "Alice", "Who bakes on Sundays?"))


def store_of(app: Flask) -> PageStore:
    return app.extensions["pagecache"].store


def visit(session: Session, path: str) -> Any:
    """Open ``path`` in ``session``; the page's response (a 200)."""
    response = session.page.goto(path)
    assert response is not None and response.status == 200, response and response.status
    return response


def first_visit(app: Flask, session: Session, path: str) -> Any:
    """The first reader of ``path``: rendered by Flask and stored for the next ones."""
    store = store_of(app)
    stored, hits = store.stored, store.hits
    response = visit(session, path)
    assert store.stored == stored + 1, "the first reader's page was not stored"
    assert store.hits == hits, "the first reader's page came from the store"
    return response


def cached_visit(app: Flask, session: Session, path: str, etag: str) -> Any:
    """A later reader of ``path``: the stored page, byte for byte, gzip-compressed as
    Chromium takes it (the compressed copy's ETag is the page's with ``-gzip``)."""
    store = store_of(app)
    hits = store.hits
    response = visit(session, path)
    assert store.hits == hits + 1, "the page was not served from the store"
    headers = response.all_headers()
    assert headers["etag"] == etag.removesuffix('"') + '-gzip"'
    assert headers["content-encoding"] == "gzip"
    return response


def stamp_on(session: Session) -> str:
    value = session.page.locator('#commentform input[name="csrf_token"]').get_attribute("value")
    assert value, "the comment form carries no token"
    return value


def send_comment(page: Any, text: str, author: str) -> int:
    """Fill the comment form wherever it is, send it, and return the new comment's id once
    the reader has been sent back to it (a 303 to ``#comment-ID``)."""
    before = page.url
    page.fill("#comment", text)
    page.fill("#author", author)
    page.fill("#email", f"{author.lower()}@example.com")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Post Comment").click()
    if sent.value.status != 303:
        page.wait_for_load_state()
        errors = page.locator("#comment-errors")
        shown = errors.inner_text() if errors.count() else "no #comment-errors"
        pytest.fail(f"the comment was refused with {sent.value.status}: {shown}")
    page.wait_for_url(lambda url: url != before and COMMENT_URL.search(url) is not None)
    match = COMMENT_URL.search(page.url)
    assert match is not None
    return int(match[1])


def comments_of(app: Flask, post_id: int) -> list[tuple[str, int | None, CommentStatus, str]]:
    """(author, parent_id, status, content) of every comment stored for ``post_id``."""
    with app.app_context():
        rows = db.session.scalars(
            select(Comment).where(Comment.post_id == post_id).order_by(Comment.id)
        )
        return [(c.author, c.parent_id, c.status, c.content) for c in rows]


# --- 1. the page a reader gets ----------------------------------------------------------


def test_a_reader_gets_no_cookie_and_the_next_one_gets_the_stored_page(
    thread: Thread, live_app: Flask, new_session: Callable[..., Session]
) -> None:
    first = new_session()
    response = first_visit(live_app, first, thread.path)
    headers = response.all_headers()
    assert "set-cookie" not in headers
    assert headers["cache-control"] == PUBLIC
    assert "cookie" in headers["vary"].lower()
    assert first.context.cookies() == []  # none from the page, its stylesheet or its script
    expect(first.page.locator("#commentform")).to_be_visible()

    second = new_session()
    again = cached_visit(live_app, second, thread.path, headers["etag"])
    assert "set-cookie" not in again.all_headers()
    assert again.all_headers()["cache-control"] == PUBLIC
    assert again.body() == response.body()
    assert second.context.cookies() == []
    assert stamp_on(second) == stamp_on(first)  # one stamp for every reader of the page
    assert tokens.check(live_app.config["SECRET_KEY"], stamp_on(second), thread.id).ok
    assert len(store_of(live_app)) == 1  # the post page; static files are not kept
    screenshot(second.page, "cached-post-form")

    for session in (first, second):
        assert session.dialogs == [] and session.errors == []


# --- 2 and 3. the form on a cached page posts -------------------------------------------


def test_cached_form_posts_a_comment_and_a_reply_with_javascript(
    thread: Thread, live_app: Flask, new_session: Callable[..., Session]
) -> None:
    etag = first_visit(live_app, new_session(), thread.path).all_headers()["etag"]
    reader = new_session()
    page = reader.page
    cached_visit(live_app, reader, thread.path, etag)
    assert reader.context.cookies() == []

    comment_id = send_comment(page, "Me, most weeks.", "Bob")
    expect(page.locator(".flash-info")).to_contain_text(HELD_NOTICE)
    expect(page.locator(f"#comment-{comment_id} .comment-awaiting-moderation")).to_have_text(HELD)

    page.locator(f"#comment-{thread.parent_id} .comment-reply-link").click()
    expect(page.locator(f"#li-comment-{thread.parent_id} > #respond")).to_have_count(1)
    expect(page.locator("#comment_parent")).to_have_value(str(thread.parent_id))
    expect(page.locator("#reply-title")).to_contain_text("Reply to Alice")
    assert "replytocom" not in page.url  # the script moved the form; no request was made

    reply_id = send_comment(page, "Rye, mostly.", "Bob")
    reply = page.locator(
        f"#li-comment-{thread.parent_id} > .children > li.depth-2#li-comment-{reply_id}"
    )
    expect(reply.locator(".comment-awaiting-moderation")).to_have_text(HELD)
    expect(page.locator(".flash-info")).to_contain_text(HELD_NOTICE)

    assert comments_of(live_app, thread.id)[1:] == [
        ("Bob", None, CommentStatus.PENDING, "Me, most weeks."),
        ("Bob", thread.parent_id, CommentStatus.PENDING, "Rye, mostly."),
    ]
    assert reader.dialogs == [] and reader.errors == []


def test_cached_form_posts_a_comment_and_a_reply_without_javascript(
    thread: Thread, live_app: Flask, new_session: Callable[..., Session]
) -> None:
    etag = first_visit(live_app, new_session(), thread.path).all_headers()["etag"]
    reader = new_session(java_script_enabled=False)
    page = reader.page
    cached_visit(live_app, reader, thread.path, etag)
    assert reader.context.cookies() == []

    comment_id = send_comment(page, "Me, most weeks.", "Carol")
    expect(page.locator(".flash-info")).to_contain_text(HELD_NOTICE)
    expect(page.locator(f"#comment-{comment_id} .comment-awaiting-moderation")).to_have_text(HELD)

    # Without the script the Reply link is an ordinary link: ?replytocom=ID#respond.
    page.locator(f"#comment-{thread.parent_id} .comment-reply-link").click()
    page.wait_for_url(re.compile(rf"\?replytocom={thread.parent_id}#respond$"))
    expect(page.locator("#comment_parent")).to_have_value(str(thread.parent_id))
    expect(page.locator("#reply-title")).to_contain_text("Reply to Alice")

    reply_id = send_comment(page, "Rye, mostly.", "Carol")
    reply = page.locator(
        f"#li-comment-{thread.parent_id} > .children > li.depth-2#li-comment-{reply_id}"
    )
    expect(reply.locator(".comment-awaiting-moderation")).to_have_text(HELD)
    expect(page.locator("#comment_parent")).to_have_value("0")

    assert comments_of(live_app, thread.id)[1:] == [
        ("Carol", None, CommentStatus.PENDING, "Me, most weeks."),
        ("Carol", thread.parent_id, CommentStatus.PENDING, "Rye, mostly."),
    ]
    assert reader.dialogs == [] and reader.errors == []


# --- 4. a form on another site that copied the public stamp -----------------------------


class AttackerSite:
    """Another origin on the loopback (http.server in a thread) serving one page of HTML."""

    def __init__(self, host: str) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="attacker-site", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"


@pytest.fixture
def attacker(attacker_host: str) -> Iterator[AttackerSite]:
    site = AttackerSite(attacker_host)
    site.thread.start()
    yield site
    site.server.shutdown()
    site.thread.join(timeout=10)
    site.server.server_close()


def record_posts(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """The headers of every POST the live server hands to ``app`` from now on.

    Read on the server's side: with the fixtures' request routing on, Playwright's view of a
    request lacks the ``Sec-Fetch-*`` headers Chromium adds further down its network stack.
    """
    posts: list[dict[str, str]] = []
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Callable) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            posts.append(
                {
                    name[5:].replace("_", "-").lower(): value
                    for name, value in environ.items()
                    if name.startswith("HTTP_")
                }
            )
        return inner(environ, start_response)

    monkeypatch.setattr(app, "wsgi_app", recording)
    return posts


def bait_page(action: str, fields: dict[str, str]) -> str:
    """A page that posts ``fields`` to ``action`` when its only button is pressed."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )
    return (
        "<!doctype html><title>You have won</title><h1>Claim your prize</h1>"
        f'<form method="post" action="{escape(action)}">{inputs}'
        '<button type="submit">Claim</button></form>'
    )


@pytest.mark.parametrize(
    ("attacker_host", "fetch_site"),
    [("127.0.0.1", "same-site"), ("127.0.0.2", "cross-site")],
    ids=["another-port", "another-host"],
)
def test_a_cross_site_form_with_a_copied_stamp_is_refused(
    thread: Thread,
    live_app: Flask,
    live_server: str,
    new_session: Callable[..., Session],
    attacker: AttackerSite,
    attacker_host: str,
    fetch_site: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The attacker reads the stamp off the public, cached page, as anyone can.
    etag = first_visit(live_app, new_session(), thread.path).all_headers()["etag"]
    scout = new_session()
    cached_visit(live_app, scout, thread.path, etag)
    stamp = stamp_on(scout)
    assert tokens.check(live_app.config["SECRET_KEY"], stamp, thread.id).ok

    text = "Great post! Cheap watches at example.net"
    attacker.html = bait_page(
        f"{live_server}{thread.path}",
        {
            "csrf_token": stamp,
            "author": "Mallory",
            "email": "mallory@example.net",
            "url": "https://example.net",
            "comment": text,
            "comment_parent": "0",
        },
    )

    victim = new_session()
    if attacker_host != "127.0.0.1":
        # Still the loopback: let this one other local address through as well.
        victim.context.route(
            lambda url: urlsplit(url).hostname == attacker_host, lambda route: route.continue_()
        )
    posts = record_posts(live_app, monkeypatch)
    page = victim.page
    page.goto(attacker.url)
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Claim").click()
    refused = sent.value
    assert refused.status == 403
    # What the browser told the blog about where the form came from.
    assert len(posts) == 1
    assert posts[0]["origin"] == attacker.url
    assert posts[0]["sec-fetch-site"] == fetch_site
    assert "no-store" in refused.all_headers()["cache-control"]
    page.wait_for_url(f"{live_server}{thread.path}")

    errors = page.locator("#comment-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text(tokens.CROSS)
    expect(errors).to_contain_text("What you typed is still below.")
    expect(page.locator("#comment")).to_have_value(text)
    expect(page.locator("#author")).to_have_value("Mallory")
    screenshot(page, f"cross-site-refused-{fetch_site}")

    assert [author for author, *_ in comments_of(live_app, thread.id)] == ["Alice"]
    # Nor did the refused page, with the attacker's text, become the page others get.
    other = new_session()
    cached_visit(live_app, other, thread.path, etag)
    expect(other.page.locator("#comment-errors")).to_have_count(0)
    expect(other.page.locator("#comment")).to_have_value("")
    for session in (scout, victim, other):
        assert session.dialogs == [] and session.errors == []

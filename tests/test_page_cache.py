"""The readers' page cache: no cookie, validators, and never a stale page after a write.

Every test reads a page as a reader (no cookie) so that it is stored, makes one change the
way the blog makes it, and reads again: the change must show at once. ``stored`` checks that
the first read really came from the store, so a test cannot pass by never caching.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from comment_helpers import (
    add_comment,
    by_id,
    comment_id_from,
    page,
    post_comment,
    set_discussion,
    text,
)
from conftest import count_statements, create_post, create_user, login, make_app
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.http import http_date

from blog import pagecache
from blog.extensions import db
from blog.models import Category, Comment, Post, Tag, User, utcnow
from blog.moderation import CommentStatus
from blog.services import comments as comment_service
from blog.services import posts as post_service
from blog.services import settings as settings_service
from blog.services.users import find_user


@pytest.fixture
def reader(app: Flask) -> FlaskClient:
    """A reader: a client that never logs in (``client`` becomes the admin's)."""
    return app.test_client()


@pytest.fixture
def post(app: Flask, admin: str) -> tuple[int, str]:
    return create_post(app, admin, title="On caching", tags=["cache"], categories=["Notes"])


def cache_of(app: Flask) -> pagecache.PageCache:
    return app.extensions["pagecache"]


def read(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def stored_read(app: Flask, client: FlaskClient, path: str) -> str:
    """Read ``path`` twice as a reader; the second time must come from the store."""
    read(client, path)
    hits = cache_of(app).store.hits
    body = read(client, path)
    assert cache_of(app).store.hits == hits + 1, "the page was not served from the store"
    return body


def as_admin(app: Flask, change: Callable[[User], object]) -> None:
    with app.app_context():
        user = find_user("admin")
        assert user is not None
        change(user)


# --- what a reader gets ---------------------------------------------------------------------


def test_a_reader_gets_no_cookie_and_public_validators(app: Flask, client, post) -> None:
    for path in (post[1], "/", "/archives/", "/tag/cache/", "/feed/", "/comments/feed/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
        assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate", path
        assert response.headers["ETag"], path
        assert response.headers["Last-Modified"], path
        assert "Cookie" in response.headers["Vary"], path
    assert client.get_cookie("session") is None


def test_the_same_bytes_for_every_reader(app: Flask, post) -> None:
    first = app.test_client().get(post[1])
    second = app.test_client().get(post[1])
    assert first.data == second.data
    assert first.headers["ETag"] == second.headers["ETag"]


def test_a_stored_page_is_served_without_a_query_of_the_app(app: Flask, client, post) -> None:
    read(client, post[1])
    # The one version read runs on a raw connection before Flask; nothing else is asked.
    assert count_statements(app, client, post[1]) == 0
    assert cache_of(app).store.hits >= 1


@pytest.mark.parametrize("header", ["If-None-Match", "If-Modified-Since"])
def test_conditional_requests_get_304_from_the_store_and_from_a_render(
    app: Flask, client, post, header: str
) -> None:
    first = client.get(post[1])
    value = first.headers["ETag"] if header == "If-None-Match" else first.headers["Last-Modified"]
    hits = cache_of(app).store.hits
    again = client.get(post[1], headers={header: value})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert cache_of(app).store.hits == hits + 1
    # And when the store is empty and the page is rendered for the request: the weak ETag
    # is the page's, not the render's; Last-Modified is the render's time, so a date from
    # before it means "modified" and one after it does not.
    cache_of(app).store.clear()
    if header == "If-Modified-Since":
        value = http_date(time.time() + 3600)
    assert client.get(post[1], headers={header: value}).status_code == 304


def test_a_head_request_gets_the_headers_only(app: Flask, client, post) -> None:
    full = client.get(post[1])
    head = client.head(post[1])
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(full.data))
    assert head.headers["ETag"] == full.headers["ETag"]


GZIP = {"Accept-Encoding": "deflate, gzip;q=0.8;x=1, br"}


def test_a_kept_page_goes_out_gzipped_to_a_browser_that_takes_it(app: Flask, client, post) -> None:
    plain = client.get(post[1])  # rendered and kept
    assert "Accept-Encoding" in plain.headers["Vary"] and "Cookie" in plain.headers["Vary"]
    hits = cache_of(app).store.hits
    packed = client.get(post[1], headers=GZIP)
    assert cache_of(app).store.hits == hits + 1
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) // 2
    assert gzip.decompress(packed.data) == client.get(post[1]).data
    # One validator per encoding; each answers 304 for its own.
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert packed.headers["Vary"] == plain.headers["Vary"]
    again = client.get(post[1], headers={**GZIP, "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == packed.headers["ETag"]
    head = client.head(post[1], headers=GZIP)
    assert head.data == b"" and head.headers["Content-Length"] == packed.headers["Content-Length"]


@pytest.mark.parametrize(
    "accept", ["", "identity", "gzip;q=0", "deflate, br", "gzip; q=0.0", "gzip;level=1;q=0"]
)
def test_a_browser_that_does_not_take_gzip_gets_the_page_as_it_is(
    app: Flask, client, post, accept: str
) -> None:
    plain = client.get(post[1])
    again = client.get(post[1], headers={"Accept-Encoding": accept})
    assert "Content-Encoding" not in again.headers
    assert again.data == plain.data


def test_gzip_is_a_setting(app: Flask, database_uri: str, tmp_path, post) -> None:
    other = make_app(database_uri, tmp_path / "no-gzip", PAGE_CACHE_GZIP=False)
    reader = other.test_client()
    first = reader.get(post[1])
    assert "Accept-Encoding" not in first.headers["Vary"]
    assert "Content-Encoding" not in reader.get(post[1], headers=GZIP).headers
    assert cache_of(other).store.hits == 1


def test_a_page_rendered_for_one_reader_is_never_gzipped_from_the_store(
    app: Flask, admin_client, post
) -> None:
    page = admin_client.get(post[1], headers=GZIP)
    assert page.headers["Cache-Control"] == "private, no-store"
    assert "Content-Encoding" not in page.headers


def test_s_maxage_is_a_setting(app: Flask, database_uri: str, tmp_path, post) -> None:
    other = make_app(database_uri, tmp_path / "s-maxage", PAGE_CACHE_S_MAXAGE=60)
    response = other.test_client().get(post[1])
    assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate, s-maxage=60"


def test_page_cache_false_renders_every_time_but_keeps_the_validators(
    app: Flask, database_uri: str, tmp_path, post, monkeypatch
) -> None:
    uncached = make_app(database_uri, tmp_path / "uncached", PAGE_CACHE=False)
    client = uncached.test_client()
    kept = []
    real = type(cache_of(uncached)).entry_for
    monkeypatch.setattr(
        type(cache_of(uncached)), "entry_for", lambda *a: kept.append(1) or real(*a)
    )
    first = client.get(post[1])
    assert kept == []  # nothing is made to be kept: the validators are all it needs
    assert count_statements(uncached, client, post[1]) > 0
    assert len(cache_of(uncached).store) == 0
    assert first.headers["Cache-Control"].startswith("public")
    assert client.get(post[1], headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


# --- who gets a page of their own -------------------------------------------------------------


def test_logged_in_users_get_a_private_uncached_page(app: Flask, admin_client, post) -> None:
    stored_before = cache_of(app).store.stored
    for path in (post[1], "/", "/feed/"):
        response = admin_client.get(path)
        assert response.headers["Cache-Control"] == "private, no-store", path
    body = admin_client.get(post[1]).get_data(as_text=True)
    assert "Log out" in body
    assert cache_of(app).store.stored == stored_before


def test_a_reader_with_a_held_comment_sees_it_and_others_do_not(app: Flask, client, post) -> None:
    stored_read(app, app.test_client(), post[1])
    held = comment_id_from(post_comment(client, post[1], comment="Held, mine only."))
    mine = client.get(post[1])
    assert mine.headers["Cache-Control"] == "private, no-store"
    assert by_id(page(mine), f"comment-{held}") is not None
    stranger = app.test_client().get(post[1])
    assert by_id(page(stranger), f"comment-{held}") is None
    assert "Set-Cookie" not in stranger.headers


def test_reply_to_comment_links_are_rendered_for_the_request(app: Flask, client, post) -> None:
    comment_id = add_comment(app, post[0], "Answer me.")
    response = client.get(f"{post[1]}?replytocom={comment_id}")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Reply to Bob" in text(by_id(page(response), "reply-title"))
    assert len(cache_of(app).store) == 0


def test_remembered_commenters_get_their_details_back(app: Flask, client, post) -> None:
    comment_id_from(post_comment(client, post[1], comment="Remember me.", remember="y"))
    response = client.get("/")  # another page: the remember cookies are site-wide
    assert response.headers["Cache-Control"] == "private, no-store"
    form = client.get(post[1]).get_data(as_text=True)
    assert 'value="Ann Reader"' in form


def test_unknown_query_arguments_are_not_stored(app: Flask, client, post) -> None:
    for query in ("?utm_source=x", "?cpage=x", "?page=1&debug=1"):
        client.get(post[1] + query)
    assert len(cache_of(app).store) == 0
    read(client, "/?page=1")
    assert len(cache_of(app).store) == 1


def test_the_store_holds_no_more_than_its_bound(
    app: Flask, database_uri: str, tmp_path, admin: str
) -> None:
    paths = [create_post(app, admin, title=f"Post {n}", body="words " * 500)[1] for n in range(8)]
    # What one page costs the store (its bytes, its compressed copy, the bookkeeping), on
    # this backend: the bound holds five and a half (a page over a quarter of it is never kept).
    probe = make_app(database_uri, tmp_path / "probe")
    read(probe.test_client(), paths[0])
    bound = int(cache_of(probe).store.bytes * 5.5)
    small = make_app(database_uri, tmp_path / "small", PAGE_CACHE_MAX_BYTES=bound)
    client = small.test_client()
    for path in paths:
        read(client, path)
    store = cache_of(small).store
    assert store.bytes <= bound
    assert store.evicted > 0
    assert 0 < len(store) < len(paths)


# --- exact: every change shows at once ------------------------------------------------------


def test_a_comment_approved_in_the_queue_shows_at_once(app, reader, admin_client, post) -> None:
    held = add_comment(app, post[0], "Wait for me.", status=CommentStatus.PENDING)
    assert by_id(page(reader.get(post[1])), f"comment-{held}") is None
    stored_read(app, reader, post[1])
    admin_client.post("/admin/comments/action", data={"action": "approve", "comment_id": held})
    assert by_id(page(reader.get(post[1])), f"comment-{held}") is not None
    assert "1 comment" in text(page(reader.get("/")))


@pytest.mark.parametrize("action", ["unapprove", "spam", "trash"])
def test_a_comment_leaving_the_page_is_gone_at_once(
    app, reader, admin_client, post, action
) -> None:
    shown = add_comment(app, post[0], "Here for now.")
    assert "Here for now." in stored_read(app, reader, post[1])
    assert "1 comment" in stored_read(app, reader, "/")
    admin_client.post("/admin/comments/action", data={"action": action, "comment_id": shown})
    assert "Here for now." not in read(reader, post[1])
    assert "0 comments" in read(reader, "/")
    assert "Here for now." not in read(reader, "/comments/feed/")


def test_an_edited_comment_shows_its_new_text(app, reader, admin_client, post) -> None:
    shown = add_comment(app, post[0], "Frist!")
    assert "Frist!" in stored_read(app, reader, post[1])
    admin_client.post(
        f"/admin/comments/{shown}/edit",
        data={"author": "Bob", "email": "bob@example.org", "url": "", "comment": "First!"},
    )
    body = read(reader, post[1])
    assert "First!" in body and "Frist!" not in body


def test_a_deleted_comment_is_gone_and_its_replies_move_up(app, reader, admin_client, post) -> None:
    parent = add_comment(app, post[0], "Parent.")
    child = add_comment(app, post[0], "Child.", parent_id=parent)
    stored_read(app, reader, post[1])
    admin_client.post("/admin/comments/action", data={"action": "trash", "comment_id": parent})
    root = page(reader.get(post[1]))
    assert by_id(root, f"comment-{parent}") is None
    assert "depth-1" in by_id(root, f"li-comment-{child}").get("class")
    admin_client.post("/admin/comments/action", data={"action": "delete", "ids": parent})
    root = page(reader.get(post[1]))
    assert "depth-1" in by_id(root, f"li-comment-{child}").get("class")


def test_a_published_comment_shows_to_the_next_reader(app, database_uri, tmp_path, post) -> None:
    trusting = make_app(database_uri, tmp_path / "open", COMMENT_MIN_FILL_SECONDS=0)
    set_discussion(trusting, comment_previously_approved=False)
    reader = trusting.test_client()
    stored_read(trusting, reader, post[1])
    posted = comment_id_from(post_comment(trusting.test_client(), post[1], comment="Out at once."))
    assert by_id(page(reader.get(post[1])), f"comment-{posted}") is not None


def test_post_edits_publication_and_trash_show_at_once(app: Flask, client, post) -> None:
    assert "On caching" in stored_read(app, client, post[1])
    assert "On caching" in stored_read(app, client, "/")

    def retitle(user: User) -> None:
        found = db.session.get(Post, post[0])
        data = post_service.PostInput(title="On exact caching", body=found.body, slug=found.slug)
        post_service.update_post(found, user, data)

    as_admin(app, retitle)
    assert "On exact caching" in read(client, post[1])
    assert "On exact caching" in read(client, "/")
    assert "On exact caching" in read(client, "/feed/")
    as_admin(app, lambda user: post_service.unpublish(db.session.get(Post, post[0]), user))
    assert client.get(post[1]).status_code == 404
    assert "On exact caching" not in read(client, "/")


def test_a_neighbour_post_changing_shows_in_the_next_link(app: Flask, client, admin) -> None:
    older = create_post(app, admin, title="The older one")
    newer = create_post(app, admin, title="The newer one")
    assert "The newer one" in stored_read(app, client, older[1])

    def retitle(user: User) -> None:
        found = db.session.get(Post, newer[0])
        data = post_service.PostInput(title="Renamed neighbour", body=found.body, slug=found.slug)
        post_service.update_post(found, user, data)

    as_admin(app, retitle)
    assert "Renamed neighbour" in read(client, older[1])
    as_admin(app, lambda user: post_service.trash(db.session.get(Post, newer[0]), user))
    assert "Renamed neighbour" not in read(client, older[1])


def test_an_author_name_tag_and_category_renamed_show_at_once(app: Flask, client, post) -> None:
    stored_read(app, client, post[1])
    stored_read(app, client, "/")
    with app.app_context():
        db.session.scalar(select(User).where(User.username == "admin")).display_name = "Ada L."
        db.session.scalar(select(Tag).where(Tag.slug == "cache")).name = "Caching"
        db.session.scalar(select(Category).where(Category.slug == "notes")).name = "Field notes"
        db.session.commit()
    body = read(client, post[1])
    assert "Ada L." in body and ">Caching<" in body and "Field notes" in body
    assert "Ada L." in read(client, "/")


def test_settings_and_the_whitelist_show_at_once(app: Flask, client, post) -> None:
    stored_read(app, client, post[1])
    with app.app_context():
        settings_service.save_site("A new name", "", "UTC", 10)
    body = read(client, post[1])
    assert "A new name" in body
    set_discussion(app, show_avatars=False)
    with app.app_context():
        settings = settings_service.discussion_settings()
        settings_service.save_discussion(settings, "b\ni\nem")
    assert '<code id="allowed-tags">&lt;b&gt; &lt;i&gt; &lt;em&gt;</code>' in read(client, post[1])


def test_a_time_zone_change_renders_comment_times_again(app: Flask, client, post) -> None:
    comment_id = add_comment(app, post[0], "What time is it?")
    stored_read(app, client, post[1])
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        utc = comment.created_at
        settings_service.save_site("My Blog", "", "Asia/Kathmandu", 10)
        assert db.session.get(Comment, comment_id).fragment_key.split("|")[1] == "Asia/Kathmandu"
    local = utc + timedelta(hours=5, minutes=45)
    shown = text(next(iter(by_id(page(client.get(post[1])), f"comment-{comment_id}").iter("time"))))
    assert shown.endswith(local.strftime("%H:%M"))


def test_a_scheduled_post_appears_when_due_without_a_write(
    app: Flask, client, admin: str, monkeypatch
) -> None:
    create_post(app, admin, title="Already out")
    due = utcnow() + timedelta(hours=1)
    create_post(app, admin, title="Later on", action="schedule", published_at=due)
    assert "Later on" not in stored_read(app, client, "/")
    later = due.timestamp() + 1
    monkeypatch.setattr(pagecache.time, "time", lambda: later)
    monkeypatch.setattr("blog.models.utcnow", lambda: due + timedelta(seconds=1))
    monkeypatch.setattr("blog.services.posts.utcnow", lambda: due + timedelta(seconds=1))
    assert "Later on" in read(client, "/")


def test_comments_closing_by_age_close_the_cached_form(
    app: Flask, client, admin: str, monkeypatch
) -> None:
    set_discussion(app, close_comments_for_old_posts=True, close_comments_days_old=14)
    post = create_post(app, admin, title="Old news")
    assert by_id(page(client.get(post[1])), "commentform") is not None
    stored_read(app, client, post[1])
    later = utcnow() + timedelta(days=15)
    monkeypatch.setattr(pagecache.time, "time", lambda: later.timestamp())
    monkeypatch.setattr("blog.comments.views.utcnow", lambda: later)
    root = page(client.get(post[1]))
    assert by_id(root, "commentform") is None
    assert "closed 14 days after publishing" in text(root)


def test_another_app_on_the_same_database_sees_every_write(
    app: Flask, database_uri: str, tmp_path, admin_client, post
) -> None:
    """Two processes in one: a write through one app is seen by the other's store."""
    other = make_app(database_uri, tmp_path / "other")
    reader = other.test_client()
    shown = add_comment(app, post[0], "Seen everywhere.")
    assert "Seen everywhere." in stored_read(other, reader, post[1])
    admin_client.post("/admin/comments/action", data={"action": "spam", "comment_id": shown})
    assert "Seen everywhere." not in read(reader, post[1])


def test_bulk_statements_say_what_they_touch(app: Flask, client, post) -> None:
    """A write around the ORM still bumps: an UPDATE on posts bumps the whole site."""
    stored_read(app, client, post[1])
    from sqlalchemy import update

    with app.app_context():
        db.session.execute(update(Post).where(Post.id == post[0]).values(title="Bulk title"))
        db.session.commit()
    assert "Bulk title" in read(client, post[1])


def test_nothing_is_bumped_by_what_readers_never_see(app: Flask, client, post) -> None:
    """A held comment, a login and an API token leave every stored page valid."""
    stored_read(app, client, post[1])
    add_comment(app, post[0], "Held quietly.", status=CommentStatus.PENDING)
    other = app.test_client()
    login(other, "admin")
    create_user(app, "subscriber1", "subscriber")
    hits = cache_of(app).store.hits
    read(client, post[1])
    assert cache_of(app).store.hits == hits + 1


def test_a_comment_moved_between_hidden_statuses_keeps_pages_valid(
    app: Flask, client, post
) -> None:
    held = add_comment(app, post[0], "Pending.", status=CommentStatus.PENDING)
    stored_read(app, client, post[1])
    with app.app_context():
        comment = db.session.get(Comment, held)
        comment_service.set_status(comment, CommentStatus.SPAM, None, "spam")
        db.session.commit()
    hits = cache_of(app).store.hits
    read(client, post[1])
    assert cache_of(app).store.hits == hits + 1


def test_only_a_change_fragments_show_renders_them_again(app: Flask, post) -> None:
    """Saving other settings leaves the stored comments alone (no pass over the table)."""
    add_comment(app, post[0], "Stays as it is.")
    sent: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        set_discussion(app, comment_max_links=3, show_avatars=True)
        assert not [s for s in sent if "fragment_key" in s]
        set_discussion(app, show_avatars=False)
        assert [s for s in sent if "fragment_key" in s]
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_fragments_are_rendered_again_batch_after_batch(app: Flask, post, monkeypatch) -> None:
    from blog.services import comment_html

    ids = [add_comment(app, post[0], f"Comment {n}") for n in range(5)]
    monkeypatch.setattr(comment_html, "_BATCH", 2)
    with app.app_context():
        settings_service.save_site("My Blog", "", "America/Lima", 10)
        keys = {db.session.get(Comment, i).fragment_key for i in ids}
    assert keys == {comment_html.RenderContext("America/Lima", True).key}

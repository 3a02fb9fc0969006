"""Atom feeds of posts and approved comments.

Entries carry the HTML stored on write (post bodies and sanitized comments) as escaped
text; nothing is sanitized or rewritten here. Every feed answers conditional requests, as
feed readers poll the same addresses over and over.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

from feedgen.feed import FeedGenerator
from flask import Response, abort, current_app, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import load_only

from blog import dates, pagecache
from blog.extensions import db
from blog.feeds import bp
from blog.models import Comment, Post, PostType, utcnow
from blog.pagecache.keys import COMMENTS, SITE, post_key
from blog.posts.views import cacheable
from blog.services import comments as comment_service
from blog.services import posts as post_service
from blog.services import threads
from blog.services.settings import discussion_settings, site_settings
from blog.templating import post_month, post_path

FEED_ENTRIES = 20
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"
# Characters XML 1.0 cannot carry at all. Input checks refuse them (blog.text), but data
# stored before that, or imported, must not break a whole feed: lxml raises on them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _absolute(path: str) -> str:
    """An absolute link from SITE_URL, never from the request's Host header: a forged Host
    must not turn a feed's links and ids into someone else's (and the page cache keeps
    one copy however it is asked for)."""
    return urljoin(current_app.config["SITE_URL"].rstrip("/") + "/", path.lstrip("/"))


def _tag_uri(kind: str, ident: object, created: datetime) -> str:
    """A permanent entry id (RFC 4151): unlike the address, it survives a slug change."""
    host = urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"
    return f"tag:{host},{created:%Y-%m-%d}:{kind}/{ident}"


def feed_path(post: Post) -> str:
    """The address of a post's comment feed: its own address plus ``feed/``."""
    return post_path(post) + "feed/"


def _new_feed(title: str, feed_id: str, alternate: str) -> FeedGenerator:
    site = site_settings()
    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(_xml(title))
    if site.description:
        feed.subtitle(_xml(site.description))
    feed.link(href=alternate, rel="alternate", type="text/html")
    feed.link(href=_absolute(request.path), rel="self", type="application/atom+xml")
    feed.language(dates.language(site.language).html_lang)
    feed.generator("blog")
    return feed


def _post_updated(post: Post) -> datetime:
    # A scheduled post appears at published_at, which may be after its last edit.
    return max(post.updated_at, post.published_at or post.updated_at)


def _add_post(feed: FeedGenerator, post: Post) -> datetime:
    entry = feed.add_entry(order="append")
    entry.id(_tag_uri("post", post.id, post.created_at))
    entry.title(_xml(post.title))
    entry.link(href=_absolute(post_path(post)), rel="alternate", type="text/html")
    entry.author(name=_xml(post.author.name))
    entry.published(post.published_at)
    updated = _post_updated(post)
    entry.updated(updated)
    if post.excerpt:
        entry.summary(_xml(post.excerpt))
    entry.content(_xml(post.body_html), type="html")
    return updated


def _add_comments(feed: FeedGenerator, comments: list[Comment]) -> list[datetime]:
    paths = threads.comment_paths(comments, discussion_settings())
    return [_add_comment(feed, comment, paths[comment.id]) for comment in comments]


def _add_comment(feed: FeedGenerator, comment: Comment, path: str) -> datetime:
    """One comment: its name and sanitized HTML only, never its email or IP."""
    name = comment.author or "Anonymous"
    entry = feed.add_entry(order="append")
    entry.id(_tag_uri("comment", comment.id, comment.created_at))
    entry.title(_xml(f"Comment on {comment.post.title} by {name}"))
    entry.link(href=_absolute(path), rel="alternate", type="text/html")
    entry.author(name=_xml(name))
    entry.published(comment.created_at)
    # Approval bumps updated_at: a comment approved late still moves Last-Modified.
    updated = max(comment.updated_at, comment.created_at)
    entry.updated(updated)
    entry.content(_xml(comment.content_html), type="html")
    return updated


def _respond(feed: FeedGenerator, updated: datetime) -> Response:
    feed.updated(updated)
    response = Response(feed.atom_str(), content_type=ATOM_CONTENT_TYPE)
    response.last_modified = updated
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/feed/")
def posts() -> Response:
    cacheable(SITE)
    site = site_settings()
    feed = _new_feed(
        site.name, _absolute(url_for("feeds.posts")), _absolute(url_for("posts.index"))
    )
    times = [_add_post(feed, post) for post in post_service.latest_posts(FEED_ENTRIES)]
    return _respond(feed, max(times, default=utcnow()))


@bp.get("/comments/feed/")
def comments() -> Response:
    cacheable(SITE, COMMENTS)
    site = site_settings()
    feed_id = _absolute(url_for("feeds.comments"))
    feed = _new_feed(f"Comments · {site.name}", feed_id, _absolute(url_for("posts.index")))
    times = _add_comments(feed, comment_service.latest_approved(FEED_ENTRIES))
    return _respond(feed, max(times, default=utcnow()))


def _visible_post(slug: str) -> Post | Response:
    """The visible post with this slug, or a 301 from an old slug; 404 for anything else.

    An unpublished post has no feed, not even for its author: feed readers keep no session.
    """
    found = post_service.find_by_slug(slug)
    if found is None:
        moved = post_service.redirect_target(slug)
        if moved is not None and moved.is_visible():
            return redirect(feed_path(moved), 301)
        abort(404)
    if not found.is_visible():
        abort(404)
    return found


def _post_feed(post: Post) -> Response:
    pagecache.depends(post_key(post.id))
    site = site_settings()
    feed = _new_feed(
        f"Comments on {post.title} · {site.name}",
        _tag_uri("post", post.id, post.created_at) + "/comments",
        _absolute(post_path(post)),
    )
    times = _add_comments(feed, comment_service.latest_approved(FEED_ENTRIES, post=post))
    # No comments yet: the post's own time, so an empty feed still answers 304.
    return _respond(feed, max(times, default=_post_updated(post)))


@bp.get("/<int(fixed_digits=4):year>/<int(fixed_digits=2):month>/<slug>/feed/")
def post_comments(year: int, month: int, slug: str) -> Response:
    cacheable(SITE)
    found = _visible_post(slug)
    if not isinstance(found, Post):
        return found
    if found.type == PostType.PAGE or (year, month) != post_month(found):
        return redirect(feed_path(found), 301)
    return _post_feed(found)


@bp.get("/<slug>/feed/")
def page_comments(slug: str) -> Response:
    cacheable(SITE)
    found = _visible_post(slug)
    if not isinstance(found, Post):
        return found
    if found.type != PostType.PAGE:
        return redirect(feed_path(found), 301)
    return _post_feed(found)


# --- discovery: the sitemap and robots.txt ------------------------------------------------

#: URLs per sitemap file: the sitemaps.org limit. Past it, /sitemap.xml is an index.
SITEMAP_URLS = 50_000
SITEMAP_CONTENT_TYPE = "application/xml; charset=utf-8"


def _sitemap_posts() -> list[Post]:
    """Published posts and pages, oldest first, with only what an address and a date need."""
    query = (
        select(Post)
        .options(
            load_only(Post.type, Post.slug, Post.published_at, Post.created_at, Post.updated_at)
        )
        .where(Post.visible_clause(utcnow()))
        .order_by(Post.published_at, Post.id)
    )
    return list(db.session.scalars(query))


def _xml_response(body: str, updated: datetime | None) -> Response:
    response = Response(body, content_type=SITEMAP_CONTENT_TYPE)
    if updated is not None:
        response.last_modified = updated
    response.add_etag()
    return response.make_conditional(request)


def _urlset(posts: list[Post]) -> str:
    rows = [
        f"<url><loc>{escape(_absolute(post_path(post)))}</loc>"
        f"<lastmod>{_changed(post).isoformat()}</lastmod></url>"
        for post in posts
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(rows)
        + "\n</urlset>\n"
    )


def _changed(post: Post) -> datetime:
    """A post's last change as a crawler cares: an edit, or going out (a scheduled post)."""
    return max(post.updated_at, post.published_at or post.updated_at)


def _last_change(posts: list[Post]) -> datetime | None:
    return max((_changed(p) for p in posts), default=None)


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Every published post and page with its last change; an index of parts past 50,000."""
    cacheable(SITE)
    posts = _sitemap_posts()
    if len(posts) <= SITEMAP_URLS:
        return _xml_response(_urlset(posts), _last_change(posts))
    parts = [posts[i : i + SITEMAP_URLS] for i in range(0, len(posts), SITEMAP_URLS)]
    rows = [
        f"<sitemap><loc>{escape(_absolute(url_for('feeds.sitemap_part', number=n)))}</loc>"
        f"<lastmod>{_last_change(part).isoformat()}</lastmod></sitemap>"  # type: ignore[union-attr]
        for n, part in enumerate(parts, start=1)
    ]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(rows)
        + "\n</sitemapindex>\n"
    )
    return _xml_response(body, _last_change(posts))


@bp.get("/sitemap-<int(min=1, max=100000):number>.xml")
def sitemap_part(number: int) -> Response:
    """One part of a sitemap split past 50,000 URLs (part 1 is the whole of a smaller one)."""
    cacheable(SITE)
    posts = _sitemap_posts()
    part = posts[(number - 1) * SITEMAP_URLS : number * SITEMAP_URLS]
    if not part and number > 1:
        abort(404)
    return _xml_response(_urlset(part), _last_change(part))


@bp.get("/robots.txt")
def robots() -> Response:
    """Crawlers may read the blog but not its admin, API or login, and find the sitemap."""
    cacheable(SITE)
    body = (
        "User-agent: *\n"
        "Disallow: /admin/\n"
        "Disallow: /api/\n"
        "Disallow: /login\n"
        f"Sitemap: {_absolute(url_for('feeds.sitemap'))}\n"
    )
    response = Response(body, content_type="text/plain; charset=utf-8")
    response.add_etag()
    return response.make_conditional(request)

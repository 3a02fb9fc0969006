"""Moving out: the whole site as one WordPress eXtended RSS 1.2 file.

Everything a WordPress site would hold goes in: the authors of posts, categories (with
their parents) and tags, every post and page in every status, the media known by address,
and every comment with its status, type, parent, commenter details and the raw text the
commenter typed (WordPress keeps comments as typed; the HTML here is made from them again
on import). A post written in Markdown is exported as its HTML, which WordPress shows as it
is, with its Markdown kept in the post meta ``_blog_markdown``, which our importer reads
back, so a move from this blog to itself loses nothing.

Streamed: posts, their terms and their comments are read as three ordered cursors walked
side by side, and written item by item (``blog.wxr.Writer``), so a large site exports in
constant memory.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context
from sqlalchemy import func, select

from blog import wxr
from blog.extensions import db
from blog.models import (
    BodyFormat,
    Category,
    Comment,
    Media,
    Post,
    PostStatus,
    PostType,
    Tag,
    User,
    post_categories,
    post_tags,
    utcnow,
)
from blog.moderation import CommentStatus
from blog.services import ServiceError
from blog.services.posts import automatic_excerpt, slugify
from blog.services.settings import site_settings
from blog.templating import post_path

#: Where a trashed post keeps the status it goes back to (WordPress's own key).
TRASH_META = "_wp_trash_meta_status"
ZERO_DATE = "0000-00-00 00:00:00"
_BATCH = 500

POST_STATUSES = {
    PostStatus.PUBLISHED: "publish",
    PostStatus.SCHEDULED: "future",
    PostStatus.DRAFT: "draft",
    PostStatus.PENDING: "pending",
    PostStatus.PRIVATE: "private",
    PostStatus.TRASH: "trash",
}
COMMENT_STATUSES = {
    CommentStatus.APPROVED: "1",
    CommentStatus.PENDING: "0",
    CommentStatus.SPAM: "spam",
    CommentStatus.TRASH: "trash",
}
_STATUS_NAMES = {exported: status.value for status, exported in COMMENT_STATUSES.items()}


@dataclass
class ExportSummary:
    authors: int = 0
    categories: int = 0
    tags: int = 0
    posts: Counter[str] = field(default_factory=Counter)  # by status as exported
    pages: Counter[str] = field(default_factory=Counter)
    comments: Counter[str] = field(default_factory=Counter)  # by status
    media: int = 0

    def lines(self) -> list[str]:
        def counts(counter: Counter[str]) -> str:
            parts = ", ".join(f"{n} {k}" for k, n in sorted(counter.items()))
            return f"{sum(counter.values())}" + (f" ({parts})" if parts else "")

        return [
            "Exported:",
            f"  posts: {counts(self.posts)}",
            f"  pages: {counts(self.pages)}",
            f"  comments: {counts(self.comments)}",
            f"  authors: {self.authors}",
            f"  terms: {self.categories} categories, {self.tags} tags",
            f"  media: {self.media}",
        ]


def _wp_dates(when: datetime | None, tz: ZoneInfo) -> tuple[str, str]:
    """WordPress's (local, GMT) pair; a post never published has the zero GMT date."""
    if when is None:
        return ZERO_DATE, ZERO_DATE
    return (
        when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
        when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    )


def _wp_slug(slug: str) -> str:
    """A slug as WordPress stores ``post_name``: non-ASCII percent-encoded, lower-case hex."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(slug, safe=""))


def _categories_parents_first() -> list[Category]:
    """Every category, each after its parent (WordPress's importer wants parents first)."""
    categories = list(db.session.scalars(select(Category).order_by(Category.id)))
    by_id = {c.id: c for c in categories}
    placed: set[int] = set()
    ordered: list[Category] = []

    def place(category: Category, seen: tuple[int, ...] = ()) -> None:
        if category.id in placed:
            return
        parent = by_id.get(category.parent_id) if category.parent_id else None
        if parent is not None and parent.id not in seen:
            place(parent, (*seen, category.id))
        placed.add(category.id)
        ordered.append(category)

    for category in categories:
        place(category)
    return ordered


class _Cursor:
    """Rows ordered by their post's id, handed out one post at a time as the posts (in
    the same order) come by."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self._groups = groupby(rows, key=lambda row: row.post_id)
        self._next = next(self._groups, None)

    def take(self, post_id: int) -> list[Any]:
        while self._next is not None and self._next[0] < post_id:
            self._next = next(self._groups, None)
        if self._next is not None and self._next[0] == post_id:
            rows = list(self._next[1])
            self._next = next(self._groups, None)
            return rows
        return []


def _stream(statement: Any) -> Iterator[Any]:
    return iter(
        db.session.execute(
            statement, execution_options={"yield_per": _BATCH, "stream_results": True}
        )
    )


def export(out: BinaryIO, on_item: Callable[[], None] = lambda: None) -> ExportSummary:
    """Write the site to ``out`` as WXR 1.2; ``on_item`` is called after each item.
    ServiceError (naming the item) for a value XML cannot carry: nothing is changed to fit."""
    try:
        return _export(out, on_item)
    except wxr.WxrUnwritable as exc:
        raise ServiceError(f"The export stopped: {exc}") from None


def _export(out: BinaryIO, on_item: Callable[[], None]) -> ExportSummary:
    summary = ExportSummary()
    site = site_settings()
    tz = site.tz
    base = str(current_app.config.get("SITE_URL") or "").rstrip("/")
    writer = wxr.Writer(
        out,
        wxr.Channel(
            title=site.name,
            link=base,
            description=site.description,
            # WordPress writes its language as "fr-FR" (WPLANG "fr_FR"); "" is en-US.
            language=(site.language or "en_US").replace("_", "-"),
            base_site_url=base,
            base_blog_url=base,
        ),
        generator="blog: WordPress eXtended RSS 1.2",
    )
    # Addresses are built with url_for, which the command line has no request for.
    with nullcontext() if has_request_context() else current_app.test_request_context():
        _write_authors(writer, summary)
        for category in _categories_parents_first():
            parent = db.session.get(Category, category.parent_id) if category.parent_id else None
            writer.term(
                wxr.Term(
                    "category",
                    category.slug,
                    category.name,
                    parent.slug if parent is not None else "",
                    category.description,
                    id=str(category.id),
                )
            )
            summary.categories += 1
        for tag in db.session.scalars(select(Tag).order_by(Tag.id)):
            writer.term(
                wxr.Term("post_tag", tag.slug, tag.name, "", tag.description, id=str(tag.id))
            )
            summary.tags += 1
        _write_posts(writer, summary, base, tz, on_item)
        _write_media(writer, summary, base, tz, on_item)
    writer.close()
    return summary


def _write_authors(writer: wxr.Writer, summary: ExportSummary) -> None:
    authors = select(User).where(User.id.in_(select(Post.author_id).distinct())).order_by(User.id)
    for user in db.session.scalars(authors):
        writer.author(
            wxr.Author(
                login=user.username,
                email=user.email,
                display_name=user.display_name or user.username,
                id=str(user.id),
            )
        )
        summary.authors += 1


def _write_posts(
    writer: wxr.Writer,
    summary: ExportSummary,
    base: str,
    tz: ZoneInfo,
    on_item: Callable[[], None],
) -> None:
    posts = _stream(
        select(Post.__table__, User.username)
        .join(User, User.id == Post.author_id)
        .order_by(Post.id)
    )
    terms = _Cursor(
        _stream(
            select(post_categories.c.post_id, Category.slug, Category.name)
            .join(Category, Category.id == post_categories.c.category_id)
            .order_by(post_categories.c.post_id, Category.name)
        )
    )
    tags = _Cursor(
        _stream(
            select(post_tags.c.post_id, Tag.slug, Tag.name)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .order_by(post_tags.c.post_id, Tag.name)
        )
    )
    comments = _Cursor(_stream(select(Comment.__table__).order_by(Comment.post_id, Comment.id)))
    now = utcnow()
    for row in posts:
        status = PostStatus(row.status)
        if status == PostStatus.SCHEDULED and row.published_at and row.published_at <= now:
            status = PostStatus.PUBLISHED  # due: WordPress's cron would have published it
        kind = PostType(row.type)
        date, date_gmt = _wp_dates(row.published_at, tz)
        if row.published_at is None:
            date = _wp_dates(row.created_at, tz)[0]
        modified, modified_gmt = _wp_dates(row.updated_at, tz)
        meta: dict[str, str] = {}
        if BodyFormat(row.body_format) == BodyFormat.MARKDOWN:
            content = row.body_html
            meta[wxr.MARKDOWN_META] = row.body
        else:
            content = row.body
        if status == PostStatus.TRASH:
            before = PostStatus(row.status_before_trash or PostStatus.DRAFT)
            meta[TRASH_META] = POST_STATUSES[before]
        excerpt = "" if row.excerpt == automatic_excerpt(row.body_html) else row.excerpt
        item = wxr.Item(
            title=row.title,
            link=base + post_path(row),
            guid=f"{base}/?p={row.id}",
            creator=row.username,
            content=content,
            excerpt=excerpt,
            post_id=str(row.id),
            date=date,
            date_gmt=date_gmt,
            modified=modified,
            modified_gmt=modified_gmt,
            comment_status="open" if row.comments_open else "closed",
            name=_wp_slug(row.slug),
            status=POST_STATUSES[status],
            parent="0",
            type=kind.value,
            sticky="1" if row.sticky else "0",
            meta=meta,
            terms=[
                *(wxr.ItemTerm("category", t.slug, t.name) for t in terms.take(row.id)),
                *(wxr.ItemTerm("post_tag", t.slug, t.name) for t in tags.take(row.id)),
            ],
            comments=[_comment(c, tz) for c in comments.take(row.id)],
        )
        writer.item(item)
        for comment in item.comments:
            summary.comments[_STATUS_NAMES[comment.approved]] += 1
        (summary.pages if kind == PostType.PAGE else summary.posts)[item.status] += 1
        on_item()


def _comment(row: Any, tz: ZoneInfo) -> wxr.Comment:
    date, date_gmt = _wp_dates(row.created_at, tz)
    return wxr.Comment(
        id=str(row.id),
        author=row.author,
        email=row.email,
        url=row.url,
        ip=row.ip,
        user_agent=row.user_agent,
        date=date,
        date_gmt=date_gmt,
        content=row.content,  # as typed: the HTML is made from it again on import
        approved=COMMENT_STATUSES[CommentStatus(row.status)],
        type=row.type or "comment",
        parent=str(row.parent_id or 0),
        user_id=str(row.user_id or 0),
    )


def _write_media(
    writer: wxr.Writer,
    summary: ExportSummary,
    base: str,
    tz: ZoneInfo,
    on_item: Callable[[], None],
) -> None:
    # Attachments are posts in WordPress, numbered with them: past the last post's id.
    offset = db.session.scalar(select(func.max(Post.id))) or 0
    for media in _stream(select(Media.__table__).order_by(Media.id)):
        url = media.original_url or (
            f"{base}/media/{media.stored_path}" if media.stored_path else ""
        )
        date, date_gmt = _wp_dates(media.created_at, tz)
        writer.item(
            wxr.Item(
                title=media.title or media.filename,
                link=url,
                guid=url,
                creator="",
                post_id=str(offset + media.id),
                date=date,
                date_gmt=date_gmt,
                comment_status="closed",
                name=_wp_slug(media.filename.rsplit(".", 1)[0].lower()) if media.filename else "",
                status="inherit",
                parent=str(media.post_id or 0),
                type="attachment",
                attachment_url=url,
            )
        )
        summary.media += 1
        on_item()


def default_path(instance: Path, now: datetime) -> Path:
    """``instance/exports/SITE.wordpress.YYYY-MM-DD-HHMMSS.xml``, as WordPress names its
    downloads (with the time, so two exports in a day do not overwrite each other)."""
    name = slugify(site_settings().name, 60) or "blog"
    return instance / "exports" / f"{name}.wordpress.{now:%Y-%m-%d-%H%M%S}.xml"


def export_to(path: Path, on_item: Callable[[], None] = lambda: None) -> ExportSummary:
    """Export to ``path``: written under a temporary name, renamed once complete, so a
    failed or interrupted export never leaves a file that looks whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as out:
            summary = export(out, on_item)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return summary


def item_count() -> int:
    """How many items an export writes (for a progress bar)."""
    posts = db.session.scalar(select(func.count()).select_from(Post)) or 0
    media = db.session.scalar(select(func.count()).select_from(Media)) or 0
    return posts + media


def summary_text(summary: ExportSummary) -> str:
    return "\n".join(summary.lines())

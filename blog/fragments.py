"""A comment as the post page shows it, rendered once on write, and the join of a thread.

A reader's page must not run a template per comment. So each comment's HTML (its meta line
and its sanitized content) is made here when the comment is written or changes state, and
stored with it; a post page is then the stored fragments joined with the few parts that
depend on where the comment is shown (its depth, the Reply link). What a fragment depends on
besides the comment itself (the site's time zone and language, whether avatars are shown and
where they come from, this module's markup) is its ``RenderContext.key``; a fragment stored
under another key is rendered again.

Pure: no Flask, no database. Everything printed is escaped here, except ``content_html``,
which is the sanitizer's output and is printed as it is (never edited after sanitizing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from html import escape
from typing import Protocol
from zoneinfo import ZoneInfo

from markupsafe import escape as escape_fast

from blog.avatars import local_avatar
from blog.dates import datetime_text

__all__ = [
    "AVATAR_GRAVATAR",
    "AVATAR_LOCAL",
    "FRAGMENT_VERSION",
    "CommentFacts",
    "RenderContext",
    "avatar_hash",
    "avatar_url",
    "comment_fragment",
    "thread_html",
]

#: Bump when the markup below changes: every stored fragment is then rendered again
#: (``blog.services.comment_html.refresh``), and read paths render stale ones on the fly.
#: 2: <time datetime> in whole seconds; 3: avatars by setting, dates in the site's language.
FRAGMENT_VERSION = 3
AVATAR_SIZE = 48  # CSS pixels; the image is fetched at twice that for sharp screens
#: Where avatars come from: Gravatar (WordPress's way, the default), or made here, so that
#: a reader's browser asks no other site for them.
AVATAR_GRAVATAR = "gravatar"
AVATAR_LOCAL = "local"
HELD_NOTE = "Your comment is awaiting moderation."


@dataclass(frozen=True)
class RenderContext:
    """The display settings a fragment is rendered with."""

    timezone: str
    show_avatars: bool
    avatar_source: str = AVATAR_GRAVATAR
    language: str = ""  # a ``blog.dates`` code, "" for English

    @cached_property
    def key(self) -> str:
        return (
            f"{FRAGMENT_VERSION}|{self.timezone}|{int(self.show_avatars)}"
            f"|{self.avatar_source}|{self.language}"
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class CommentFacts:
    """What a fragment shows of a comment."""

    id: int
    author: str
    url: str
    avatar_hash: str  # of the email; "" when the commenter gave none
    created_at: datetime
    content_html: str
    approved: bool


def avatar_hash(email: str) -> str:
    """Gravatar's key for an email: SHA-256 of it trimmed and lower-cased."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def avatar_url(digest: str, size: int = AVATAR_SIZE * 2) -> str:
    return f"https://www.gravatar.com/avatar/{digest}?s={size}&d=identicon&r=g"


def comment_fragment(comment: CommentFacts, context: RenderContext) -> str:
    """The comment's meta line, held notice and content: what is stored as ``fragment_html``."""
    name = escape(comment.author or "Anonymous")
    if comment.url:
        name = f'<a href="{escape(comment.url)}" rel="external nofollow ugc">{name}</a>'
    avatar = ""
    if context.show_avatars:
        if context.avatar_source == AVATAR_GRAVATAR and comment.avatar_hash:
            avatar = (
                f'<img class="avatar" src="{escape(avatar_url(comment.avatar_hash))}" alt="" '
                f'width="{AVATAR_SIZE}" height="{AVATAR_SIZE}" loading="lazy" '
                'referrerpolicy="no-referrer">'
            )
        else:
            # No email (nothing to ask Gravatar about) or local avatars: made here.
            avatar = local_avatar(comment.avatar_hash, comment.author, AVATAR_SIZE)
    local = comment.created_at.astimezone(context.tz)
    held = "" if comment.approved else f'<p class="comment-awaiting-moderation">{HELD_NOTE}</p>'
    return (
        f'<footer class="comment-meta">{avatar}<span class="comment-author">{name}</span> '
        f'<a class="comment-permalink" href="#comment-{comment.id}">'
        f'<time datetime="{comment.created_at.isoformat(timespec="seconds")}">'
        f"{escape(datetime_text(local, context.language))}</time></a></footer>"
        f'{held}<div class="comment-content">{comment.content_html}</div>'
    )


class ShownComment(Protocol):
    """What the join needs of a comment row (a lean database row will do)."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int | None: ...

    @property
    def status(self) -> str: ...

    @property
    def author(self) -> str: ...


class ShownNode(Protocol):
    """A ``blog.tree.Node`` of ``ShownComment``s."""

    @property
    def item(self) -> ShownComment: ...

    @property
    def depth(self) -> int: ...

    @property
    def children(self) -> Sequence[ShownNode]: ...


def thread_html(
    nodes: Iterable[ShownNode],
    fragments: dict[int, str],
    *,
    post_author_id: int | None,
    max_depth: int,
    replies_open: bool,
) -> str:
    """The ``<ol class="comment-list">`` of a threaded page: the stored fragments joined.

    ``fragments`` maps comment id to its fragment. A Reply link is offered, as in WordPress,
    only on approved comments, while comments are open, where a reply could nest deeper.
    """
    out: list[str] = ['<ol class="comment-list">']

    def walk(node: ShownNode) -> None:
        comment = node.item
        approved = comment.status == "approved"
        classes = f"comment depth-{node.depth}"
        if not approved:
            classes += " comment-held"
        if comment.user_id is not None and comment.user_id == post_author_id:
            classes += " by-post-author"
        out.append(
            f'<li class="{classes}" id="li-comment-{comment.id}">'
            f'<article id="comment-{comment.id}" class="comment-body">'
        )
        out.append(fragments[comment.id])
        if replies_open and approved and node.depth < max_depth:
            # Every reader's page escapes each name here: markupsafe's C escape, not five
            # str.replace calls (the same five characters).
            name = escape_fast(comment.author or "Anonymous")
            out.append(
                '<p class="reply"><a class="comment-reply-link" rel="nofollow" '
                f'href="?replytocom={comment.id}#respond" data-comment-id="{comment.id}" '
                f'aria-label="Reply to {name}">Reply</a></p>'
            )
        out.append("</article>")
        if node.children:
            out.append('<ol class="children">')
            for child in node.children:
                walk(child)
            out.append("</ol>")
        out.append("</li>")

    for node in nodes:
        walk(node)
    out.append("</ol>")
    return "".join(out)

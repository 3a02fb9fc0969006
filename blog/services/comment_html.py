"""What is derived from a comment on write: its hashes and its stored page fragment.

A new comment gets them in ``comments.store_new``, the one way comments come in. After
that, a session hook (``register``) keeps them right through every change made with the ORM
(a moderator's edit or action), without the use case having to remember: the avatar hash
and content hash follow the email and text, and the fragment (``blog.fragments``) follows
whatever it shows.

When what every fragment depends on changes (the time zone, the language, showing avatars
and where they come from, the markup's version), ``refresh`` renders the stale ones again;
until then, readers' pages render a stale fragment on the fly (``blog.services.threads``),
so a page is never wrong, only slower.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, event, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, attributes

from blog.fragments import CommentFacts, RenderContext, avatar_hash, comment_fragment
from blog.models import Comment
from blog.moderation import CommentStatus

log = logging.getLogger(__name__)

#: Columns a fragment shows; a change to any of them renders it again.
_SHOWN = ("author", "url", "email", "created_at", "content_html", "status")
_BATCH = 2000


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def current_context() -> RenderContext:
    from blog.services.settings import discussion_settings, site_settings

    site, discussion = site_settings(), discussion_settings()
    return RenderContext(
        site.tz.key, discussion.show_avatars, discussion.avatar_source, site.language
    )


def context_from_connection(connection: Connection) -> RenderContext:
    """The same, read through ``connection`` (migrations, which run before any session)."""
    from blog.services.settings import discussion_settings_from, site_settings_from

    stored = dict(connection.execute(text("SELECT key, value FROM settings")).all())
    site = site_settings_from(stored, current_app.config)
    discussion = discussion_settings_from(stored)
    return RenderContext(
        site.tz.key, discussion.show_avatars, discussion.avatar_source, site.language
    )


def facts(row: Any) -> CommentFacts:
    """What the fragment shows, from a Comment or a database row with the same names.
    No email, no avatar hash: the hash of "" would give every such commenter one face."""
    email = (row.email or "").strip()
    return CommentFacts(
        id=row.id,
        author=row.author,
        url=row.url,
        avatar_hash=(row.avatar_hash or avatar_hash(email)) if email else "",
        created_at=row.created_at,
        content_html=row.content_html,
        approved=row.status == CommentStatus.APPROVED,
    )


def render(comment: Comment, context: RenderContext) -> str:
    return comment_fragment(facts(comment), context)


# --- keeping it right on write ----------------------------------------------------------


def _changed(comment: Comment, names: Iterable[str]) -> bool:
    state = attributes.instance_state(comment)
    return any(state.attrs[name].history.has_changes() for name in names)


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    context: RenderContext | None = None
    for comment in session.dirty:
        if not isinstance(comment, Comment):
            continue
        if _changed(comment, ("email",)):
            comment.avatar_hash = avatar_hash(comment.email or "")
        if _changed(comment, ("content",)):
            comment.content_hash = content_hash(comment.content or "")
        if _changed(comment, _SHOWN):
            context = context or current_context()
            comment.fragment_html = render(comment, context)
            comment.fragment_key = context.key


def register(session: Any) -> None:
    """Attach the hook to ``session`` (the app's scoped session), once per process."""
    if not event.contains(session, "before_flush", _before_flush):
        event.listen(session, "before_flush", _before_flush)


# --- rendering again when the settings change -------------------------------------------


def refresh(
    connection: Connection, context: RenderContext, limit: int | None = None, after: int = 0
) -> tuple[int, int]:
    """Render again every fragment not made under ``context`` (ids above ``after``), in
    batches of ids; how many, and the last id seen, where a later call (``limit``) goes on.
    """
    table = Comment.__table__
    done, last_id = 0, after
    while limit is None or done < limit:
        size = _BATCH if limit is None else min(_BATCH, limit - done)
        rows = connection.execute(
            select(
                table.c.id,
                table.c.author,
                table.c.url,
                table.c.email,
                table.c.avatar_hash,
                table.c.created_at,
                table.c.content_html,
                table.c.status,
            )
            .where(table.c.fragment_key != context.key, table.c.id > last_id)
            .order_by(table.c.id)
            .limit(size)
        ).all()
        if not rows:
            break
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                fragment_html=bindparam("b_html"),
                avatar_hash=bindparam("b_avatar"),
                fragment_key=context.key,
            ),
            [
                {
                    "b_id": row.id,
                    "b_html": comment_fragment(facts(row), context),
                    "b_avatar": row.avatar_hash or avatar_hash(row.email),
                }
                for row in rows
            ],
        )
        done += len(rows)
        last_id = rows[-1].id
    return done, last_id


def refresh_all(session: Session) -> int:
    """Render again, committing batch by batch, what the current settings made stale."""
    context = current_context()
    total = last_id = 0
    while True:
        done, last_id = refresh(session.connection(), context, limit=_BATCH, after=last_id)
        session.commit()
        total += done
        if done < _BATCH:
            break
    if total:
        log.info("rendered %d comment fragments again for %s", total, context.key)
    return total


"""Post revisions and autosaves: what was saved when, by whom, and what is typed unsaved.

A revision is written by the posts service each time a save changes a post's title, body
or excerpt (this module never imports that one: restoring goes through
``blog.services.posts.restore_revision``). An autosave is the editor's work in progress,
one per post and person, replaced every 30 seconds while they type and dropped when they
save.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import delete, select

from blog.extensions import db
from blog.models import Post, PostRevision, User, utcnow

REVISION = "revision"
AUTOSAVE = "autosave"
#: Revisions kept per post unless POST_REVISIONS_KEPT says otherwise (the oldest go).
KEPT = 50


def _kept() -> int:
    return max(1, int(current_app.config.get("POST_REVISIONS_KEPT", KEPT)))


def _latest(post_id: int) -> PostRevision | None:
    return db.session.scalar(
        select(PostRevision)
        .where(PostRevision.post_id == post_id, PostRevision.kind == REVISION)
        .order_by(PostRevision.created_at.desc(), PostRevision.id.desc())
        .limit(1)
    )


def remember_before_first_edit(post: Post, excerpt: str) -> None:
    """A post saved before revisions existed (or imported) gets its current state kept as
    its first revision, so the edit about to happen can be undone."""
    if post.id is None or _latest(post.id) is not None:
        return
    db.session.add(
        PostRevision(
            post_id=post.id,
            author_id=post.author_id,
            kind=REVISION,
            title=post.title,
            body=post.body,
            excerpt=excerpt,
            created_at=post.updated_at or post.created_at or utcnow(),
        )
    )
    db.session.flush()


def record(post: Post, user: User, excerpt: str) -> PostRevision | None:
    """Keep the post as just saved, when its title, body or excerpt changed; drop the
    saver's autosave (it is saved now) and the revisions past the limit. Flushes; the
    caller commits."""
    db.session.execute(
        delete(PostRevision).where(
            PostRevision.post_id == post.id,
            PostRevision.kind == AUTOSAVE,
            PostRevision.author_id == user.id,
        )
    )
    latest = _latest(post.id)
    if latest is not None and (latest.title, latest.body, latest.excerpt) == (
        post.title,
        post.body,
        excerpt,
    ):
        return None
    revision = PostRevision(
        post_id=post.id,
        author_id=user.id,
        kind=REVISION,
        title=post.title,
        body=post.body,
        excerpt=excerpt,
        created_at=utcnow(),
    )
    db.session.add(revision)
    db.session.flush()
    old = select(PostRevision.id).where(
        PostRevision.post_id == post.id, PostRevision.kind == REVISION
    )
    keep = old.order_by(PostRevision.created_at.desc(), PostRevision.id.desc()).limit(_kept())
    db.session.execute(
        delete(PostRevision).where(
            PostRevision.post_id == post.id,
            PostRevision.kind == REVISION,
            PostRevision.id.not_in(keep.scalar_subquery()),
        )
    )
    return revision


def history(post: Post) -> list[PostRevision]:
    """The post's revisions, newest first (the first is the post as it stands)."""
    return list(
        db.session.scalars(
            select(PostRevision)
            .where(PostRevision.post_id == post.id, PostRevision.kind == REVISION)
            .order_by(PostRevision.created_at.desc(), PostRevision.id.desc())
        )
    )


def get(post: Post, revision_id: int) -> PostRevision | None:
    revision = db.session.get(PostRevision, revision_id)
    if revision is None or revision.post_id != post.id or revision.kind != REVISION:
        return None
    return revision


def store_autosave(post: Post, user: User, title: str, body: str, excerpt: str) -> datetime:
    """Keep what ``user`` is typing in the editor of ``post`` (replacing their previous
    autosave); the time it was kept. The values are checked by the caller
    (``blog.services.posts.autosave``)."""
    row = db.session.scalar(
        select(PostRevision).where(
            PostRevision.post_id == post.id,
            PostRevision.kind == AUTOSAVE,
            PostRevision.author_id == user.id,
        )
    )
    if row is None:
        row = PostRevision(post_id=post.id, author_id=user.id, kind=AUTOSAVE)
        db.session.add(row)
    row.title, row.body, row.excerpt, row.created_at = title, body, excerpt, utcnow()
    db.session.commit()
    return row.created_at


def pending_autosave(post: Post, user: User, excerpt: str) -> PostRevision | None:
    """The user's autosave of this post, when it holds something the post does not."""
    row = db.session.scalar(
        select(PostRevision).where(
            PostRevision.post_id == post.id,
            PostRevision.kind == AUTOSAVE,
            PostRevision.author_id == user.id,
        )
    )
    if row is None or (row.title, row.body, row.excerpt) == (post.title, post.body, excerpt):
        return None
    return row


def discard_autosave(post: Post, user: User) -> None:
    db.session.execute(
        delete(PostRevision).where(
            PostRevision.post_id == post.id,
            PostRevision.kind == AUTOSAVE,
            PostRevision.author_id == user.id,
        )
    )
    db.session.commit()

"""A commenter's personal data: all of it out on request, erased on request, and the
addresses forgotten after a while (WordPress's privacy tools, GDPR's access and erasure).

A commenter is known by their email, compared without case, as the rest of the blog does.
Erasing anonymises by default, as WordPress's eraser does: the name becomes "Anonymous",
the email, website, IP address and browser are removed, and the text stays (a thread keeps
its sense); ``delete`` removes the comments instead. Either way through the comment services,
so counts, threads, stored fragments and cached pages stay right, and every change is
written to the moderation log.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_request_context
from sqlalchemy import String, cast, func, select, update

from blog.extensions import db
from blog.models import Comment, ModerationLog, OutboxMessage, Post, User, utcnow
from blog.services import ServiceError
from blog.services import comments as comment_service

ANONYMOUS = "Anonymous"


def _normal(email: str) -> str:
    email = email.strip().lower()
    if not email or "@" not in email or len(email) > 100:
        raise ServiceError("Give the email address the comments were sent with.", field="email")
    return email


def _comments_of(email: str) -> list[Comment]:
    return list(
        db.session.scalars(
            select(Comment).where(func.lower(Comment.email) == email).order_by(Comment.id)
        )
    )


def _messages_to(email: str) -> list[OutboxMessage]:
    """Notifications kept in the outbox that were (or will be) mailed to ``email``."""
    candidates = db.session.scalars(
        select(OutboxMessage).where(
            func.lower(cast(OutboxMessage.recipients, String)).like(f"%{_like(email)}%", "\\")
        )
    )
    return [m for m in candidates if email in {r.strip().lower() for r in m.recipients}]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def personal_data(email: str) -> dict[str, Any]:
    """Everything stored about the commenter with this email, as JSON-ready values."""
    from blog.templating import post_path

    email = _normal(email)
    comments = _comments_of(email)
    posts = {
        post.id: post
        for post in db.session.scalars(
            select(Post).where(Post.id.in_({c.post_id for c in comments}))
        )
    }
    base = str(current_app.config.get("SITE_URL") or "").rstrip("/")
    addresses = {}
    # Addresses are built with url_for, which the command line has no request for.
    with nullcontext() if has_request_context() else current_app.test_request_context():
        for post_id, post in posts.items():
            addresses[post_id] = base + post_path(post)
    accounts = db.session.scalars(select(User).where(func.lower(User.email) == email))
    return {
        "email": email,
        "exported_at": _when(utcnow()),
        "site": base,
        "comments": [
            {
                "id": c.id,
                "post": {"title": posts[c.post_id].title, "url": addresses[c.post_id]},
                "status": c.status.value,
                "type": c.type,
                "author": c.author,
                "email": c.email,
                "url": c.url,
                "ip": c.ip,
                "user_agent": c.user_agent,
                "created_at": _when(c.created_at),
                "updated_at": _when(c.updated_at),
                "content": c.content,
                "in_reply_to": c.parent_id,
                "notify_when_approved": c.notify_on_approval,
            }
            for c in comments
        ],
        "accounts": [
            {
                "username": u.username,
                "display_name": u.display_name,
                "email": u.email,
                "role": u.role.value,
                "created_at": _when(u.created_at),
            }
            for u in accounts
        ],
        "notifications": [
            {
                "subject": m.subject,
                "status": m.status.value,
                "created_at": _when(m.created_at),
                "sent_at": _when(m.sent_at),
            }
            for m in _messages_to(email)
        ],
    }


@dataclass
class Erasure:
    email: str
    anonymized: int = 0
    deleted: int = 0
    notifications: int = 0
    accounts: int = 0  # user accounts with this email: left as they are, and said so

    def lines(self) -> list[str]:
        done = (
            f"{self.deleted} comment(s) deleted"
            if self.deleted
            else f"{self.anonymized} comment(s) anonymised"
        )
        out = [f"{self.email}: {done}, {self.notifications} notification(s) removed."]
        if self.accounts:
            out.append(
                f"{self.accounts} user account(s) use this email; accounts are not erased "
                "here (remove or change the account in the users' admin)."
            )
        return out


def erase(email: str, actor: User | None, delete: bool = False) -> Erasure:
    """Anonymise (or ``delete``) every comment sent with ``email``, and remove the
    notifications addressed to it; one transaction, logged per comment."""
    email = _normal(email)
    result = Erasure(email)
    actor_name = actor.name if actor is not None else "the command line"
    reason = f"personal data erased at the commenter's request (by {actor_name})"
    now = utcnow()
    for comment in _comments_of(email):
        if delete:
            comment_service.remove(comment, actor, f"comment {comment.id}: {reason}")
            result.deleted += 1
            continue
        # Through the ORM: the stored fragment is rendered again and cached pages that
        # show it are marked stale by the session hooks.
        comment.author = ANONYMOUS
        comment.email = ""
        comment.url = ""
        comment.ip = ""
        comment.user_agent = ""
        comment.notify_on_approval = False
        comment.user_id = None
        comment.updated_at = now
        db.session.add(
            ModerationLog(
                comment_id=comment.id,
                actor_id=actor.id if actor is not None else None,
                action="anonymize",
                from_status=comment.status,
                to_status=comment.status,
                reason=reason,
                created_at=now,
            )
        )
        result.anonymized += 1
    for message in _messages_to(email):
        db.session.delete(message)
        result.notifications += 1
    result.accounts = (
        db.session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.email) == email)
        )
        or 0
    )
    db.session.commit()
    return result


def purge_addresses(now: datetime | None = None, days: int | None = None) -> int:
    """Forget the IP address and browser of comments older than ``days`` (the setting
    ``COMMENT_IP_RETENTION_DAYS``; 0 keeps them). How many comments were changed."""
    if days is None:
        days = int(current_app.config.get("COMMENT_IP_RETENTION_DAYS", 60))
    if days <= 0:
        return 0
    before = (now or utcnow()) - timedelta(days=days)
    table = Comment.__table__
    changed = db.session.execute(
        update(table)
        .where(table.c.created_at < before, (table.c.ip != "") | (table.c.user_agent != ""))
        .values(ip="", user_agent=""),
        # No page shows an address or a browser.
        execution_options={"page_cache_keys": ()},
    ).rowcount
    db.session.commit()
    return changed or 0

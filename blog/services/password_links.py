"""One-time links to set a password: an admin's reset, or a new user's first password.

The link carries a random token; only its SHA-256 is stored, so a copy of the database
opens no account. A link works once, for ``PASSWORD_LINK_HOURS``, for an active user, and
a newer link for the same user replaces the older ones. Setting the password through it
ends every login the user had (a reset is often made because someone else got in).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import delete, select, update

from blog.extensions import db
from blog.models import PasswordLink, User, utcnow
from blog.services import ServiceError, notify
from blog.services import users as user_service


@dataclass(frozen=True)
class IssuedLink:
    """A link as the admin is shown it (the only time its token exists outside a mail)."""

    url: str
    expires_at: datetime
    mailed_to: str  # "" when no mail was sent (no mail server, or the user has no email)


class LinkRefused(ServiceError):
    """Why a link cannot be used; ``reason`` is one of unknown, used, expired, disabled."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, status=404 if reason == "unknown" else 410)
        self.reason = reason


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hours() -> int:
    return int(current_app.config["PASSWORD_LINK_HOURS"])


def issue(user: User, actor: User | None, new_account: bool = False) -> IssuedLink:
    """A fresh link for ``user`` (older unused ones stop working), mailed to them when mail
    is set up and they have an address; committed with the mail's outbox row."""
    if not user.active:
        raise ServiceError(
            f"{user.username} is disabled: enable the account before sending a password link."
        )
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=hours())
    db.session.execute(delete(PasswordLink).where(PasswordLink.user_id == user.id))
    db.session.add(
        PasswordLink(
            user_id=user.id,
            token_hash=_digest(token),
            created_by_id=actor.id if actor else None,
            created_at=now,
            expires_at=expires,
        )
    )
    url = notify.absolute(url_for("auth.set_password", token=token))
    mailed = user.email if notify.password_link(user, url, hours(), new_account) else ""
    db.session.commit()
    return IssuedLink(url=url, expires_at=expires, mailed_to=mailed)


def check(token: str) -> PasswordLink:
    """The link for ``token`` while it may be used, else LinkRefused saying why."""
    row = None
    if 0 < len(token) <= 100:
        row = db.session.scalar(
            select(PasswordLink).where(PasswordLink.token_hash == _digest(token))
        )
    if row is None:
        raise LinkRefused(
            "unknown",
            "This link is not known: it may have been mistyped, or replaced by a newer one.",
        )
    if row.used_at is not None:
        raise LinkRefused("used", "This link has been used already: it works only once.")
    if row.expires_at <= utcnow():
        raise LinkRefused("expired", "This link has expired.")
    if not row.user.active:
        raise LinkRefused("disabled", "This account is disabled.")
    return row


def use(token: str, password: str) -> User:
    """Set the password of the link's user and spend the link; every login of theirs ends.

    The link is claimed with a conditional UPDATE first, so two requests racing with the
    same link set the password once."""
    row = check(token)
    user = row.user
    user_service.check_password(password)
    claimed = db.session.execute(
        update(PasswordLink)
        .where(PasswordLink.id == row.id, PasswordLink.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise LinkRefused("used", "This link has been used already: it works only once.")
    user.session_token = None  # no login of theirs is kept: all of them end
    user_service.set_password(user, password)  # commits, with the link spent
    return user

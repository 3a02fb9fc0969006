"""A commenter's email, confirmed by a link we mail to it (double opt-in), and the reply
notifications it allows.

Ticking "Notify me of new replies" with an email not yet confirmed mails one link to that
address (at most one a day). Following it, and pressing the button the page shows (a GET
never changes anything), confirms the email: from then on replies to that commenter's
comments are mailed to them, and their email counts as more than typed text for the
"previously approved" rule (``comments._history``). Every reply notification carries a
link that turns them off for that post. The links are signed and expire; nothing about the
commenter is in them but the email they were sent to.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import String, cast, func, select, update

from blog.extensions import db
from blog.models import Comment, ConfirmedEmail, OutboxMessage, utcnow
from blog.services import ServiceError

CONFIRM_SALT = "confirm-email"
UNSUBSCRIBE_SALT = "stop-reply-mail"
CONFIRM_MAX_AGE = 7 * 24 * 3600
UNSUBSCRIBE_MAX_AGE = 365 * 24 * 3600
#: One confirmation mail per address per this long, whatever is posted meanwhile.
CONFIRM_EVERY = timedelta(days=1)
CONFIRM_SUBJECT = "Please confirm your email address"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _normal(email: str) -> str:
    return email.strip().lower()


def is_confirmed(email: str) -> bool:
    email = _normal(email)
    return bool(email) and db.session.get(ConfirmedEmail, email) is not None


def confirm_token(email: str) -> str:
    return _serializer(CONFIRM_SALT).dumps(_normal(email))


def _loads(token: str, salt: str, max_age: int) -> object:
    try:
        return _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise ServiceError(
            "This link has expired. Post a comment with the box ticked again to get a new one."
        ) from None
    except BadSignature:
        raise ServiceError("This link is not valid: it may have been cut short.") from None


def email_of(token: str) -> str:
    """The email a confirmation link was sent to; ServiceError if it is not one of ours."""
    email = _loads(token, CONFIRM_SALT, CONFIRM_MAX_AGE)
    if not isinstance(email, str) or "@" not in email:
        raise ServiceError("This link is not valid.")
    return email


def confirm(token: str) -> str:
    """Confirm the email of a confirmation link (again is fine); the email."""
    email = email_of(token)
    if db.session.get(ConfirmedEmail, email) is None:
        db.session.add(ConfirmedEmail(email=email, confirmed_at=utcnow()))
        db.session.commit()
    return email


def _asked_recently(email: str) -> bool:
    since = utcnow() - CONFIRM_EVERY
    candidates = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.subject.like(f"%{CONFIRM_SUBJECT}"),
            OutboxMessage.created_at >= since,
            func.lower(cast(OutboxMessage.recipients, String)).contains(email, autoescape=True),
        )
    )
    return any(email in [r.lower() for r in m.recipients] for m in candidates)


def request_confirmation(email: str, name: str) -> bool:
    """Mail ``email`` its confirmation link, in the current transaction, unless it is
    confirmed already or was asked within a day. Whether a mail was queued."""
    from blog.services import notify

    email = _normal(email)
    if not email or is_confirmed(email) or _asked_recently(email):
        return False
    return notify.confirmation(email, name, confirm_token(email))


def unsubscribe_token(email: str, post_id: int) -> str:
    return _serializer(UNSUBSCRIBE_SALT).dumps([_normal(email), post_id])


def unsubscribe_target(token: str) -> tuple[str, int]:
    value = _loads(token, UNSUBSCRIBE_SALT, UNSUBSCRIBE_MAX_AGE)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], str)
        or not isinstance(value[1], int)
    ):
        raise ServiceError("This link is not valid.")
    return value[0], value[1]


def unsubscribe(token: str) -> int:
    """Stop reply mail to the link's email about the link's post; how many comments."""
    email, post_id = unsubscribe_target(token)
    table = Comment.__table__
    changed = db.session.execute(
        update(table)
        .where(
            func.lower(table.c.email) == email,
            table.c.post_id == post_id,
            table.c.notify_replies.is_(True),
        )
        .values(notify_replies=False),
        execution_options={"page_cache_keys": ()},  # nothing a reader sees
    ).rowcount
    db.session.commit()
    return changed or 0

"""Email notifications about comments. Sending never makes the request that caused it fail."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Iterable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

from flask import current_app, url_for
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment, Permission, Role, User
from blog.moderation import CommentStatus
from blog.sanitize import plain_text

log = logging.getLogger(__name__)


def _site_name() -> str:
    from blog.services.settings import site_settings

    return site_settings().name


def _absolute(path: str) -> str:
    return current_app.config["SITE_URL"].rstrip("/") + path


# Delivery runs beside the request, so a slow or silent SMTP server never holds up the
# reader's POST. Two threads per process are plenty for a blog's notification volume.
_outbox = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")
_pending: set[Future[bool]] = set()
_pending_lock = threading.Lock()


def send(recipients: Iterable[str], subject: str, body: str) -> bool:
    """Queue one plain-text message for delivery; False when there is nothing to send
    (no mail server configured, or no recipient)."""
    config = current_app.config
    to = sorted({r.strip() for r in recipients if r and r.strip()})
    if not to or not config.get("MAIL_SERVER"):
        return False
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    server = {key: config.get(key) for key in SMTP_SETTINGS}
    future = _outbox.submit(_deliver, server, message)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget)
    return True


SMTP_SETTINGS = (
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_TIMEOUT",
    "MAIL_USE_TLS",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
)


def _forget(future: Future[bool]) -> None:
    with _pending_lock:
        _pending.discard(future)


def _deliver(server: dict[str, Any], message: EmailMessage) -> bool:
    """Hand one message to the SMTP server; a failure is logged, never raised."""
    try:
        with smtplib.SMTP(
            server["MAIL_SERVER"], int(server["MAIL_PORT"]), timeout=float(server["MAIL_TIMEOUT"])
        ) as smtp:
            if server.get("MAIL_USE_TLS"):
                smtp.starttls()
            if server.get("MAIL_USERNAME"):
                smtp.login(server["MAIL_USERNAME"], server["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send %r to %s: %s", message["Subject"], message["To"], exc)
        return False
    return True


def pending() -> int:
    """How many messages are still on their way to the SMTP server."""
    with _pending_lock:
        return len(_pending)


def wait_for_outbox(timeout: float = 30) -> None:
    """Block until queued messages have been delivered or have failed (tests, shutdown)."""
    with _pending_lock:
        waiting = list(_pending)
    futures.wait(waiting, timeout=timeout)


def _moderators(comment: Comment) -> list[str]:
    """Who moderates this comment: the post's author and every moderating role."""
    roles = [role for role in Role if role.permissions & Permission.MODERATE]
    users = db.session.scalars(select(User).where(User.role.in_(roles), User.active.is_(True)))
    emails = [u.email for u in users if u.email]
    if comment.post.author.email:
        emails.append(comment.post.author.email)
    return emails


def _summary(comment: Comment) -> str:
    return (
        f"Author: {comment.author or '(no name)'}\n"
        f"Email: {comment.email or '(none)'}\n"
        f"Website: {comment.url or '(none)'}\n"
        f"IP address: {comment.ip or '(unknown)'}\n\n"
        f"{plain_text(comment.content_html, limit=2000)}\n"
    )


def comment_posted(comment: Comment) -> None:
    """After a new comment: tell moderators when it is held, the author when it is out."""
    from blog.services.settings import discussion_settings
    from blog.services.threads import comment_path

    if not current_app.config.get("MAIL_SERVER"):
        return  # nothing would be sent: skip finding recipients and writing the message
    try:
        settings = discussion_settings()
        post_title = comment.post.title
        if comment.status == CommentStatus.PENDING and settings.moderation_notify:
            queue = _absolute(
                url_for("admin.comments", status="pending") + f"#comment-{comment.id}"
            )
            reasons = "\n".join(f"- {r}" for r in comment.reasons) or "- (none recorded)"
            send(
                _moderators(comment),
                f"[{_site_name()}] Please moderate: “{post_title}”",
                f"A new comment on “{post_title}” is waiting for your approval.\n\n"
                f"{_summary(comment)}\nWhy it was held:\n{reasons}\n\n"
                f"Approve, spam or trash it in the queue: {queue}\n",
            )
        elif comment.status == CommentStatus.APPROVED and settings.comments_notify:
            author = comment.post.author
            if author.email and comment.user_id != author.id:
                link = _absolute(comment_path(comment, settings))
                send(
                    [author.email],
                    f"[{_site_name()}] Comment: “{post_title}”",
                    f"A new comment on your post “{post_title}”:\n\n{_summary(comment)}\n{link}\n",
                )
    except Exception:  # noqa: BLE001 - a notification must never break posting
        log.exception("comment notification failed for comment %s", comment.id)


def comment_approved(comment: Comment) -> None:
    """Tell a commenter who asked for it that their held comment is now published."""
    from blog.services.settings import discussion_settings
    from blog.services.threads import comment_path

    try:
        if not comment.notify_on_approval or not comment.email:
            return
        link = _absolute(comment_path(comment, discussion_settings()))
        send(
            [comment.email],
            f"[{_site_name()}] Your comment is published",
            f"Hello {comment.author or 'there'},\n\nyour comment on “{comment.post.title}” "
            f"has been approved and is now published:\n\n{link}\n\n"
            "You get this email once, because you asked for it when commenting.\n",
        )
        comment.notify_on_approval = False  # once only
        db.session.commit()
    except Exception:  # noqa: BLE001
        log.exception("approval notification failed for comment %s", comment.id)

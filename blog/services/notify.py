"""Email notifications about comments, written to the outbox in the transaction of the change
that causes them (blog.services.outbox delivers them). Sending never makes that change fail."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app, url_for
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment, Permission, Role, User
from blog.moderation import CommentStatus
from blog.sanitize import plain_text
from blog.services import outbox

log = logging.getLogger(__name__)


def _site_name() -> str:
    from blog.services.settings import site_settings

    return site_settings().name


def _absolute(path: str) -> str:
    return current_app.config["SITE_URL"].rstrip("/") + path


def absolute(path: str) -> str:
    """``path`` as a full address on this site (``SITE_URL``), for mail and the admin."""
    return _absolute(path)


def password_link(user: User, link: str, hours: int, new_account: bool) -> bool:
    """The one-time set-password link, mailed to ``user`` (before the commit that stores
    it); False when nothing is sent (no mail server, or no address)."""
    if not user.email or not current_app.config.get("MAIL_SERVER"):
        return False
    site = _site_name()
    if new_account:
        subject = f"[{site}] Your account"
        opening = f"an account was made for you on {site}, with the username {user.username}."
    else:
        subject = f"[{site}] Set a new password"
        opening = f"an administrator of {site} asked for a new password for {user.username}."
    return send(
        [user.email],
        subject,
        f"Hello {user.name},\n\n{opening} To choose your password, open this link:\n\n"
        f"{link}\n\nThe link works once, for {hours} hour{'' if hours == 1 else 's'}. "
        "If you did not expect this mail, tell the site's administrator.\n",
    )


def send(recipients: Iterable[str], subject: str, body: str) -> bool:
    """Add one plain-text message to the current transaction's outbox (it is sent once the
    transaction commits); False when there is nothing to send."""
    return outbox.add_mail(recipients, subject, body)


def pending() -> int:
    """How many messages are due or on their way to the SMTP server."""
    return outbox.due_or_sending()


def wait_for_outbox(timeout: float = 30) -> None:
    """Block until the delivery threads have nothing due (tests, shutdown)."""
    outbox.wait_until_idle(timeout)


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
    """With a new comment (before its commit): tell moderators when it is held, the post's
    author when it is out."""
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
        elif comment.status == CommentStatus.APPROVED:
            reply_published(comment)
            author = comment.post.author
            if settings.comments_notify and author.email and comment.user_id != author.id:
                link = _absolute(comment_path(comment, settings))
                send(
                    [author.email],
                    f"[{_site_name()}] Comment: “{post_title}”",
                    f"A new comment on your post “{post_title}”:\n\n{_summary(comment)}\n{link}\n",
                )
    except Exception:  # noqa: BLE001 - a notification must never break posting
        log.exception("comment notification failed for comment %s", comment.id)


def confirmation(email: str, name: str, token: str) -> bool:
    """The double opt-in mail: a link that confirms ``email`` (``subscriptions``)."""
    link = _absolute(url_for("posts.confirm_email", token=token))
    return send(
        [email],
        f"[{_site_name()}] Please confirm your email address",
        f"Hello {name or 'there'},\n\nsomeone, probably you, asked to be told by email about "
        f"replies to their comments on {_site_name()}. To confirm that this address is yours, "
        f"open this link and press the button on the page:\n\n{link}\n\n"
        "The link works for seven days. If it was not you, ignore this mail: nothing will be "
        "sent to you.\n",
    )


def reply_published(reply: Comment) -> None:
    """With a reply that is now published (before its commit): tell the author of the
    comment it answers, if they asked for replies and confirmed their email."""
    from blog.services import subscriptions
    from blog.services.settings import discussion_settings
    from blog.services.threads import comment_path

    if not current_app.config.get("MAIL_SERVER"):
        return
    try:
        parent = reply.parent
        if parent is None or not parent.notify_replies or not parent.email:
            return
        email = parent.email.strip().lower()
        if email == (reply.email or "").strip().lower():
            return  # answering oneself
        own_account = parent.user is not None and (parent.user.email or "").lower() == email
        if not own_account and not subscriptions.is_confirmed(email):
            return
        link = _absolute(comment_path(reply, discussion_settings()))
        stop = _absolute(
            url_for(
                "posts.stop_replies",
                token=subscriptions.unsubscribe_token(parent.email, parent.post_id),
            )
        )
        send(
            [parent.email],
            f"[{_site_name()}] New reply to your comment on “{reply.post.title}”",
            f"Hello {parent.author or 'there'},\n\n{reply.author or 'Someone'} replied to your "
            f"comment on “{reply.post.title}”:\n\n{plain_text(reply.content_html, limit=2000)}"
            f"\n\n{link}\n\nNo more mail about replies on this post: {stop}\n",
        )
    except Exception:  # noqa: BLE001 - a notification must never break posting
        log.exception("reply notification failed for comment %s", reply.id)


def comment_approved(comment: Comment) -> None:
    """With an approval (before its commit): tell a commenter who asked for it that their
    held comment is now published, and the author of what it answers."""
    from blog.services.settings import discussion_settings
    from blog.services.threads import comment_path

    reply_published(comment)
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
        comment.notify_on_approval = False  # once only, committed with the approval
    except Exception:  # noqa: BLE001
        log.exception("approval notification failed for comment %s", comment.id)

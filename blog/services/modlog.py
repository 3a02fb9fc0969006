"""The moderation log, read: every decision about a comment, newest first, filtered.

Writing the log belongs to the use cases that decide (blog.services.comments); this module
only reads it, for the log page. Pages are keyset-paginated ("older than this row"), so a
log of millions of rows costs one index range per page, never a count or an OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import selectinload

from blog.extensions import db
from blog.models import ROLE_PERMISSIONS, Comment, ModerationLog, Permission, Post, User
from blog.services.comments import ACTION_LABELS, last_changes

PER_PAGE = 50

#: The actions the log holds, as the filter offers them (value, label).
ACTIONS = (
    ("submitted", "Submitted (the rules decided)"),
    ("approve", "Approved"),
    ("unapprove", "Unapproved"),
    ("spam", "Marked as spam"),
    ("unspam", "Marked as not spam"),
    ("trash", "Trashed"),
    ("restore", "Restored"),
    ("delete", "Deleted permanently"),
    ("edit", "Edited"),
    ("undo", "Undone"),
    ("imported", "Imported"),
    ("anonymize", "Anonymised (personal data erased)"),
)
ACTION_NAMES = frozenset(name for name, _ in ACTIONS)
#: The "moderator" filter's value for decisions nobody made by hand (the rules, imports).
AUTOMATIC = "auto"


@dataclass(frozen=True)
class LogFilter:
    """What the page asks for; every field optional."""

    actor: int | str | None = None  # a user's id, or AUTOMATIC
    action: str | None = None
    since: date | None = None  # first day shown, in the site's time zone
    until: date | None = None  # last day shown, inclusive
    comment_id: int | None = None
    before: int | None = None  # a log row's id: show the rows older than it


@dataclass(frozen=True)
class LogPage:
    rows: list[ModerationLog]
    older: int | None  # the ``before`` of the next page, None on the last one
    undoable: set[int]  # ids of the rows an undo would revert now


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def query(actor: User, wanted: LogFilter, tz: ZoneInfo) -> Select[tuple[ModerationLog]]:
    """The rows ``actor`` may read that match ``wanted``, newest first.

    Moderators read the whole log; an author the decisions about comments on their own
    posts (a permanently deleted comment's row no longer names its post, so they lose it).
    """
    statement = select(ModerationLog).options(
        selectinload(ModerationLog.actor),
        selectinload(ModerationLog.comment).selectinload(Comment.post),
    )
    if not actor.can(Permission.MODERATE):
        own = select(Comment.id).join(Post, Comment.post_id == Post.id)
        statement = statement.where(
            ModerationLog.comment_id.in_(own.where(Post.author_id == actor.id))
        )
    if wanted.actor == AUTOMATIC:
        statement = statement.where(ModerationLog.actor_id.is_(None))
    elif isinstance(wanted.actor, int):
        statement = statement.where(ModerationLog.actor_id == wanted.actor)
    if wanted.action is not None:
        statement = statement.where(
            ModerationLog.action == wanted.action if wanted.action in ACTION_NAMES else false()
        )
    if wanted.comment_id is not None:
        statement = statement.where(ModerationLog.comment_id == wanted.comment_id)
    if wanted.since is not None:
        statement = statement.where(ModerationLog.created_at >= _start_of(wanted.since, tz))
    if wanted.until is not None:
        end = _start_of(wanted.until + timedelta(days=1), tz)
        statement = statement.where(ModerationLog.created_at < end)
    if wanted.before is not None:
        mark = db.session.get(ModerationLog, wanted.before)
        if mark is None:
            return statement.where(false())
        # Older than the mark, in the page's order: a range of the created_at index, then
        # the ties broken by id (the portable spelling of a row-value comparison).
        statement = statement.where(
            ModerationLog.created_at <= mark.created_at,
            or_(ModerationLog.created_at < mark.created_at, ModerationLog.id < mark.id),
        )
    return statement.order_by(ModerationLog.created_at.desc(), ModerationLog.id.desc())


def page(actor: User, wanted: LogFilter, tz: ZoneInfo) -> LogPage:
    """One page of the log: PER_PAGE rows (one more is read to know if there are older)."""
    rows = list(db.session.scalars(query(actor, wanted, tz).limit(PER_PAGE + 1)))
    older = rows[PER_PAGE - 1].id if len(rows) > PER_PAGE else None
    rows = rows[:PER_PAGE]
    comments = {row.comment.id: row.comment for row in rows if row.comment is not None}
    current = last_changes(list(comments.values()))
    undoable = {change.id for change in current.values()}
    return LogPage(rows, older, undoable)


def moderators() -> list[User]:
    """Who the filter offers: every role that may moderate something (staff are few;
    subscribers, who may be many, are not read)."""
    roles = [
        role
        for role, granted in ROLE_PERMISSIONS.items()
        if granted & (Permission.MODERATE | Permission.WRITE)
    ]
    return list(
        db.session.scalars(select(User).where(User.role.in_(roles)).order_by(User.username))
    )


def describe(row: ModerationLog) -> str:
    """What happened, in words: "approved", "submitted: held"..."""
    if row.action == "submitted":
        return f"submitted, {row.to_status.value if row.to_status else 'refused'}"
    return ACTION_LABELS.get(row.action, row.action)

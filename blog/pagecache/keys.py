"""The cache keys, and which ones a write makes stale. The one place that decides staleness.

Every cached page depends on a few keys, each a generation number kept where every process
sees it (``blog.pagecache.versions``):

- ``site``: everything a page shows besides comments: posts (their text, status, dates,
  neighbours), authors' names, tags, categories, settings, the comment whitelist.
- ``comments``: any approved comment anywhere (lists show comment counts; the comment feed).
- ``post:ID``: the approved comments of one post (its page and its comment feed).

Changes made through the session are seen here (``keys_for_flush``); a statement that goes
around the ORM says what it touches with ``execution_options(page_cache_keys=...)`` or calls
``mark``. Anything not known to be invisible to readers bumps ``site``: a new model is safe
by default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from blog.moderation import CommentStatus

SITE = "site"
COMMENTS = "comments"
EXECUTION_OPTION = "page_cache_keys"
_SESSION_INFO = "page_cache_stale"

#: Tables whose rows never show on a reader's page.
INVISIBLE_TABLES = frozenset(
    {
        "api_tokens",
        "cache_versions",
        "comment_tallies",
        "confirmed_emails",
        "login_throttle",
        "moderation_log",
        "outbox",
        "password_links",
        "spam_model",
        "spam_weights",
        "user_sessions",
    }
)
#: Columns of ``posts`` that are counters kept beside a comment's change, which marks the
#: keys itself; a statement touching only these needs no key of its own.
POST_COUNTERS = frozenset({"comment_count", "pending_count", "spam_count", "trash_count"})
#: Columns of ``users`` a page never shows (logins, passwords, roles).
USER_PRIVATE = frozenset(
    {"email", "role", "password_hash", "active", "created_at", "last_login_at"}
)


def post_key(post_id: int) -> str:
    return f"post:{post_id}"


def mark(session: Session, keys: Iterable[str]) -> None:
    """Record keys a write made stale; they are bumped with the session's transaction."""
    session.info.setdefault(_SESSION_INFO, set()).update(keys)


def take(session: Session) -> set[str]:
    """The keys recorded so far, forgotten (the caller bumps them)."""
    return session.info.pop(_SESSION_INFO, set())


def forget(session: Session) -> None:
    session.info.pop(_SESSION_INFO, None)


def _changed_columns(obj: Any) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _comment_keys(comment: Any, deleted: bool = False) -> set[str]:
    """A comment matters to readers when it is approved, was approved, or leaves the tree
    (its replies move up when it is deleted)."""
    state = inspect(comment)
    was = state.attrs.status.history.deleted
    approved_before = any(s == CommentStatus.APPROVED for s in was) or (
        not was and comment.status == CommentStatus.APPROVED
    )
    if deleted or approved_before or comment.status == CommentStatus.APPROVED:
        return {post_key(comment.post_id), COMMENTS}
    return set()


def keys_for_flush(session: Session) -> set[str]:
    """The keys what this flush writes makes stale."""
    keys: set[str] = set()
    for obj, deleted in [
        *((o, False) for o in session.new),
        *((o, False) for o in session.dirty if session.is_modified(o)),
        *((o, True) for o in session.deleted),
    ]:
        table = getattr(obj, "__tablename__", None)
        if table in INVISIBLE_TABLES:
            continue
        if table == "comments":
            keys |= _comment_keys(obj, deleted)
        elif table == "users":
            # A new user shows nowhere until they write; a login changes nothing shown.
            if deleted or (obj not in session.new and _changed_columns(obj) - USER_PRIVATE):
                keys.add(SITE)
        elif table == "posts" and not deleted and obj not in session.new:
            if _changed_columns(obj) - POST_COUNTERS:
                keys.add(SITE)
        else:
            keys.add(SITE)
    return keys


def keys_for_statement(table_names: Iterable[str], columns: Iterable[str]) -> set[str]:
    """The keys a bulk UPDATE/DELETE/INSERT makes stale when it does not say so itself."""
    tables = set(table_names) - INVISIBLE_TABLES
    if not tables:
        return set()
    if tables == {"posts"} and set(columns) and set(columns) <= POST_COUNTERS:
        return set()
    return {SITE}

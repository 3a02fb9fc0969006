"""Reading a post's comments, and keeping the thread ids that let a page read only its own.

A post page shows its comments as the stored fragments of lean rows (no ORM objects, no
template per comment): one query for every approved comment of the post, or, with comment
paging, one page of top-level threads and the replies in them (``Comment.thread_id``), so
the last page of a post with 10,000 comments reads 50 threads, not 10,000 rows.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, attributes

from blog.extensions import db
from blog.fragments import RenderContext, comment_fragment, thread_html
from blog.models import Comment, Post
from blog.moderation import CommentStatus, DiscussionSettings
from blog.services.comment_html import current_context, facts
from blog.sqlutil import Prepared
from blog.tree import Node, build_tree, thread_ids

OWN_HELD_MAX = 50

# Plain columns (no enum or time zone processing per row) read through the connection: a
# hundred of these cost a third of what the same rows cost as typed session results.
_LEAN = (
    Comment.id,
    Comment.parent_id,
    Comment.thread_id,
    Comment.user_id,
    type_coerce(Comment.status, String).label("status"),
    Comment.author,
    Comment.fragment_html,
    Comment.fragment_key,
    # Sorts as the time does (ISO text on SQLite, a timestamp on PostgreSQL): held comments
    # of the viewer are merged in by it.
    type_coerce(Comment.created_at, String).label("created_key"),
)


@dataclass(frozen=True)
class CommentPage:
    """One post's comments as its page shows them."""

    html: str  # the <ol class="comment-list">, or "" when there is nothing to show
    total: int  # approved comments on the whole post
    number: int | None  # the comment page shown, None without comment paging
    count: int  # how many comment pages there are (1 without paging)

    @property
    def has_previous(self) -> bool:
        return self.number is not None and self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number is not None and self.number < self.count


def _roots_clause(post_id: Any) -> Any:
    """A post's top-level threads of approved comments (ix_comments_post_threads)."""
    return and_(
        Comment.post_id == post_id,
        Comment.status == CommentStatus.APPROVED,
        Comment.thread_id.is_(None),
    )


# The post page runs these on every render; built once, here: on that path building a
# statement costs more than running it. Values travel as bind parameters.
_ORDER = (Comment.created_at, Comment.id)
_ALL_APPROVED = Prepared(
    select(*_LEAN)
    .where(Comment.post_id == bindparam("post_id"), Comment.status == CommentStatus.APPROVED)
    .order_by(*_ORDER)
)
_COUNTS = Prepared(
    select(
        func.count(),
        select(Post.comment_count).where(Post.id == bindparam("post_id")).scalar_subquery(),
    ).where(_roots_clause(bindparam("post_id")))
)
_PAGE_ROOTS = Prepared(
    select(*_LEAN)
    .where(_roots_clause(bindparam("post_id")))
    .order_by(*_ORDER)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
# Every reply in those threads, whatever its status (ix_comments_thread_status, by thread
# alone: with the status in the query too, SQLite may prefer the status index and read
# every approved comment of the site); the held ones are dropped here.
_PAGE_REPLIES = select(*_LEAN).where(Comment.thread_id.in_(bindparam("roots", expanding=True)))
_OWN_HELD = select(*_LEAN).where(
    Comment.post_id == bindparam("post_id"),
    Comment.id.in_(bindparam("ids", expanding=True)),
    Comment.status == CommentStatus.PENDING,
)


#: A lean row as a namedtuple: the tree and the join read each field several times, and a
#: namedtuple's fields cost a fraction of a database Row's.
LeanRow = namedtuple("LeanRow", [column.key for column in _LEAN])  # type: ignore[misc]


def _rows(query: Any, values: dict[str, Any]) -> list[Any]:
    if isinstance(query, Prepared):
        return query.rows(db.session.connection(), **values)
    result = db.session.connection().execute(query, values).all()  # fetchall, not row by row
    return [LeanRow._make(row) for row in result]


def _with_own(rows: list[Any], own: list[Any]) -> list[Any]:
    """``rows`` (oldest first) with ``own`` (the viewer's held comments, or a page's
    replies) put in their place."""
    if not own:
        return rows
    return sorted([*rows, *own], key=lambda row: (row.created_key, row.id))


def _own_held(post_id: int, own_ids: Sequence[int]) -> list[Any]:
    ids = list(own_ids)[:OWN_HELD_MAX]
    if not ids:
        return []
    return _rows(_OWN_HELD, {"post_id": post_id, "ids": ids})


def thread_count(post_id: int) -> int:
    """Top-level threads of approved comments (what comment pages are cut into)."""
    return db.session.scalar(select(func.count()).where(_roots_clause(post_id))) or 0


def _fragments(rows: Sequence[Any], context: RenderContext) -> dict[int, str]:
    """Each row's stored fragment; one rendered now where it was stored under other
    settings (a time zone changed and ``comment_html.refresh`` has not caught up)."""
    key = context.key
    fragments = {row.id: row.fragment_html for row in rows if row.fragment_key == key}
    stale = [row.id for row in rows if row.id not in fragments]
    if stale:
        for comment in db.session.scalars(select(Comment).where(Comment.id.in_(stale))):
            fragments[comment.id] = comment_fragment(facts(comment), context)
    return fragments


def comment_page(
    post: Any,
    settings: DiscussionSettings,
    requested: int | None = None,
    own_ids: Sequence[int] = (),
    replies_open: bool = True,
) -> CommentPage:
    """The comments of ``post`` (a Post or a PostPage) for its page: the requested comment
    page (or the default one, also for a page that does not exist), with the viewer's own
    held comments. One query without comment paging; three with it, whatever the size."""
    number: int | None = None
    count = 1
    if settings.page_comments:
        per_page = settings.comments_per_page
        connection = db.session.connection()
        threads_total, total = _COUNTS.first(connection, post_id=post.id)
        count = max(1, -(-threads_total // per_page))
        default = count if settings.default_comments_page == "newest" else 1
        number = requested if requested is not None and 1 <= requested <= count else default
        roots = _rows(
            _PAGE_ROOTS,
            {"post_id": post.id, "limit": per_page, "offset": (number - 1) * per_page},
        )
        root_ids = [row.id for row in roots]
        replies = [
            row
            for row in (_rows(_PAGE_REPLIES, {"roots": root_ids}) if root_ids else [])
            if row.status == CommentStatus.APPROVED
        ]
        rows = _with_own(roots, replies)
        own = [
            row
            for row in _own_held(post.id, own_ids)
            if row.thread_id in root_ids or (row.thread_id is None and number == count)
        ]
    else:
        rows = _rows(_ALL_APPROVED, {"post_id": post.id})
        total = len(rows)
        own = _own_held(post.id, own_ids)
    rows = _with_own(rows, own)
    if not rows:
        return CommentPage("", total or 0, number, count)
    nodes: list[Node[Any]] = build_tree(rows, max_depth=settings.max_depth)
    if settings.comment_order == "desc":
        nodes.reverse()
    html = thread_html(
        nodes,
        _fragments(rows, current_context()),
        post_author_id=post.author_id,
        max_depth=settings.max_depth,
        replies_open=replies_open,
    )
    return CommentPage(html, total or 0, number, count)


# --- where a comment is shown -----------------------------------------------------------


def page_of(comment: Comment, settings: DiscussionSettings) -> int | None:
    """The comment page ``comment`` is shown on (for its author, when it is held), or None
    without comment paging or for a comment not shown at all (spam, trash)."""
    if not settings.page_comments or comment.status not in (
        CommentStatus.APPROVED,
        CommentStatus.PENDING,
    ):
        return None
    root: Any = comment
    if comment.thread_id is not None:
        root = db.session.get(Comment, comment.thread_id) or comment
    before = (
        db.session.scalar(
            select(func.count()).where(
                _roots_clause(comment.post_id),
                or_(
                    Comment.created_at < root.created_at,
                    and_(Comment.created_at == root.created_at, Comment.id < root.id),
                ),
            )
        )
        or 0
    )
    number = before // settings.comments_per_page + 1
    if root.status != CommentStatus.APPROVED:
        # Held and at the top level: shown to its author on the last page.
        pages = -(-thread_count(comment.post_id) // settings.comments_per_page)
        number = min(number, max(1, pages))
    return number


def comment_paths(
    comments: Sequence[Comment], settings: DiscussionSettings, post: Any = None
) -> dict[int, str]:
    """Where each comment is shown: its post's address, with ``?cpage=N`` when comments are
    paged (so a link from a mail or a feed finds it), and ``#comment-ID``. ``post``, when
    given, is the post of them all (saves loading it)."""
    from blog.templating import post_path

    paths: dict[int, str] = {}
    for comment in comments:
        path = post_path(post if post is not None else comment.post)
        number = page_of(comment, settings)
        if number is not None:
            path += f"?cpage={number}"
        paths[comment.id] = f"{path}#comment-{comment.id}"
    return paths


def comment_path(comment: Comment, settings: DiscussionSettings, post: Any = None) -> str:
    return comment_paths([comment], settings, post)[comment.id]


# --- keeping thread ids -----------------------------------------------------------------


def thread_for_reply(parent: Comment | None) -> int | None:
    """The thread a new reply to ``parent`` is shown in."""
    if parent is None or parent.status != CommentStatus.APPROVED:
        return None
    return parent.thread_id or parent.id


def _write_threads(
    session: Session, current: dict[int, int | None], wanted: dict[int, int | None]
) -> None:
    changed = [
        {"b_id": comment_id, "b_thread": thread}
        for comment_id, thread in wanted.items()
        if current.get(comment_id, -1) != thread
    ]
    if not changed:
        return
    session.execute(
        update(Comment.__table__)
        .where(Comment.__table__.c.id == bindparam("b_id"))
        .values(thread_id=bindparam("b_thread")),
        changed,
        # The comment whose move caused this marks its post stale itself.
        execution_options={"page_cache_keys": ()},
    )
    for comment in session.identity_map.values():
        if isinstance(comment, Comment) and comment.id in wanted:
            attributes.set_committed_value(comment, "thread_id", wanted[comment.id])


def rethread_below(comment: Comment) -> None:
    """After ``comment`` moved into or out of the approved comments, or its parent changed:
    the thread of every comment under it, from one recursive query of its subtree."""
    session = db.session
    session.flush()
    table = Comment.__table__
    below = (
        select(table.c.id, table.c.parent_id)
        .where(table.c.parent_id == comment.id)
        .cte("below", recursive=True)
    )
    below = below.union_all(
        select(table.c.id, table.c.parent_id).where(table.c.parent_id == below.c.id)
    )
    rows = session.execute(
        select(table.c.id, table.c.parent_id, table.c.status, table.c.thread_id).join(
            below, below.c.id == table.c.id
        )
    ).all()
    if not rows:
        return
    known = {comment.id: (comment.status == CommentStatus.APPROVED, comment.thread_id)}
    wanted = thread_ids(
        [(row.id, row.parent_id, row.status == CommentStatus.APPROVED) for row in rows], known
    )
    _write_threads(session, {row.id: row.thread_id for row in rows}, wanted)


def rethread_post(post_id: int) -> None:
    """Every thread id of a post from scratch (after a deletion moved replies up, an import)."""
    session = db.session
    session.flush()
    table = Comment.__table__
    rows = session.execute(
        select(
            table.c.id, table.c.parent_id, table.c.status, table.c.thread_id, table.c.created_at
        ).where(table.c.post_id == post_id)
    ).all()
    # Oldest first, as the page shows them (where a cycle is cut depends on it); sorted here,
    # as no index orders a post's comments of every status.
    rows.sort(key=lambda row: (row.created_at, row.id))
    wanted = thread_ids(
        [(row.id, row.parent_id, row.status == CommentStatus.APPROVED) for row in rows]
    )
    _write_threads(session, {row.id: row.thread_id for row in rows}, wanted)

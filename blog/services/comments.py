"""Comments: submitting (form, API, import all come here), reading a post's thread, moderating.

Every comment's HTML is made here, once, by ``blog.sanitize``; every status change goes
through ``set_status`` so that it is logged and the post's comment count stays right.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, event, false, func, insert, or_, select, text, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import attributes, contains_eager, make_transient_to_detached, selectinload

from blog import pagecache, spam
from blog.extensions import db
from blog.fragments import avatar_hash
from blog.models import (
    Comment,
    CommentTally,
    ConfirmedEmail,
    ModerationLog,
    Permission,
    Post,
    User,
    utcnow,
)
from blog.moderation import (
    AuthorHistory,
    CommentCandidate,
    CommentStatus,
    DiscussionSettings,
    Limits,
    PostContext,
    Refusal,
    SpamVerdict,
    can_transition,
    check_allowed,
    comments_closed_reason,
    decide,
)
from blog.pagecache.keys import COMMENTS, post_key
from blog.sanitize import Whitelist, count_links, markup_problems, sanitize_comment
from blog.services import (
    Forbidden,
    NotFound,
    ServiceError,
    comment_html,
    notify,
    subscriptions,
    threads,
)
from blog.services import spam as spam_service
from blog.services.comment_html import content_hash
from blog.services.posts import PostPage
from blog.sqlutil import Prepared, add_to_counters
from blog.text import bad_characters, like_pattern

# WordPress's column sizes (wp_comments), so imports and habits carry over.
LIMITS = {"author": 245, "email": 100, "url": 200, "comment": 65_525}
#: The user agent as recorded (WordPress's column size). A browser's header is kept to it; an
#: import, which claims to hold what was recorded, is refused past it.
USER_AGENT_MAX = 255
FIELD_LABELS = {"author": "Name", "email": "Email", "url": "Website", "comment": "Comment"}
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
MAX_DEPTH_WALK = 12
_HOST_PORT_RE = re.compile(r"[^:@\s]+:\d{1,5}")
# Ids are 32-bit in every backend's schema; a larger number names no comment (and would
# overflow SQLite's driver).
MAX_ID = 2**31 - 1


def _is_id(value: int) -> bool:
    return 0 < value <= MAX_ID


class CommentRefused(ServiceError):
    """The comment may not be posted; ``refusals`` says why, per field."""

    def __init__(self, refusals: Sequence[Refusal], status: int = 400) -> None:
        kinds = {r.kind for r in refusals}
        if status == 400 and "flood" in kinds:
            status = 429  # as WordPress: too soon, come back later
        elif status == 400 and "duplicate" in kinds:
            status = 409  # as WordPress: it is there already
        super().__init__(" ".join(r.message for r in refusals), status=status)
        self.refusals = list(refusals)
        waits = [r.retry_after for r in refusals if r.retry_after]
        #: Seconds to send as Retry-After (with a 429), or None.
        self.retry_after = max(waits) if status == 429 and waits else None


@dataclass
class CommentInput:
    content: str
    author: str = ""
    email: str = ""
    url: str = ""
    parent_id: int | None = None
    ip: str = ""
    user_agent: str = ""
    notify_on_approval: bool = False
    notify_replies: bool = False  # "Notify me of replies" (mailed once the email is confirmed)
    seconds_to_fill: float | None = None
    sent_without_form: bool = False  # an API client: no form was shown to time


def check_fields(data: CommentInput) -> list[Refusal]:
    """Length and character checks for every way in (form, API, import). Never truncates."""
    refusals: list[Refusal] = []
    for name in ("author", "email", "url", "comment"):
        value = data.content if name == "comment" else getattr(data, name)
        label = FIELD_LABELS[name]
        problem = bad_characters(value)
        if problem:
            refusals.append(Refusal(name, f"{label} {problem}; please remove it and try again."))
            continue
        if len(value) > LIMITS[name]:
            refusals.append(
                Refusal(
                    name,
                    f"{label} is too long: {len(value):,} characters, the limit is "
                    f"{LIMITS[name]:,}. Please shorten it; nothing was cut.",
                )
            )
    if not any(r.field == "comment" for r in refusals):
        # Bounded before any parse: past these, the sanitizer's work grows faster than the text.
        for problem in markup_problems(data.content):
            refusals.append(
                Refusal("comment", f"Comment {problem}. Please simplify it; nothing was cut.")
            )
    email = data.email.strip()
    if email and not any(r.field == "email" for r in refusals) and not EMAIL_RE.match(email):
        refusals.append(Refusal("email", "Please enter a valid email address."))
    url = data.url.strip()
    if url and not any(r.field == "url" for r in refusals):
        normalized = normalize_url(url)
        if not normalized:
            refusals.append(Refusal("url", "The website must be an http:// or https:// address."))
        elif len(normalized) > LIMITS["url"]:
            # "example.org/..." is stored as "http://example.org/...": the column holds 200.
            refusals.append(
                Refusal(
                    "url",
                    f"Website is too long once http:// is added: {len(normalized):,} "
                    f"characters, the limit is {LIMITS['url']:,}. Please shorten it; nothing "
                    "was cut.",
                )
            )
    return refusals


def normalize_url(url: str) -> str:
    """The commenter's website as an http(s) URL, or "" when it is not one."""
    url = url.strip()
    if not url:
        return ""
    if "://" not in url:
        head = url.split("/", 1)[0]
        if ":" in head and not _HOST_PORT_RE.fullmatch(head):
            # A scheme of its own ("javascript:", "data:", "mailto:"), not a host: refused
            # rather than turned into a harmless-looking "http://javascript:...".
            return ""
        url = "http://" + url  # as WordPress: "example.com" means http://example.com
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("http", "https") or any(ch.isspace() for ch in url):
        return ""
    host = url.split("://", 1)[1].split("/", 1)[0]
    if not host or host.startswith(("@", ".")):
        return ""
    return url


# --- reading --------------------------------------------------------------------------


def latest_approved(limit: int, post: Post | None = None) -> list[Comment]:
    """The newest approved comments on visible posts (or on ``post``): the comment feeds.

    Each comment's post comes in the same query, so a feed costs one query however many
    comments it shows.
    """
    query = (
        select(Comment)
        .join(Comment.post)
        .where(Comment.status == CommentStatus.APPROVED, Post.visible_clause(utcnow()))
        .options(contains_eager(Comment.post))
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(limit)
    )
    if post is not None:
        query = query.where(Comment.post_id == post.id)
    return list(db.session.scalars(query))


def _one_at_a_time(post_id: int, ip: str, email: str) -> None:
    """Hold off other submissions that the duplicate and flood rules compare with this one
    until this one commits, so that twenty identical forms sent at once store one comment.

    SQLite: take the database's write lock now (BEGIN IMMEDIATE) instead of at the first
    write, after the checks; writes there are one at a time anyway. PostgreSQL: transaction
    advisory locks on the post, the address and the email, taken in one order.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        names = [
            f"post:{post_id}",
            *([f"ip:{ip}"] if ip else []),
            *([f"email:{email}"] if email else []),
        ]
        for key in sorted(_lock_key(name) for name in names):
            connection.execute(_ADVISORY_LOCK, {"key": key})


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _lock_key(name: str) -> int:
    """A stable signed 64-bit number for ``name`` (PostgreSQL's advisory lock keys)."""
    digest = hashlib.blake2b(f"blog-comment:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _history_statement(who: Any) -> Prepared:
    """Everything ``_history`` asks of the database in one statement, each part answered
    from its own index: the commenter's comments per status (``who``: by email or by
    account), the latest comment from the address and from the email (two lookups: an OR
    would scan), and the same text already on the post (as WordPress: from the same name,
    email or account). A missing value is bound as NULL, which matches nothing."""
    email = func.lower(Comment.email) == bindparam("email")

    def count(status: CommentStatus) -> Any:
        return select(func.count()).where(who, Comment.status == status).scalar_subquery()

    duplicate = (
        select(Comment.id)
        .where(
            Comment.post_id == bindparam("post_id"),
            Comment.content_hash == bindparam("content_hash"),
            Comment.content == bindparam("content"),
            Comment.status != CommentStatus.TRASH,
            or_(
                email,
                Comment.author == bindparam("author"),
                Comment.user_id == bindparam("user_id"),
            ),
        )
        .limit(1)
        .scalar_subquery()
    )
    return Prepared(
        select(
            count(CommentStatus.APPROVED).label("approved"),
            count(CommentStatus.PENDING).label("pending"),
            count(CommentStatus.SPAM).label("spam"),
            select(func.max(Comment.created_at))
            .where(Comment.ip == bindparam("ip"))
            .scalar_subquery()
            .label("latest_by_ip"),
            select(func.max(Comment.created_at))
            .where(email)
            .scalar_subquery()
            .label("latest_by_email"),
            duplicate.label("duplicate"),
        )
    )


# A comment POST asks these of every commenter, twice (before and inside the lock);
# prepared once, here: building and running a statement through SQLAlchemy costs more than
# SQLite's work.
_HISTORY_BY_EMAIL = _history_statement(func.lower(Comment.email) == bindparam("email"))
_HISTORY_BY_USER = _history_statement(Comment.user_id == bindparam("user_id"))

# The approved comments of an email, newest first, for the name-and-network trust signal.
_APPROVED_BY_EMAIL = Prepared(
    select(Comment.author, Comment.ip)
    .where(
        func.lower(Comment.email) == bindparam("email"),
        Comment.status == CommentStatus.APPROVED,
    )
    .order_by(Comment.created_at.desc())
    .limit(20)
)
_CONFIRMED = Prepared(
    select(ConfirmedEmail.email).where(ConfirmedEmail.email == bindparam("email"))
)


def _history(data: CommentInput, user: User | None, post: Any, now: datetime) -> AuthorHistory:
    """What is known of this commenter; every query here is answered from an index."""
    connection = db.session.connection()
    email = data.email.strip().lower() or None
    user_id = user.id if user is not None else None
    # Blank names and emails identify nobody, so two anonymous readers may both say "Thanks!".
    author = data.author.strip() or None
    statement = _HISTORY_BY_USER if user_id is not None else _HISTORY_BY_EMAIL
    found = statement.first(
        connection,
        email=email,
        user_id=user_id,
        ip=data.ip or None,
        post_id=post.id,
        content_hash=content_hash(data.content),
        content=data.content,
        author=author,
    )
    counts = {
        CommentStatus.APPROVED: found.approved or 0,
        CommentStatus.PENDING: found.pending or 0,
        CommentStatus.SPAM: found.spam or 0,
    }
    last = max((when for when in (found.latest_by_ip, found.latest_by_email) if when), default=None)
    duplicate = found.duplicate
    trust = None
    if user_id is not None:
        trust = "logged in"
    elif email and counts.get(CommentStatus.APPROVED):
        trust = _trust_by_email(connection, email, data.author, data.ip)
    return AuthorHistory(
        trust=trust,
        approved_count=counts.get(CommentStatus.APPROVED, 0),
        pending_count=counts.get(CommentStatus.PENDING, 0),
        spam_count=counts.get(CommentStatus.SPAM, 0),
        is_logged_in=user is not None,
        can_moderate=user is not None and user.can_moderate_post(post),
        # Another worker may have stored one since this request began: never negative.
        seconds_since_last_comment=max(0.0, (now - last).total_seconds()) if last else None,
        has_identical_comment=duplicate is not None,
    )


def _trust_by_email(connection: Any, email: str, author: str, ip: str) -> str | None:
    """What, beyond the email anyone can type, ties this commenter to the email's approved
    comments: the email confirmed by a link we mailed, or the same name from the same
    network (/24, /48) as one of them."""
    if _CONFIRMED.scalar(connection, email=email) is not None:
        return "email confirmed"
    name = author.strip().casefold()
    for earlier in _APPROVED_BY_EMAIL.rows(connection, email=email):
        if earlier.author.strip().casefold() == name and spam_service.same_network(earlier.ip, ip):
            return "same email, name and network as an approved comment"
    return None


def depth_of(comment: Comment) -> int:
    """1 for a top-level comment; walks up the (short) parent chain."""
    depth, node, seen = 1, comment, {comment.id}
    while node.parent_id and depth < MAX_DEPTH_WALK:
        node = db.session.get(Comment, node.parent_id)
        if node is None or node.id in seen:
            break
        seen.add(node.id)
        depth += 1
    return depth


def post_context(post: Post | PostPage, parent: Comment | None, now: datetime) -> PostContext:
    parent_ok = parent is None or (
        parent.post_id == post.id and parent.status == CommentStatus.APPROVED
    )
    return PostContext(
        comments_open=post.comments_open,
        published_at=post.published_at,
        is_published=post.is_visible(now),
        now=now,
        parent_ok=parent_ok,
        parent_depth=depth_of(parent) if parent is not None and parent_ok else 0,
    )


# --- writing ----------------------------------------------------------------------------


def submit(
    post: Post | PostPage,
    data: CommentInput,
    user: User | None,
    settings: DiscussionSettings,
    whitelist: Whitelist,
    limits: Limits,
    now: datetime | None = None,
    announce: bool = True,
) -> Comment:
    """Check, sanitize, decide and store a new comment, with its notifications (``announce``)
    in the same transaction. Raises CommentRefused."""
    now = now or utcnow()
    if user is not None:
        # A logged-in commenter is who their account says.
        data.author = data.author.strip() or user.name
        data.email = data.email.strip() or user.email
    refusals = check_fields(data)
    if refusals and not data.content.strip():
        # Say everything that is wrong at once, not one thing per attempt.
        refusals.append(Refusal("comment", "Please type a comment."))
    if refusals:
        raise CommentRefused(refusals)
    data.author = data.author.strip()
    data.email = data.email.strip()
    data.url = normalize_url(data.url)
    parent = None
    if data.parent_id and _is_id(data.parent_id):
        parent = db.session.get(Comment, data.parent_id)
    context = post_context(post, parent, now)
    if data.parent_id and parent is None:
        context = dataclasses.replace(context, parent_ok=False)
    candidate = CommentCandidate(
        content=data.content,
        author=data.author,
        email=data.email,
        url=data.url,
        ip=data.ip,
        user_agent=data.user_agent,
        link_count=0,  # known once sanitized; the refusals below do not need it
        parent_id=data.parent_id,
        seconds_to_fill=data.seconds_to_fill,
        sent_without_form=data.sent_without_form,
    )

    def refusals_now() -> tuple[AuthorHistory, list[Refusal]]:
        history = _history(data, user, post, now)
        found = check_allowed(candidate, history, post=context, settings=settings, limits=limits)
        return history, [
            dataclasses.replace(r, field="comment") if r.field == "content" else r for r in found
        ]

    # The cheap refusals (closed, flood, duplicate, missing fields) come before the sanitizer,
    # the one expensive step: a comment sent again and again costs a few indexed lookups.
    history, refusals = refusals_now()
    html = "" if refusals else sanitize_comment(data.content, whitelist)
    if not refusals and not html.strip():
        refusals.append(Refusal("comment", "Please type a comment."))
    if not refusals:
        # From here on one submission at a time, and the rules that compare this comment with
        # others (flood, duplicate, the author's history) asked again, where no other can
        # land in between. Held only from here: the sanitizer runs outside the lock.
        _one_at_a_time(post.id, data.ip, data.email.lower())
        history, refusals = refusals_now()
    if refusals:
        db.session.rollback()  # let the next submitter in at once
        # Not "fix the form" but "not here": the post takes no comments (closed by hand or
        # by age, unpublished) or only from logged-in users.
        barred = (
            not context.is_published
            or comments_closed_reason(context, settings) is not None
            or (settings.comment_registration and user is None)
        )
        raise CommentRefused(refusals, status=403 if barred else 400)
    verdict = None if history.is_moderator else _spam_verdict(data, history)
    candidate = dataclasses.replace(candidate, link_count=count_links(html), spam=verdict)
    decision = decide(candidate, history, post=context, settings=settings, limits=limits)
    comment = Comment(
        post_id=post.id,
        parent=parent,
        user=user,
        author=data.author,
        email=data.email,
        url=data.url,
        ip=data.ip,
        user_agent=data.user_agent[:USER_AGENT_MAX],
        content=data.content,
        content_html=html,
        status=decision.status,
        reasons=list(decision.reasons),
        notify_on_approval=data.notify_on_approval,
        notify_replies=data.notify_replies,
        spam_score=verdict.probability if verdict is not None else None,
        created_at=now,
        updated_at=now,
    )
    store_new(comment)
    _SUBMITTED.execute(
        db.session.connection(),
        comment_id=comment.id,
        to_status=decision.status,
        reason="; ".join(decision.reasons),
        created_at=now,
    )
    if announce:
        notify.comment_posted(comment)  # into the outbox, committed with the comment
        if data.notify_replies and user is None:
            # Replies are mailed only to a confirmed address: ask once (double opt-in).
            subscriptions.request_confirmation(data.email, data.author)
    _commit_keeping_values()
    return comment


def _spam_verdict(data: CommentInput, history: AuthorHistory) -> SpamVerdict | None:
    """What the spam filter says of this comment, or None while it has learned nothing."""
    model = spam_service.state()
    if not model.has_learned:
        return None
    score = spam_service.score(
        spam.Sample(
            content=data.content,
            author=data.author,
            email=data.email,
            url=data.url,
            seconds_to_fill=data.seconds_to_fill,
            trusted=history.trust is not None,
            approved_before=history.approved_count,
        )
    )
    if score is None:
        return None
    return SpamVerdict(score.probability, score.explain(), model.spam_examples, model.ham_examples)


# The moderation log's row for a new comment (prebuilt: every comment POST writes one).
_SUBMITTED = Prepared(
    insert(ModerationLog).values(
        comment_id=bindparam("comment_id"),
        actor_id=None,
        action="submitted",
        from_status=None,
        to_status=bindparam("to_status"),
        reason=bindparam("reason"),
        created_at=bindparam("created_at"),
        undone=False,
    )
)


def _commit_keeping_values() -> None:
    """Commit without expiring what the session holds: the caller goes on to read the new
    comment (its address, its cookie, the notice), and what was just written is current.
    Without this, the first attribute read after the commit reloads the row."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def import_comment(
    post: Post,
    data: CommentInput,
    status: CommentStatus,
    created_at: datetime,
    whitelist: Whitelist,
    parent: Comment | None = None,
    kind: str = "comment",
) -> Comment:
    """A comment from an export: the same field checks and sanitizer, the status it had."""
    refusals = check_fields(data)
    if len(data.user_agent) > USER_AGENT_MAX:
        refusals.append(
            Refusal(
                "user_agent",
                f"The user agent is {len(data.user_agent):,} characters; the limit is "
                f"{USER_AGENT_MAX}. Nothing was cut.",
            )
        )
    if refusals:
        raise CommentRefused(refusals)
    comment = Comment(
        post=post,
        parent=parent,
        author=data.author.strip(),
        email=data.email.strip(),
        url=normalize_url(data.url),
        ip=data.ip,
        user_agent=data.user_agent,
        content=data.content,
        content_html=sanitize_comment(data.content, whitelist),
        status=status,
        reasons=["imported"],
        type=kind,
        created_at=created_at,
        updated_at=created_at,
    )
    store_new(comment)
    _log(comment, None, status, actor=None, action="imported", reason="imported", now=utcnow())
    return comment


#: Every column a new comment is written with but its id; the fragment (which names the id)
#: follows in an UPDATE.
_INSERTED = tuple(column.key for column in Comment.__table__.columns if column.key != "id")
_INSERT = Prepared(
    insert(Comment.__table__)
    .values({key: bindparam(key) for key in _INSERTED})
    .returning(Comment.__table__.c.id)
)
_SET_FRAGMENT = Prepared(
    update(Comment.__table__)
    .where(Comment.__table__.c.id == bindparam("b_id"))
    .values(fragment_html=bindparam("b_html"), fragment_key=bindparam("b_key"))
)


def store_new(comment: Comment) -> None:
    """Insert a new comment with everything kept beside it: hashes, thread, its page
    fragment, the per-status counts, and, when readers will see it, the cache keys it makes
    stale. Every way a comment comes in ends here (the form, the API, a reply, an import).

    One INSERT and one UPDATE (the fragment names the new id) instead of the ORM's unit of
    work, which cost more than the rest of a comment POST together; the comment then joins
    the session as a persistent, unchanged object, so callers use it as they would any.
    Changes to existing comments go through the ORM and the hooks of ``comment_html``.
    """
    session = db.session
    parent = comment.parent
    if parent is None and comment.parent_id is not None:
        parent = session.get(Comment, comment.parent_id)
    if parent is not None:
        comment.parent_id = parent.id
    if comment.user is not None:
        comment.user_id = comment.user.id
    if comment.post is not None:
        comment.post_id = comment.post.id
    for column in Comment.__table__.columns:
        if column.key != "id" and getattr(comment, column.key) is None and column.default:
            default = column.default
            setattr(comment, column.key, default.arg(None) if default.is_callable else default.arg)
    comment.thread_id = threads.thread_for_reply(parent)
    comment.avatar_hash = avatar_hash(comment.email)
    comment.content_hash = content_hash(comment.content)
    connection = session.connection()
    comment.id = _INSERT.scalar(connection, **{key: getattr(comment, key) for key in _INSERTED})
    context = comment_html.current_context()
    comment.fragment_html = comment_html.render(comment, context)
    comment.fragment_key = context.key
    _SET_FRAGMENT.execute(
        connection, b_id=comment.id, b_html=comment.fragment_html, b_key=context.key
    )
    make_transient_to_detached(comment)
    session.add(comment)
    status = CommentStatus(comment.status)
    _count_move(comment.post_id, None, status)
    if status == CommentStatus.APPROVED:
        pagecache.mark_stale(session, (post_key(comment.post_id), COMMENTS))


_COUNT_COLUMNS = {
    CommentStatus.APPROVED: "comment_count",
    CommentStatus.PENDING: "pending_count",
    CommentStatus.SPAM: "spam_count",
    CommentStatus.TRASH: "trash_count",
}


@cache
def _count_statement(src: CommentStatus | None, dst: CommentStatus | None) -> Prepared:
    """UPDATE posts: the counts of ``src`` down and ``dst`` up (prepared once per pair).
    Counters only: no page depends on them beyond what the comment's own move marks."""
    values = {}
    for status, delta in ((src, -1), (dst, +1)):
        if status is not None:
            column = _COUNT_COLUMNS[status]
            values[column] = getattr(Post, column) + delta
    return Prepared(update(Post.__table__).where(Post.id == bindparam("post_id")).values(**values))


def _posts_deleted(session: Any, flush_context: Any, instances: Any) -> None:
    """A post deleted takes its comments with it (ON DELETE CASCADE, in the database): take
    them out of the tallies, from the post's own counts, which are kept exact."""
    deltas: dict[CommentStatus, int] = {}
    for post in session.deleted:
        if isinstance(post, Post):
            for status, column in _COUNT_COLUMNS.items():
                deltas[status] = deltas.get(status, 0) - (getattr(post, column) or 0)
    if deltas:
        add_to_counters(session.connection(), CommentTally.__table__, "status", "count", deltas)


def register(session: Any) -> None:
    """Attach the hook keeping the tallies through post deletions, once per process."""
    if not event.contains(session, "before_flush", _posts_deleted):
        event.listen(session, "before_flush", _posts_deleted)


def _count_move(post_id: int, src: CommentStatus | None, dst: CommentStatus | None) -> None:
    """A comment left ``src`` and entered ``dst`` (None: it was created / deleted): keep the
    post's per-status counts and the site's tallies, in the same transaction."""
    if src == dst:
        return
    connection = db.session.connection()
    _count_statement(src, dst).execute(connection, post_id=post_id)
    deltas = {status: delta for status, delta in ((src, -1), (dst, +1)) if status is not None}
    add_to_counters(connection, CommentTally.__table__, "status", "count", deltas)


def _log(
    comment: Comment,
    src: CommentStatus | None,
    dst: CommentStatus | None,
    actor: User | None,
    action: str,
    reason: str,
    now: datetime | None = None,
) -> ModerationLog:
    row = ModerationLog(
        comment_id=comment.id,
        actor_id=actor.id if actor else None,
        action=action,
        from_status=src,
        to_status=dst,
        reason=reason,
        created_at=now or utcnow(),
    )
    db.session.add(row)
    return row


# --- moderating -------------------------------------------------------------------------

ACTIONS: dict[str, CommentStatus | None] = {
    "approve": CommentStatus.APPROVED,
    "unapprove": CommentStatus.PENDING,
    "spam": CommentStatus.SPAM,
    "unspam": None,  # back to where it was before it was marked spam
    "trash": CommentStatus.TRASH,
    "restore": None,  # back to where it was before the trash
}
ACTION_LABELS = {
    "approve": "approved",
    "unapprove": "unapproved",
    "spam": "marked as spam",
    "unspam": "marked as not spam",
    "trash": "moved to the trash",
    "restore": "restored",
    "delete": "deleted permanently",
    "edit": "edited",
    "undo": "undone",
}


def can_moderate(user: User | None, comment: Comment) -> bool:
    return user is not None and user.is_authenticated and user.can_moderate_post(comment.post)


def _require_moderator(user: User, comment: Comment) -> None:
    if not can_moderate(user, comment):
        raise Forbidden("You can only moderate comments on your own posts.")


def _status_before(comment: Comment, current: CommentStatus) -> CommentStatus:
    """Where the comment was before it last entered ``current`` (for restore / not spam)."""
    row = db.session.scalar(
        select(ModerationLog)
        .where(
            ModerationLog.comment_id == comment.id,
            ModerationLog.to_status == current,
            ModerationLog.undone.is_(False),
        )
        .order_by(ModerationLog.created_at.desc(), ModerationLog.id.desc())
        .limit(1)
    )
    if row is not None and row.from_status is not None and row.from_status != current:
        return CommentStatus(row.from_status)
    return CommentStatus.PENDING


_MOVE = (
    update(Comment.__table__)
    .where(Comment.__table__.c.id == bindparam("b_id"))
    .where(Comment.__table__.c.status == bindparam("b_src"))
    .values(status=bindparam("b_dst"), updated_at=bindparam("b_at"))
)


def set_status(
    comment: Comment,
    dst: CommentStatus,
    actor: User | None,
    action: str,
    reason: str = "",
) -> bool:
    """Move a comment, log who/when/from/to/why, keep the counts. False if no change.

    The row moves only from the status this request read (UPDATE ... WHERE status = it):
    when the queue, a bulk action and the API approve the same comment at once, one of
    them moves it, and only that one counts it, logs it and sends its mail.
    """
    src = CommentStatus(comment.status)
    if src == dst:
        return False
    if not can_transition(src, dst):
        raise ServiceError(f"A comment cannot go from {src.value} to {dst.value}.")
    now = utcnow()
    shown = CommentStatus.APPROVED in (src, dst)
    moved = db.session.execute(
        _MOVE,
        {"b_id": comment.id, "b_src": src, "b_dst": dst, "b_at": now},
        execution_options={
            "page_cache_keys": (post_key(comment.post_id), COMMENTS) if shown else ()
        },
    )
    if moved.rowcount != 1:
        db.session.expire(comment)  # someone else moved it first: read what it is now
        return False
    attributes.set_committed_value(comment, "status", dst)
    attributes.set_committed_value(comment, "updated_at", now)
    context = comment_html.current_context()
    comment.fragment_html = comment_html.render(comment, context)  # the held note comes or goes
    comment.fragment_key = context.key
    _count_move(comment.post_id, src, dst)
    if shown:
        # Its replies join its thread, or start threads of their own.
        threads.rethread_below(comment)
    if actor is not None and reason == "":
        reason = f"{ACTION_LABELS.get(action, action)} by {actor.name}"
    _log(comment, src, dst, actor, action, reason)
    if actor is not None:
        # A person's decision teaches the spam filter; the policy's own moves do not.
        verdict = spam_service.label_for(src, dst, action)
        if verdict is not None:
            spam_service.learn_decision(comment, verdict)
    return True


def _destination(comment: Comment, action: str) -> CommentStatus | None:
    """Where ``action`` moves the comment; None when it does not apply to it (restoring a
    comment that is not in the trash, "not spam" for one that is not spam)."""
    if action not in ACTIONS:
        raise ServiceError(f"Unknown action {action!r}.")
    dst = ACTIONS[action]
    if dst is not None:
        return dst
    expected = CommentStatus.SPAM if action == "unspam" else CommentStatus.TRASH
    if comment.status != expected:
        return None
    return _status_before(comment, expected)


def moderate(comment: Comment, action: str, actor: User, reason: str = "") -> bool:
    """One moderation action (approve, unapprove, spam, unspam, trash, restore)."""
    _require_moderator(actor, comment)
    dst = _destination(comment, action)
    if dst is None:
        return False
    changed = set_status(comment, dst, actor, action, reason)
    if changed and dst == CommentStatus.APPROVED:
        notify.comment_approved(comment)  # committed with the approval
    db.session.commit()
    return changed


def moderate_many(ids: Sequence[int], action: str, actor: User) -> tuple[int, int]:
    """Bulk action: (changed, skipped). Comments the actor may not moderate are skipped."""
    if action == "delete":
        comments = _load(ids)
        done = 0
        for comment in comments:
            if actor.can(Permission.MANAGE_USERS):
                try:
                    delete_permanently(comment, actor, commit=False)
                except NotFound:
                    continue  # deleted meanwhile by someone else: skipped
                done += 1
        db.session.commit()
        return done, len(ids) - done
    if action not in ACTIONS:
        raise ServiceError(f"Unknown action {action!r}.")
    changed = skipped = 0
    for comment in _load(ids):
        if not can_moderate(actor, comment):
            skipped += 1
            continue
        dst = _destination(comment, action)
        if dst is not None and set_status(comment, dst, actor, action):
            changed += 1
            if dst == CommentStatus.APPROVED:
                notify.comment_approved(comment)  # committed with the approvals
        else:
            skipped += 1
    db.session.commit()
    return changed, skipped


def _load(ids: Sequence[int]) -> list[Comment]:
    ids = [i for i in ids if _is_id(i)][:500]
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Comment)
            .where(Comment.id.in_(ids))
            .options(selectinload(Comment.post))
            # In id order: two bulk actions at once lock rows in the same order (PostgreSQL).
            .order_by(Comment.id)
        )
    )


def _last_undoable(comments: Sequence[Comment]) -> dict[int, ModerationLog]:
    """Per comment, the status change an undo would revert (one query for them all).

    That is its latest status change not yet undone, and only while the comment still has
    the status that change gave it.
    """
    if not comments:
        return {}
    rows = db.session.scalars(
        select(ModerationLog)
        .where(
            ModerationLog.comment_id.in_([c.id for c in comments]),
            ModerationLog.undone.is_(False),
            ModerationLog.from_status.is_not(None),
            ModerationLog.action != "undo",
        )
        .order_by(
            ModerationLog.comment_id, ModerationLog.created_at.desc(), ModerationLog.id.desc()
        )
    )
    latest: dict[int, ModerationLog] = {}
    for row in rows:
        latest.setdefault(row.comment_id, row)
    return {
        c.id: latest[c.id]
        for c in comments
        if c.id in latest and latest[c.id].to_status == c.status
    }


def undoable(comments: Sequence[Comment]) -> set[int]:
    """Ids of the comments whose last status change can be undone (the queue's button)."""
    return set(_last_undoable(comments))


def last_changes(comments: Sequence[Comment]) -> dict[int, ModerationLog]:
    """Per comment, its last status change that an undo would revert (None-free)."""
    return _last_undoable(comments)


def visible_comments(actor: User, ids: Sequence[int]) -> list[Comment]:
    """The comments of ``ids`` the actor may moderate (at most 50; one query)."""
    ids = [i for i in ids if _is_id(i)][:50]
    if not ids:
        return []
    query = (
        select(Comment)
        .where(Comment.id.in_(ids))
        .options(selectinload(Comment.post), selectinload(Comment.parent))
    )
    return list(db.session.scalars(_visible_to(actor, query)))


def undo_many(ids: Sequence[int], actor: User) -> tuple[int, int]:
    """Undo the last change of each comment (the queue's Undo after a bulk action):
    (undone, skipped); a comment moved meanwhile, or not the actor's, is skipped."""
    undone = skipped = 0
    for comment in _load(ids):
        if not can_moderate(actor, comment):
            skipped += 1
            continue
        try:
            undo_last(comment, actor)
        except ServiceError:
            db.session.rollback()
            skipped += 1
        else:
            undone += 1
    return undone, skipped


def undo_last(comment: Comment, actor: User) -> ModerationLog:
    """Undo the comment's last status change (it is logged as a change of its own)."""
    _require_moderator(actor, comment)
    last = _last_undoable([comment]).get(comment.id)
    if last is None:
        raise ServiceError("There is no change of this comment's status to undo.", status=409)
    undone = set_status(
        comment,
        CommentStatus(last.from_status),
        actor,
        "undo",
        f"undid “{ACTION_LABELS.get(last.action, last.action)}” by {actor.name}",
    )
    if not undone:
        raise ServiceError("The comment was moved meanwhile; reload to see where.", status=409)
    last.undone = True
    db.session.commit()
    return last


def delete_permanently(comment: Comment, actor: User, commit: bool = True) -> None:
    """Delete a comment for good; its replies move up to its parent. NotFound when it is
    already gone (another request deleted it meanwhile)."""
    if not actor.can(Permission.MANAGE_USERS):
        raise Forbidden("Only administrators can delete comments for good.")
    remove(comment, actor, f"comment {comment.id} deleted permanently by {actor.name}")
    if commit:
        db.session.commit()


def remove(comment: Comment, actor: User | None, reason: str) -> None:
    """Delete ``comment`` (replies up to its parent, counts, log, threads), uncommitted.
    The caller has checked who may: an administrator, or the site's operator at the
    command line (``privacy erase --delete``)."""
    comment_id, post_id, parent_id = comment.id, comment.post_id, comment.parent_id
    keys = {"page_cache_keys": (post_key(post_id), COMMENTS)}
    # Replies first (the database would otherwise detach them), then the row itself, by
    # one statement that says whether it was still there, and in what status.
    db.session.execute(
        _REPARENT, {"b_id": comment_id, "b_parent": parent_id}, execution_options=keys
    )
    gone = db.session.execute(_DELETE, {"b_id": comment_id}, execution_options=keys).first()
    db.session.expunge(comment)
    if gone is None:
        # Its replies were moved up by whoever deleted it; nothing was written here.
        raise NotFound("That comment was already deleted.")
    src = CommentStatus(gone.status)
    _count_move(post_id, src, None)
    db.session.add(
        ModerationLog(
            comment_id=None,  # the row is gone; the reason names it
            actor_id=actor.id if actor is not None else None,
            action="delete",
            from_status=src,
            to_status=None,
            reason=reason,
            created_at=utcnow(),
        )
    )
    threads.rethread_post(post_id)


_REPARENT = (
    update(Comment.__table__)
    .where(Comment.__table__.c.parent_id == bindparam("b_id"))
    .values(parent_id=bindparam("b_parent"))
)
_DELETE = (
    sa_delete(Comment.__table__)
    .where(Comment.__table__.c.id == bindparam("b_id"))
    .returning(Comment.__table__.c.status)
)


def edit(
    comment: Comment,
    actor: User,
    author: str,
    email: str,
    url: str,
    content: str,
    whitelist: Whitelist,
) -> None:
    """A moderator's edit: the same checks and sanitizer as a new comment; logged."""
    _require_moderator(actor, comment)
    data = CommentInput(content=content, author=author, email=email, url=url)
    refusals = check_fields(data)
    if not content.strip():
        refusals.append(Refusal("comment", "A comment cannot be empty."))
    if refusals:
        raise CommentRefused(refusals)
    changed = [
        name
        for name, old, new in (
            ("name", comment.author, author.strip()),
            ("email", comment.email, email.strip()),
            ("website", comment.url, normalize_url(url)),
            ("text", comment.content, content),
        )
        if old != new
    ]
    comment.author, comment.email, comment.url = author.strip(), email.strip(), normalize_url(url)
    comment.content = content
    comment.content_html = sanitize_comment(content, whitelist)
    comment.updated_at = utcnow()
    _log(
        comment,
        None,
        None,
        actor,
        "edit",
        f"edited by {actor.name}: {', '.join(changed) or 'nothing changed'}",
    )
    db.session.commit()


def reply(
    parent: Comment,
    actor: User,
    content: str,
    settings: DiscussionSettings,
    whitelist: Whitelist,
    ip: str = "",
    user_agent: str = "",
) -> Comment:
    """A moderator's reply from the queue; approves the comment replied to, as WordPress."""
    _require_moderator(actor, parent)
    approving = parent.status != CommentStatus.APPROVED
    if approving:
        set_status(
            parent,
            CommentStatus.APPROVED,
            actor,
            "approve",
            f"approved by {actor.name} when replying",
        )
        db.session.flush()
        # An approval like any other: the commenter who asked is told (if the reply is
        # refused, the approval and its mail are rolled back together).
        notify.comment_approved(parent)
    data = CommentInput(content=content, parent_id=parent.id, ip=ip, user_agent=user_agent)
    return submit(
        parent.post,
        data,
        actor,
        settings,
        whitelist,
        Limits(flood_seconds=0, min_fill_seconds=0),
        announce=False,
    )


# --- the queue --------------------------------------------------------------------------


#: How the queue can be ordered: newest first (WordPress's), or by the spam filter's score.
QUEUE_ORDERS = {
    "newest": (Comment.created_at.desc(), Comment.id.desc()),
    "oldest": (Comment.created_at.asc(), Comment.id.asc()),
    "score": (Comment.spam_score.desc().nulls_last(), Comment.id.desc()),
    "score-asc": (Comment.spam_score.asc().nulls_last(), Comment.id.desc()),
}


def queue_query(
    actor: User,
    status: CommentStatus | None,
    search: str = "",
    post_id: int | None = None,
    order: str = "newest",
    min_score: float | None = None,
    comment_id: int | None = None,
) -> Select[tuple[Comment]]:
    """A tab of the moderation queue (``status``; None: every status), newest first or by
    spam score (``order``), and only comments the filter scored at least ``min_score``
    (0..1) when given; ``comment_id``: that one comment (a link from the log)."""
    query = (
        select(Comment)
        .options(selectinload(Comment.post), selectinload(Comment.parent))
        .order_by(*QUEUE_ORDERS.get(order, QUEUE_ORDERS["newest"]))
    )
    if status is not None:
        query = query.where(Comment.status == status)
    if min_score is not None:
        query = query.where(Comment.spam_score >= min_score)
    query = _visible_to(actor, query)
    if post_id is not None:
        query = query.where(Comment.post_id == post_id if _is_id(post_id) else false())
    if comment_id is not None:
        query = query.where(Comment.id == comment_id if _is_id(comment_id) else false())
    terms = search.strip()
    if terms and bad_characters(terms):
        # No stored comment holds a NUL or control character (and PostgreSQL refuses them).
        return query.where(false())
    if terms:
        # "%" and "_" are searched for as themselves, not as wildcards.
        like = like_pattern(terms)
        query = query.where(
            or_(
                *(
                    column.ilike(like, escape="\\")
                    for column in (
                        Comment.content,
                        Comment.author,
                        Comment.email,
                        Comment.ip,
                        Comment.url,
                    )
                )
            )
        )
    return query


def oldest_held(actor: User, limit: int = 5) -> list[Comment]:
    """The held comments that have waited longest (the dashboard's first list)."""
    query = queue_query(actor, CommentStatus.PENDING, order="oldest").limit(limit)
    return list(db.session.scalars(query))


def recent(actor: User, limit: int = 5) -> list[Comment]:
    """The newest comments the actor moderates, held or published (not spam or trash).

    One query per status, each the head of its tab's index, merged here: a single query
    with ``status IN (...)`` would sort every held and published comment to find five.
    """
    found: list[Comment] = []
    for status in (CommentStatus.PENDING, CommentStatus.APPROVED):
        found += db.session.scalars(queue_query(actor, status).limit(limit))
    found.sort(key=lambda c: (c.created_at, c.id), reverse=True)
    return found[:limit]


def queue_count(
    actor: User, status: CommentStatus | None, search: str = "", post_id: int | None = None
) -> int:
    """How many comments a queue search finds (a search or a post's, not a whole tab)."""
    found = queue_query(actor, status, search, post_id).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(found)) or 0


def listing_query(
    viewer: User | None,
    status: CommentStatus | None = None,
    post_id: int | None = None,
) -> Select[tuple[Comment]]:
    """The comments ``viewer`` may list (the API), newest first.

    Everyone sees approved comments on visible posts; an author also every comment on their
    own posts; moderators every comment. ``status`` None means every status they may see.
    """
    query = (
        select(Comment)
        .options(selectinload(Comment.post))
        .order_by(Comment.created_at.desc(), Comment.id.desc())
    )
    if viewer is None or not viewer.can(Permission.MODERATE):
        visible_posts = select(Post.id).where(Post.visible_clause(utcnow()))
        allowed = (Comment.status == CommentStatus.APPROVED) & Comment.post_id.in_(visible_posts)
        if viewer is not None and viewer.can(Permission.WRITE):
            own_posts = select(Post.id).where(Post.author_id == viewer.id)
            allowed = or_(allowed, Comment.post_id.in_(own_posts))
        query = query.where(allowed)
    if status is not None:
        query = query.where(Comment.status == status)
    if post_id is not None:
        query = query.where(Comment.post_id == post_id)
    return query


def _visible_to(actor: User, query: Select) -> Select:
    """Moderators see every comment; authors those on their own posts."""
    if actor.can(Permission.MODERATE):
        return query
    return query.where(Comment.post_id.in_(select(Post.id).where(Post.author_id == actor.id)))


def status_counts(actor: User) -> dict[str, int]:
    """The queue's tab counts, from the kept tallies (moderators) or the per-post counts of
    the actor's own posts (authors): never a count over the comments table."""
    counts = {s.value: 0 for s in CommentStatus}
    if actor.can(Permission.MODERATE):
        for status, count in db.session.execute(select(CommentTally.status, CommentTally.count)):
            counts[CommentStatus(status).value] = count
        return counts
    sums = db.session.execute(
        select(
            *(func.coalesce(func.sum(getattr(Post, c)), 0) for c in _COUNT_COLUMNS.values())
        ).where(Post.author_id == actor.id)
    ).one()
    for status, total in zip(_COUNT_COLUMNS, sums, strict=True):
        counts[status.value] = int(total)
    return counts


def author_histories(comments: Sequence[Comment]) -> dict[str, dict[str, int]]:
    """Per email (lower case): how many comments were approved / marked spam. One query."""
    emails = {c.email.lower() for c in comments if c.email}
    result: dict[str, dict[str, int]] = {e: {"approved": 0, "spam": 0, "total": 0} for e in emails}
    if not emails:
        return result
    rows = db.session.execute(
        select(func.lower(Comment.email), Comment.status, func.count())
        .where(func.lower(Comment.email).in_(emails))
        .group_by(func.lower(Comment.email), Comment.status)
    )
    for email, status, count in rows:
        entry = result.setdefault(email, {"approved": 0, "spam": 0, "total": 0})
        entry["total"] += count
        if status in (CommentStatus.APPROVED, CommentStatus.APPROVED.value):
            entry["approved"] += count
        elif status in (CommentStatus.SPAM, CommentStatus.SPAM.value):
            entry["spam"] += count
    return result


def find_comment(comment_id: int) -> Comment | None:
    return db.session.get(Comment, comment_id) if _is_id(comment_id) else None


def get_comment(comment_id: int) -> Comment:
    comment = db.session.get(Comment, comment_id) if _is_id(comment_id) else None
    if comment is None:
        raise NotFound("There is no comment with that number.")
    return comment


def log_for(comment: Comment) -> list[ModerationLog]:
    return list(
        db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.comment_id == comment.id)
            .options(selectinload(ModerationLog.actor))
            .order_by(ModerationLog.created_at, ModerationLog.id)
        )
    )

"""Filling the database for benchmarks: realistic posts and threaded comments, in bulk.

Comments are written in batches of plain INSERTs (the ORM would take an hour for a million),
with everything the write path keeps beside a comment computed here the same way: the
sanitized HTML (each distinct text through ``blog.sanitize`` once), hashes, the stored
fragment, the thread id, and the per-status counts recounted at the end. A share of the
comments is held, as on a real site, so the queue has work.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text, update

from blog.extensions import db
from blog.fragments import CommentFacts, avatar_hash, comment_fragment
from blog.models import Comment, CommentTally, Post, PostStatus, User, utcnow
from blog.moderation import CommentStatus
from blog.sanitize import sanitize_comment
from blog.services import ServiceError
from blog.services import posts as post_service
from blog.services.comment_html import content_hash, current_context
from blog.services.settings import comment_whitelist

BATCH = 5000
WORDS = (
    "the a garden light river morning window paper coffee winter walk city story reader "
    "question answer idea small quiet long road friend kitchen music letter summer evening "
    "book street tree rain bread station market thought memory voice night island harbour "
    "really perhaps indeed thanks agree wonder remember lovely curious simple honest"
).split()
NAMES = (
    "Ada Ben Chloe Dmitri Elena Farid Grace Hiro Ines Jonas Kofi Lena Mateo Nadia Oscar Priya "
    "Quentin Rosa Sven Tariq Uma Viktor Wen Ximena Yusuf Zoe"
).split()


@dataclass
class SeedReport:
    posts: int = 0
    comments: int = 0
    held: int = 0
    post_ids: list[int] = field(default_factory=list)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    return " ".join(words).capitalize() + rng.choice(".!?")


def _text(rng: random.Random) -> str:
    """A comment as people write them: a few sentences, now and then markup or a link."""
    parts = [_sentence(rng) for _ in range(rng.randint(1, 4))]
    roll = rng.random()
    if roll < 0.15:
        parts.append(f"See https://example.org/{rng.choice(WORDS)}/{rng.randint(1, 999)}")
    elif roll < 0.25:
        parts.insert(0, f"<b>{rng.choice(WORDS)}</b> <em>{rng.choice(WORDS)}</em>")
    elif roll < 0.3:
        parts.insert(0, f"<blockquote>{_sentence(rng)}</blockquote>")
    if rng.random() < 0.3:
        return "\n\n".join(parts)
    return " ".join(parts)


def _body(rng: random.Random) -> str:
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(3, 7))) for _ in range(5)]
    return "\n\n".join(paragraphs)


def create_posts(author: User, count: int, rng: random.Random) -> list[Post]:
    """``count`` published posts, dated one a day back from today."""
    made = []
    for n in range(count):
        when = utcnow() - timedelta(days=count - n, hours=rng.randint(0, 20))
        data = post_service.PostInput(
            title=f"{_sentence(rng)[:-1]} ({n + 1})",
            body=_body(rng),
            tags=[rng.choice(WORDS) for _ in range(2)],
            categories=[rng.choice(("Notes", "Essays", "Travel", "Kitchen"))],
            published_at=when,
        )
        made.append(post_service.create_post(author, data, action="publish"))
    return made


@dataclass
class _Shown:
    """What later comments on the same post need of an earlier one."""

    id: int
    depth: int
    approved: bool
    thread_id: int | None


def seed_comments(
    posts: list[Post],
    count: int,
    depth: int = 3,
    held_share: float = 0.3,
    rng: random.Random | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """``count`` threaded comments spread over ``posts``; returns how many were held."""
    if not posts or count <= 0:
        return 0
    rng = rng or random.Random(0)
    whitelist = comment_whitelist()
    context = current_context()
    pool = [_text(rng) for _ in range(min(2000, count))]
    cleaned = {text_: sanitize_comment(text_, whitelist) for text_ in pool}
    hashes = {text_: content_hash(text_) for text_ in pool}
    commenters = [
        (f"{rng.choice(NAMES)} {rng.choice(NAMES)[0]}.", f"reader{n}@example.org")
        for n in range(max(50, count // 20))
    ]
    avatars = {email: avatar_hash(email) for _, email in commenters}
    next_id = (db.session.scalar(select(func.max(Comment.id))) or 0) + 1
    shown: dict[int, list[_Shown]] = {post.id: [] for post in posts}
    clock: dict[int, datetime] = {
        post.id: (post.published_at or utcnow()) + timedelta(minutes=5) for post in posts
    }
    span = max(1, count // len(posts))
    held = 0
    table = Comment.__table__
    batch: list[dict] = []
    for n in range(count):
        post = posts[rng.randrange(len(posts))]
        earlier = shown[post.id]
        parent = None
        if earlier and rng.random() < 0.45:
            candidates = [c for c in earlier[-50:] if c.approved and c.depth < depth]
            parent = rng.choice(candidates) if candidates else None
        approved = rng.random() >= held_share
        held += not approved
        status = CommentStatus.APPROVED if approved else CommentStatus.PENDING
        body = pool[n % len(pool)]
        name, email = commenters[rng.randrange(len(commenters))]
        when = clock[post.id] = clock[post.id] + timedelta(seconds=rng.randint(30, 3600))
        comment_id = next_id + n
        thread = None if parent is None else (parent.thread_id or parent.id)
        facts = CommentFacts(
            id=comment_id,
            author=name,
            url="",
            avatar_hash=avatars[email],
            created_at=when,
            content_html=cleaned[body],
            approved=approved,
        )
        batch.append(
            {
                "id": comment_id,
                "post_id": post.id,
                "parent_id": parent.id if parent else None,
                "thread_id": thread,
                "user_id": None,
                "author": name,
                "email": email,
                "url": "",
                "ip": f"10.{n % 250}.{(n // 250) % 250}.{rng.randint(1, 250)}",
                "user_agent": "bench",
                "content": body,
                "content_html": cleaned[body],
                "content_hash": hashes[body],
                "avatar_hash": avatars[email],
                "fragment_html": comment_fragment(facts, context),
                "fragment_key": context.key,
                "status": status,
                "reasons": ["seeded for a benchmark"],
                "type": "comment",
                "notify_on_approval": False,
                "created_at": when,
                "updated_at": when,
            }
        )
        earlier.append(
            _Shown(comment_id, 1 if parent is None else parent.depth + 1, approved, thread)
        )
        if len(earlier) > span * 2:
            del earlier[: len(earlier) - span]
        if len(batch) >= BATCH:
            db.session.execute(insert(table), batch)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        db.session.execute(insert(table), batch)
        if progress:
            progress(len(batch))
    _after_bulk_insert([post.id for post in posts])
    db.session.commit()
    return held


def _after_bulk_insert(post_ids: list[int]) -> None:
    """Counts and the id sequence, as the write path would have kept them row by row."""
    columns = {
        CommentStatus.APPROVED: "comment_count",
        CommentStatus.PENDING: "pending_count",
        CommentStatus.SPAM: "spam_count",
        CommentStatus.TRASH: "trash_count",
    }
    counts: dict[int, dict[str, int]] = {
        pid: dict.fromkeys(columns.values(), 0) for pid in post_ids
    }
    rows = db.session.execute(
        select(Comment.post_id, Comment.status, func.count())
        .where(Comment.post_id.in_(post_ids))
        .group_by(Comment.post_id, Comment.status)
    )
    for post_id, status, number in rows:
        counts[post_id][columns[CommentStatus(status)]] = number
    for post_id, values in counts.items():
        db.session.execute(update(Post).where(Post.id == post_id).values(**values))
    totals = dict(
        db.session.execute(select(Comment.status, func.count()).group_by(Comment.status)).all()
    )
    db.session.execute(CommentTally.__table__.delete())
    db.session.execute(
        insert(CommentTally.__table__),
        [{"status": status, "count": totals.get(status, 0)} for status in CommentStatus],
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Ids were given explicitly: move the sequence past them.
        db.session.execute(
            text("SELECT setval(pg_get_serial_sequence('comments', 'id'), max(id)) FROM comments")
        )


def seed(
    posts: int,
    comments: int,
    depth: int = 3,
    held_share: float = 0.3,
    post_slug: str | None = None,
    author: User | None = None,
    progress: Callable[[int], None] | None = None,
    seed_value: int = 0,
) -> SeedReport:
    """The ``bench seed`` command: ``posts`` new posts, then ``comments`` over them (or all
    of them on the existing post ``post_slug``)."""
    if not 0 <= held_share <= 1:
        raise ServiceError("--held-share is a share, from 0 to 1.")
    if not 1 <= depth <= 10:
        raise ServiceError("--depth is from 1 to 10.")
    rng = random.Random(seed_value)
    author = author or db.session.scalar(
        select(User).where(User.role == "admin").order_by(User.id).limit(1)
    )
    if author is None:
        raise ServiceError("There is no admin to write the posts: run `flask bootstrap` first.")
    made = create_posts(author, posts, rng)
    targets = made
    if post_slug:
        found = post_service.find_by_slug(post_slug)
        if found is None:
            raise ServiceError(f"There is no post with the slug {post_slug!r}.")
        targets = [found]
    elif not made and comments:
        targets = list(
            db.session.scalars(
                select(Post).where(Post.status == PostStatus.PUBLISHED).order_by(Post.id)
            )
        )
        if not targets:
            raise ServiceError("There are no published posts to comment on: use --posts N.")
    held = seed_comments(targets, comments, depth, held_share, rng, progress)
    return SeedReport(
        posts=len(made), comments=comments, held=held, post_ids=[p.id for p in targets]
    )

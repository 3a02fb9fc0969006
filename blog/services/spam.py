"""The spam filter at work: scoring new comments, learning from moderators' decisions.

``blog.spam`` learns and scores; this keeps its numbers in the database, where every
process sees them: ``spam_weights`` (two numbers per hashed feature bucket, only the buckets
comments have touched) and ``spam_model`` (which learner, and how many decisions of each
kind it has learned from). A decision is learned as additive changes to the rows it touches
(one upsert each), so two processes learning at once both count. No commenter data leaves
the site.

What teaches it: a moderator marking a comment spam, or approving / marking not spam a
comment that was held or in spam; a WordPress import's spam and approved comments; and
``flask spam retrain``, which learns every such decision again from scratch. A comment
remembers what the filter learned from it (``spam_label``), so it teaches once per label.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select

from blog import spam
from blog.extensions import db
from blog.models import Comment, ModerationLog, SpamModel, SpamWeight, utcnow
from blog.moderation import CommentStatus
from blog.sqlutil import Prepared, driver_sql

#: The learner used unless told otherwise; chosen by measuring (README, "Spam filter").
DEFAULT_KIND = "logistic"
_MODEL_ID = 1
_IN_LIST_MAX = 500  # buckets read in one statement (a comment has ~100 features)


@dataclass(frozen=True)
class ModelState:
    kind: str
    spam_examples: int
    ham_examples: int

    @property
    def learner(self) -> spam.Model:
        return spam.MODELS[self.kind]()

    @property
    def has_learned(self) -> bool:
        return bool(self.spam_examples or self.ham_examples)

    def ready(self, minimum: int) -> bool:
        """Whether it has seen enough decisions of each kind to act on its own."""
        return self.spam_examples >= minimum and self.ham_examples >= minimum


# Every comment POST asks: read as a plain row, not loaded into the session as an object.
_STATE = Prepared(
    select(SpamModel.kind, SpamModel.spam_examples, SpamModel.ham_examples).where(
        SpamModel.id == _MODEL_ID
    )
)


def state() -> ModelState:
    # What the session holds first: a count it has changed and not yet written (learning
    # goes through the object) is the current one.
    db.session.flush()
    row = _STATE.first(db.session.connection())
    if row is None:
        return ModelState(DEFAULT_KIND, 0, 0)
    return ModelState(row.kind, row.spam_examples or 0, row.ham_examples or 0)


def _weights(buckets: Iterable[int]) -> dict[int, tuple[float, float]]:
    """The rows of ``buckets`` (and the model's own, ``spam.BIAS``), in one statement (a
    few for a very long comment): the same statement text every time on PostgreSQL (an
    array), which it then keeps prepared."""
    wanted = sorted({*buckets, spam.BIAS})
    connection = db.session.connection()
    found: dict[int, tuple[float, float]] = {}
    if connection.dialect.name == "postgresql":
        sql = "SELECT bucket, first, second FROM spam_weights WHERE bucket = ANY(%s)"
        for bucket, first, second in driver_sql(connection, sql, (wanted,)):
            found[bucket] = (first, second)
        return found
    for start in range(0, len(wanted), _IN_LIST_MAX):
        part = wanted[start : start + _IN_LIST_MAX]
        sql = (
            "SELECT bucket, first, second FROM spam_weights "  # noqa: S608 - markers only
            f"WHERE bucket IN ({', '.join(['?'] * len(part))})"
        )
        for bucket, first, second in driver_sql(connection, sql, tuple(part)):
            found[bucket] = (first, second)
    return found


def score(sample: spam.Sample) -> spam.Score | None:
    """The filter's score of ``sample``; None while it has learned nothing."""
    current = state()
    if not current.has_learned:
        return None
    names = spam.features(sample)
    return current.learner.score(_weights(spam.bucket(n) for n in names), names)


def _add(changes: list[tuple[int, float, float]]) -> None:
    """Add each (bucket, first, second) to its row, creating it: one statement per 300
    rows (a multi-row upsert, on SQLite and PostgreSQL alike), in bucket order."""
    connection = db.session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    for start in range(0, len(changes), 300):
        part = changes[start : start + 300]
        rows = ", ".join([f"({marker}, {marker}, {marker})"] * len(part))
        sql = (
            f"INSERT INTO spam_weights (bucket, first, second) VALUES {rows} "  # noqa: S608
            "ON CONFLICT (bucket) DO UPDATE SET first = spam_weights.first + excluded.first, "
            "second = spam_weights.second + excluded.second"
        )
        driver_sql(connection, sql, tuple(v for row in part for v in row), fetch="rows")


def _count(is_spam: bool, by: int = 1) -> None:
    row = db.session.get(SpamModel, _MODEL_ID)
    if row is None:
        row = SpamModel(id=_MODEL_ID, kind=DEFAULT_KIND, spam_examples=0, ham_examples=0)
        db.session.add(row)
    if is_spam:
        row.spam_examples = (row.spam_examples or 0) + by
    else:
        row.ham_examples = (row.ham_examples or 0) + by
    row.updated_at = utcnow()


def learn(sample: spam.Sample, is_spam: bool, model: ModelState | None = None) -> None:
    """Learn one decision, in the caller's transaction: the rows it changes, as additions."""
    current = model or state()
    names = spam.features(sample)
    weights = _weights(spam.bucket(n) for n in names)
    changed = current.learner.update(weights, names, is_spam)
    _add(
        [
            (
                bucket,
                first - weights.get(bucket, (0.0, 0.0))[0],
                second - weights.get(bucket, (0.0, 0.0))[1],
            )
            # One order: learners at once lock rows in the same order, never deadlock.
            for bucket, (first, second) in sorted(changed.items())
        ]
    )
    _count(is_spam)


# --- what a comment tells the filter -----------------------------------------------------


def sample_of(comment: Comment, trusted: bool = False, approved_before: int = 0) -> spam.Sample:
    return spam.Sample(
        content=comment.content or "",
        author=comment.author or "",
        email=comment.email or "",
        url=comment.url or "",
        trusted=trusted,
        approved_before=approved_before,
    )


def label_for(src: CommentStatus | None, dst: CommentStatus, action: str) -> bool | None:
    """What a decision says: True spam, False not spam, None nothing (a trash, a restore
    to where it was, an unapproval)."""
    if dst == CommentStatus.SPAM:
        return True
    if action == "unspam" or (
        dst == CommentStatus.APPROVED and src in (CommentStatus.PENDING, CommentStatus.SPAM)
    ):
        return False
    return None


def learn_decision(comment: Comment, is_spam: bool) -> bool:
    """Learn from a moderator's decision on ``comment``, unless it taught this already."""
    label = "spam" if is_spam else "ham"
    if comment.spam_label == label:
        return False
    learn(sample_of(comment), is_spam)
    comment.spam_label = label
    return True


# --- from scratch, and measured ----------------------------------------------------------


def _decided() -> list[tuple[int, bool]]:
    """(id, is spam) of every comment a person (or an import) decided is spam or not,
    oldest first: spam now, or approved through a moderator's action or an import."""
    judged = select(ModerationLog.comment_id).where(
        ModerationLog.comment_id.is_not(None),
        ModerationLog.undone.is_(False),
        or_(
            ModerationLog.action.in_(("approve", "spam", "unspam", "reply", "imported")),
            ModerationLog.to_status == CommentStatus.SPAM,
        ),
    )
    query = (
        select(Comment.id, Comment.status)
        .where(
            Comment.status.in_((CommentStatus.SPAM, CommentStatus.APPROVED)),
            or_(Comment.id.in_(judged), Comment.spam_label.is_not(None)),
        )
        .order_by(Comment.created_at, Comment.id)
    )
    return [
        (comment_id, CommentStatus(status) == CommentStatus.SPAM)
        for comment_id, status in db.session.execute(query)
    ]


def _samples(ids: list[int]) -> Iterator[tuple[int, spam.Sample]]:
    """The comments of ``ids`` as samples, in that order, read a chunk at a time."""
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows = {
            row.id: row
            for row in db.session.execute(
                select(
                    Comment.id, Comment.content, Comment.author, Comment.email, Comment.url
                ).where(Comment.id.in_(chunk))
            )
        }
        for comment_id in chunk:
            row = rows.get(comment_id)
            if row is not None:
                yield comment_id, spam.Sample(row.content, row.author, row.email, row.url)


def retrain(kind: str | None = None, epochs: int = spam.RETRAIN_EPOCHS) -> ModelState:
    """Forget the model and learn every decision again: once in time order, as moderation
    gave them, then ``epochs - 1`` more times in shuffled orders (one pass underfits; the
    README has the figures). One transaction; comments are read a chunk at a time."""
    kind = kind or state().kind
    if kind not in spam.MODELS:
        raise ValueError(f"unknown learner {kind!r}; one of {', '.join(sorted(spam.MODELS))}")
    learner = spam.MODELS[kind]()
    decided = _decided()
    label = dict(decided)
    ids = [comment_id for comment_id, _ in decided]
    weights: dict[int, tuple[float, float]] = {}
    rng = random.Random(0)
    for epoch in range(epochs if kind == "logistic" else 1):  # counts need one pass
        if epoch:
            rng.shuffle(ids)
        for comment_id, sample in _samples(ids):
            weights.update(learner.update(weights, spam.features(sample), label[comment_id]))
    spam_count = sum(1 for _, is_spam in decided if is_spam)
    ham_count = len(decided) - spam_count
    db.session.execute(delete(SpamWeight))
    rows = [{"bucket": b, "first": f, "second": s} for b, (f, s) in weights.items()]
    for start in range(0, len(rows), 5000):
        db.session.execute(SpamWeight.__table__.insert(), rows[start : start + 5000])
    row = db.session.get(SpamModel, _MODEL_ID) or SpamModel(id=_MODEL_ID)
    row.kind, row.spam_examples, row.ham_examples = kind, spam_count, ham_count
    row.updated_at = utcnow()
    db.session.add(row)
    table = Comment.__table__
    for is_spam in (True, False):
        chosen = [comment_id for comment_id, flag in decided if flag is is_spam]
        for start in range(0, len(chosen), 1000):
            db.session.execute(
                table.update()
                .where(table.c.id.in_(chosen[start : start + 1000]))
                .values(spam_label="spam" if is_spam else "ham"),
                execution_options={"page_cache_keys": ()},  # nothing a reader sees
            )
    db.session.commit()
    return ModelState(kind, spam_count, ham_count)


def evaluate(folds: int = 10) -> dict[str, spam.Evaluation]:
    """Cross-validation over the site's own decisions: each learner as moderation alone
    trains it (one pass), and the logistic one as a retrain does."""
    decided = dict(_decided())
    labelled = [(sample, decided[i]) for i, sample in _samples(list(decided))]
    results = {
        f"{kind}, learned as decided": spam.cross_validate(make(), labelled, folds=folds)
        for kind, make in sorted(spam.MODELS.items())
    }
    results["logistic, retrained"] = spam.cross_validate(
        spam.LogisticRegression(), labelled, folds=folds, epochs=spam.RETRAIN_EPOCHS
    )
    return results


def model_size() -> int:
    return db.session.scalar(select(func.count()).select_from(SpamWeight)) or 0


# --- trust: who an author is, by more than a typed email ---------------------------------


def same_network(a: str, b: str) -> bool:
    """Whether two addresses share a network: the same /24 for IPv4, /48 for IPv6."""
    try:
        first, second = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    if first.version != second.version:
        return False
    prefix = 24 if first.version == 4 else 48
    return ipaddress.ip_network(f"{first}/{prefix}", strict=False) == ipaddress.ip_network(
        f"{second}/{prefix}", strict=False
    )

"""Comment moderation policy: pure values in, a decision and its reasons out.

Two questions, kept apart as django-contrib-comments keeps them:

* :func:`check_allowed` - may this comment be posted at all? If not, the reader is told why
  and nothing is stored.
* :func:`decide` - it is stored; is it approved, held, spam or trash, and why? The reasons are
  stored with the comment and shown in the moderation queue, so a moderator never has to guess.

Settings keep WordPress's option names, meanings and defaults, so a site owner's habits and an
import carry over. Nothing here touches Flask or the database: the comment service gathers the
facts (:class:`AuthorHistory`, :class:`PostContext`) and stores the result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "TRANSITIONS",
    "AuthorHistory",
    "CommentCandidate",
    "CommentStatus",
    "DEFAULT_LIMITS",
    "Decision",
    "DiscussionSettings",
    "Limits",
    "PostContext",
    "Refusal",
    "SpamVerdict",
    "can_transition",
    "check_allowed",
    "comments_closed_reason",
    "decide",
    "match_words",
    "parse_key_list",
]


class CommentStatus(StrEnum):
    """Where a stored comment stands; the value is what the database column holds."""

    PENDING = "pending"
    APPROVED = "approved"
    SPAM = "spam"
    TRASH = "trash"


# A moderator may move a comment from any status to any other (approve, unapprove, spam,
# not spam, trash, restore); moving to the same status is a mistake worth refusing, because
# every move writes a moderation-log row. Which status "restore" returns to is the service's.
TRANSITIONS: Mapping[CommentStatus, frozenset[CommentStatus]] = MappingProxyType(
    {src: frozenset(dst for dst in CommentStatus if dst is not src) for src in CommentStatus}
)


def can_transition(src: CommentStatus, dst: CommentStatus) -> bool:
    """Tell whether a moderator may move a comment from ``src`` to ``dst``."""
    return dst in TRANSITIONS[src]


# Most severe first: when several rules match, the comment gets the most severe status.
_SEVERITY: tuple[CommentStatus, ...] = (
    CommentStatus.TRASH,
    CommentStatus.SPAM,
    CommentStatus.PENDING,
    CommentStatus.APPROVED,
)

_TRUE_WORDS = frozenset({"1", "true", "on", "yes", "open"})
_FALSE_WORDS = frozenset({"0", "false", "off", "no", "closed", ""})
_KEY_LIST_FIELDS = frozenset({"moderation_keys", "disallowed_keys"})


def parse_key_list(value: str | Iterable[str]) -> tuple[str, ...]:
    """Turn WordPress's one-word-or-phrase-per-line text into a clean tuple.

    Lines are stripped, empty lines dropped (an empty key would match every comment) and
    repeats dropped case-insensitively, keeping the first spelling.
    """
    lines = value.splitlines() if isinstance(value, str) else value
    seen: set[str] = set()
    keys: list[str] = []
    for line in lines:
        key = line.strip()
        folded = key.casefold()
        if key and folded not in seen:
            seen.add(folded)
            keys.append(key)
    return tuple(keys)


def _parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError(f"{name} must be on or off, got {value!r}")


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} must be a whole number, got {value!r}")


@dataclass(frozen=True)
class DiscussionSettings:
    """WordPress's Settings > Discussion, with WordPress's option names and defaults."""

    # default_comment_status: "Allow people to submit comments on new posts"
    default_comment_status_open: bool = True
    # users must be registered and logged in to comment
    comment_registration: bool = False
    # "Comment author must fill out name and email"
    require_name_email: bool = True
    # automatically close comments on posts older than close_comments_days_old days
    close_comments_for_old_posts: bool = False
    close_comments_days_old: int = 14
    thread_comments: bool = True
    # 2..10
    thread_comments_depth: int = 5
    page_comments: bool = False
    comments_per_page: int = 50
    # "newest" | "oldest": which page is shown by default
    default_comments_page: str = "newest"
    # "asc" | "desc": "asc" shows older comments at the top of each page
    comment_order: str = "asc"
    # "Comment must be manually approved"
    comment_moderation: bool = False
    # "Comment author must have a previously approved comment"
    comment_previously_approved: bool = True
    # "Hold a comment in the queue if it contains N or more links"; 0 disables
    comment_max_links: int = 2
    # one word or phrase per line; a match holds the comment
    moderation_keys: tuple[str, ...] = ()
    # one word or phrase per line; a match sends the comment to the trash (WordPress 5.5+)
    disallowed_keys: tuple[str, ...] = ()
    show_avatars: bool = True
    # "gravatar" (as WordPress, the default) | "local": avatars made by the blog itself, so
    # readers' browsers ask Gravatar nothing (blog.avatars)
    avatar_source: str = "gravatar"
    # email the post author on a new comment
    comments_notify: bool = True
    # email moderators when a comment is held
    moderation_notify: bool = True
    # The spam filter (blog.spam): at or above spam_hold_percent a comment is held, at or
    # above spam_percent it goes to spam; it acts only once it has learned from
    # spam_min_decisions decisions of each kind (spam, not spam), and only adds its reason
    # before that.
    spam_hold_percent: int = 25
    spam_percent: int = 90
    spam_min_decisions: int = 50

    def __post_init__(self) -> None:
        # Normalise key lists however they were given, so equal settings compare equal and an
        # empty line can never match everything.
        for name in _KEY_LIST_FIELDS:
            object.__setattr__(self, name, parse_key_list(getattr(self, name)))

    @property
    def max_depth(self) -> int:
        """The depth to pass to ``blog.tree.build_tree``: 1 when threading is off."""
        return self.thread_comments_depth if self.thread_comments else 1

    def validate(self) -> list[str]:
        """Say, in words for the settings page, which values are out of range."""
        problems: list[str] = []

        def in_range(label: str, value: int, low: int, high: int, unit: str) -> None:
            if not low <= value <= high:
                problems.append(f"{label} must be between {low} and {high} {unit} (got {value}).")

        in_range("Thread depth", self.thread_comments_depth, 2, 10, "levels")
        in_range("Comments per page", self.comments_per_page, 1, 1000, "comments")
        in_range("Closing comments after", self.close_comments_days_old, 1, 36500, "days")
        in_range("Links before holding", self.comment_max_links, 0, 100, "links")
        in_range("Spam score to hold", self.spam_hold_percent, 1, 100, "%")
        in_range("Spam score for spam", self.spam_percent, 1, 100, "%")
        in_range("Decisions before the filter acts", self.spam_min_decisions, 0, 100_000, "")
        if self.spam_percent < self.spam_hold_percent:
            problems.append(
                "The spam score for spam must not be below the score to hold "
                f"({self.spam_percent}% < {self.spam_hold_percent}%)."
            )
        if self.default_comments_page not in ("newest", "oldest"):
            problems.append(
                'The default comments page must be "newest" or "oldest" '
                f"(got {self.default_comments_page!r})."
            )
        if self.avatar_source not in ("gravatar", "local"):
            problems.append(
                f'The avatar source must be "gravatar" or "local" (got {self.avatar_source!r}).'
            )
        if self.comment_order not in ("asc", "desc"):
            problems.append(f'Comment order must be "asc" or "desc" (got {self.comment_order!r}).')
        return problems

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> DiscussionSettings:
        """Build settings from stored or posted values, tolerating the usual spellings.

        Booleans accept "1"/"0", "true"/"false", "on"/"off", "yes"/"no"; numbers accept digit
        strings; key lists accept newline-separated text or a list. Missing keys keep their
        defaults and unknown keys are ignored (the options table holds other things too).
        WordPress's own ``default_comment_status`` ("open"/"closed") is understood as well.
        Raises ValueError for a value that cannot be read; ranges are ``validate()``'s job.
        """
        values: dict[str, object] = {}
        if "default_comment_status" in data:
            values["default_comment_status_open"] = _parse_bool(
                "default_comment_status", data["default_comment_status"]
            )
        for spec in fields(cls):
            if spec.name not in data:
                continue
            raw = data[spec.name]
            default = spec.default
            if spec.name in _KEY_LIST_FIELDS:
                if not isinstance(raw, str | Iterable):
                    raise ValueError(f"{spec.name} must be text, one entry a line")
                values[spec.name] = parse_key_list(raw)  # type: ignore[arg-type]
            elif isinstance(default, bool):
                values[spec.name] = _parse_bool(spec.name, raw)
            elif isinstance(default, int):
                values[spec.name] = _parse_int(spec.name, raw)
            else:
                values[spec.name] = str(raw).strip().lower()
        return cls(**values)  # type: ignore[arg-type]

    def to_mapping(self) -> dict[str, str]:
        """Flatten to strings for the options table; ``from_mapping`` reads it back."""
        result: dict[str, str] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool):
                result[spec.name] = "1" if value else "0"
            elif isinstance(value, tuple):
                result[spec.name] = "\n".join(value)
            else:
                result[spec.name] = str(value)
        return result


@dataclass(frozen=True)
class CommentCandidate:
    """What the reader sent, already through the form layer and the sanitizer."""

    content: str  # the raw text as typed
    author: str
    email: str
    url: str
    ip: str
    user_agent: str
    link_count: int  # links in the sanitized HTML, counted by the sanitizer
    parent_id: int | None = None
    # seconds between rendering the form and the POST (time trap); None when unknown
    seconds_to_fill: float | None = None
    # no form was shown and nobody is logged in (an anonymous API client): the time trap
    # has nothing to time, so such a comment waits for a moderator whatever else holds
    sent_without_form: bool = False
    # what the spam filter says; None when it has learned nothing yet
    spam: SpamVerdict | None = None


@dataclass(frozen=True)
class SpamVerdict:
    """The spam filter's score of a comment (0..1) and why, for the policy to act on."""

    probability: float
    explanation: str  # "spam score 0.97: 'subscribe', 'check out', 2 links to x.test"
    # spam and not-spam decisions it has learned from: it acts only past the setting
    spam_examples: int = 0
    ham_examples: int = 0


@dataclass(frozen=True)
class AuthorHistory:
    """What the database knows of this commenter: by email (case-insensitive), or by user."""

    approved_count: int = 0
    pending_count: int = 0
    spam_count: int = 0
    is_logged_in: bool = False
    # logged in and allowed to moderate this post (its author, a moderator, editor, admin)
    can_moderate: bool = False
    # since the last comment from the same IP or email; None when there is none
    seconds_since_last_comment: float | None = None
    # the same text already on this post from the same email or author
    has_identical_comment: bool = False
    # what ties this commenter to their approved comments beyond a typed email (which
    # anyone can type): "logged in", "email confirmed", "same email, name and network";
    # None when nothing does
    trust: str | None = None

    @property
    def is_moderator(self) -> bool:
        return self.is_logged_in and self.can_moderate


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {value!r}")


@dataclass(frozen=True)
class PostContext:
    """The facts about the post being commented on, with ``now`` injected for testability."""

    comments_open: bool
    published_at: datetime | None
    is_published: bool
    now: datetime
    # the parent exists, is approved and belongs to this post (the service checks)
    parent_ok: bool = True
    # depth of the parent comment (1 = top level); 0 for a top-level comment
    parent_depth: int = 0

    def __post_init__(self) -> None:
        # Comparing naive and aware datetimes raises deep inside a request; fail here instead.
        _require_aware("published_at", self.published_at)
        _require_aware("now", self.now)


@dataclass(frozen=True)
class Refusal:
    """Why a comment cannot be posted, in plain words telling the reader what to do."""

    field: str | None  # the CommentCandidate field it belongs to, or None for the whole form
    message: str
    # "flood" (too soon after the last comment; ``retry_after`` seconds to wait) or
    # "duplicate" (said already): WordPress answers those 429 and 409.
    kind: str = ""
    retry_after: int | None = None


@dataclass(frozen=True)
class Limits:
    """Deployment knobs that are not WordPress settings (config, not the options table)."""

    flood_seconds: int = 15  # COMMENT_FLOOD_SECONDS
    min_fill_seconds: int = 3  # COMMENT_MIN_FILL_SECONDS


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Decision:
    """The status a new comment gets and every reason for it, most severe first."""

    status: CommentStatus
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.reasons:
            raise ValueError("a decision needs at least one reason")


def comments_closing_at(
    published_at: datetime | None, settings: DiscussionSettings
) -> datetime | None:
    """When comments on a post published at ``published_at`` close by age, or None."""
    if not settings.close_comments_for_old_posts or published_at is None:
        return None
    return published_at + timedelta(days=settings.close_comments_days_old)


def comments_closed_reason(post: PostContext, settings: DiscussionSettings) -> str | None:
    """Say why comments are closed on this post, or None when they are open.

    Used by ``check_allowed`` and by the post page to hide the form. Closing by age follows
    WordPress's "close comments on posts older than N days", closed from the very moment
    ``published_at + N days`` is reached.
    """
    if not post.comments_open:
        return "Comments are closed."
    closing = comments_closing_at(post.published_at, settings)
    if closing is not None and closing <= post.now:
        days = settings.close_comments_days_old
        unit = "day" if days == 1 else "days"
        return f"Comments on this post closed {days} {unit} after publishing."
    return None


def check_allowed(
    candidate: CommentCandidate,
    history: AuthorHistory,
    post: PostContext,
    settings: DiscussionSettings,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Refusal]:
    """List why this comment may not be posted; an empty list means it may.

    A post that takes no comments at all gets a single whole-form refusal. Otherwise every
    problem is listed at once, so the reader fixes the form in one go. A reply deeper than the
    thread depth is allowed (it is shown flattened, as WordPress does). Lengths and malformed
    characters are the form layer's job.
    """
    if not post.is_published:
        return [Refusal(None, "This post is not published, so it cannot take comments yet.")]
    closed = comments_closed_reason(post, settings)
    if closed is not None:
        return [Refusal(None, closed)]
    if settings.comment_registration and not history.is_logged_in:
        return [Refusal(None, "You must log in to post a comment.")]

    refusals: list[Refusal] = []
    if settings.require_name_email and not history.is_logged_in:
        if not candidate.author.strip():
            refusals.append(Refusal("author", "Please enter your name."))
        if not candidate.email.strip():
            refusals.append(Refusal("email", "Please enter your email address."))
    if not candidate.content.strip():
        refusals.append(Refusal("content", "Please type your comment."))
    if candidate.parent_id and not post.parent_ok:
        refusals.append(Refusal(None, "You can only reply to a published comment on this post."))
    since = history.seconds_since_last_comment
    if since is not None and since < limits.flood_seconds and not history.is_moderator:
        wait = max(1, math.ceil(limits.flood_seconds - since))
        unit = "second" if wait == 1 else "seconds"
        refusals.append(
            Refusal(
                None,
                f"You are posting comments too quickly. Please wait {wait} {unit} and try again.",
                kind="flood",
                retry_after=wait,
            )
        )
    if history.has_identical_comment:
        refusals.append(
            Refusal(None, "It looks as though you have already said that.", kind="duplicate")
        )
    return refusals


def match_words(words: Iterable[str], fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """Find each word in each field, case-insensitively, as a substring (as WordPress does).

    Returns (word, field label) pairs in word order, then field order. Blank words are
    skipped, because an empty key would match every comment.
    """
    folded_fields = [(label, value.casefold()) for label, value in fields.items()]
    matches: list[tuple[str, str]] = []
    for word in parse_key_list(words):
        needle = word.casefold()
        matches.extend((word, label) for label, value in folded_fields if needle in value)
    return matches


def _labelled_fields(candidate: CommentCandidate) -> dict[str, str]:
    """The candidate's text fields under the names a moderator knows from the form."""
    return {
        "comment": candidate.content,
        "name": candidate.author,
        "email": candidate.email,
        "website": candidate.url,
        "IP address": candidate.ip,
        "browser": candidate.user_agent,
    }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else noun + 's'}"


def _history_hold_reason(history: AuthorHistory) -> str:
    who = "this account" if history.is_logged_in else "this email"
    if history.approved_count and history.trust is None:
        return (
            f"{_plural(history.approved_count, 'approved comment')} under this email, but not "
            "with this name from this network, and the email is not confirmed (anyone can "
            "type an email)"
        )
    if not history.pending_count and not history.spam_count:
        return f"first comment from {who}"
    earlier = []
    if history.pending_count:
        earlier.append(f"{history.pending_count} awaiting moderation")
    if history.spam_count:
        earlier.append(f"{history.spam_count} marked as spam")
    return f"no approved comment from {who} yet ({', '.join(earlier)})"


def decide(
    candidate: CommentCandidate,
    history: AuthorHistory,
    post: PostContext,
    settings: DiscussionSettings,
    limits: Limits = DEFAULT_LIMITS,
) -> Decision:
    """Give a comment that passed ``check_allowed`` its status and every reason for it.

    All matching rules are collected so the moderator sees everything, then the most severe
    status wins (trash > spam > pending > approved). Moderators of the post skip the rules,
    as in WordPress. ``post`` is accepted for rules that depend on the post; none does yet.
    """
    if history.is_moderator:
        return Decision(CommentStatus.APPROVED, ("posted by a moderator of this post",))

    found: list[tuple[CommentStatus, str]] = []
    labelled = _labelled_fields(candidate)
    for word, label in match_words(settings.disallowed_keys, labelled):
        found.append(
            (CommentStatus.TRASH, f"matched disallowed word '{word}' in the {label} field")
        )

    fill = candidate.seconds_to_fill
    if fill is not None and fill < limits.min_fill_seconds:
        found.append(
            (
                CommentStatus.SPAM,
                f"form sent {fill:.1f} s after the page loaded "
                f"(less than {limits.min_fill_seconds} s: likely a bot)",
            )
        )

    if candidate.sent_without_form and not history.is_logged_in:
        found.append(
            (CommentStatus.PENDING, "sent through the API without an account (no form to time)")
        )
    if settings.comment_moderation:
        found.append((CommentStatus.PENDING, "every comment must be approved manually (setting)"))
    max_links = settings.comment_max_links
    if max_links > 0 and candidate.link_count >= max_links:
        found.append(
            (
                CommentStatus.PENDING,
                f"{_plural(candidate.link_count, 'link')} (hold at {max_links})",
            )
        )
    for word, label in match_words(settings.moderation_keys, labelled):
        found.append(
            (CommentStatus.PENDING, f"matched moderation word '{word}' in the {label} field")
        )
    known = history.approved_count > 0 and history.trust is not None
    if settings.comment_previously_approved and not known:
        found.append((CommentStatus.PENDING, _history_hold_reason(history)))
    notes = _spam_rule(candidate.spam, settings, found)

    if not found:
        if settings.comment_previously_approved:
            reason = (
                f"author has {_plural(history.approved_count, 'approved comment')} "
                f"({history.trust})"
            )
        else:
            reason = "no rule held it"
        return Decision(CommentStatus.APPROVED, (reason, *notes))

    # sorted() is stable, so reasons of equal severity keep the order the rules ran in.
    found.sort(key=lambda pair: _SEVERITY.index(pair[0]))
    return Decision(found[0][0], (*(reason for _, reason in found), *notes))


def _spam_rule(
    verdict: SpamVerdict | None,
    settings: DiscussionSettings,
    found: list[tuple[CommentStatus, str]],
) -> tuple[str, ...]:
    """Act on the spam filter's score once it has learned enough; otherwise (or below the
    hold score) only say what it thinks. Returns the reasons that change nothing."""
    if verdict is None:
        return ()
    learned = min(verdict.spam_examples, verdict.ham_examples)
    if learned < settings.spam_min_decisions:
        return (
            f"{verdict.explanation} (not acted on: the filter acts once it has learned from "
            f"{settings.spam_min_decisions} spam and {settings.spam_min_decisions} good "
            f"comments; so far {verdict.spam_examples} and {verdict.ham_examples})",
        )
    percent = verdict.probability * 100
    if percent >= settings.spam_percent:
        found.append(
            (CommentStatus.SPAM, f"{verdict.explanation} (spam at {settings.spam_percent}%)")
        )
    elif percent >= settings.spam_hold_percent:
        found.append(
            (
                CommentStatus.PENDING,
                f"{verdict.explanation} (held at {settings.spam_hold_percent}%)",
            )
        )
    else:
        return (verdict.explanation,)
    return ()

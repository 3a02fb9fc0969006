"""Typed SQLAlchemy 2.0 models.

Models hold data and small derived properties only; what happens to them (publishing,
moderating, importing) lives in ``blog.services``.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    false,
    func,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blog.extensions import db
from blog.moderation import CommentStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend.

    SQLite has no time zones and hands back naive values; PostgreSQL returns aware ones in
    the session's zone. Both come out of here as aware UTC, and naive input is refused so a
    local time can never slip in unnoticed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """Store enums by value as plain strings (no native ENUM type to migrate)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Permission(enum.IntFlag):
    WRITE = enum.auto()  # create posts of one's own
    PUBLISH = enum.auto()  # publish/schedule one's own posts
    EDIT_OTHERS = enum.auto()  # edit and publish anyone's posts
    MODERATE = enum.auto()  # moderate every comment
    MANAGE_SETTINGS = enum.auto()
    MANAGE_USERS = enum.auto()


#: What each permission lets a user do, in plain words (the users page's legend of roles).
PERMISSION_WORDS: dict[Permission, str] = {
    Permission.WRITE: "write posts of their own",
    Permission.PUBLISH: "publish and schedule their own posts",
    Permission.EDIT_OTHERS: "edit and publish everyone's posts",
    Permission.MODERATE: "moderate every comment",
    Permission.MANAGE_SETTINGS: "change the site's settings",
    Permission.MANAGE_USERS: "manage users, API tokens, import, export and personal data",
}


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    AUTHOR = "author"
    MODERATOR = "moderator"
    SUBSCRIBER = "subscriber"

    @property
    def permissions(self) -> Permission:
        return ROLE_PERMISSIONS[self]


ROLE_PERMISSIONS: dict[Role, Permission] = {
    Role.ADMIN: Permission(sum(Permission)),
    Role.EDITOR: Permission.WRITE
    | Permission.PUBLISH
    | Permission.EDIT_OTHERS
    | Permission.MODERATE,
    Role.AUTHOR: Permission.WRITE | Permission.PUBLISH,
    Role.MODERATOR: Permission.MODERATE,
    Role.SUBSCRIBER: Permission(0),
}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    email: Mapped[str] = mapped_column(String(100), default="")
    display_name: Mapped[str] = mapped_column(String(250), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.SUBSCRIBER)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last successful login (None: never logged in yet).
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    posts: Mapped[list[Post]] = relationship(back_populates="author")

    #: The token of the login this request runs in (not stored: ``UserSession`` keeps its
    #: hash). Flask-Login puts ``get_id()`` in the session and the remember-me cookie, so
    #: both die with the row.
    session_token = None  # a plain attribute, set per request (str)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: which user, and which of their logins
        return f"{self.id}:{self.session_token}"

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def can(self, permission: Permission) -> bool:
        return bool(self.role.permissions & permission) and self.active

    def can_edit_post(self, post: Post) -> bool:
        if self.can(Permission.EDIT_OTHERS):
            return True
        return self.can(Permission.WRITE) and post.author_id == self.id

    def can_moderate_post(self, post: Post) -> bool:
        """Moderators moderate every comment; authors the comments on their own posts."""
        if self.can(Permission.MODERATE):
            return True
        return self.can(Permission.WRITE) and post.author_id == self.id


class UserSession(db.Model):
    """One login of a user (a browser); only the SHA-256 of its token is stored. Logging out
    deletes it, so a copy of the old session or remember-me cookie no longer works."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship()


class PasswordLink(db.Model):
    """A one-time link to set a password, made by an admin (a reset, or a new account with
    no password typed). Only the SHA-256 of its token is stored; it works once, until
    ``expires_at`` (``PASSWORD_LINK_HOURS``), and a newer link for the user replaces it."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class LoginThrottle(db.Model):
    """Failed logins per address (``ip:...``) and per account (``user:...``), in the database
    so every process sees the same counts (blog.services.throttle)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(db.Model):
    """An API token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100), default="")  # what it is for
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"  # written, waiting for an editor (WordPress's "Pending Review")
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    PRIVATE = "private"  # out, but only for those who may edit it (WordPress's "Private")
    TRASH = "trash"


class BodyFormat(enum.StrEnum):
    """What a post's ``body`` is written in: Markdown from our editor, or HTML as WordPress
    stores it (an import), where blank lines make paragraphs as WordPress's wpautop does."""

    MARKDOWN = "markdown"
    HTML = "html"


class PostType(enum.StrEnum):
    POST = "post"
    PAGE = "page"


post_tags = Table(
    "post_tags",
    db.Model.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)

post_categories = Table(
    "post_categories",
    db.Model.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), nullable=True, index=True
    )

    parent: Mapped[Category | None] = relationship(remote_side=[id])

    def ancestry(self) -> list[Category]:
        """This category and its parents, root first (guarded against cycles)."""
        chain: list[Category] = []
        node: Category | None = self
        while node is not None and node not in chain:
            chain.append(node)
            node = node.parent
        return list(reversed(chain))


class Post(db.Model):
    __tablename__ = "posts"
    __table_args__ = (
        # Front page, archives and feeds: visible posts of a type, newest first.
        Index("ix_posts_type_status_published", "type", "status", "published_at"),
        Index("ix_posts_author_published", "author_id", "published_at"),
        # The admin's posts list: the last edited first, everyone's or one author's.
        Index("ix_posts_updated", "updated_at", "id"),
        Index("ix_posts_author_updated", "author_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[PostType] = mapped_column(_enum(PostType, "post_type"), default=PostType.POST)
    title: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")  # as the author typed it
    body_format: Mapped[BodyFormat] = mapped_column(
        _enum(BodyFormat, "body_format"), default=BodyFormat.MARKDOWN, server_default="markdown"
    )
    body_html: Mapped[str] = mapped_column(Text, default="")  # rendered and cleaned on save
    excerpt: Mapped[str] = mapped_column(Text, default="")
    # The excerpt is the whole post (a short post of paragraphs): lists show the post itself,
    # with no "Continue reading" that leads nowhere new.
    excerpt_is_whole: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[PostStatus] = mapped_column(
        _enum(PostStatus, "post_status"), default=PostStatus.DRAFT
    )
    # Where a trashed post goes back to on restore.
    status_before_trash: Mapped[PostStatus | None] = mapped_column(
        _enum(PostStatus, "post_status"), nullable=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    comments_open: Mapped[bool] = mapped_column(Boolean, default=True)
    sticky: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Comments by status, kept by the comment services in the transaction that moves them,
    # so lists and the queue's tabs need no count query. comment_count is the approved ones.
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    pending_count: Mapped[int] = mapped_column(Integer, default=0)
    spam_count: Mapped[int] = mapped_column(Integer, default=0)
    trash_count: Mapped[int] = mapped_column(Integer, default=0)

    author: Mapped[User] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, order_by=Tag.name)
    categories: Mapped[list[Category]] = relationship(
        secondary=post_categories, order_by=Category.name
    )

    @classmethod
    def visible_clause(cls, now: datetime) -> Any:
        """Published, or scheduled and due: a scheduled post appears by itself on time."""
        return and_(
            or_(cls.status == PostStatus.PUBLISHED, cls.status == PostStatus.SCHEDULED),
            cls.published_at.is_not(None),
            cls.published_at <= now,
        )

    def is_visible(self, now: datetime | None = None) -> bool:
        return is_visible(self.status, self.published_at, now)

    @property
    def effective_status(self) -> PostStatus:
        """What a reader sees: a scheduled post that is due counts as published."""
        if self.status == PostStatus.SCHEDULED and self.is_visible():
            return PostStatus.PUBLISHED
        return self.status

    @classmethod
    def has_effective_status(cls, status: PostStatus, now: datetime) -> Any:
        """``effective_status == status`` in SQL: the one definition lists, tabs and counts
        share with the badge on each row."""
        due = and_(cls.status == PostStatus.SCHEDULED, cls.published_at <= now)
        if status == PostStatus.PUBLISHED:
            return or_(cls.status == PostStatus.PUBLISHED, due)
        if status == PostStatus.SCHEDULED:
            return and_(cls.status == PostStatus.SCHEDULED, ~due)
        return cls.status == status


def is_visible(status: PostStatus, published_at: datetime | None, now: datetime | None) -> bool:
    """Published, or scheduled and due (``Post.visible_clause`` in Python)."""
    return (
        status in (PostStatus.PUBLISHED, PostStatus.SCHEDULED)
        and published_at is not None
        and published_at <= (now or utcnow())
    )


class PostRevision(db.Model):
    """A post's title, body and excerpt as saved at one time (``revision``), or as typed
    and not saved yet (``autosave``: one per post and person, replaced every 30 s)."""

    __tablename__ = "post_revisions"
    __table_args__ = (
        Index("ix_post_revisions_post_kind_created", "post_id", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="revision")
    title: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    excerpt: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship()


class SlugRedirect(db.Model):
    """An old slug of a post, answered with a 301 to the post's current address."""

    __tablename__ = "slug_redirects"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_slug: Mapped[str] = mapped_column(String(200), unique=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)

    post: Mapped[Post] = relationship()


class LegacyLink(db.Model):
    """An address a post had on the site it was imported from (its WordPress permalink's
    path), answered with a 301 to the post's address here."""

    __tablename__ = "legacy_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)  # decoded, no trailing /
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)


class ImportedItem(db.Model):
    """What an import brought in, by its id on the site it came from, so that importing the
    same export again adds nothing, and ``?p=ID`` links of the old site find their post."""

    __tablename__ = "imported_items"
    __table_args__ = (
        UniqueConstraint("source", "kind", "source_id"),
        Index("ix_imported_items_kind_source_id", "kind", "source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(300))  # the exporting site's base URL
    kind: Mapped[str] = mapped_column(String(20))  # author, category, tag, post, media, comment
    source_id: Mapped[str] = mapped_column(String(200))
    local_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Media(db.Model):
    """A file that belongs to the blog: an upload, or an import's attachment known only by
    the URL the old site serves it at (nothing is downloaded during an import)."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    original_url: Mapped[str] = mapped_column(String(2000), default="")
    # Where the file is kept in the upload storage; "" when only ``original_url`` is known.
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    uploader_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comment(db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        # The post page: one query for a post's approved comments in order.
        Index("ix_comments_post_status_created", "post_id", "status", "created_at"),
        # A page of a post's threads (comment paging): its top-level comments in order
        # (thread_id IS NULL), counted and cut into pages from this index alone...
        Index("ix_comments_post_threads", "post_id", "status", "thread_id", "created_at", "id"),
        # ...and the replies in those threads.
        Index("ix_comments_thread_status", "thread_id", "status"),
        # The moderation queue: a status tab, newest first.
        Index("ix_comments_status_created", "status", "created_at"),
        # A commenter's history by IP (the flood rule); by email: ix_comments_email_lower below.
        Index("ix_comments_ip_created", "ip", "created_at"),
        # The duplicate check: the same text on the same post.
        Index("ix_comments_post_content_hash", "post_id", "content_hash"),
        # The queue sorted by spam score within a status tab.
        Index("ix_comments_status_spam_score", "status", "spam_score"),
        # The queue's All tab: every status, newest first.
        Index("ix_comments_created_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The top-level comment of the thread this one is shown in; None when it is shown at the
    # top level itself (no parent, or a parent that is not approved). For a comment that is
    # not approved: where it would be shown once approved. Kept by blog.services.threads.
    thread_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    author: Mapped[str] = mapped_column(String(245), default="")
    email: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[str] = mapped_column(Text)  # the raw text the commenter typed
    content_html: Mapped[str] = mapped_column(Text)  # made from it once, by blog.sanitize
    # SHA-256 of ``content``: the duplicate check looks it up instead of comparing texts.
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    # SHA-256 of the trimmed, lower-cased email: the avatar's address, computed on write.
    avatar_hash: Mapped[str] = mapped_column(String(64), default="")
    # The comment as the post page shows it (blog.fragments), rendered on write; the key
    # names the version and display settings it was rendered with (a stale key re-renders).
    fragment_html: Mapped[str] = mapped_column(Text, default="")
    fragment_key: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[CommentStatus] = mapped_column(
        _enum(CommentStatus, "comment_status"), default=CommentStatus.PENDING
    )
    # Why the policy (or a moderator) put it where it is; shown in the queue.
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    type: Mapped[str] = mapped_column(String(20), default="comment")  # pingback, trackback
    notify_on_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # "Notify me of replies": mailed only once the email is confirmed (ConfirmedEmail).
    notify_replies: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The spam filter's score when the comment came in (0..1), None before it had a model.
    spam_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # What the filter last learned from this comment ("spam" or "ham"), None if nothing:
    # a decision that changes it teaches the filter again; one that does not, not twice.
    spam_label: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    post: Mapped[Post] = relationship()
    parent: Mapped[Comment | None] = relationship(remote_side=[id])
    user: Mapped[User | None] = relationship()


# A commenter's history by email, compared case-insensitively (previously approved, flood,
# the queue's author column). An expression index, so it is declared once the column exists.
Index("ix_comments_email_lower", func.lower(Comment.email), Comment.status, Comment.created_at)


class CommentTally(db.Model):
    """How many comments each status holds, kept with every move: the queue's tab counts
    without counting a table of a million rows on every request."""

    __tablename__ = "comment_tallies"

    status: Mapped[CommentStatus] = mapped_column(
        _enum(CommentStatus, "comment_status"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer, default=0)


class SpamWeight(db.Model):
    """The spam filter's model (``blog.spam``): two numbers per hashed feature bucket, only
    for buckets a comment has touched, at most ``blog.spam.BUCKETS`` rows; bucket -1 holds
    the model's own (bias, class totals). What the numbers mean is the learner's."""

    __tablename__ = "spam_weights"

    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first: Mapped[float] = mapped_column(Float, default=0.0)
    second: Mapped[float] = mapped_column(Float, default=0.0)


class SpamModel(db.Model):
    """Which learner the weights belong to, and how many decisions of each kind it has
    learned from (it acts on its own only past a setting's worth of each)."""

    __tablename__ = "spam_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    spam_examples: Mapped[int] = mapped_column(Integer, default=0)
    ham_examples: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConfirmedEmail(db.Model):
    """An email whose owner followed a link we mailed to it (double opt-in): a commenter
    known by more than a typed address, and one who may be mailed replies."""

    __tablename__ = "confirmed_emails"

    email: Mapped[str] = mapped_column(String(100), primary_key=True)  # lower-cased
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CacheVersion(db.Model):
    """A generation number per cache key (``site``, ``comments``, ``post:ID``), bumped in the
    transaction of every write that changes what the key covers (blog.pagecache)."""

    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class ModerationLog(db.Model):
    """Every status change of a comment: who, when, from, to and why."""

    __tablename__ = "moderation_log"
    __table_args__ = (
        # The log page's filters, each newest first.
        Index("ix_moderation_log_actor_created", "actor_id", "created_at"),
        Index("ix_moderation_log_action_created", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[CommentStatus | None] = mapped_column(
        _enum(CommentStatus, "comment_status"), nullable=True
    )
    to_status: Mapped[CommentStatus | None] = mapped_column(
        _enum(CommentStatus, "comment_status"), nullable=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)

    actor: Mapped[User | None] = relationship()
    comment: Mapped[Comment | None] = relationship()


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt (next_at)
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    DEAD = "dead"  # gave up after OUTBOX_MAX_ATTEMPTS; "retry now" in the admin


class OutboxMessage(db.Model):
    """A side effect to deliver (today: one email), written in the same transaction as the
    change that causes it, delivered afterwards by a worker (blog.services.outbox)."""

    __tablename__ = "outbox"
    __table_args__ = (
        # What a worker asks for: the due messages, oldest first.
        Index("ix_outbox_status_next_at", "status", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="mail")
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A site name (200) and a post title (300) fit with the words around them.
    subject: Mapped[str] = mapped_column(String(600), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Setting(db.Model):
    """Site settings a site owner changes in the admin (discussion, whitelist, ...)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")

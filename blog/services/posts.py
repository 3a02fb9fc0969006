"""Posts and pages: writing, publishing, scheduling, trashing, and the reads pages make."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, and_, bindparam, false, func, literal, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from blog.extensions import db
from blog.models import (
    ROLE_PERMISSIONS,
    BodyFormat,
    Category,
    ImportedItem,
    LegacyLink,
    Permission,
    Post,
    PostRevision,
    PostStatus,
    PostType,
    SlugRedirect,
    Tag,
    User,
    is_visible,
    post_categories,
    post_tags,
    utcnow,
)
from blog.sanitize import excerpt, render_markdown_job, render_wordpress_html, summary
from blog.services import Forbidden, ServiceError, revisions
from blog.services import media as media_service
from blog.sqlutil import Prepared
from blog.text import bad_characters, like_pattern, markdown_nesting
from blog.timebox import TimeBox, TimedOut, TooDeep

TITLE_MAX = 300
SLUG_MAX = 200
BODY_MAX = 1_000_000
EXCERPT_MAX = 2000
EXCERPT_WORDS_CHARS = 300
# Beyond any real blog; keeps a page number from overflowing the database's OFFSET.
MAX_PAGE = 1_000_000
# Paths the catch-all /<slug>/ must never take.
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "login",
        "logout",
        "static",
        "feed",
        "comments",
        "tag",
        "category",
        "author",
        "page",
        "search",
        "archives",
        "wp-admin",
    }
)


# Latin letters Unicode does not decompose, folded the way WordPress's remove_accents does.
_LATIN_FOLDS = str.maketrans(
    {
        "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
        "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ł": "l", "Ł": "l",
        "ħ": "h", "Ħ": "h", "ı": "i", "ŀ": "l", "Ŀ": "l", "ĸ": "k", "ŉ": "n",
    }
)  # fmt: skip


def _fold(char: str) -> str:
    """A Latin letter with marks (é, ǅ, ﬁ, fullwidth Ａ) -> ASCII; any other as it is.

    Only when the whole result is ASCII: stripping marks from other scripts would change
    their words (データ is not テータ, नमस्ते is not नमसत).
    """
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base if base and base.isascii() else char


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """A URL slug: accents folded, lower case, words joined by hyphens.

    Letters outside Latin (Cyrillic, CJK...) are kept, as WordPress does; browsers show them.
    Marks that belong to a letter (Indic vowel signs, Hebrew points) stay with it.
    """
    text = unicodedata.normalize("NFC", text).translate(_LATIN_FOLDS)
    folded = "".join(_fold(char) for char in text).lower()
    chars: list[str] = []
    for char in folded:
        if char.isalnum():
            chars.append(char)
        elif unicodedata.category(char).startswith("M") and chars and chars[-1] != "-":
            chars.append(char)
        else:
            chars.append("-")
    slug = unicodedata.normalize("NFC", re.sub(r"-{2,}", "-", "".join(chars)).strip("-"))
    if len(slug) > max_length:
        cut = slug[:max_length]
        if slug[max_length] != "-" and "-" in cut:
            cut = cut.rsplit("-", 1)[0]  # end on a whole word when there is one
        slug = cut.rstrip("-")
    return slug


def _slug_taken(slug: str, post_id: int | None) -> bool:
    if slug in RESERVED_SLUGS or slug.isdigit():
        return True
    owner = db.session.scalar(select(Post.id).where(Post.slug == slug))
    if owner is not None and owner != post_id:
        return True
    redirect = db.session.scalar(select(SlugRedirect.post_id).where(SlugRedirect.old_slug == slug))
    return redirect is not None and redirect != post_id


def unique_slug(wanted: str, post_id: int | None = None) -> str:
    base = slugify(wanted) or "post"
    candidate, n = base, 2
    while _slug_taken(candidate, post_id):
        suffix = f"-{n}"
        candidate = base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
        n += 1
    return candidate


@dataclass
class PostInput:
    """What the editor form, the API and the CLI send; validated by ``_validate``."""

    title: str
    body: str = ""
    slug: str = ""
    excerpt: str = ""
    tags: Sequence[str] = ()
    categories: Sequence[str] = ()
    comments_open: bool | None = None
    type: PostType = PostType.POST
    published_at: datetime | None = None  # aware; a future time schedules the post


def _validate(data: PostInput) -> None:
    fields = {"title": data.title, "body": data.body, "slug": data.slug, "excerpt": data.excerpt}
    fields.update({"tags": " ".join(data.tags), "categories": " ".join(data.categories)})
    for name, value in fields.items():
        problem = bad_characters(value)
        if problem:
            label = name.capitalize()
            raise ServiceError(f"{label} {problem}; please remove it.", field=name)
    title = data.title.strip()
    if not title:
        raise ServiceError("Give the post a title.", field="title")
    if len(title) > TITLE_MAX:
        raise ServiceError(
            f"The title is {len(title)} characters; the limit is {TITLE_MAX}.", field="title"
        )
    if len(data.body) > BODY_MAX:
        raise ServiceError(
            f"The body is {len(data.body):,} characters; the limit is {BODY_MAX:,}.", field="body"
        )
    if data.slug and not slugify(data.slug):
        raise ServiceError("The slug needs at least one letter or digit.", field="slug")
    if data.published_at is not None and data.published_at.tzinfo is None:
        raise ServiceError("The publish time needs a time zone.", field="published_at")


def _tags(names: Sequence[str]) -> list[Tag]:
    result: list[Tag] = []
    for name in names:
        name = name.strip()
        slug = slugify(name)
        if not slug or any(t.slug == slug for t in result):
            continue
        tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
        if tag is None:
            tag = Tag(name=name, slug=slug)
            db.session.add(tag)
        result.append(tag)
    return result


def _categories(names: Sequence[str]) -> list[Category]:
    """Categories by name or "Parent/Child" path; missing ones are created. A name given
    twice ("Bar" and "bar", "Foo/Foo") is one category, not two with one slug."""
    result: list[Category] = []
    seen: dict[str, Category] = {}
    for path in names:
        parent: Category | None = None
        for name in [part.strip() for part in path.split("/") if part.strip()]:
            slug = slugify(name)
            if not slug or (parent is not None and parent.slug == slug):
                continue
            category = seen.get(slug) or db.session.scalar(
                select(Category).where(Category.slug == slug)
            )
            if category is None:
                category = Category(name=name, slug=slug, parent=parent)
                db.session.add(category)
            seen[slug] = category
            parent = category
        if parent is not None and parent not in result:
            result.append(parent)
    return result


def automatic_excerpt(body_html: str) -> str:
    return summary(body_html, limit=EXCERPT_WORDS_CHARS)


def set_excerpt(post: Post, typed: str) -> None:
    """The excerpt the author typed, else the automatic one; and whether it is the whole
    post (only an automatic one can be)."""
    typed = typed.strip()
    if typed:
        post.excerpt, post.excerpt_is_whole = typed, False
    else:
        post.excerpt, post.excerpt_is_whole = excerpt(post.body_html, EXCERPT_WORDS_CHARS)


_renderers: dict[float, TimeBox] = {}

#: Levels of lists and quotes a Markdown body may nest. Python-Markdown recurses per level
#: and runs out of stack between 200 and 300 (after a second or more of work); this is read
#: before rendering, so a deeper body is refused at once and the same way on every machine.
MARKDOWN_MAX_NESTING = 100

_TOO_DEEP = (
    "The body nests lists or quotes too deeply to render (at most {limit} levels), so it "
    "cannot be previewed or saved as it is. Flatten it and try again."
)


def render_body(body: str, body_format: BodyFormat | str = BodyFormat.MARKDOWN) -> str:
    """A post's body as clean HTML. HTML bodies (imported from WordPress) go through the
    authors' whitelist with WordPress's paragraphs. Markdown is rendered within
    ``MARKDOWN_TIME_LIMIT`` seconds (a helper process does the work and is killed past it);
    ServiceError naming the limit otherwise.

    Every render of a post goes through here: saving, the API, the CLI and the preview the
    editor asks for as the author types, so no body can hold a worker.
    """
    if body_format == BodyFormat.HTML:
        return render_wordpress_html(body)
    seconds = float(current_app.config.get("MARKDOWN_TIME_LIMIT", 1.0))
    if markdown_nesting(body) > MARKDOWN_MAX_NESTING:
        raise ServiceError(_TOO_DEEP.format(limit=MARKDOWN_MAX_NESTING), field="body")
    box = _renderers.get(seconds)
    if box is None:
        box = _renderers[seconds] = TimeBox(render_markdown_job, seconds)
    # Uploaded images it shows get srcset/width/height now, on write: readers pay nothing.
    images = media_service.images_in(body)
    try:
        return box([body, images])
    except TimedOut:
        raise ServiceError(
            f"The body takes longer than {seconds:g} s to render (the limit), so it cannot be "
            "previewed or saved as it is. Long runs of unmatched [ or ( or of raw HTML are the "
            "usual cause: remove or escape them (\\[) and try again.",
            field="body",
        ) from None
    except TooDeep:
        raise ServiceError(_TOO_DEEP.format(limit=MARKDOWN_MAX_NESTING), field="body") from None


def render_unfocusable_code_again() -> int:
    """Render again the bodies stored before code blocks took the keyboard focus (the
    sanitizer now writes ``<pre tabindex="0">``; such a body still has a bare ``<pre>``),
    so a wide code block on an old post scrolls from the keyboard too. How many; run by
    ``bootstrap`` (``make run``) after an upgrade, a no-op once done. The page cache follows
    the changed rows by itself."""
    changed = 0
    for post in db.session.scalars(select(Post).where(Post.body_html.contains("<pre>"))):
        try:
            html = render_body(post.body, post.body_format or BodyFormat.MARKDOWN)
        except ServiceError:
            continue  # over today's limits: it stays as it was until its author edits it
        if html != post.body_html:
            post.body_html = html
            changed += 1
    db.session.commit()
    return changed


def custom_excerpt(post: Post) -> str:
    """The excerpt the author typed, or "" when it is the automatic one.

    The editor shows only a typed excerpt, so an automatic one keeps following the body
    instead of freezing into a custom excerpt on the next save.
    """
    return "" if post.excerpt == automatic_excerpt(post.body_html) else post.excerpt


def _apply(post: Post, data: PostInput) -> None:
    post.title = data.title.strip()
    post.body = data.body
    post.body_html = render_body(data.body, post.body_format or BodyFormat.MARKDOWN)
    set_excerpt(post, data.excerpt)
    post.type = data.type
    wanted = data.slug.strip() or (post.slug if post.id else post.title)
    new_slug = (
        slugify(wanted)
        if post.id and slugify(wanted) == post.slug
        else unique_slug(wanted, post.id)
    )
    if post.id and post.slug and new_slug != post.slug:
        # The old address keeps working as a 301.
        existing = db.session.scalar(select(SlugRedirect).where(SlugRedirect.old_slug == post.slug))
        if existing is None:
            db.session.add(SlugRedirect(old_slug=post.slug, post_id=post.id))
        stale = db.session.scalar(select(SlugRedirect).where(SlugRedirect.old_slug == new_slug))
        if stale is not None:
            db.session.delete(stale)
    post.slug = new_slug
    post.tags = _tags(data.tags)
    post.categories = _categories(data.categories)
    if data.comments_open is not None:
        post.comments_open = data.comments_open
    post.updated_at = utcnow()


def _check_can_write(user: User) -> None:
    if not user.can(Permission.WRITE):
        raise Forbidden("Your role cannot write posts.")


def _check_can_edit(user: User, post: Post) -> None:
    if not user.can_edit_post(post):
        raise Forbidden("You can only edit your own posts.")


def _set_publication(post: Post, user: User, action: str, when: datetime | None) -> None:
    """Move the post for one of the editor's buttons: draft, publish, schedule, update."""
    now = utcnow()
    if action == "draft":
        if post.status != PostStatus.TRASH:
            post.status = PostStatus.DRAFT
        post.published_at = when
        return
    if action == "update":
        if when is not None and post.status in (PostStatus.PUBLISHED, PostStatus.SCHEDULED):
            post.published_at = when
            post.status = PostStatus.SCHEDULED if when > now else PostStatus.PUBLISHED
        return
    if action not in ("publish", "schedule"):
        raise ServiceError(f"Unknown action {action!r}.")
    if not (user.can(Permission.PUBLISH) or user.can(Permission.EDIT_OTHERS)):
        raise Forbidden("Your role cannot publish; save a draft for an editor.")
    if action == "schedule":
        if when is None or when <= now:
            raise ServiceError(
                "Pick a publish time in the future to schedule.", field="published_at"
            )
        post.status, post.published_at = PostStatus.SCHEDULED, when
        return
    if when is not None and when > now:
        # As WordPress: publishing with a time in the future schedules the post.
        post.status, post.published_at = PostStatus.SCHEDULED, when
        return
    post.status = PostStatus.PUBLISHED
    post.published_at = when if when is not None else now


def create_post(author: User, data: PostInput, action: str = "draft") -> Post:
    _check_can_write(author)
    _validate(data)
    from blog.services.settings import discussion_settings

    comments_open = discussion_settings().default_comment_status_open
    with db.session.no_autoflush:
        post = Post(author=author, status=PostStatus.DRAFT, comments_open=comments_open)
        _apply(post, data)
        _set_publication(post, author, action, data.published_at)
    db.session.add(post)
    db.session.flush()
    revisions.record(post, author, data.excerpt.strip())
    db.session.commit()
    return post


def update_post(post: Post, editor: User, data: PostInput, action: str = "update") -> Post:
    _check_can_edit(editor, post)
    _validate(data)
    revisions.remember_before_first_edit(post, custom_excerpt(post))
    with db.session.no_autoflush:
        _apply(post, data)
        _set_publication(post, editor, action, data.published_at)
    revisions.record(post, editor, data.excerpt.strip())
    db.session.commit()
    return post


def input_from(post: Post) -> PostInput:
    """The post as the editor would send it back unchanged (its typed excerpt only)."""
    return PostInput(
        title=post.title,
        body=post.body,
        slug=post.slug,
        excerpt=custom_excerpt(post),
        tags=[tag.name for tag in post.tags],
        categories=["/".join(c.name for c in category.ancestry()) for category in post.categories],
        comments_open=post.comments_open,
        type=post.type,
    )


def restore_revision(post: Post, revision: PostRevision, user: User) -> Post:
    """Put a revision's title, body and excerpt back (itself a new revision: undoable)."""
    data = dataclasses.replace(
        input_from(post), title=revision.title, body=revision.body, excerpt=revision.excerpt
    )
    return update_post(post, user, data, "update")


def autosave(post: Post, user: User, title: str, body: str, excerpt: str) -> datetime:
    """Keep what the editor holds unsaved (checked like a save, but nothing is published
    or rendered): the time it was kept."""
    _check_can_edit(user, post)
    for name, value, limit in (
        ("title", title, TITLE_MAX),
        ("body", body, BODY_MAX),
        ("excerpt", excerpt, EXCERPT_MAX),
    ):
        problem = bad_characters(value)
        if problem:
            raise ServiceError(f"{name.capitalize()} {problem}; please remove it.", field=name)
        if len(value) > limit:
            raise ServiceError(
                f"The {name} is {len(value):,} characters; the limit is {limit:,}.", field=name
            )
    return revisions.store_autosave(post, user, title, body, excerpt)


def unpublish(post: Post, user: User) -> None:
    _check_can_edit(user, post)
    post.status = PostStatus.DRAFT
    post.updated_at = utcnow()
    db.session.commit()


def trash(post: Post, user: User) -> None:
    _check_can_edit(user, post)
    if post.status != PostStatus.TRASH:
        post.status_before_trash = post.status
        post.status = PostStatus.TRASH
        db.session.commit()


def restore(post: Post, user: User) -> None:
    _check_can_edit(user, post)
    if post.status == PostStatus.TRASH:
        # Restored posts come back as drafts unless they were published, as WordPress does.
        post.status = post.status_before_trash or PostStatus.DRAFT
        post.status_before_trash = None
        db.session.commit()


# --- reads -------------------------------------------------------------------------------


def visible_posts(post_type: PostType = PostType.POST) -> Select[tuple[Post]]:
    """Posts a reader may see, newest first, with what lists show loaded up front."""
    return (
        select(Post)
        .where(Post.visible_clause(utcnow()), Post.type == post_type)
        .options(selectinload(Post.author), selectinload(Post.tags), selectinload(Post.categories))
        .order_by(Post.published_at.desc(), Post.id.desc())
    )


def sticky_posts() -> list[Post]:
    """Visible sticky posts, newest first: the top of the front page's first page, as in
    WordPress (a handful at most, from the same index as the list)."""
    return list(db.session.scalars(visible_posts().where(Post.sticky.is_(True))))


def by_tag(query: Select[tuple[Post]], tag: Tag) -> Select[tuple[Post]]:
    return query.where(Post.tags.any(Tag.id == tag.id))


def by_category(query: Select[tuple[Post]], category: Category) -> Select[tuple[Post]]:
    """Posts in a category or any of its descendants, as WordPress's category archive."""
    ids = {category.id}
    frontier = {category.id}
    while frontier:
        children = set(
            db.session.scalars(select(Category.id).where(Category.parent_id.in_(frontier)))
        )
        frontier = children - ids
        ids |= children
    return query.where(Post.categories.any(Category.id.in_(ids)))


def by_author(query: Select[tuple[Post]], user: User) -> Select[tuple[Post]]:
    return query.where(Post.author_id == user.id)


def month_bounds(year: int, month: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month in the site's time zone, as UTC instants [start, end)."""
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def by_month(
    query: Select[tuple[Post]], year: int, month: int, tz: ZoneInfo
) -> Select[tuple[Post]]:
    start, end = month_bounds(year, month, tz)
    return query.where(Post.published_at >= start, Post.published_at < end)


def search(query: Select[tuple[Post]], terms: str) -> Select[tuple[Post]]:
    """Posts whose title or body holds ``terms`` literally (% and _ are not wildcards)."""
    if not terms:
        return query
    if bad_characters(terms):
        return query.where(false())  # no stored post holds a NUL or control character
    like = like_pattern(terms)
    return query.where(Post.title.ilike(like, escape="\\") | Post.body.ilike(like, escape="\\"))


@dataclass(frozen=True)
class Term:
    """A tag or category as a page links it."""

    name: str
    slug: str


@dataclass(frozen=True)
class Byline:
    username: str
    display_name: str

    @property
    def name(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True)
class PostPage:
    """A post as its public page shows it: read as plain rows, in two queries.

    The reader's page is the hottest path there is; loading ORM objects for the post, its
    author, tags and categories cost more than everything else on it. Attribute names are
    the model's, so templates and ``post_path`` take either.
    """

    id: int
    type: PostType
    status: PostStatus
    title: str
    slug: str
    body_html: str
    excerpt: str
    author_id: int
    author: Byline
    created_at: datetime
    published_at: datetime | None
    comments_open: bool
    comment_count: int
    tags: tuple[Term, ...]
    categories: tuple[Term, ...]

    def is_visible(self, now: datetime | None = None) -> bool:
        return is_visible(self.status, self.published_at, now)


# The reader's page runs these on every render; built once, here: on that path building a
# statement costs more than running it. Values travel as bind parameters.
_POST_PAGE = Prepared(
    select(
        Post.id,
        Post.type,
        Post.status,
        Post.title,
        Post.slug,
        Post.body_html,
        Post.excerpt,
        Post.author_id,
        Post.created_at,
        Post.published_at,
        Post.comments_open,
        Post.comment_count,
        User.username,
        User.display_name,
    )
    .join(User, User.id == Post.author_id)
    .where(Post.slug == bindparam("slug"))
)
_POST_TERMS = Prepared(
    union_all(
        select(literal("tag").label("kind"), Tag.name, Tag.slug)
        .join(post_tags, post_tags.c.tag_id == Tag.id)
        .where(post_tags.c.post_id == bindparam("post_id")),
        select(literal("category").label("kind"), Category.name, Category.slug)
        .join(post_categories, post_categories.c.category_id == Category.id)
        .where(post_categories.c.post_id == bindparam("post_id")),
    ).order_by("kind", "name")
)


def post_page(slug: str, with_terms: bool = True) -> PostPage | None:
    """The post or page at ``slug`` for its public page (visible or not: the view decides).
    Without ``with_terms`` its tags and categories are left empty (a comment POST shows
    the page only when it refuses the comment: ``with_terms`` then reads them)."""
    connection = db.session.connection()
    row = _POST_PAGE.first(connection, slug=slug)
    if row is None:
        return None
    tags, categories = _terms(connection, row.id) if with_terms else ((), ())
    return PostPage(
        id=row.id,
        type=row.type,
        status=row.status,
        title=row.title,
        slug=row.slug,
        body_html=row.body_html,
        excerpt=row.excerpt,
        author_id=row.author_id,
        author=Byline(row.username, row.display_name),
        created_at=row.created_at,
        published_at=row.published_at,
        comments_open=row.comments_open,
        comment_count=row.comment_count,
        tags=tags,
        categories=categories,
    )


def _terms(connection: Any, post_id: int) -> tuple[tuple[Term, ...], tuple[Term, ...]]:
    """A post's tags and categories, in one statement."""
    terms = _POST_TERMS.rows(connection, post_id=post_id)
    return (
        tuple(Term(t.name, t.slug) for t in terms if t.kind == "tag"),
        tuple(Term(t.name, t.slug) for t in terms if t.kind == "category"),
    )


def with_terms(post: PostPage) -> PostPage:
    """``post`` with its tags and categories read."""
    tags, categories = _terms(db.session.connection(), post.id)
    return dataclasses.replace(post, tags=tags, categories=categories)


def find_by_slug(slug: str) -> Post | None:
    return db.session.scalar(
        select(Post).where(Post.slug == slug).options(selectinload(Post.author))
    )


def redirect_target(slug: str) -> Post | None:
    return db.session.scalar(
        select(Post)
        .join(SlugRedirect, SlugRedirect.post_id == Post.id)
        .where(SlugRedirect.old_slug == slug)
    )


def by_legacy_path(path: str) -> Post | None:
    """The imported post that had this address on its old site."""
    path = path.rstrip("/")
    if not path or len(path) > 1000:
        return None
    return db.session.scalar(
        select(Post).join(LegacyLink, LegacyLink.post_id == Post.id).where(LegacyLink.path == path)
    )


def by_imported_id(wordpress_id: str) -> Post | None:
    """The post imported with this WordPress id (the most recent import, if several sites
    were imported: their ids overlap)."""
    if not wordpress_id.isdigit() or len(wordpress_id) > 20:
        return None
    local = db.session.scalar(
        select(ImportedItem.local_id)
        .where(ImportedItem.kind == "post", ImportedItem.source_id == wordpress_id)
        .order_by(ImportedItem.id.desc())
        .limit(1)
    )
    return db.session.get(Post, local) if local is not None else None


def latest_posts(limit: int) -> list[Post]:
    """The newest visible posts with their authors, in one query: the posts feed."""
    return list(
        db.session.scalars(
            select(Post)
            .where(Post.visible_clause(utcnow()), Post.type == PostType.POST)
            .options(joinedload(Post.author))
            .order_by(Post.published_at.desc(), Post.id.desc())
            .limit(limit)
        )
    )


def next_scheduled_at() -> datetime | None:
    """When the next scheduled post or page appears by itself (cached lists change then)."""
    return db.session.scalar(
        select(func.min(Post.published_at)).where(
            Post.type.in_(list(PostType)),
            Post.status == PostStatus.SCHEDULED,
            Post.published_at > utcnow(),
        )
    )


def _neighbour(older: bool) -> Select:
    at, post_id = bindparam("at"), bindparam("post_id")
    query = select(
        Post.id, Post.title, Post.slug, Post.type, Post.published_at, Post.created_at
    ).where(
        Post.visible_clause(bindparam("now")),
        Post.type == PostType.POST,
        Post.id != post_id,
    )
    if older:
        return (
            query.where(
                (Post.published_at < at) | ((Post.published_at == at) & (Post.id < post_id))
            )
            .order_by(Post.published_at.desc(), Post.id.desc())
            .limit(1)
        )
    return (
        query.where((Post.published_at > at) | ((Post.published_at == at) & (Post.id > post_id)))
        .order_by(Post.published_at.asc(), Post.id.asc())
        .limit(1)
    )


_older, _newer = (_neighbour(older).subquery() for older in (True, False))
_NEIGHBOURS = Prepared(
    union_all(
        select(literal(True).label("older"), _older),
        select(literal(False).label("older"), _newer),
    )
)


def neighbours(post: Post | PostPage) -> tuple[Any, Any]:
    """The previous (older) and next (newer) visible posts, as rows with what a link needs
    (``title`` and what ``post_path`` reads): one query for both."""
    if post.published_at is None or post.type != PostType.POST:
        return None, None
    rows = _NEIGHBOURS.rows(
        db.session.connection(), now=utcnow(), at=post.published_at, post_id=post.id
    )
    found = {bool(row.older): row for row in rows}
    return found.get(True), found.get(False)


def month_archive_list(tz: ZoneInfo, limit: int = 24) -> list[tuple[int, int, int]]:
    """(year, month, count) of visible posts, newest first, for the sidebar."""
    dates = db.session.scalars(
        select(Post.published_at).where(Post.visible_clause(utcnow()), Post.type == PostType.POST)
    )
    counts: dict[tuple[int, int], int] = {}
    for when in dates:
        local = when.astimezone(tz)
        counts[(local.year, local.month)] = counts.get((local.year, local.month), 0) + 1
    return [(y, m, c) for (y, m), c in sorted(counts.items(), reverse=True)][:limit]


@dataclass(frozen=True)
class PostFilter:
    """The admin's posts list: a status tab, a type, and what the filters ask for."""

    status: str | None = None
    post_type: str | None = None
    search: str = ""
    author_id: int | None = None
    tag: str | None = None  # a tag's slug
    category: str | None = None  # a category's slug (its subcategories count too)


def admin_posts(
    user: User, status: str | None, post_type: str | None = None, wanted: PostFilter | None = None
) -> Select[tuple[Post]]:
    """The posts ``user`` may edit (their own, or all for editors), the last edited first."""
    wanted = wanted or PostFilter()
    query = (
        select(Post)
        .options(selectinload(Post.author), selectinload(Post.tags), selectinload(Post.categories))
        .order_by(Post.updated_at.desc(), Post.id.desc())
    )
    if not user.can(Permission.EDIT_OTHERS):
        query = query.where(Post.author_id == user.id)
    if status:
        query = query.where(Post.has_effective_status(PostStatus(status), utcnow()))
    else:
        query = query.where(Post.status != PostStatus.TRASH)
    if post_type:
        query = query.where(Post.type == PostType(post_type))
    if wanted.author_id is not None:
        query = query.where(Post.author_id == wanted.author_id)
    if wanted.tag:
        tag = db.session.scalar(select(Tag).where(Tag.slug == wanted.tag))
        query = by_tag(query, tag) if tag is not None else query.where(false())
    if wanted.category:
        category = db.session.scalar(select(Category).where(Category.slug == wanted.category))
        query = by_category(query, category) if category is not None else query.where(false())
    return search(query, wanted.search.strip())


def post_authors() -> list[User]:
    """Who may write posts (the posts list's author filter): staff are few; subscribers,
    who may be many, are not read."""
    roles = [role for role, granted in ROLE_PERMISSIONS.items() if granted & Permission.WRITE]
    return list(
        db.session.scalars(select(User).where(User.role.in_(roles)).order_by(User.username))
    )


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.name)))


#: The posts list's bulk actions, as (value, label, what is said after).
BULK_ACTIONS = {
    "publish": ("Publish", "published"),
    "unpublish": ("Unpublish", "moved back to drafts"),
    "trash": ("Move to trash", "moved to the trash"),
    "restore": ("Restore", "restored"),
}


def publish_now(post: Post, user: User) -> None:
    """Publish a draft (or a post waiting for review) at once; a future date schedules it."""
    _check_can_edit(user, post)
    if post.status not in (PostStatus.DRAFT, PostStatus.PENDING):
        raise ServiceError("Only drafts and posts pending review can be published from here.")
    when = post.published_at if post.published_at and post.published_at > utcnow() else None
    _set_publication(post, user, "publish", when)
    post.updated_at = utcnow()
    db.session.commit()


def bulk(ids: Sequence[int], action: str, user: User) -> tuple[int, int]:
    """Do ``action`` to each post of ``ids`` it applies to: (changed, skipped). A post the
    user may not edit, or one already where the action would put it, is skipped."""
    if action not in BULK_ACTIONS:
        raise ServiceError(f"Unknown action {action!r}.")
    applies = {
        "publish": (PostStatus.DRAFT, PostStatus.PENDING),
        "unpublish": (PostStatus.PUBLISHED, PostStatus.SCHEDULED, PostStatus.PRIVATE),
        "trash": tuple(s for s in PostStatus if s != PostStatus.TRASH),
        "restore": (PostStatus.TRASH,),
    }[action]
    wanted = [i for i in ids if isinstance(i, int) and 0 < i < 2**31][:500]
    posts = list(db.session.scalars(select(Post).where(Post.id.in_(wanted)).order_by(Post.id)))
    changed = 0
    skipped = len(set(wanted)) - len(posts)  # gone meanwhile
    for post in posts:
        if not user.can_edit_post(post) or post.status not in applies:
            skipped += 1
            continue
        try:
            {"publish": publish_now, "unpublish": unpublish, "trash": trash, "restore": restore}[
                action
            ](post, user)
        except ServiceError:
            db.session.rollback()
            skipped += 1
        else:
            changed += 1
    return changed, skipped


def recent_drafts(user: User, limit: int = 5) -> list[Post]:
    """The user's own drafts, the last edited first (the dashboard's "your drafts")."""
    query = (
        select(Post)
        .where(Post.author_id == user.id, Post.status == PostStatus.DRAFT)
        .order_by(Post.updated_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def upcoming(user: User, limit: int = 5) -> list[Post]:
    """Scheduled posts not yet live, the soonest first (all of them for editors)."""
    query = (
        select(Post)
        .options(selectinload(Post.author))
        .where(
            # Every type, named so that the (type, status, published_at) index is used.
            Post.type.in_(tuple(PostType)),
            Post.status == PostStatus.SCHEDULED,
            Post.published_at > utcnow(),
        )
        .order_by(Post.published_at.asc(), Post.id.asc())
        .limit(limit)
    )
    if not user.can(Permission.EDIT_OTHERS):
        query = query.where(Post.author_id == user.id)
    return list(db.session.scalars(query))


def admin_status_counts(user: User) -> dict[str, int]:
    """Posts per status as readers see them (a scheduled post that is due is published):
    the same definition as the rows' badges and the tabs' lists."""
    due = and_(Post.status == PostStatus.SCHEDULED, Post.published_at <= utcnow())
    query = select(Post.status, due, func.count()).group_by(Post.status, due)
    if not user.can(Permission.EDIT_OTHERS):
        query = query.where(Post.author_id == user.id)
    counts = {s.value: 0 for s in PostStatus}
    for status, is_due, count in db.session.execute(query):
        effective = PostStatus.PUBLISHED if is_due else PostStatus(status)
        counts[effective.value] += count
    counts["all"] = sum(v for k, v in counts.items() if k != "trash")
    return counts

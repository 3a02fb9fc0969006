"""Moving in from WordPress: a WXR export read by ``blog.wxr``, stored in one transaction.

Everything in the file is untrusted and goes through the same doors as typed input: post
bodies through the authors' whitelist, comments through ``comments.import_comment`` (the
comment form's checks and sanitizer). A field over a limit is reported with its item and
the whole import is refused: nothing is cut, and nothing is half-imported.

Idempotent: what an import brings in is remembered by the exporting site and WordPress's
ids (``ImportedItem``), so the same file again adds nothing, and a later export of the same
site adds only what is new.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context
from sqlalchemy import select

from blog import wxr
from blog.extensions import db
from blog.models import (
    BodyFormat,
    Category,
    Comment,
    ImportedItem,
    LegacyLink,
    Media,
    Post,
    PostStatus,
    PostType,
    Role,
    Tag,
    User,
)
from blog.moderation import CommentStatus
from blog.services import ServiceError
from blog.services import comments as comment_service
from blog.services import posts as post_service
from blog.services import spam as spam_service
from blog.services.settings import comment_whitelist, site_settings
from blog.services.users import USERNAME_RE, find_user
from blog.templating import post_path
from blog.text import bad_characters

#: A password hash nothing verifies: an imported author signs in only once given one.
NO_PASSWORD = "!imported"  # noqa: S105 (not a password: a hash that matches none)

POST_STATUSES = {
    "publish": PostStatus.PUBLISHED,
    "future": PostStatus.SCHEDULED,
    "draft": PostStatus.DRAFT,
    "pending": PostStatus.PENDING,
    "private": PostStatus.PRIVATE,
    "trash": PostStatus.TRASH,
}
COMMENT_STATUSES = {
    "1": CommentStatus.APPROVED,
    "approve": CommentStatus.APPROVED,
    "0": CommentStatus.PENDING,
    "hold": CommentStatus.PENDING,
    "spam": CommentStatus.SPAM,
    "trash": CommentStatus.TRASH,
    "post-trashed": CommentStatus.TRASH,
}
COMMENT_TYPES = {
    "": "comment",
    "comment": "comment",
    "pingback": "pingback",
    "trackback": "trackback",
}
#: The problems listed before an import gives up reading on (the file is refused anyway).
MAX_PROBLEMS = 50


class ImportRefused(ServiceError):
    """Nothing was imported; ``problems`` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        super().__init__(
            "Nothing was imported:\n" + "\n".join(f"- {p}" for p in shown), field="file"
        )
        self.problems = problems


@dataclass
class ImportSummary:
    dry_run: bool = False
    source: str = ""
    posts: Counter[str] = field(default_factory=Counter)  # by status
    pages: Counter[str] = field(default_factory=Counter)
    comments: Counter[str] = field(default_factory=Counter)  # by status
    comment_types: Counter[str] = field(default_factory=Counter)
    authors_created: list[str] = field(default_factory=list)
    authors_matched: list[str] = field(default_factory=list)
    categories: int = 0
    tags: int = 0
    media: int = 0
    redirects: int = 0
    already_imported: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def counts(counter: Counter[str]) -> str:
            total = sum(counter.values())
            parts = ", ".join(f"{n} {k}" for k, n in sorted(counter.items()))
            return f"{total}" + (f" ({parts})" if parts else "")

        head = "Would import" if self.dry_run else "Imported"
        out = [
            f"{head} from {self.source or 'the file'}:",
            f"  posts: {counts(self.posts)}",
            f"  pages: {counts(self.pages)}",
            f"  comments: {counts(self.comments)}; by type: {counts(self.comment_types)}",
            f"  authors: {len(self.authors_created)} created"
            + (f" ({', '.join(self.authors_created)})" if self.authors_created else "")
            + f", {len(self.authors_matched)} matched to existing users"
            + (f" ({', '.join(self.authors_matched)})" if self.authors_matched else ""),
            f"  terms: {self.categories} categories, {self.tags} tags",
            f"  media: {self.media} (recorded with their original URLs; files not downloaded)",
            f"  old links redirected: {self.redirects}",
        ]
        if self.already_imported:
            out.append(
                f"  already imported before, left as they are: {counts(self.already_imported)}"
            )
        for reason, n in sorted(self.skipped.items()):
            out.append(f"  skipped {n}: {reason}")
        out.extend(f"  note: {note}" for note in self.notes)
        return out


def _wp_date(local: str, gmt: str, tz: ZoneInfo) -> datetime | None:
    """WordPress's GMT date, else its local one read in the site's time zone; None for the
    zero date WordPress writes for drafts ("0000-00-00 00:00:00")."""
    for value, zone in ((gmt, UTC), (local, tz)):
        if not value or value.startswith("0000-00-00"):
            continue
        try:
            return (
                datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
                .replace(tzinfo=zone)
                .astimezone(UTC)
            )
        except ValueError:
            continue
    return None


def _login(name: str) -> str:
    """A login as WordPress's importer reads it (``sanitize_user``, strict): real exports
    carry stray characters in ``dc:creator`` (">themereviewteam" in WordPress's own theme
    test data), and only letters, digits and `` _.-@`` name a user."""
    return re.sub(r"[^A-Za-z0-9 _.@-]", "", name).strip()


def _legacy_path(link: str) -> str | None:
    """The path of an old permalink, as requests arrive (decoded, no trailing slash); None
    for links a path cannot carry (``?p=1``: answered from the import map instead)."""
    parts = urllib.parse.urlsplit(link)
    if parts.query or not parts.path.strip("/"):
        return None
    return urllib.parse.unquote(parts.path).rstrip("/")


class _Importer:
    def __init__(self, author_map: Mapping[str, str], summary: ImportSummary) -> None:
        self.author_map = dict(author_map)
        self.summary = summary
        self.problems: list[str] = []
        self.source = ""
        self.tz = site_settings().tz
        self.whitelist = comment_whitelist()
        self.users: dict[str, User] = {}
        self.categories: dict[str, Category] = {}
        self.tags: dict[str, Tag] = {}
        self.pending_parents: list[tuple[Category, str]] = []
        self.media_parents: list[tuple[Media, str]] = []  # attached to the post of that id
        self.seen_posts: set[str] = set()
        self.known: dict[tuple[str, str], int] | None = None

    # --- the import map -----------------------------------------------------------------

    def _load_known(self) -> None:
        rows = db.session.execute(
            select(ImportedItem.kind, ImportedItem.source_id, ImportedItem.local_id).where(
                ImportedItem.source == self.source
            )
        )
        self.known = {(kind, source_id): local for kind, source_id, local in rows}

    def _known(self, kind: str, source_id: str) -> int | None:
        assert self.known is not None
        return self.known.get((kind, source_id))

    def _remember(self, kind: str, source_id: str, local_id: int) -> None:
        assert self.known is not None
        self.known[(kind, source_id)] = local_id
        db.session.add(
            ImportedItem(source=self.source, kind=kind, source_id=source_id, local_id=local_id)
        )

    def problem(self, message: str, line: int = 0, item: str = "") -> None:
        where = ", ".join(p for p in (f"line {line}" if line else "", item) if p)
        self.problems.append(f"{where}: {message}" if where else message)

    def _check(self, label: str, value: str, limit: int, line: int, item: str) -> bool:
        problem = bad_characters(value)
        if problem:
            self.problem(f"{label} {problem}", line, item)
            return False
        if len(value) > limit:
            self.problem(
                f"{label} is {len(value):,} characters; the limit is {limit:,} (nothing was cut)",
                line,
                item,
            )
            return False
        return True

    # --- records ------------------------------------------------------------------------

    def channel(self, channel: wxr.Channel) -> None:
        self.source = channel.source or "unknown"
        self.summary.source = self.source
        self._load_known()
        for old, new in self.author_map.items():
            user = find_user(new)
            if user is None:
                self.problem(f"--author-map {old}={new}: there is no user {new!r} here")
            else:
                self.users[old] = user

    def author(self, record: wxr.Author, line: int = 0) -> User | None:
        login = _login(record.login)
        if login in self.users:
            return self.users[login]
        if not login:
            self.problem("an author with no login", line or record.line)
            return None
        user = find_user(login)
        if user is not None:
            self.summary.authors_matched.append(login)
        else:
            if not USERNAME_RE.match(login):
                self.problem(
                    f"the author login {login!r} is not a username here (1 to 60 letters, "
                    "digits or _ . @ -); map it to an existing user with "
                    f"--author-map {login}=NAME",
                    line or record.line,
                )
                return None
            name = record.display_name or " ".join(
                p for p in (record.first_name, record.last_name) if p
            )
            if not (
                self._check("The author's email", record.email, 100, record.line, login)
                and self._check("The author's name", name, 250, record.line, login)
            ):
                return None
            user = User(
                username=login,
                email=record.email,
                display_name=name or login,
                role=Role.AUTHOR,
                password_hash=NO_PASSWORD,
            )
            db.session.add(user)
            db.session.flush()
            self.summary.authors_created.append(login)
        self.users[login] = user
        return user

    def term(self, record: wxr.Term) -> None:
        if record.taxonomy not in ("category", "post_tag"):
            self.summary.skipped[f"terms of taxonomy {record.taxonomy or '?'}"] += 1
            return
        self._term(
            record.taxonomy,
            record.slug,
            record.name,
            record.parent,
            record.description,
            record.line,
        )

    def _term(
        self,
        taxonomy: str,
        raw_slug: str,
        name: str,
        parent: str = "",
        description: str = "",
        line: int = 0,
    ) -> Category | Tag | None:
        slug = post_service.slugify(urllib.parse.unquote(raw_slug) or name)
        if not slug:
            self.problem(f"a term with no usable slug or name ({raw_slug!r})", line)
            return None
        known = self.categories if taxonomy == "category" else self.tags
        if slug in known:
            return known[slug]
        name = name.strip() or slug
        label = f"{taxonomy} {slug!r}"
        if not (
            self._check("The name", name, 200, line, label)
            and self._check("The description", description, 100_000, line, label)
        ):
            return None
        model = Category if taxonomy == "category" else Tag
        term = db.session.scalar(select(model).where(model.slug == slug))
        if term is None:
            term = model(name=name, slug=slug, description=description)
            db.session.add(term)
            if taxonomy == "category":
                self.summary.categories += 1
            else:
                self.summary.tags += 1
        known[slug] = term
        if taxonomy == "category" and parent:
            self.pending_parents.append((term, parent))
        return term

    def item(self, record: wxr.Item) -> None:
        kind = record.type or "post"
        label = record.label()
        if kind == "attachment":
            self._attachment(record)
            return
        if kind not in ("post", "page"):
            self.summary.skipped[f"items of type {kind} (not posts or pages)"] += 1
            return
        if record.status == "auto-draft":
            self.summary.skipped["auto-drafts (WordPress skips them too)"] += 1
            return
        status = POST_STATUSES.get(record.status or "publish")
        if status is None:
            self.problem(f"unknown status {record.status!r}", record.line, label)
            return
        if record.post_id in self.seen_posts:
            self.summary.skipped[
                "items repeating an earlier item's post_id (the first is kept)"
            ] += 1
            return
        self.seen_posts.add(record.post_id)
        local_id = self._known("post", record.post_id) if record.post_id else None
        post = db.session.get(Post, local_id) if local_id is not None else None
        if post is None:
            post = self._new_post(record, kind, status, label)
            if post is None:
                return
        else:
            self.summary.already_imported[kind + "s"] += 1
        self._comments(record, post, label)

    def _new_post(self, record: wxr.Item, kind: str, status: PostStatus, label: str) -> Post | None:
        author = self.users.get(record.creator) or self.users.get(_login(record.creator))
        if author is None:
            author = self.author(wxr.Author(login=record.creator or "admin"), record.line)
            if author is None:
                return None
        title = record.title.strip()
        if not title:
            title = "(no title)"
            self.summary.notes.append(
                f"{label} had no title: named '(no title)', as WordPress shows it"
            )
        if not (
            self._check("The title", title, post_service.TITLE_MAX, record.line, label)
            and self._check("The body", record.content, post_service.BODY_MAX, record.line, label)
            and self._check("The excerpt", record.excerpt, 100_000, record.line, label)
        ):
            return None
        if record.password:
            # There are no post passwords here: kept out of public view rather than shown.
            status = PostStatus.PRIVATE
            self.summary.notes.append(
                f"{label} was password-protected: imported as private "
                "(this blog has no post passwords)"
            )
        published_at = _wp_date(record.date, record.date_gmt, self.tz)
        written_at = published_at
        unpublished = not record.date_gmt or record.date_gmt.startswith("0000-00-00")
        if status in (PostStatus.DRAFT, PostStatus.PENDING) and unpublished:
            # WordPress's zero GMT date: never published; post_date is when it was written.
            published_at = None
        if (
            status in (PostStatus.PUBLISHED, PostStatus.SCHEDULED, PostStatus.PRIVATE)
            and published_at is None
        ):
            self.problem("a published or scheduled item without a date", record.line, label)
            return None
        body, body_format = record.content, BodyFormat.HTML
        markdown = record.meta.get(wxr.MARKDOWN_META)
        if markdown is not None:
            # Our own export: the HTML is for WordPress; the Markdown is what was written.
            if not self._check("The Markdown", markdown, post_service.BODY_MAX, record.line, label):
                return None
            body, body_format = markdown, BodyFormat.MARKDOWN
        try:
            body_html = post_service.render_body(body, body_format)
        except ServiceError as refused:
            self.problem(refused.message, record.line, label)
            return None
        wanted = urllib.parse.unquote(record.name) if record.name else title
        if status == PostStatus.TRASH:
            # WordPress renames a trashed post's slug to free it; restoring gives it back.
            wanted = record.meta.get("_wp_desired_post_slug") or wanted.removesuffix("__trashed")
        post = Post(
            type=PostType.PAGE if kind == "page" else PostType.POST,
            title=title,
            slug=post_service.unique_slug(wanted),
            body=body,
            body_format=body_format,
            body_html=body_html,

            status=status,
            author=author,
            created_at=written_at or datetime.now(UTC),
            updated_at=written_at or datetime.now(UTC),
            published_at=published_at,
            comments_open=record.comment_status != "closed",
            sticky=record.sticky == "1",
        )
        if status == PostStatus.TRASH:
            before = POST_STATUSES.get(
                record.meta.get("_wp_trash_meta_status", ""), PostStatus.DRAFT
            )
            post.status_before_trash = before if before != PostStatus.TRASH else PostStatus.DRAFT
        post_service.set_excerpt(post, record.excerpt)
        for term in record.terms:
            if term.taxonomy not in ("category", "post_tag"):
                continue
            found = self._term(term.taxonomy, term.slug, term.name, line=record.line)
            if isinstance(found, Category) and found not in post.categories:
                post.categories.append(found)
            elif isinstance(found, Tag) and found not in post.tags:
                post.tags.append(found)
        db.session.add(post)
        db.session.flush()
        if record.post_id:
            self._remember("post", record.post_id, post.id)
        path = _legacy_path(record.link)
        if path and path != post_path(post).rstrip("/"):
            taken = db.session.scalar(select(LegacyLink.id).where(LegacyLink.path == path))
            if taken is None:
                db.session.add(LegacyLink(path=path, post_id=post.id))
                self.summary.redirects += 1
        (self.summary.pages if kind == "page" else self.summary.posts)[status.value] += 1
        return post

    def _attachment(self, record: wxr.Item) -> None:
        if record.post_id and self._known("media", record.post_id) is not None:
            self.summary.already_imported["media"] += 1
            return
        url = record.attachment_url or record.guid
        label = record.label()
        if not (
            self._check("The attachment URL", url, 2000, record.line, label)
            and self._check("The title", record.title, 300, record.line, label)
        ):
            return
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])[:255]
        media = Media(
            title=record.title.strip(),
            filename=filename,
            original_url=url,
            created_at=_wp_date(record.date, record.date_gmt, self.tz) or datetime.now(UTC),
        )
        db.session.add(media)
        db.session.flush()
        if record.post_id:
            self._remember("media", record.post_id, media.id)
            if record.parent and record.parent != "0":
                self.media_parents.append((media, record.parent))
        self.summary.media += 1

    def _comments(self, record: wxr.Item, post: Post, label: str) -> None:
        by_id = {c.id: c for c in record.comments}
        done: dict[str, Comment] = {}
        order = sorted(record.comments, key=lambda c: int(c.id) if c.id.isdigit() else 0)

        def store(entry: wxr.Comment, chain: tuple[str, ...] = ()) -> Comment | None:
            if entry.id in done:
                return done[entry.id]
            where = f"comment {entry.id or '?'} on {label}"
            if entry.id and self._known("comment", entry.id) is not None:
                self.summary.already_imported["comments"] += 1
                existing = db.session.get(Comment, self._known("comment", entry.id))
                if existing is not None:
                    done[entry.id] = existing
                return existing
            kind = COMMENT_TYPES.get(entry.type)
            if kind is None:
                self.summary.skipped[f"comments of type {entry.type}"] += 1
                return None
            status = COMMENT_STATUSES.get(entry.approved)
            if status is None:
                self.problem(f"unknown comment status {entry.approved!r}", entry.line, where)
                return None
            parent = None
            if entry.parent and entry.parent != "0":
                if entry.parent in by_id and entry.parent not in chain and entry.parent != entry.id:
                    parent = store(by_id[entry.parent], (*chain, entry.id))
                elif self._known("comment", entry.parent) is not None:
                    parent = db.session.get(Comment, self._known("comment", entry.parent))
                else:
                    self.summary.notes.append(
                        f"{where} answers comment {entry.parent}, which is not in the "
                        "file: shown at the top level"
                    )
            data = comment_service.CommentInput(
                content=entry.content,
                author=entry.author,
                email=entry.email,
                url=entry.url,
                ip=entry.ip,
                user_agent=entry.user_agent,
            )
            created = (
                _wp_date(entry.date, entry.date_gmt, self.tz)
                or post.published_at
                or datetime.now(UTC)
            )
            try:
                comment = comment_service.import_comment(
                    post, data, status, created, self.whitelist, parent=parent, kind=kind
                )
            except comment_service.CommentRefused as refused:
                for refusal in refused.refusals:
                    self.problem(refusal.message, entry.line, where)
                return None
            done[entry.id] = comment
            if entry.id:
                self._remember("comment", entry.id, comment.id)
            self.summary.comments[status.value] += 1
            self.summary.comment_types[kind] += 1
            return comment

        for entry in order:
            store(entry)

    def finish(self) -> None:
        for category, parent_slug in self.pending_parents:
            slug = post_service.slugify(urllib.parse.unquote(parent_slug))
            parent = self.categories.get(slug) or db.session.scalar(
                select(Category).where(Category.slug == slug)
            )
            if parent is None:
                self.summary.notes.append(
                    f"category {category.slug!r} names a parent {parent_slug!r} that is not "
                    "in the file: kept at the top"
                )
            elif (
                parent is not category
                and category.parent_id is None
                and category not in parent.ancestry()
            ):
                category.parent = parent
        for media, parent_id in self.media_parents:
            local = self._known("post", parent_id)
            if local is not None:
                media.post_id = local


def import_file(
    path: Path,
    author_map: Mapping[str, str] | None = None,
    dry_run: bool = False,
    on_read: Callable[[int], None] = lambda n: None,
) -> ImportSummary:
    """Import a WXR export; all or nothing. Raises ImportRefused (nothing imported)."""
    summary = ImportSummary(dry_run=dry_run)
    importer = _Importer(author_map or {}, summary)
    max_bytes = int(current_app.config["WXR_MAX_BYTES"])
    session = db.session
    # Addresses are built with url_for, which the command line has no request for.
    addresses = nullcontext() if has_request_context() else current_app.test_request_context()
    try:
        with addresses, session.no_autoflush:
            for record in wxr.read(path, max_bytes, on_read):
                if isinstance(record, wxr.Channel):
                    importer.channel(record)
                elif importer.known is None:
                    importer.channel(wxr.Channel())
                if isinstance(record, wxr.Author):
                    importer.author(record)
                elif isinstance(record, wxr.Term):
                    importer.term(record)
                elif isinstance(record, wxr.Item):
                    importer.item(record)
                if len(importer.problems) >= MAX_PROBLEMS:
                    break
            importer.finish()
            session.flush()
    except wxr.WxrRefused as refused:
        session.rollback()
        raise ImportRefused([str(refused)]) from None
    except BaseException:
        session.rollback()
        raise
    if importer.problems:
        session.rollback()
        raise ImportRefused(importer.problems)
    if dry_run:
        session.rollback()
    else:
        session.commit()
        if summary.comments.get("spam") or summary.comments.get("approved"):
            # The old site's spam and approved comments are decisions its moderators made:
            # the spam filter learns all of them, in time order, with what it knew before.
            learned = spam_service.retrain()
            summary.notes.append(
                f"the spam filter learned from {learned.spam_examples} spam and "
                f"{learned.ham_examples} approved comments"
            )
    return summary


def summary_text(summary: ImportSummary) -> str:
    return "\n".join(summary.lines())

"""Tags and categories ("terms", as WordPress calls both): the admin's list with counts,
adding, renaming, changing a slug (the old archive address answers 301), describing,
setting a category's parent, merging one term into another, and deleting.

Every change here is made through the session or a statement on the terms' tables, so
``blog.pagecache.keys`` bumps the site's cache version in the same transaction: readers'
pages (archives, and posts, which show their terms) never show an old name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, insert, literal, or_, select
from sqlalchemy import update as update_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from blog.extensions import db
from blog.models import (
    Category,
    Post,
    PostStatus,
    Tag,
    TermRedirect,
    post_categories,
    post_tags,
)
from blog.services import NotFound, ServiceError
from blog.services.posts import slugify
from blog.text import bad_characters, like_pattern

Kind = Literal["tag", "category"]
Term = Tag | Category

NAME_MAX = 200  # the columns' length
SLUG_MAX = 200
DESCRIPTION_MAX = 5000
SEARCH_MAX = 200
PER_PAGE = 20
MAX_PAGE = 1_000_000

#: What the URLs and messages call each kind.
PLURAL = {"tag": "tags", "category": "categories"}
KIND_OF_PLURAL = {plural: kind for kind, plural in PLURAL.items()}


def model(kind: Kind) -> Any:
    return Tag if kind == "tag" else Category


def _links(kind: Kind) -> Any:
    """The post <-> term table, and its column naming the term."""
    if kind == "tag":
        return post_tags, post_tags.c.tag_id
    return post_categories, post_categories.c.category_id


def _redirect_column(kind: Kind) -> Any:
    return TermRedirect.tag_id if kind == "tag" else TermRedirect.category_id


def get(kind: Kind, term_id: int) -> Term:
    term = db.session.get(model(kind), term_id) if 0 < term_id < 2**31 else None
    if term is None:
        raise NotFound(f"No such {kind}: it may have been merged or deleted.")
    return term


def by_slug(kind: Kind, slug: str) -> Term | None:
    cls = model(kind)
    return db.session.scalar(select(cls).where(cls.slug == slug))


def by_slug_or_name(kind: Kind, value: str) -> Term | None:
    """A term as a person names it in a form: its slug, else its name (any case)."""
    value = value.strip()
    if not value:
        return None
    found = by_slug(kind, value) or by_slug(kind, slugify(value))
    if found is not None:
        return found
    cls = model(kind)
    return db.session.scalars(
        select(cls).where(func.lower(cls.name) == value.lower()).order_by(cls.id).limit(1)
    ).first()


def redirect_target(kind: Kind, slug: str) -> Term | None:
    """The term an old slug now belongs to (renamed, or merged into it), or None.

    Only asked when no term has ``slug`` now: a term that took an old slug wins."""
    column = _redirect_column(kind)
    term_id = db.session.scalar(
        select(column).where(TermRedirect.kind == kind, TermRedirect.old_slug == slug)
    )
    return db.session.get(model(kind), term_id) if term_id is not None else None


# --- the list -------------------------------------------------------------------------


@dataclass(frozen=True)
class TermRow:
    term: Term
    count: int  # posts and pages with the term, but those in the trash
    parent_name: str | None = None


@dataclass(frozen=True)
class TermPage:
    rows: list[TermRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def listing(kind: Kind, search: str = "", page: int = 1, per_page: int = PER_PAGE) -> TermPage:
    """A page of terms in name order, each with its post count, in one query (plus one
    counting the terms for the pager): the page's terms are picked first from the name
    index, then only their links are counted (GROUP BY), never the whole link table."""
    cls = model(kind)
    links, term_column = _links(kind)
    page = min(max(page, 1), MAX_PAGE)
    wanted = select(cls.id)
    search = search.strip()[:SEARCH_MAX]
    if search:
        pattern = like_pattern(search.lower())
        wanted = wanted.where(
            or_(
                func.lower(cls.name).like(pattern, escape="\\"),
                cls.slug.like(pattern, escape="\\"),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(wanted.subquery())) or 0
    shown = (
        wanted.order_by(cls.name, cls.id).limit(per_page).offset((page - 1) * per_page).subquery()
    )
    counts = (
        select(term_column.label("term_id"), func.count().label("n"))
        .join(Post, Post.id == links.c.post_id)
        .where(term_column.in_(select(shown.c.id)), Post.status != PostStatus.TRASH)
        .group_by(term_column)
        .subquery()
    )
    columns: list[Any] = [cls, func.coalesce(counts.c.n, 0)]
    query = select(*columns).join(shown, shown.c.id == cls.id)
    if kind == "category":
        parent = aliased(Category)
        query = query.add_columns(parent.name).outerjoin(parent, parent.id == Category.parent_id)
    query = query.outerjoin(counts, counts.c.term_id == cls.id).order_by(cls.name, cls.id)
    rows = [
        TermRow(term=row[0], count=int(row[1]), parent_name=row[2] if kind == "category" else None)
        for row in db.session.execute(query)
    ]
    return TermPage(rows=rows, total=total, page=page, per_page=per_page)


def post_count(kind: Kind, term: Term) -> int:
    links, term_column = _links(kind)
    return (
        db.session.scalar(
            select(func.count())
            .select_from(links)
            .join(Post, Post.id == links.c.post_id)
            .where(term_column == term.id, Post.status != PostStatus.TRASH)
        )
        or 0
    )


def category_paths() -> list[tuple[int, str]]:
    """Every category as (id, "Parent / Child" path), in path order, from one query: the
    parent picker. Parents are followed in Python (guarded against a cycle in old data)."""
    rows = db.session.execute(select(Category.id, Category.name, Category.parent_id)).all()
    by_id = {row.id: row for row in rows}

    def path(category_id: int) -> str:
        names, seen, node = [], set(), by_id.get(category_id)
        while node is not None and node.id not in seen:
            seen.add(node.id)
            names.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
        return " / ".join(reversed(names))

    return sorted(((row.id, path(row.id)) for row in rows), key=lambda item: item[1].lower())


def descendant_ids(category: Category) -> set[int]:
    """The ids of every category below ``category`` (its children, theirs, ...)."""
    rows = db.session.execute(select(Category.id, Category.parent_id)).all()
    children: dict[int, list[int]] = {}
    for row in rows:
        if row.parent_id is not None:
            children.setdefault(row.parent_id, []).append(row.id)
    found: set[int] = set()
    frontier = [category.id]
    while frontier:
        node = frontier.pop()
        for child in children.get(node, []):
            if child not in found and child != category.id:
                found.add(child)
                frontier.append(child)
    return found


# --- writing --------------------------------------------------------------------------


@dataclass
class TermInput:
    """What the add and edit forms send."""

    name: str
    slug: str = ""
    description: str = ""
    parent_id: int | None = None  # categories only


def _clean_slug(typed: str) -> str:
    """A typed slug, checked and normalised the way WordPress does (lower case, accents
    folded, spaces to hyphens); characters that have no place in an address are refused
    rather than silently dropped."""
    typed = unicodedata.normalize("NFC", typed.strip())
    if len(typed) > SLUG_MAX:
        raise ServiceError(
            f"The slug is {len(typed)} characters; the limit is {SLUG_MAX}.", field="slug"
        )
    for char in typed:
        if not (char.isalnum() or char in "-_ " or unicodedata.category(char).startswith("M")):
            raise ServiceError(
                f"The slug may hold only letters, digits and hyphens, not “{char}”.",
                field="slug",
            )
    slug = slugify(typed)
    if not slug:
        raise ServiceError("The slug needs at least one letter or digit.", field="slug")
    return slug


def _validate(kind: Kind, data: TermInput, term: Term | None) -> tuple[str, str, str]:
    """The name, slug and description to store, or ServiceError naming the field."""
    for field, value in (
        ("name", data.name),
        ("slug", data.slug),
        ("description", data.description),
    ):
        problem = bad_characters(value)
        if problem:
            raise ServiceError(f"The {field} {problem}; please remove it.", field=field)
    name = data.name.strip()
    if not name:
        raise ServiceError(f"Give the {kind} a name.", field="name")
    if len(name) > NAME_MAX:
        raise ServiceError(
            f"The name is {len(name)} characters; the limit is {NAME_MAX}.", field="name"
        )
    description = data.description.replace("\r\n", "\n").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(
            f"The description is {len(description):,} characters; the limit is "
            f"{DESCRIPTION_MAX:,}.",
            field="description",
        )
    if data.slug.strip():
        slug = _clean_slug(data.slug)
    elif term is not None:
        slug = term.slug  # an empty slug on the edit form keeps the one it has
    else:
        slug = slugify(name)
        if not slug:
            raise ServiceError(
                "The name has no letter or digit to make an address from; type a slug.",
                field="slug",
            )
    cls = model(kind)
    same_name = select(cls).where(func.lower(cls.name) == name.lower())
    if term is not None:
        same_name = same_name.where(cls.id != term.id)
    if kind == "category":
        # As WordPress: one name per level (two "News" under different parents are fine).
        if data.parent_id is None:
            same_name = same_name.where(Category.parent_id.is_(None))
        else:
            same_name = same_name.where(Category.parent_id == data.parent_id)
    twin = db.session.scalars(same_name.limit(1)).first()
    if twin is not None:
        where = " at that level" if kind == "category" else ""
        raise ServiceError(
            f"A {kind} named “{twin.name}” already exists{where}; pick another name.",
            field="name",
        )
    owner = by_slug(kind, slug)
    if owner is not None and owner is not term:
        raise ServiceError(
            f"The {kind} “{owner.name}” already has the slug “{slug}”; pick another slug "
            f"(or merge the two).",
            field="slug",
        )
    return name, slug, description


def _check_parent(category: Category | None, parent_id: int | None) -> Category | None:
    """The parent to set, refusing a missing one and a cycle with a message that says why."""
    if parent_id is None:
        return None
    parent = db.session.get(Category, parent_id) if 0 < parent_id < 2**31 else None
    if parent is None:
        raise ServiceError("That parent category no longer exists.", field="parent")
    if category is not None:
        if parent.id == category.id:
            raise ServiceError("A category cannot be its own parent.", field="parent")
        if parent.id in descendant_ids(category):
            raise ServiceError(
                f"“{parent.name}” is inside “{category.name}”, so it cannot be its parent: "
                f"that would make a loop. Move “{parent.name}” out first, or pick another "
                f"parent.",
                field="parent",
            )
    return parent


def _free_old_slug(kind: Kind, slug: str) -> None:
    """A term taking a slug that used to redirect takes the address over."""
    db.session.execute(
        delete(TermRedirect).where(TermRedirect.kind == kind, TermRedirect.old_slug == slug)
    )


def _add_redirect(kind: Kind, old_slug: str, term: Term) -> None:
    _free_old_slug(kind, old_slug)
    column = "tag_id" if kind == "tag" else "category_id"
    db.session.add(TermRedirect(kind=kind, old_slug=old_slug, **{column: term.id}))


def _commit(kind: Kind, slug: str) -> None:
    """Commit; a term given the same slug by someone else meanwhile is a message, not a
    server error (the unique index decides)."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(
            f"Another {kind} took the slug “{slug}” just now; pick another slug.", field="slug"
        ) from None


def create(kind: Kind, data: TermInput) -> Term:
    name, slug, description = _validate(kind, data, None)
    term = model(kind)(name=name, slug=slug, description=description)
    if kind == "category":
        term.parent = _check_parent(None, data.parent_id)
    _free_old_slug(kind, slug)
    db.session.add(term)
    _commit(kind, slug)
    return term


def update(kind: Kind, term: Term, data: TermInput) -> Term:
    """Rename, change the slug (the old one redirects here), describe, set the parent."""
    name, slug, description = _validate(kind, data, term)
    if kind == "category":
        assert isinstance(term, Category)
        term.parent = _check_parent(term, data.parent_id)
    if slug != term.slug:
        # Redirects point at the term, not at a slug: an older slug of it follows along,
        # so a chain of renames is always one hop.
        _add_redirect(kind, term.slug, term)
        _free_old_slug(kind, slug)
        term.slug = slug
    term.name, term.description = name, description
    _commit(kind, slug)
    return term


def merge(kind: Kind, source: Term, target: Term) -> int:
    """Give ``source``'s posts ``target`` (no post gets it twice), send ``source``'s
    addresses to ``target``, move its subcategories under ``target``, and delete it.
    Returns how many posts gained ``target``."""
    if source.id == target.id:
        raise ServiceError(f"Pick another {kind} to merge into.", field="target")
    links, term_column = _links(kind)
    already = select(links.c.post_id).where(term_column == target.id)
    gaining = select(links.c.post_id).where(
        term_column == source.id, links.c.post_id.not_in(already)
    )
    # Counted first: an INSERT ... SELECT's row count is not reported by every driver.
    moved = db.session.scalar(select(func.count()).select_from(gaining.subquery())) or 0
    db.session.execute(
        insert(links).from_select(
            ["post_id", term_column.name],
            select(gaining.subquery().c.post_id, literal(target.id)),
        )
    )
    db.session.execute(delete(links).where(term_column == source.id))
    column = _redirect_column(kind)
    db.session.execute(
        update_rows(TermRedirect).where(column == source.id).values({column: target.id})
    )
    if kind == "category":
        assert isinstance(source, Category) and isinstance(target, Category)
        if target.id in descendant_ids(source):
            # Merging into one of its own subcategories: that one takes the source's place.
            target.parent_id = source.parent_id
            db.session.flush()
        db.session.execute(
            update_rows(Category)
            .where(Category.parent_id == source.id, Category.id != target.id)
            .values(parent_id=target.id)
        )
    old_slug = source.slug
    db.session.delete(source)
    db.session.flush()
    _add_redirect(kind, old_slug, target)
    db.session.commit()
    return moved


def remove(kind: Kind, term: Term) -> None:
    """Delete a term: posts lose it, its old addresses stop redirecting (404), and its
    subcategories move up to its parent (as WordPress does).

    There is no default category here (posts may have none), so a post left without a
    category simply has none."""
    links, term_column = _links(kind)
    db.session.execute(delete(links).where(term_column == term.id))
    db.session.execute(delete(TermRedirect).where(_redirect_column(kind) == term.id))
    # A redirect its slug may have shadowed (a term made by the editor or an import with an
    # old slug) must not come back: the deleted term's address is gone.
    _free_old_slug(kind, term.slug)
    if kind == "category":
        assert isinstance(term, Category)
        db.session.execute(
            update_rows(Category)
            .where(Category.parent_id == term.id)
            .values(parent_id=term.parent_id)
        )
    db.session.delete(term)
    db.session.commit()

"""Thread a post's comments: flat rows in, a tree of nodes out.

The post page loads every approved comment of a post in one query (ordered by created time,
then id) and hands the rows to :func:`build_tree`, so a template never queries in a loop.
Pure: no Flask, no database; any object with ``id`` and ``parent_id`` will do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

__all__ = [
    "MAX_DEPTH_LIMIT",
    "Node",
    "Page",
    "Row",
    "build_tree",
    "count_nodes",
    "iter_flat",
    "page_of",
    "paginate_threads",
    "thread_ids",
]

# WordPress's "Enable threaded (nested) comments N levels deep" offers 2..10; 1 means flat.
MAX_DEPTH_LIMIT = 10


class Row(Protocol):
    """What the tree needs of a comment; the Comment model satisfies it as it is."""

    @property
    def id(self) -> int: ...

    @property
    def parent_id(self) -> int | None: ...


T = TypeVar("T", bound=Row)


@dataclass(slots=True)
class Node(Generic[T]):
    """One comment in the tree, with the depth it is *shown* at (1 = top level)."""

    item: T
    depth: int
    children: list[Node[T]] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.item.id


# Marks used while walking parent links to find cycles.
_ON_PATH = 1
_DONE = 2


def _real_parents(rows: Sequence[T]) -> dict[int, int | None]:
    """Map each id to the parent it is threaded under, or None for top level.

    A parent that is not among the rows (held, spam, deleted) makes the row top level, as
    WordPress's walker shows orphans. Cycles are cut by :func:`_cut_cycles`.
    """
    ids = [row.id for row in rows]
    present = set(ids)
    raw = {row.id: row.parent_id if row.parent_id in present else None for row in rows}
    _cut_cycles(ids, raw)
    return raw


def _cut_cycles(order: Sequence[int], parents: dict[int, int | None]) -> None:
    """Make ``parents`` acyclic, in place.

    A cycle (a row that is its own parent, a->b->a) would make a walk loop forever; the
    oldest row of the cycle (first in ``order``) loses its parent, because it cannot really
    have replied to a later one. Parents outside ``parents`` end a walk. Each row is walked
    once: O(n).
    """
    position = {comment_id: index for index, comment_id in enumerate(order)}
    state: dict[int, int] = {}
    for start in order:
        path: list[int] = []
        current: int | None = start
        while current is not None and current in parents and current not in state:
            state[current] = _ON_PATH
            path.append(current)
            current = parents[current]
        if current is not None and state.get(current) == _ON_PATH:
            cycle = path[path.index(current) :]
            parents[min(cycle, key=position.__getitem__)] = None
        for comment_id in path:
            state[comment_id] = _DONE


def build_tree(rows: Iterable[T], max_depth: int = 5) -> list[Node[T]]:
    """Thread ``rows`` into a list of top-level nodes, keeping input order among siblings.

    A reply deeper than ``max_depth`` is shown at ``max_depth``, as a later sibling of the
    comment it answers (attached to that comment's parent), which is how WordPress flattens
    threads deeper than the setting. ``max_depth=1`` means no threading at all.
    Raises ValueError for a depth outside 1..10 or for a repeated id.
    """
    if not 1 <= max_depth <= MAX_DEPTH_LIMIT:
        raise ValueError(f"max_depth must be between 1 and {MAX_DEPTH_LIMIT}, got {max_depth}")
    items = list(rows)
    roots = _build_in_order(items, max_depth)
    return roots if roots is not None else _build_any_order(items, max_depth)


def _build_in_order(items: list[T], max_depth: int) -> list[Node[T]] | None:
    """The tree in one pass, when every reply comes after the comment it answers (as rows
    ordered by time do); None when one does not (a cycle always has such a reply), for
    ``_build_any_order`` to sort out."""
    present = {item.id for item in items}
    if len(present) != len(items):
        return None  # a repeated id: the general walk says which
    nodes: dict[int, Node[T]] = {}
    holders: dict[int, Node[T] | None] = {}  # the node each comment is listed under
    roots: list[Node[T]] = []
    for item in items:
        parent_id = item.parent_id
        if parent_id is None or parent_id not in present:
            node = nodes[item.id] = Node(item, 1)
            holders[item.id] = None
            roots.append(node)
            continue
        parent = nodes.get(parent_id)
        if parent is None:
            return None  # answers a comment that comes later (or itself)
        if parent.depth < max_depth:
            node = nodes[item.id] = Node(item, parent.depth + 1)
            holder = holders[item.id] = parent
        else:
            node = nodes[item.id] = Node(item, max_depth)
            holder = holders[item.id] = holders[parent_id]
        (roots if holder is None else holder.children).append(node)
    return roots


def _build_any_order(items: list[T], max_depth: int) -> list[Node[T]]:
    nodes: dict[int, Node[T]] = {}
    for item in items:
        if item.id in nodes:
            raise ValueError(f"comment id {item.id} appears twice")
        nodes[item.id] = Node(item=item, depth=0)

    parents = _real_parents(items)
    # The node each comment is listed under (None = top level); filled parents first.
    shown_under: dict[int, Node[T] | None] = {}
    for item in items:
        chain: list[int] = []
        current: int | None = item.id
        while current is not None and current not in shown_under:
            chain.append(current)
            current = parents[current]
        for comment_id in reversed(chain):
            parent_id = parents[comment_id]
            node = nodes[comment_id]
            if parent_id is None:
                shown_under[comment_id], node.depth = None, 1
                continue
            parent = nodes[parent_id]
            if parent.depth < max_depth:
                shown_under[comment_id], node.depth = parent, parent.depth + 1
            else:
                shown_under[comment_id], node.depth = shown_under[parent_id], max_depth

    roots: list[Node[T]] = []
    for item in items:
        holder = shown_under[item.id]
        (roots if holder is None else holder.children).append(nodes[item.id])
    return roots


def iter_flat(nodes: Sequence[Node[T]]) -> Iterator[Node[T]]:
    """Yield every node depth-first, parents before replies: the order a page or feed prints."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def count_nodes(nodes: Sequence[Node[T]]) -> int:
    """Count the comments in a tree (top-level threads and all their replies)."""
    return sum(1 for _ in iter_flat(nodes))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of top-level threads, as WordPress's "break comments into pages" shows them."""

    nodes: list[Node[T]]
    number: int
    count: int
    total_threads: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def _check_per_page(per_page: int) -> None:
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, got {per_page}")


def paginate_threads(
    nodes: list[Node[T]], per_page: int, page: int | None, newest_first: bool
) -> Page[T]:
    """Cut the top-level threads into pages of ``per_page``; page 1 holds the oldest threads.

    Pages are cut from the oldest thread on, so only the last (newest) page may be short, as
    in WordPress. ``page=None`` is the default page: the last one if ``newest_first``
    (WordPress ``default_comments_page = newest``), else page 1. The order comments are printed
    in on a page (``comment_order``) is the template's business. A page outside 1..count
    raises LookupError so the view can answer 404; no threads still makes one empty page 1.
    """
    _check_per_page(per_page)
    total = len(nodes)
    count = max(1, -(-total // per_page))
    number = (count if newest_first else 1) if page is None else page
    if not 1 <= number <= count:
        raise LookupError(f"comment page {number} does not exist (there are {count})")
    start = (number - 1) * per_page
    return Page(
        nodes=nodes[start : start + per_page], number=number, count=count, total_threads=total
    )


def page_of(nodes: list[Node[T]], comment_id: int, per_page: int) -> int | None:
    """Return the page holding ``comment_id`` (for #comment-ID links), or None if absent."""
    _check_per_page(per_page)
    for index, thread in enumerate(nodes):
        if any(node.id == comment_id for node in iter_flat([thread])):
            return index // per_page + 1
    return None


def thread_ids(
    rows: Iterable[tuple[int, int | None, bool]],
    known: Mapping[int, tuple[bool, int | None]] | None = None,
) -> dict[int, int | None]:
    """Which thread each comment is shown in: the id of its top-level comment, or None when
    it is shown at the top level itself.

    ``rows`` are (id, parent_id, approved). A comment hangs in its parent's thread when the
    parent is approved; otherwise (no parent, a parent held, spam or gone) it starts a thread
    of its own, as :func:`build_tree` shows orphans. A comment that is not approved gets the
    thread it would be shown in once approved. ``known`` gives (approved, thread_id) of
    parents that are not among ``rows`` (the comment above a subtree being recomputed).
    Cycles are cut as :func:`build_tree` cuts them. Pure and O(n).
    """
    known = known or {}
    order: list[int] = []
    parents: dict[int, int | None] = {}
    approved: dict[int, bool] = {}
    for comment_id, parent_id, is_approved in rows:
        order.append(comment_id)
        parents[comment_id] = parent_id
        approved[comment_id] = is_approved
    _cut_cycles(order, parents)

    def thread_under(parent_id: int | None) -> int | None:
        """The thread a child of ``parent_id`` (resolved already, or outside) is shown in."""
        if parent_id in parents:
            if not approved[parent_id]:
                return None
            return result[parent_id] or parent_id
        if parent_id is not None and parent_id in known:
            parent_approved, parent_thread = known[parent_id]
            return (parent_thread or parent_id) if parent_approved else None
        return None

    result: dict[int, int | None] = {}
    for comment_id in order:
        chain: list[int] = []
        current: int | None = comment_id
        while current is not None and current in parents and current not in result:
            chain.append(current)
            current = parents[current]
        for node in reversed(chain):
            result[node] = thread_under(parents[node])
    return result

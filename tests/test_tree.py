"""Unit tests for blog.tree: threading, depth flattening, orphans, cycles and paging."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blog.tree import (
    Node,
    Page,
    build_tree,
    count_nodes,
    iter_flat,
    page_of,
    paginate_threads,
    thread_ids,
)


@dataclass(frozen=True)
class R:
    """The smallest row the tree accepts."""

    id: int
    parent_id: int | None = None


def rows(*pairs: tuple[int, int | None]) -> list[R]:
    return [R(comment_id, parent) for comment_id, parent in pairs]


def shape(nodes: list[Node[R]]) -> list[tuple[int, int]]:
    """(id, depth) in display order: the tree as a page would print it."""
    return [(node.id, node.depth) for node in iter_flat(nodes)]


def outline(nodes: list[Node[R]]) -> list[object]:
    """Nested (id, [children]) so tests can state the exact parent of every node."""
    return [(node.id, outline(node.children)) for node in nodes]


def chain(length: int) -> list[R]:
    """1 <- 2 <- 3 ...: every comment answers the previous one."""
    return [R(i, i - 1 if i > 1 else None) for i in range(1, length + 1)]


@pytest.mark.parametrize(
    ("given", "max_depth", "expected"),
    [
        pytest.param([], 5, [], id="empty"),
        pytest.param(rows((1, None)), 5, [(1, [])], id="single"),
        pytest.param(
            rows((3, None), (1, None), (2, None)),
            5,
            [(3, []), (1, []), (2, [])],
            id="top-level siblings keep input order",
        ),
        pytest.param(
            rows((1, None), (2, 1), (3, None), (4, 1), (5, 2)),
            5,
            [(1, [(2, [(5, [])]), (4, [])]), (3, [])],
            id="replies keep input order",
        ),
        pytest.param(
            rows((1, 0), (2, None), (3, 0)),
            5,
            [(1, []), (2, []), (3, [])],
            id="parent_id 0 and None are both top level",
        ),
        pytest.param(
            rows((1, None), (2, 99), (3, 2)),
            5,
            [(1, []), (2, [(3, [])])],
            id="orphan shown at top level with its replies",
        ),
        pytest.param(
            rows((2, 1), (1, None)), 5, [(1, [(2, [])])], id="reply listed before its parent"
        ),
        pytest.param(rows((1, 1)), 5, [(1, [])], id="own parent"),
        pytest.param(rows((1, 2), (2, 1)), 5, [(1, [(2, [])])], id="two-cycle oldest on top"),
        pytest.param(
            rows((2, 1), (1, 2)), 5, [(2, [(1, [])])], id="two-cycle first in input order on top"
        ),
        pytest.param(
            rows((1, 3), (2, 1), (3, 2), (4, 3)),
            5,
            [(1, [(2, [(3, [(4, [])])])])],
            id="three-cycle with a reply hanging off it",
        ),
        pytest.param(
            rows((5, 6), (6, 5), (7, None), (8, 8)),
            5,
            [(5, [(6, [])]), (7, []), (8, [])],
            id="cycle among normal rows",
        ),
        pytest.param(
            rows((1, None), (2, 1), (3, 2)),
            1,
            [(1, []), (2, []), (3, [])],
            id="max_depth 1 means no threading",
        ),
        pytest.param(
            rows((1, None), (2, 1), (3, 2), (4, 3), (5, 2), (6, 1)),
            2,
            [(1, [(2, []), (3, []), (4, []), (5, []), (6, [])])],
            id="flattened replies become siblings in input order",
        ),
    ],
)
def test_build_tree_outline(given: list[R], max_depth: int, expected: list[object]) -> None:
    assert outline(build_tree(given, max_depth=max_depth)) == expected


@pytest.mark.parametrize("max_depth", range(1, 11))
@pytest.mark.parametrize("length", [1, 2, 5, 10, 12])
def test_deep_chain_is_flattened_at_max_depth(length: int, max_depth: int) -> None:
    tree = build_tree(chain(length), max_depth=max_depth)
    expected = [(i, min(i, max_depth)) for i in range(1, length + 1)]
    assert shape(tree) == expected
    deepest = [node for node in iter_flat(tree) if node.depth == max_depth]
    assert all(not node.children for node in deepest)
    if length > max_depth:
        # everything past the limit hangs under the comment at max_depth - 1 (or the top)
        holder = (
            tree
            if max_depth == 1
            else next(node.children for node in iter_flat(tree) if node.depth == max_depth - 1)
        )
        assert [node.id for node in holder] == list(range(max_depth, length + 1))


def test_default_max_depth_is_five() -> None:
    assert max(node.depth for node in iter_flat(build_tree(chain(8)))) == 5


def test_nodes_carry_the_rows() -> None:
    given = rows((1, None), (2, 1))
    tree = build_tree(given)
    assert tree[0].item is given[0]
    assert tree[0].children[0].item is given[1]


def test_accepts_any_iterable() -> None:
    assert shape(build_tree(iter(rows((1, None), (2, 1))))) == [(1, 1), (2, 2)]


@pytest.mark.parametrize("max_depth", [0, -1, 11, 100])
def test_max_depth_out_of_range(max_depth: int) -> None:
    with pytest.raises(ValueError, match="max_depth"):
        build_tree([], max_depth=max_depth)


def test_repeated_id_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        build_tree(rows((1, None), (1, None)))


def test_large_chain_does_not_recurse() -> None:
    tree = build_tree(chain(5000), max_depth=10)
    assert count_nodes(tree) == 5000


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], 0),
        (rows((1, None)), 1),
        (rows((1, None), (2, 1), (3, 2), (4, None)), 4),
    ],
)
def test_count_nodes(given: list[R], expected: int) -> None:
    assert count_nodes(build_tree(given)) == expected


def test_iter_flat_is_preorder() -> None:
    tree = build_tree(rows((1, None), (2, None), (3, 1), (4, 3), (5, 1), (6, 2)))
    assert [node.id for node in iter_flat(tree)] == [1, 3, 4, 5, 2, 6]


def threads(count: int) -> list[Node[R]]:
    """``count`` top-level threads with ids 1..count, each with one reply (id + 100)."""
    given = [R(i) for i in range(1, count + 1)] + [R(i + 100, i) for i in range(1, count + 1)]
    return build_tree(given)


@pytest.mark.parametrize(
    ("total", "per_page", "page", "newest_first", "ids", "number", "count", "prev", "next_"),
    [
        pytest.param(0, 3, None, True, [], 1, 1, False, False, id="no threads newest"),
        pytest.param(0, 3, None, False, [], 1, 1, False, False, id="no threads oldest"),
        pytest.param(0, 3, 1, True, [], 1, 1, False, False, id="no threads page 1"),
        pytest.param(7, 3, None, True, [7], 3, 3, True, False, id="newest default is last"),
        pytest.param(7, 3, None, False, [1, 2, 3], 1, 3, False, True, id="oldest default is 1"),
        pytest.param(7, 3, 2, True, [4, 5, 6], 2, 3, True, True, id="middle page"),
        pytest.param(7, 3, 1, True, [1, 2, 3], 1, 3, False, True, id="page 1 oldest threads"),
        pytest.param(6, 3, None, True, [4, 5, 6], 2, 2, True, False, id="exact multiple"),
        pytest.param(3, 50, None, True, [1, 2, 3], 1, 1, False, False, id="one page"),
        pytest.param(4, 1, 4, False, [4], 4, 4, True, False, id="one per page"),
    ],
)
def test_paginate_threads(
    total: int,
    per_page: int,
    page: int | None,
    newest_first: bool,
    ids: list[int],
    number: int,
    count: int,
    prev: bool,
    next_: bool,
) -> None:
    result = paginate_threads(threads(total), per_page, page, newest_first)
    assert isinstance(result, Page)
    assert [node.id for node in result.nodes] == ids
    assert (result.number, result.count, result.total_threads) == (number, count, total)
    assert (result.has_previous, result.has_next) == (prev, next_)


def test_page_keeps_replies_with_their_thread() -> None:
    result = paginate_threads(threads(4), 2, 2, newest_first=False)
    assert shape(result.nodes) == [(3, 1), (103, 2), (4, 1), (104, 2)]


@pytest.mark.parametrize(("total", "page"), [(0, 2), (0, 0), (7, 4), (7, 0), (7, -1)])
def test_paginate_out_of_range_is_lookup_error(total: int, page: int) -> None:
    with pytest.raises(LookupError):
        paginate_threads(threads(total), 3, page, newest_first=True)


@pytest.mark.parametrize("per_page", [0, -5])
def test_per_page_must_be_positive(per_page: int) -> None:
    with pytest.raises(ValueError, match="per_page"):
        paginate_threads(threads(2), per_page, None, newest_first=True)
    with pytest.raises(ValueError, match="per_page"):
        page_of(threads(2), 1, per_page)


@pytest.mark.parametrize(
    ("comment_id", "per_page", "expected"),
    [
        (1, 3, 1),
        (3, 3, 1),
        (4, 3, 2),
        (7, 3, 3),
        (107, 3, 3),  # a reply is on its thread's page
        (104, 3, 2),
        (5, 1, 5),
        (999, 3, None),
    ],
)
def test_page_of(comment_id: int, per_page: int, expected: int | None) -> None:
    assert page_of(threads(7), comment_id, per_page) == expected


def test_page_of_agrees_with_paginate() -> None:
    tree = threads(7)
    for node in iter_flat(tree):
        number = page_of(tree, node.id, 3)
        assert number is not None
        page = paginate_threads(tree, 3, number, newest_first=True)
        assert node.id in {n.id for n in iter_flat(page.nodes)}


# --- thread_ids: which thread each comment is shown in ------------------------------------


def test_thread_ids_follow_approved_parents_to_the_top() -> None:
    # 1 <- 2 <- 3, and 4 at the top level: 2 and 3 hang in thread 1.
    given = [(1, None, True), (2, 1, True), (3, 2, True), (4, None, True)]
    assert thread_ids(given) == {1: None, 2: 1, 3: 1, 4: None}


def test_a_reply_to_a_held_comment_starts_a_thread_of_its_own() -> None:
    # 2 is held: 3 is shown at the top level (as build_tree shows orphans), 4 under 3.
    given = [(1, None, True), (2, 1, False), (3, 2, True), (4, 3, True)]
    assert thread_ids(given) == {1: None, 2: 1, 3: None, 4: 3}


def test_a_held_comment_gets_the_thread_it_would_be_shown_in() -> None:
    assert thread_ids([(1, None, True), (2, 1, False)]) == {1: None, 2: 1}
    assert thread_ids([(1, None, False), (2, 1, False)]) == {1: None, 2: None}


def test_known_parents_outside_the_rows_anchor_a_subtree() -> None:
    # Recomputing below comment 10 (approved, in thread 7): its replies join thread 7.
    assert thread_ids([(11, 10, True), (12, 11, True)], {10: (True, 7)}) == {11: 7, 12: 7}
    # Comment 10 is a top-level comment itself: its replies are in its thread.
    assert thread_ids([(11, 10, True)], {10: (True, None)}) == {11: 10}
    # Comment 10 was just held: its replies start threads of their own.
    assert thread_ids([(11, 10, True), (12, 11, True)], {10: (False, 7)}) == {11: None, 12: 11}


def test_a_parent_nobody_knows_is_no_parent() -> None:
    assert thread_ids([(5, 99, True), (6, 5, True)]) == {5: None, 6: 5}


def test_cycles_are_cut_at_the_oldest_row_as_build_tree_does() -> None:
    given = [(1, 2, True), (2, 1, True), (3, 3, True)]
    assert thread_ids(given) == {1: None, 2: 1, 3: None}
    assert outline(build_tree(rows((1, 2), (2, 1), (3, 3)))) == [(1, [(2, [])]), (3, [])]


def test_thread_ids_handle_a_long_chain_without_recursion() -> None:
    length = 20_000
    given = [(i, i - 1 if i > 1 else None, True) for i in range(1, length + 1)]
    result = thread_ids(given)
    assert result[1] is None and result[length] == 1


@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=1, max_size=40))
def test_thread_ids_agree_with_the_tree_readers_see(spec: list[tuple[int, bool]]) -> None:
    """Every approved comment's thread is the top-level comment build_tree shows it under,
    building the tree from the approved comments only, as the post page does."""
    given = []
    for index, (parent_pick, approved) in enumerate(spec, start=1):
        parent = parent_pick if 0 < parent_pick < index else None
        given.append((index, parent, approved))
    threads = thread_ids(given)
    shown = [R(i, p) for i, p, ok in given if ok]
    for top in build_tree(shown, max_depth=10):
        for node in iter_flat([top]):
            expected = None if node.id == top.id else top.id
            assert threads[node.id] == expected


@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=40),
    st.integers(1, 10),
    st.booleans(),
)
def test_the_one_pass_build_is_the_general_walk(parents, max_depth, ordered):
    """Rows ordered by time (every reply after what it answers) are threaded in one pass;
    the result is exactly what the general walk gives. Out of order (or with a cycle) the
    one pass steps aside."""
    from blog.tree import _build_any_order, _build_in_order

    if ordered:
        # Row i answers an earlier row, or nothing, or a row that is not shown (an orphan).
        items = [
            R(i, None if p == 0 else (p % i if i > 1 and p % 3 else p + 100))
            for i, p in enumerate(parents, start=1)
        ]
        items = [R(r.id, r.parent_id if r.parent_id != 0 else None) for r in items]
    else:
        items = [R(i, p or None) for i, p in enumerate(parents, start=1)]
    fast = _build_in_order(items, max_depth)
    general = _build_any_order(items, max_depth)
    if ordered:
        assert fast is not None
    if fast is not None:
        assert outline(fast) == outline(general)
        assert shape(fast) == shape(general)
    else:
        assert any(
            r.parent_id is not None and r.parent_id >= r.id and r.parent_id <= len(items)
            for r in items
        ), "the one pass steps aside only for a reply to a later row (or to itself)"
    assert outline(build_tree(items, max_depth)) == outline(general)

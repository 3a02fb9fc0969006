"""One comment cannot take a worker down: bounded markup, bounded work, cheap refusals first.

html5lib's work grows faster than a text's length for some shapes (unmatched end tags scan
the stack of open elements, misnested formatting is rebuilt at each paragraph), and every
``<``, ``&``, line break and bare link costs a step of its own. ``MarkupLimits`` refuses
texts past documented bounds before any parse; within them, the sanitizer's work is
counted here in executed Python lines (the same on a busy machine as on an idle one) and
must stay under a fixed budget for every shape, at the longest comment allowed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from comment_helpers import all_comments, by_id, comment_data, form_values, page, text
from conftest import create_post
from flask import Flask

from blog import sanitize
from blog.sanitize import COMMENT_MARKUP_LIMITS as LIMITS
from blog.sanitize import markup_problems, sanitize_comment
from blog.services import comments as comment_service

LONGEST = comment_service.LIMITS["comment"]
#: Executed lines the worst shape below needs is ~1.3M; a shape that grew with the square
#: of its size would need hundreds of millions.
WORK_BUDGET = 2_500_000
FORMATTING = ["b", "em", "strong", "i", "cite", "q", "del", "abbr", "acronym", "code", "strike"]


def executed_lines(work: Callable[[], object]) -> int:
    count = 0

    def tracer(frame, event, arg):  # noqa: ANN001, ANN202
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def padded(markup: str) -> str:
    """``markup`` filled up with plain words to the longest comment allowed."""
    filler = " lorem ipsum dolor sit amet"
    return markup + (filler * (LONGEST // len(filler) + 1))[: LONGEST - len(markup)]


def _opened(depth: int, attribute: bool = False) -> str:
    names = [FORMATTING[i % len(FORMATTING)] for i in range(depth)]
    return "".join(f'<{n} title="{i}">' if attribute else f"<{n}>" for i, n in enumerate(names))


def _closed(depth: int) -> str:
    return "".join(f"</{FORMATTING[i % len(FORMATTING)]}>" for i in reversed(range(depth)))


D, T = LIMITS.depth, LIMITS.tags
SHAPES = {
    "deep, then closed, over and over": (_opened(D) + "x" + _closed(D)) * (T // (2 * D)),
    "deep, then unmatched end tags": _opened(D) + "</span>" * (T - D),
    "deep, then misnested formatting ends": _opened(D)
    + "".join(f"</{FORMATTING[(i + 3) % len(FORMATTING)]}>" for i in range(T - D)),
    "misnested pairs": "<b><i></b></i>x" * (T // 4),
    "formatting rebuilt at each paragraph": _opened(D, attribute=True) + "</p>x" * (T - D),
    "stripped tables": ("<table><tr><td>" * (D // 3) + "x" + "</td></tr></table>" * (D // 3))
    * (T // (6 * (D // 3))),
    "many attributes": "<a " + 'title="x" ' * 5000 + ">",
    "entities": "&amp;" * LIMITS.entities,
    "numeric entities": "&#x41;" * LIMITS.entities,
    "lone <": "< " * T,
    "line breaks": "a\n" * LIMITS.line_breaks,
    "bare links": "http://a.test/x " * LIMITS.links,
    "one huge URL": "http://" + "a" * (LONGEST - 7),
    "an unclosed comment": "<!--" + "x" * (LONGEST - 4),
    "everything at once": "&amp;" * LIMITS.entities
    + "\n" * LIMITS.line_breaks
    + "http://a.test/ " * LIMITS.links
    + "<b><i></b></i>" * (T // 4),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_work_is_bounded_for_every_shape_within_the_limits(shape: str) -> None:
    comment = padded(SHAPES[shape])
    assert len(comment) <= LONGEST
    assert markup_problems(comment) == [], "the shape must be within the limits"
    assert executed_lines(lambda: sanitize_comment(comment)) < WORK_BUDGET


@pytest.mark.parametrize(
    ("comment", "words"),
    [
        ("<i>" * 10920 + "</b>" * 8191, "“<” characters"),  # the attack that took 19 s
        ("<b>" * (D + 1), f"more than {D} deep"),
        ("<q>" * (D + 1) + "</b>" * 100, f"more than {D} deep"),  # unmatched ends close nothing
        ("&" * (LIMITS.entities + 1), "“&” characters"),
        ("\n" * (LIMITS.line_breaks + 1), "line breaks"),
        ("www.a.test " * (LIMITS.links + 1), "web addresses"),
        ("<" * 60000, "“<” characters"),
    ],
)
def test_past_a_limit_the_text_is_refused_before_any_parse(comment: str, words: str) -> None:
    problems = markup_problems(comment)
    assert len(problems) == 1 and words in problems[0]
    assert "the limit is" in problems[0]


def test_the_limits_themselves_are_allowed() -> None:
    assert markup_problems(_opened(D) + _closed(D)) == []
    assert markup_problems("<br>" * T) == []  # void elements nest nothing
    assert markup_problems("<b></b>" * (T // 2)) == []


@pytest.fixture
def counted_sanitizer(monkeypatch) -> list[str]:
    """The texts given to the sanitizer from here on (to show what never reaches it)."""
    seen: list[str] = []
    original = comment_service.sanitize_comment

    def counting(comment: str, whitelist=sanitize.DEFAULT_COMMENT_WHITELIST) -> str:
        seen.append(comment)
        return original(comment, whitelist)

    monkeypatch.setattr(comment_service, "sanitize_comment", counting)
    return seen


def test_the_attack_is_refused_at_the_form_with_its_text_kept(
    app: Flask, admin: str, counted_sanitizer
) -> None:
    _, path = create_post(app, admin, title="Under attack")
    attack = "<i>" * 10920 + "</b>" * 8191
    response = app.test_client().post(path, data=comment_data(comment=attack))
    assert response.status_code == 400
    root = page(response)
    assert "the limit is 1,000" in text(by_id(root, "comment-errors"))
    assert form_values(by_id(root, "commentform"))["comment"].strip() == attack
    assert counted_sanitizer == [] and all_comments(app) == []


def test_a_duplicate_is_refused_without_sanitizing_it_again(
    app: Flask, admin: str, counted_sanitizer
) -> None:
    _, path = create_post(app, admin, title="Said twice")
    client = app.test_client()
    assert client.post(path, data=comment_data(comment="Once.")).status_code == 303
    assert len(counted_sanitizer) == 1
    assert client.post(path, data=comment_data(comment="Once.")).status_code == 409
    assert len(counted_sanitizer) == 1


@pytest.mark.parametrize("way", ["api", "edit", "import"])
def test_every_way_in_has_the_same_limits(app: Flask, admin: str, way: str) -> None:
    from blog.extensions import db
    from blog.models import Post
    from blog.services.users import find_user

    post_id, _ = create_post(app, admin, title="Every way")
    too_deep = "<b>" * (D + 1)
    with app.app_context():
        user = find_user(admin)
        post = db.session.get(Post, post_id)
        data = comment_service.CommentInput(content=too_deep, author="A", email="a@b.test")
        with pytest.raises(comment_service.CommentRefused) as refused:
            if way == "import":
                comment_service.import_comment(
                    post, data, comment_service.CommentStatus.APPROVED, post.created_at,
                    sanitize.DEFAULT_COMMENT_WHITELIST,
                )  # fmt: skip
            elif way == "edit":
                comment = comment_service.import_comment(
                    post, comment_service.CommentInput(content="Fine.", author="A"),
                    comment_service.CommentStatus.APPROVED, post.created_at,
                    sanitize.DEFAULT_COMMENT_WHITELIST,
                )  # fmt: skip
                db.session.commit()
                comment_service.edit(
                    comment, user, "A", "", "", too_deep, sanitize.DEFAULT_COMMENT_WHITELIST
                )
            else:
                from blog.moderation import Limits

                comment_service.submit(
                    post, data, None, comment_service.DiscussionSettings(),
                    sanitize.DEFAULT_COMMENT_WHITELIST, Limits(0, 0),
                )  # fmt: skip
        assert any("deep" in r.message for r in refused.value.refusals)

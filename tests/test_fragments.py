"""Unit tests for blog.fragments: a comment's stored HTML and the join of a thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from comment_helpers import by_id, parse, text, with_class

from blog.fragments import (
    FRAGMENT_VERSION,
    CommentFacts,
    RenderContext,
    avatar_hash,
    avatar_url,
    comment_fragment,
    thread_html,
)
from blog.tree import build_tree

UTC_CONTEXT = RenderContext("UTC", show_avatars=True)
WHEN = datetime(2026, 11, 30, 22, 15, tzinfo=UTC)


def facts(**changes: object) -> CommentFacts:
    values: dict[str, object] = {
        "id": 7,
        "author": "Ada",
        "url": "",
        "avatar_hash": avatar_hash("Ada@Example.org "),
        "created_at": WHEN,
        "content_html": "<p>Hello <b>there</b></p>",
        "approved": True,
    }
    values.update(changes)
    return CommentFacts(**values)  # type: ignore[arg-type]


def test_the_avatar_hash_is_gravatars_sha256_of_the_trimmed_lower_case_email() -> None:
    import hashlib

    assert avatar_hash("  Ada@Example.ORG ") == hashlib.sha256(b"ada@example.org").hexdigest()
    assert avatar_url("ab" * 32).startswith("https://www.gravatar.com/avatar/" + "ab" * 32)


def test_a_fragment_shows_name_time_and_the_sanitized_content_as_stored() -> None:
    root = parse(comment_fragment(facts(), UTC_CONTEXT))
    assert text(next(with_class(root, "comment-author"))) == "Ada"
    time_element = next(iter(root.iter("time")))
    assert time_element.get("datetime") == WHEN.isoformat()
    assert text(time_element) == "November 30, 2026 at 22:15"
    assert next(iter(root.iter("a"))).get("href") == "#comment-7"
    content = next(with_class(root, "comment-content"))
    assert [child.tag for child in content] == ["p"]
    assert text(content) == "Hello there"
    assert list(with_class(root, "comment-awaiting-moderation")) == []


def test_times_are_shown_in_the_site_time_zone() -> None:
    tokyo = RenderContext("Asia/Tokyo", show_avatars=True)
    root = parse(comment_fragment(facts(), tokyo))
    assert text(next(iter(root.iter("time")))) == "December 1, 2026 at 07:15"
    # The machine-readable time stays UTC either way.
    assert next(iter(root.iter("time"))).get("datetime") == WHEN.isoformat()


def test_the_machine_readable_time_has_whole_seconds() -> None:
    """HTML allows at most three fraction digits in ``datetime``; a stored time has six."""
    root = parse(comment_fragment(facts(created_at=WHEN.replace(microsecond=123456)), UTC_CONTEXT))
    assert next(iter(root.iter("time"))).get("datetime") == "2026-11-30T22:15:00+00:00"


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Tom & Jerry's <b>"],
)
def test_names_are_text_never_markup(name: str) -> None:
    html = comment_fragment(facts(author=name, url='https://example.org/?a=1&b="2"'), UTC_CONTEXT)
    root = parse(html)
    author = next(with_class(root, "comment-author"))
    assert text(author) == name
    assert [element.tag for element in author.iter()] == ["span", "a"]
    assert author.find("a").get("href") == 'https://example.org/?a=1&b="2"'
    assert "<script>" not in html and "<img src=x" not in html


def test_the_website_is_linked_nofollow_ugc() -> None:
    link = next(
        with_class(
            parse(comment_fragment(facts(url="https://ada.example/"), UTC_CONTEXT)),
            "comment-author",
        )
    ).find("a")
    assert link.get("href") == "https://ada.example/"
    assert link.get("rel") == "external nofollow ugc"


def test_avatars_follow_the_setting() -> None:
    shown = parse(comment_fragment(facts(), UTC_CONTEXT))
    image = next(with_class(shown, "avatar"))
    assert image.get("src") == avatar_url(avatar_hash("ada@example.org"))
    assert image.get("referrerpolicy") == "no-referrer"
    hidden = parse(comment_fragment(facts(), RenderContext("UTC", show_avatars=False)))
    assert list(with_class(hidden, "avatar")) == []


def test_a_held_comment_says_so() -> None:
    root = parse(comment_fragment(facts(approved=False), UTC_CONTEXT))
    note = next(with_class(root, "comment-awaiting-moderation"))
    assert text(note) == "Your comment is awaiting moderation."


def test_the_key_names_everything_a_fragment_depends_on() -> None:
    keys = {
        RenderContext("UTC", True).key,
        RenderContext("UTC", False).key,
        RenderContext("Europe/Paris", True).key,
    }
    assert len(keys) == 3
    assert all(key.startswith(f"{FRAGMENT_VERSION}|") for key in keys)


# --- the join ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: int
    parent_id: int | None
    user_id: int | None = None
    status: str = "approved"
    author: str = "Ada"


def joined(rows: list[Row], **options: object) -> str:
    settings: dict[str, object] = {"post_author_id": 1, "max_depth": 3, "replies_open": True}
    settings.update(options)
    nodes = build_tree(rows, max_depth=int(settings["max_depth"]))  # type: ignore[arg-type]
    fragments = {row.id: f'<div class="comment-content">#{row.id}</div>' for row in rows}
    return thread_html(nodes, fragments, **settings)  # type: ignore[arg-type]


def test_the_join_nests_replies_with_their_depth() -> None:
    root = parse(joined([Row(1, None), Row(2, 1), Row(3, 2), Row(4, 3)]))
    assert by_id(root, "li-comment-1").get("class") == "comment depth-1"
    assert by_id(root, "li-comment-3").get("class") == "comment depth-3"
    # Deeper than the setting: shown at the last level, beside the comment it answers.
    assert by_id(root, "li-comment-4").get("class") == "comment depth-3"
    children = by_id(root, "li-comment-1").find("ol")
    assert children.get("class") == "children"
    assert by_id(root, "comment-2") is not None
    assert text(by_id(root, "comment-2")).startswith("#2")


def test_reply_links_only_where_a_reply_could_nest_and_comments_are_open() -> None:
    root = parse(joined([Row(1, None, author="<Ada>"), Row(2, 1), Row(3, 2)]))
    reply = next(with_class(by_id(root, "comment-1"), "comment-reply-link"))
    assert reply.get("href") == "?replytocom=1#respond"
    assert reply.get("aria-label") == "Reply to <Ada>"
    assert list(with_class(by_id(root, "comment-3"), "comment-reply-link")) == []
    closed = parse(joined([Row(1, None)], replies_open=False))
    assert list(with_class(closed, "comment-reply-link")) == []


def test_held_comments_and_the_post_author_are_marked() -> None:
    root = parse(joined([Row(1, None, user_id=1), Row(2, None, status="pending")]))
    assert "by-post-author" in by_id(root, "li-comment-1").get("class").split()
    held = by_id(root, "li-comment-2").get("class").split()
    assert "comment-held" in held
    # No Reply under a held comment: nobody may answer it yet.
    assert list(with_class(by_id(root, "comment-2"), "comment-reply-link")) == []


@pytest.mark.parametrize("name", ['Ada" onmouseover="alert(1)', "O'Brien & <b>Sons</b>", "«Ada» ü"])
def test_a_name_in_the_reply_link_stays_one_attribute_value(name: str) -> None:
    root = parse(joined([Row(1, None, author=name)]))
    reply = next(with_class(by_id(root, "comment-1"), "comment-reply-link"))
    assert reply.get("aria-label") == f"Reply to {name}"
    assert set(reply.keys()) == {"class", "rel", "href", "data-comment-id", "aria-label"}

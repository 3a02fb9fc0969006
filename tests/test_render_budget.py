"""A post's Markdown renders within its time budget or is refused, and no worker is held.

Python-Markdown's work grows faster than the text for some shapes (a few thousand
unmatched ``[`` take seconds; a list nested hundreds deep overflows the stack). Every
render of a post runs in a helper process that is killed past ``MARKDOWN_TIME_LIMIT``.
The budget is set small here so the tests are quick; what they check is that the work
stops at it, the body is refused with the limit named, and the next render works.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import PASSWORD, create_user, make_app
from flask import Flask

from blog.services import ServiceError
from blog.services import posts as post_service
from blog.timebox import TimeBox, TimedOut, TooDeep
from tests.timebox_targets import deep, slow

ATTACKS = {
    "unmatched brackets": "[" * 20000,
    "unclosed links": "[x](" * 20000,
    "unclosed images": "![" * 20000,
}


def test_a_time_box_stops_the_work_and_carries_on() -> None:
    box = TimeBox(slow, seconds=0.5)
    try:
        assert box(0.01) == "done"
        started = time.monotonic()
        with pytest.raises(TimedOut, match="0.5 s"):
            box(30)
        assert time.monotonic() - started < 10  # stopped, not waited for
        assert box(0.01) == "done"  # a new helper took the killed one's place
        assert box.started == 2
    finally:
        box.close()


def test_a_time_box_reports_recursion() -> None:
    box = TimeBox(deep, seconds=5)
    try:
        with pytest.raises(TooDeep):
            box(100_000)
        assert box(10) == 10
    finally:
        box.close()


@pytest.fixture
def quick(app: Flask, database_uri: str, tmp_path) -> Flask:
    return make_app(database_uri, tmp_path / "quick", MARKDOWN_TIME_LIMIT=0.5)


@pytest.mark.parametrize("shape", sorted(ATTACKS))
def test_a_body_too_slow_to_render_is_refused_naming_the_limit(quick: Flask, shape: str) -> None:
    with quick.app_context():
        with pytest.raises(ServiceError) as refused:
            post_service.render_body(ATTACKS[shape])
        assert "0.5 s to render (the limit)" in refused.value.message
        assert refused.value.field == "body"
        assert "<p>" in post_service.render_body("Still *fine* afterwards.")


@pytest.mark.parametrize(
    "nested",
    [
        "".join("  " * level + "- item\n" for level in range(600)),
        "".join(">" * level + " quote\n" for level in range(1, 400)),
    ],
    ids=["list", "quotes"],
)
def test_a_body_nested_too_deeply_is_refused_before_rendering(quick: Flask, nested) -> None:
    """600 levels of list overflow Python-Markdown's stack after a second or more: counted
    first, such a body never reaches the renderer (whose tiny budget here would otherwise
    answer with the time limit instead)."""
    with quick.app_context():
        with pytest.raises(ServiceError, match="nests lists or quotes too deeply") as refused:
            post_service.render_body(nested)
        assert f"at most {post_service.MARKDOWN_MAX_NESTING} levels" in refused.value.message


def test_nesting_up_to_the_limit_renders(app: Flask) -> None:
    nested = "".join(
        "  " * level + "- item\n" for level in range(post_service.MARKDOWN_MAX_NESTING)
    )
    with app.app_context():
        assert post_service.render_body(nested).count("<ul>") == post_service.MARKDOWN_MAX_NESTING


def test_the_editor_keeps_the_text_and_says_why(quick: Flask) -> None:
    create_user(quick, "writer", "author")
    client = quick.test_client()
    assert client.post("/login", data={"username": "writer", "password": PASSWORD}).status_code
    body = ATTACKS["unmatched brackets"]
    saved = client.post(
        "/admin/posts/new", data={"title": "Brackets", "body": body, "action": "draft"}
    )
    assert saved.status_code == 400
    page = saved.get_data(as_text=True)
    assert "(the limit)" in page and body in page
    preview = client.post("/admin/preview", data={"body": body})
    assert preview.status_code == 422
    assert preview.mimetype == "text/plain" and "(the limit)" in preview.get_data(as_text=True)
    fine = client.post("/admin/preview", data={"body": "*Fine*"})
    assert fine.status_code == 200 and "<em>Fine</em>" in fine.get_data(as_text=True)


def test_a_long_body_goes_through_the_helper_whole(app, database_uri: str, tmp_path) -> None:
    """200,000 characters of prose, links, lists and code, there and back through the pipe.
    (How long that takes is the benchmark's business, not a test's: the budget is wide.)"""
    app = make_app(database_uri, tmp_path / "wide", MARKDOWN_TIME_LIMIT=60)
    block = (
        "A paragraph with [a link](https://example.org/) and *emphasis* and `code`. " * 8
        + "\n\n- one\n- two\n  - nested\n\n```python\nprint('hi')\n```\n\n"
    )
    body = (block * (200_000 // len(block) + 1))[:200_000]
    with app.app_context():
        assert post_service.render_body(body).count("<li>") > 500


def test_the_helper_is_started_whatever_the_main_script(tmp_path) -> None:
    """A helper is an interpreter of its own: an unguarded main script is not run again."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from blog.timebox import TimeBox\n"
        "from tests.timebox_targets import slow\n"
        "box = TimeBox(slow, 5)\n"
        "print(box(0.01), box.started)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["done", "1"], done.stderr

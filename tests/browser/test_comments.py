"""Issue 5 in a real browser: a hostile comment is held, moderated by keyboard, shown safely.

Three people at once (separate browser contexts): the commenter, another reader, and the
moderator. Any ``alert`` that fires, in any of them, means markup got through: the sessions
record dialogs and every test asserts there were none.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
from conftest import create_post, create_user
from playwright.sync_api import expect

from tests.browser.helpers import add_comment, log_in, screenshot

pytestmark = pytest.mark.browser

HOSTILE = (
    "<strong>bold</strong> <script>alert(1)</script> "
    '<a href="javascript:alert(2)">x</a> <img src=x onerror=alert(3)> https://example.com'
)
HELD = "Your comment is awaiting moderation."


class Thread(NamedTuple):
    id: int
    path: str


@pytest.fixture
def thread(live_app) -> Thread:
    """A published post by the admin, who also moderates."""
    create_user(live_app, "admin", "admin")
    return Thread(*create_post(live_app, "admin", title="Open thread", body="Say hello below."))


def post_comment(page, text: str, author: str) -> int:
    """Fill the comment form wherever it is on the page, send it, return the new id."""
    page.fill("#comment", text)
    if page.locator("#author").count():
        page.fill("#author", author)
        page.fill("#email", f"{author.lower()}@example.com")
    page.get_by_role("button", name="Post Comment").click()
    page.wait_for_url(re.compile(r"#comment-\d+$"))
    return int(page.url.rsplit("-", 1)[1])


def stays_on_page(page) -> None:
    """Mark the document; if the marker survives, nothing reloaded the page."""
    page.evaluate("window.__notReloaded = true")


def was_not_reloaded(page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def test_hostile_comment_held_moderated_by_keyboard_and_rendered_safely(thread, new_session):
    commenter, other, moderator = new_session(), new_session(), new_session()

    # The commenter sees their own comment, marked as held.
    page = commenter.page
    page.goto(thread.path)
    comment_id = post_comment(page, HOSTILE, "Alice")
    mine = page.locator(f"#comment-{comment_id}")
    expect(mine.locator(".comment-awaiting-moderation")).to_have_text(HELD)

    # Nobody else does.
    other.page.goto(thread.path)
    expect(other.page.locator(f"#comment-{comment_id}")).to_have_count(0)
    expect(other.page.get_by_text(HELD)).to_have_count(0)

    # The moderator approves it from the queue with the keyboard, without a reload.
    queue = moderator.page
    log_in(queue, "admin")
    queue.goto("/admin/comments")
    row = queue.locator(f"#queue #comment-{comment_id}")
    expect(row).to_be_visible()
    stays_on_page(queue)

    queue.locator("#queue-s").press_sequentially("ja")  # typing in a field is just typing
    expect(queue.locator(".is-current")).to_have_count(0)
    expect(queue.locator("#queue-s")).to_have_value("ja")
    queue.locator("#queue-s").fill("")
    queue.locator("#queue-s").blur()

    queue.keyboard.press("j")
    expect(row).to_have_class(re.compile(r"\bis-current\b"))
    expect(row).to_be_focused()
    checkbox = row.locator(".queue-select input")
    queue.keyboard.press("x")
    expect(checkbox).to_be_checked()
    queue.keyboard.press("x")
    expect(checkbox).not_to_be_checked()

    queue.keyboard.press("a")
    expect(row).to_have_count(0)
    expect(queue.locator("#queue-status")).to_have_text("1 comment approved.")
    expect(queue.locator('.count[data-count="pending"]')).to_have_text("(0)")
    expect(queue.locator('.count[data-count="approved"]')).to_have_text("(1)")
    assert was_not_reloaded(queue)

    # Now public, and only what the whitelist allows survived.
    page.reload()
    content = page.locator(f"#comment-{comment_id} .comment-content")
    expect(content.locator("strong")).to_have_text("bold")
    expect(page.locator(f"#comment-{comment_id} .comment-awaiting-moderation")).to_have_count(0)
    expect(content.locator("script")).to_have_count(0)
    expect(content.locator("img")).to_have_count(0)
    expect(page.locator('[href^="javascript:" i]')).to_have_count(0)
    expect(page.locator("[onerror]")).to_have_count(0)
    link = content.locator('a[href="https://example.com"]')
    expect(link).to_have_text("https://example.com")
    assert {"nofollow", "ugc"} <= set((link.get_attribute("rel") or "").split())

    other.page.reload()
    expect(other.page.locator(f"#comment-{comment_id} .comment-content strong")).to_have_text(
        "bold"
    )

    for session in (commenter, other, moderator):
        assert session.dialogs == [], session.dialogs
        assert session.errors == [], session.errors


def test_reply_link_moves_the_form_and_the_reply_nests(thread, live_app, new_session):
    parent_id = add_comment(live_app, thread.id, "Alice", "First!")
    reader, moderator = new_session(), new_session()
    page = reader.page
    page.goto(thread.path)

    respond = page.locator(f"#li-comment-{parent_id} > #respond")
    page.locator(f"#comment-{parent_id} .comment-reply-link").click()
    expect(respond).to_have_count(1)
    expect(page.locator("#comment_parent")).to_have_value(str(parent_id))
    expect(page.locator("#cancel-comment-reply-link")).to_be_visible()
    expect(page.locator("#reply-title")).to_contain_text("Reply to Alice")
    expect(page.locator("#comment")).to_be_focused()
    assert "replytocom" not in page.url  # handled in the page, not by the server

    page.locator("#cancel-comment-reply-link").click()
    expect(respond).to_have_count(0)
    expect(page.locator("#comment_parent")).to_have_value("0")
    expect(page.locator("#cancel-comment-reply-link")).to_be_hidden()
    expect(page.locator("#reply-title")).to_contain_text("Leave a Reply")

    page.locator(f"#comment-{parent_id} .comment-reply-link").click()
    expect(respond).to_have_count(1)
    reply_id = post_comment(page, "Welcome, <em>Alice</em>.", "Bob")
    nested = page.locator(f"#li-comment-{parent_id} > .children > li.depth-2#li-comment-{reply_id}")
    expect(nested.locator(".comment-awaiting-moderation")).to_have_text(HELD)

    # Approved with the row's own button: it acts in place as well.
    log_in(moderator.page, "admin")
    moderator.page.goto("/admin/comments")
    stays_on_page(moderator.page)
    moderator.page.locator(f"#comment-{reply_id} .action-approve").click()
    expect(moderator.page.locator(f"#comment-{reply_id}")).to_have_count(0)
    assert was_not_reloaded(moderator.page)

    stranger = new_session()
    stranger.page.goto(thread.path)
    reply = stranger.page.locator(
        f"#li-comment-{parent_id} > .children > li.depth-2 #comment-{reply_id}"
    )
    expect(reply.locator(".comment-content em")).to_have_text("Alice")
    for session in (reader, moderator, stranger):
        assert session.dialogs == [] and session.errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_each_checkbox_of_the_form_sits_beside_its_label(thread, new_session, width) -> None:
    """Every checkbox under the comment form shares a line with its label, in the same
    weight as the others (the reply-notification one once sat bold on a line of its own)."""
    page = new_session(viewport={"width": width, "height": 900}).page
    page.goto(thread.path)
    boxes = page.locator("#commentform input[type=checkbox]")
    assert boxes.count() >= 3
    for index in range(boxes.count()):
        box = boxes.nth(index)
        name = box.get_attribute("id")
        label = page.locator(f"#commentform label[for='{name}']")
        box_area, label_area = box.bounding_box(), label.bounding_box()
        assert box_area and label_area
        assert label_area["y"] <= box_area["y"] + box_area["height"], f"{name}: label below"
        assert label_area["x"] > box_area["x"], f"{name}: label not beside the box"
        assert label.evaluate("l => getComputedStyle(l).fontWeight") == "400", name


def test_reply_without_javascript(thread, live_app, new_session):
    parent_id = add_comment(live_app, thread.id, "Alice", "First!")
    page = new_session(java_script_enabled=False).page
    page.goto(f"{thread.path}?replytocom={parent_id}#respond")
    expect(page.locator("#comment_parent")).to_have_value(str(parent_id))
    expect(page.locator("#reply-title")).to_contain_text("Reply to Alice")
    expect(page.locator("#cancel-comment-reply-link")).to_be_visible()

    reply_id = post_comment(page, "Replying the old-fashioned way.", "Carol")
    nested = page.locator(f"#li-comment-{parent_id} > .children > li.depth-2 #comment-{reply_id}")
    expect(nested.locator(".comment-awaiting-moderation")).to_have_text(HELD)
    expect(page.locator("#comment_parent")).to_have_value("0")


def test_a_moved_comment_leaves_undo_where_it_was(thread, live_app, new_session):
    held = [
        add_comment(live_app, thread.id, name, f"Held words from {name}.", approve_as=None)
        for name in ("Ann", "Ben", "Cy")
    ]
    moderator = new_session()
    queue = moderator.page
    log_in(queue, "admin")
    queue.goto("/admin/comments")
    stays_on_page(queue)
    row = queue.locator(f"#queue #comment-{held[1]}")
    row.get_by_role("button", name="Spam").click()

    # The row becomes a note in the same place, with Undo; the counts follow.
    note = queue.locator("#queue > .queue-item").nth(1)
    expect(note).to_have_class(re.compile(r"\bmoved\b"))
    expect(note).to_have_text("Comment by Ben marked as spam. Undo")
    expect(queue.locator('.count[data-count="spam"]')).to_have_text("(1)")
    screenshot(queue, "queue-moved")
    note.get_by_role("button", name="Undo").click()
    expect(row).to_be_visible()
    expect(row).to_contain_text("Held words from Ben.")
    expect(queue.locator("#queue-status")).to_have_text("Undone: the comment is pending again.")
    expect(queue.locator('.count[data-count="spam"]')).to_have_text("(0)")
    expect(queue.locator('.count[data-count="pending"]')).to_have_text("(3)")
    # The row put back works as before: the keyboard acts on it.
    queue.keyboard.press("a")
    expect(queue.locator("#queue > .queue-item").nth(1)).to_have_text(
        "Comment by Ben approved. Undo"
    )
    assert was_not_reloaded(queue)

    # "Select all on this page" ticks every row, and the bulk action then offers Undo all.
    queue.reload()
    queue.locator("#select-all").check()
    expect(queue.locator(".queue-select input:checked")).to_have_count(2)
    queue.locator("#bulk-action").select_option("trash")
    queue.get_by_role("button", name="Apply to selected").click()
    expect(queue.locator(".flash-success")).to_contain_text("2 comments moved to the trash.")
    expect(queue.locator("#queue > .queue-item.moved")).to_have_count(2)
    queue.get_by_role("button", name="Undo all 2").click()
    expect(queue.locator(".flash-success")).to_contain_text("Undone: 2 comments")
    expect(queue.locator("#queue > .queue-item:not(.moved)")).to_have_count(2)
    assert moderator.errors == [], moderator.errors


@pytest.mark.parametrize(
    ("viewport", "scheme"), [("desktop", "light"), ("phone", "dark")], ids=["desktop", "phone-dark"]
)
def test_the_moderation_log_filters_and_undoes(thread, live_app, new_session, viewport, scheme):
    from tests.browser.helpers import DESKTOP, PHONE

    held = add_comment(live_app, thread.id, "Dora", "Held words from Dora.", approve_as=None)
    session = new_session(viewport=PHONE if viewport == "phone" else DESKTOP, color_scheme=scheme)
    page = session.page
    log_in(page, "admin")
    page.goto("/admin/comments")
    page.locator(f"#queue #comment-{held}").get_by_role("button", name="Spam").click()
    expect(page.locator("#queue-status")).to_have_text("1 comment marked as spam.")

    page.get_by_role("link", name="Moderation log").first.click()
    expect(page.locator("h1")).to_have_text("Moderation log")
    newest = page.locator("tbody tr").first
    expect(newest).to_contain_text("marked as spam")
    expect(newest).to_contain_text("Held words from Dora.")
    page.locator("#log-action").select_option("spam")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    screenshot(page, f"moderation-log-{viewport}-{scheme}")
    page.locator("tbody tr").first.get_by_role("button", name="Undo").click()
    expect(page.locator(".flash-success")).to_contain_text("Undone: the comment is pending again.")
    expect(page).to_have_url(re.compile(r"/admin/comments/log\?action=spam$"))
    expect(page.locator("tbody tr").first).to_contain_text("undone")
    # From the log to the comment itself, in the queue.
    page.locator("tbody tr").first.get_by_role("link", name=re.compile(r"^#\d+ by Dora")).click()
    expect(page.locator(".queue-item")).to_have_count(1)
    expect(page.locator(f"#comment-{held}")).to_contain_text("Held words from Dora.")
    assert session.errors == [], session.errors

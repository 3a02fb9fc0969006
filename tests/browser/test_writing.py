"""Issue 4 in a real browser: write a post with the live preview, publish it, read it."""

from __future__ import annotations

import re

import pytest
from conftest import create_user
from playwright.sync_api import expect

from tests.browser.helpers import SCREENSHOTS, log_in

pytestmark = pytest.mark.browser

BODY = """## Shopping list

- flour
- eggs

```
print("hello")
```
"""


def test_write_preview_and_publish(live_app, new_session):
    create_user(live_app, "admin", "admin")
    admin = new_session()
    page = admin.page
    log_in(page, "admin")

    page.goto("/admin/posts/new")
    editor_url = page.url
    page.fill("#title", "Pancakes at dawn")
    page.locator("#body").fill(BODY)

    # The preview follows the typing without a page load (the URL and the title stay).
    preview = page.locator("#preview")
    expect(preview.locator("h2")).to_have_text("Shopping list")
    expect(preview.locator("ul > li")).to_have_text(["flour", "eggs"])
    expect(preview.locator("pre code")).to_contain_text('print("hello")')
    assert page.url == editor_url
    expect(page.locator("#title")).to_have_value("Pancakes at dawn")

    # Typing more updates it again; what the author typed goes through the sanitizer.
    page.locator("#body").press("Control+End")
    page.locator("#body").press_sequentially('\n### Method\n\n<script>alert("x")</script>')
    expect(preview.locator("h3")).to_have_text("Method")
    expect(preview.locator("script")).to_have_count(0)

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(".status")).to_have_text("published")

    page.goto("/")
    link = page.locator(".post-summary .post-title a", has_text="Pancakes at dawn")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"/\d{4}/\d{2}/pancakes-at-dawn/$"))
    expect(page.locator("h1.post-title")).to_have_text("Pancakes at dawn")
    body = page.locator(".post-body")
    expect(body.locator("h2")).to_have_text("Shopping list")
    expect(body.locator("li")).to_have_count(2)
    expect(body.locator("pre code")).to_contain_text('print("hello")')
    expect(body.locator("script")).to_have_count(0)
    assert admin.dialogs == [] and admin.errors == []


def test_a_body_too_slow_to_render_says_so_in_the_preview(live_app, new_session):
    """The live preview of a pathological body: the refusal, not a stuck editor."""
    create_user(live_app, "writer", "author")
    writer = new_session()
    page = writer.page
    log_in(page, "writer")
    page.goto("/admin/posts/new")
    page.fill("#title", "Brackets")
    page.locator("#body").fill("[" * 20000)
    note = page.locator("#preview .preview-error")
    expect(note).to_contain_text("to render (the limit)", timeout=15_000)
    page.screenshot(path=str(SCREENSHOTS / "preview-too-slow.png"), full_page=False)
    # The editor still works: a plain body previews again.
    page.locator("#body").fill("Back to *normal*.")
    expect(page.locator("#preview em")).to_have_text("normal")
    assert writer.dialogs == [] and writer.errors == []

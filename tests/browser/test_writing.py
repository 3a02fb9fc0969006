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


@pytest.mark.parametrize(
    ("viewport", "scheme"), [("desktop", "light"), ("phone", "dark")], ids=["desktop", "phone-dark"]
)
def test_the_posts_list_filters_and_acts_in_bulk(live_app, new_session, viewport, scheme):
    from conftest import create_post

    from tests.browser.helpers import DESKTOP, PHONE, screenshot

    create_user(live_app, "admin", "admin")
    create_post(live_app, "admin", "Sourdough", "Flour.", tags=["baking"], categories=["Food"])
    create_post(live_app, "admin", "Rye", "More flour.", action="draft", tags=["baking"])
    create_post(live_app, "admin", "Beans", "Garden.", categories=["Garden"])
    session = new_session(viewport=PHONE if viewport == "phone" else DESKTOP, color_scheme=scheme)
    page = session.page
    log_in(page, "admin")
    page.goto("/admin/posts")
    rows = page.locator(".posts-table tbody tr")
    expect(rows).to_have_count(3)
    # A tag in a row filters the list by it.
    page.locator(".posts-table a", has_text="baking").first.click()
    expect(rows).to_have_count(2)
    expect(page.locator(".filter-note")).to_contain_text("Tagged baking")
    screenshot(page, f"posts-list-{viewport}-{scheme}")
    # Select all, trash both, and the list says so; the trash tab has them, to restore.
    page.locator("input[data-select-all]").check()
    expect(page.locator('input[name="ids"]:checked')).to_have_count(2)
    page.locator("#posts-bulk-action").select_option("trash")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.locator(".flash-success")).to_contain_text("2 posts moved to the trash.")
    # The filter is kept, and nothing else has the tag.
    expect(rows).to_have_text(["No posts match these filters."])
    page.goto("/admin/posts?status=trash")
    page.locator("input[data-select-all]").check()
    page.locator("#posts-bulk-action").select_option("restore")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.locator(".flash-success")).to_contain_text("2 posts restored.")
    page.goto("/admin/posts?s=flour")
    expect(rows).to_have_count(2)
    assert session.errors == [], session.errors


def test_autosave_restore_and_the_unsaved_changes_warning(live_app, new_session):
    from tests.browser.helpers import screenshot

    create_user(live_app, "admin", "admin")
    live_app.config["AUTOSAVE_SECONDS"] = 1
    session = new_session()
    page = session.page
    log_in(page, "admin")
    page.goto("/admin/posts/new")
    status = page.locator("#autosave-status")
    page.locator("#body").fill("Words before a title.")
    expect(status).to_have_text("Autosave starts once the post has a title.")
    page.locator("#title").fill("An autosaved idea")
    # The first autosave makes a draft, and the editor goes on editing it.
    expect(status).to_contain_text("Saved as a draft at")
    expect(page).to_have_url(re.compile(r"/admin/posts/\d+/edit$"))
    edit_url = page.url
    page.locator("#body").fill("Words before a title, and after it.")
    expect(status).to_contain_text("Autosaved at")

    # Leaving with unsaved changes asks first (the dialog is dismissed: we stay).
    page.close(run_before_unload=True)
    for _ in range(50):
        if session.dialogs:
            break
        session.context.pages[0].wait_for_timeout(100)
    assert [d.split(":")[0] for d in session.dialogs] == ["beforeunload"]
    assert not page.is_closed()

    # Elsewhere (a new tab), the editor offers the unsaved words back.
    other = session.context.new_page()
    other.goto(edit_url)
    notice = other.locator(".autosave-notice")
    expect(notice).to_contain_text("You have changes to this post that were not saved")
    screenshot(other, "editor-autosave-offer")
    notice.get_by_role("link", name="Restore them").click()
    expect(other.locator("#body")).to_have_value("Words before a title, and after it.")
    other.get_by_role("button", name="Save draft").click()
    expect(other.locator(".flash-success")).to_have_text("Draft saved.")
    expect(other.locator(".autosave-notice")).to_have_count(0)
    # A save leaves without asking.
    assert [d.split(":")[0] for d in session.dialogs] == ["beforeunload"]

    # Two revisions now: the autosaved draft and the saved words; the older one restores.
    revisions = other.locator(".editor-revisions li")
    expect(revisions).to_have_count(2)
    revisions.nth(1).get_by_role("link").click()
    expect(other.locator(".revision-diff .diff-added")).to_contain_text(["Words before a title."])
    screenshot(other, "editor-revision")
    other.get_by_role("button", name="Restore this revision").click()
    expect(other.locator("#body")).to_have_value("Words before a title.")
    assert session.errors == [], session.errors

"""The admin's Import, Export and Personal data pages, as an administrator uses them in
Chromium: upload a WordPress export and read the summary, download the site's export, export
and erase a commenter's data (with the confirmation step)."""

from __future__ import annotations

import json

import pytest
from conftest import create_post, create_user
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, PHONE, add_comment, log_in, screenshot
from tests.test_wxr_import import SMALL, needs_samples

pytestmark = pytest.mark.browser


@needs_samples
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_import_then_export_in_the_browser(live_app, new_session, tmp_path, viewport):
    create_user(live_app, "admin", "admin")
    admin = new_session(viewport=viewport)
    page = admin.page
    log_in(page, "admin")
    name = "desktop" if viewport == DESKTOP else "phone"

    page.get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", name="Import from WordPress")).to_be_visible()
    page.set_input_files("#file", str(SMALL))
    page.get_by_role("button", name="Upload and import").click()
    summary = page.locator(".import-summary")
    expect(summary).to_contain_text("posts: 6")
    expect(summary).to_contain_text("pages: 5")
    screenshot(page, f"{name}-admin-import")

    page.get_by_role("link", name="Export").click()
    expect(page.get_by_role("heading", name="Export")).to_be_visible()
    screenshot(page, f"{name}-admin-export")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the export file").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("my-blog.wordpress.")
    text = saved.read_text(encoding="utf-8")
    assert "<wp:wxr_version>1.2</wp:wxr_version>" in text
    assert text.count("<item>") == 6 + 5  # the posts and pages just imported
    assert admin.errors == []


def test_personal_data_in_the_browser(live_app, new_session, tmp_path):
    create_user(live_app, "admin", "admin")
    post_id, path = create_post(live_app, "admin", title="Privacy, please")
    add_comment(live_app, post_id, "Zoë", "I would like to be forgotten.", email="zoe@example.org")
    add_comment(live_app, post_id, "Ben", "I stay.", email="ben@example.org")
    admin = new_session(viewport=DESKTOP)
    page = admin.page
    log_in(page, "admin")
    page.get_by_role("link", name="Personal data").click()
    page.fill("#email", "ZOE@example.org")
    screenshot(page, "desktop-admin-privacy")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export personal data").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert [c["content"] for c in data["comments"]] == ["I would like to be forgotten."]

    page.get_by_role("button", name="Erase personal data…").click()
    confirm = page.locator(".confirm-box")
    expect(confirm).to_contain_text("Anonymise 1 comment")
    screenshot(page, "desktop-admin-privacy-confirm")
    confirm.get_by_role("button", name="Anonymise them").click()
    expect(page.locator(".flash-success")).to_contain_text("1 comment(s) anonymised")

    reader = new_session(viewport=PHONE)
    reader.page.goto(path)
    authors = reader.page.locator(".comment-author")
    expect(authors).to_have_text(["Anonymous", "Ben"])
    expect(reader.page.locator(".comment-content").first).to_have_text(
        "I would like to be forgotten."
    )
    assert admin.errors == reader.errors == []


def test_personal_data_buttons_keep_apart_on_a_phone(live_app, new_session) -> None:
    """Two buttons that wrap onto two lines on a phone keep a gap (they once touched)."""
    create_user(live_app, "admin", "admin")
    page = new_session(viewport=PHONE).page
    log_in(page, "admin")
    page.goto("/admin/privacy")
    first = page.get_by_role("button", name="Export personal data").bounding_box()
    second = page.get_by_role("button", name="Erase personal data…").bounding_box()
    assert first and second
    apart_across = second["x"] >= first["x"] + first["width"] + 4
    apart_down = second["y"] >= first["y"] + first["height"] + 4
    assert apart_across or apart_down, (first, second)

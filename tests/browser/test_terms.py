"""Tags and categories in the admin, as an editor uses them in Chromium: rename a tag and
see readers get the new name and the old address redirect; merge two tags through the
confirmation page; screenshots of every screen, desktop and phone, light and dark."""

from __future__ import annotations

import pytest
from conftest import create_post, create_user
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, PHONE, log_in, screenshot

pytestmark = pytest.mark.browser

SIZES = [(DESKTOP, "desktop"), (PHONE, "phone")]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_rename_a_tag_and_merge_two(live_app, new_session, live_server, javascript):
    create_user(live_app, "ed", "editor")
    _, path = create_post(live_app, "ed", title="On snakes", tags=["Python", "Py"])
    create_post(live_app, "ed", title="On flasks", tags=["Flask"])
    editor = new_session(viewport=DESKTOP, java_script_enabled=javascript)
    page = editor.page
    log_in(page, "ed")

    page.get_by_role("link", name="Tags", exact=True).click()
    expect(page.get_by_role("heading", name="Tags", exact=True)).to_be_visible()
    row = page.locator("tr", has_text="Python")
    expect(row.get_by_role("link", name="1 post in Python")).to_be_visible()

    # Rename Python to Python 3 with a new slug.
    page.get_by_role("link", name="Python", exact=True).click()
    page.fill("#name", "Python 3")
    page.fill("#slug", "python-3")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Tag “Python 3” saved.")).to_be_visible()

    reader = new_session(viewport=DESKTOP)
    reader.page.goto("/tag/python/")
    assert reader.page.url == live_server + "/tag/python-3/"
    expect(reader.page.get_by_role("heading", name="Tag: Python 3")).to_be_visible()
    reader.page.goto(path)
    expect(reader.page.get_by_role("link", name="Python 3")).to_be_visible()

    # Merge Py into Python 3: a confirmation page first, then the merge.
    page.get_by_role("link", name="← Tags").click()
    page.get_by_role("link", name="Py", exact=True).click()
    page.fill("#target", "python-3")
    page.get_by_role("button", name="Merge…").click()
    expect(page.get_by_role("heading", name="Merge the tag “Py”?")).to_be_visible()
    page.get_by_role("button", name="Merge into “Python 3”").click()
    expect(page.get_by_text("“Py” merged into “Python 3”")).to_be_visible()
    page.get_by_role("link", name="← Tags").click()
    expect(page.locator("tbody tr")).to_have_count(2)  # Flask and Python 3
    reader.page.goto("/tag/py/")
    assert reader.page.url == live_server + "/tag/python-3/"
    assert editor.errors == [] and reader.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_term_screens(live_app, new_session, scheme):
    create_user(live_app, "admin", "admin")
    create_post(
        live_app, "admin", title="Kyoto", tags=["Travel", "Japan"], categories=["Asia/Japan"]
    )
    create_post(live_app, "admin", title="Lisbon", tags=["Travel"], categories=["Europe"])
    for size, name in SIZES:
        session = new_session(viewport=size, color_scheme=scheme)
        page = session.page
        log_in(page, "admin")
        shot = f"{name}-{scheme}"
        page.goto("/admin/tags")
        screenshot(page, f"{shot}-admin-tags")
        page.get_by_role("link", name="Travel", exact=True).click()
        screenshot(page, f"{shot}-admin-tag-edit")
        page.fill("#target", "japan")
        page.get_by_role("button", name="Merge…").click()
        expect(page.get_by_role("button", name="Merge into “Japan”")).to_be_visible()
        screenshot(page, f"{shot}-admin-tag-merge")
        page.goto("/admin/categories")
        page.fill("#name", "x" * 201)
        page.get_by_role("button", name="Add category").click()
        expect(page.get_by_text("the limit is 200")).to_have_count(2)
        screenshot(page, f"{shot}-admin-categories-error")
        page.goto("/admin/categories")
        page.get_by_role("link", name="Japan", exact=True).click()
        page.fill("#description", "Temples, trains and\n\ntea.")
        page.get_by_role("button", name="Save changes").click()
        screenshot(page, f"{shot}-admin-category-edit")
        page.get_by_role("button", name="Delete…").click()
        expect(page.get_by_role("button", name="Delete “Japan”")).to_be_visible()
        screenshot(page, f"{shot}-admin-category-delete")
        page.goto("/category/japan/")
        expect(page.locator(".archive-description p")).to_have_count(2)
        screenshot(page, f"{shot}-category-archive")
        assert session.errors == []

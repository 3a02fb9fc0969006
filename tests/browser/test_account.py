"""Your account in Chromium: a token shown once, and logging out everywhere else."""

from __future__ import annotations

import re

import pytest
from conftest import create_user
from playwright.sync_api import expect

from tests.browser.helpers import PHONE, log_in, screenshot

pytestmark = pytest.mark.browser


def test_tokens_and_logging_out_everywhere(live_app, new_session):
    create_user(live_app, "ada", "admin")
    here, there = new_session(), new_session(viewport=PHONE)
    log_in(here.page, "ada")
    log_in(there.page, "ada")
    page = here.page
    page.goto("/admin/account")
    expect(page.locator("table").first.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_text("this browser")).to_have_count(1)
    page.fill("#name", "backup script")
    page.get_by_role("button", name="Create a token").click()
    token = page.locator("#new-token")
    expect(token).to_contain_text("blog_")
    screenshot(page, "account-new-token")
    page.goto("/admin/account")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_text("backup script")).to_be_visible()

    page.get_by_role("button", name="Log out everywhere else").click()
    expect(page.locator(".flash-success")).to_contain_text("1 other session ended")
    there.page.goto("/admin/")
    expect(there.page).to_have_url(re.compile(r"/login"))
    screenshot(there.page, "phone-logged-out-elsewhere")
    assert here.errors == [] and there.errors == []

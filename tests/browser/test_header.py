"""The public header on one line at common laptop widths, logged in or not."""

from __future__ import annotations

import pytest
from conftest import create_user
from playwright.sync_api import expect

from tests.browser.helpers import log_in, screenshot

pytestmark = pytest.mark.browser


def _lines(page) -> int:
    """How many rows the header's items sit on (their distinct middles)."""
    tops = page.evaluate(
        """() => [...document.querySelectorAll(
              '.site-header .site-branding, .site-header .site-nav li, .site-header .search-form')]
            .map(e => { const r = e.getBoundingClientRect(); return (r.top + r.bottom) / 2; })"""
    )
    return len({round(middle / 16) for middle in tops})


@pytest.mark.parametrize("width", [1280, 1366, 1440])
def test_the_header_stays_on_one_line_when_logged_in(live_app, new_session, width):
    create_user(live_app, "administrator", "admin")
    session = new_session(viewport={"width": width, "height": 800})
    page = session.page
    page.goto("/")
    assert _lines(page) == 1
    log_in(page, "administrator")
    page.goto("/")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot(page, f"header-{width}-logged-in")
    assert _lines(page) == 1, f"the header wraps at {width}px when logged in"

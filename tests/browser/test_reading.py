"""A reader's page with local avatars asks no other site for anything; month names show.

Every request the browser makes is recorded (``keep_local`` would answer Gravatar's locally,
so a request to it would still go unnoticed without the record) and must be to 127.0.0.1.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from comment_helpers import add_comment as store_comment
from comment_helpers import set_discussion
from conftest import create_post, create_user
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, PHONE, add_comment, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def discussed(live_app) -> str:
    create_user(live_app, "admin", "admin")
    when = datetime(2026, 12, 3, 12, tzinfo=UTC)
    create_post(live_app, "admin", title="Autumn notes", published_at=when.replace(month=11))
    post_id, path = create_post(
        live_app,
        "admin",
        title="Winter reading",
        body="A few books for the long evenings.\n\nTell me yours below.",
        published_at=when,
    )
    first = add_comment(live_app, post_id, "Ada Lovelace", "Notes on the Analytical Engine.")
    add_comment(live_app, post_id, "Grace", "Anything by Ursula K. Le Guin.", parent_id=first)
    # No email given (as an import may leave one): initials, never Gravatar.
    store_comment(live_app, post_id, "<p>Seconded, and more.</p>", author="Alan Turing", email="")
    return path


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [("desktop", "light"), ("desktop", "dark"), ("phone", "light"), ("phone", "dark")],
)
def test_local_avatars_ask_no_other_site(discussed, live_app, new_session, viewport, scheme):
    set_discussion(live_app, avatar_source="local")
    session = new_session(viewport=PHONE if viewport == "phone" else DESKTOP, color_scheme=scheme)
    page = session.page
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).hostname or ""))
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    page.goto(discussed)
    avatars = page.locator(".comment-list svg.avatar-local")
    expect(avatars).to_have_count(3)
    for index in range(3):
        box = avatars.nth(index).bounding_box()
        assert box is not None and box["width"] >= 30 and box["height"] >= 30
    expect(page.locator(".comment-list img")).to_have_count(0)
    assert "gravatar" not in page.content().lower()
    screenshot(page, f"reading-post-local-avatars-{viewport}-{scheme}")

    page.goto("/archives/")
    expect(page.locator(".archive-list")).to_contain_text("December 2026")
    expect(page.locator(".archive-list")).to_contain_text("November 2026")
    screenshot(page, f"reading-archives-{viewport}-{scheme}")
    page.get_by_role("link", name="December 2026").click()
    expect(page.locator("h1")).to_have_text("Month: December 2026")

    assert hosts and set(hosts) == {"127.0.0.1"}, hosts
    assert violations == [], violations
    assert session.errors == [], session.errors


def test_gravatar_avatars_still_load_by_default(discussed, new_session):
    session = new_session()
    page = session.page
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).hostname or ""))
    page.goto(discussed)
    # Two commenters gave an email (answered locally by keep_local); one did not.
    expect(page.locator(".comment-list img.avatar")).to_have_count(2)
    expect(page.locator(".comment-list svg.avatar-local")).to_have_count(1)
    page.wait_for_load_state("networkidle")
    assert "www.gravatar.com" in hosts
    screenshot(page, "reading-post-gravatar-desktop-light")


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [("desktop", "light"), ("desktop", "dark"), ("phone", "light"), ("phone", "dark")],
)
def test_the_owner_switches_language_and_avatars(discussed, new_session, viewport, scheme):
    from tests.browser.helpers import log_in

    session = new_session(viewport=PHONE if viewport == "phone" else DESKTOP, color_scheme=scheme)
    page = session.page
    log_in(page, "admin")
    page.goto("/admin/settings")
    page.select_option("#language", "fr_FR")
    screenshot(page, f"reading-settings-general-{viewport}-{scheme}")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#language")).to_have_value("fr_FR")

    page.goto("/admin/settings/discussion")
    page.select_option("#avatar_source", "local")
    page.locator("#avatar_source").scroll_into_view_if_needed()
    screenshot(page, f"reading-settings-discussion-{viewport}-{scheme}")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#avatar_source")).to_have_value("local")

    page.goto(discussed)
    expect(page.locator(".post-meta time")).to_have_text("3 décembre 2026")
    expect(page.locator(".comment-list svg.avatar-local")).to_have_count(3)
    assert session.errors == [], session.errors

"""The spam filter as a moderator meets it in Chromium: scores and reasons in the queue, the
queue sorted by score, marking spam from the keyboard teaching it, and the Discussion
settings' filter section with its retrain button; and a commenter asking for replies."""

from __future__ import annotations

import pytest
from conftest import create_post, create_user
from playwright.sync_api import expect

from blog.extensions import db
from blog.models import SpamModel
from tests.browser.helpers import DESKTOP, PHONE, log_in, screenshot

pytestmark = pytest.mark.browser

SPAM = [
    "Check out my channel and subscribe http://cheap-pills.test/buy",
    "BEST PRICES on watches visit www.replica-deals.test now",
    "Earn $5000 a week from home, click http://money-now.test",
]
GOOD = [
    "Thank you for the recipe, I baked it on Sunday.",
    "Which lens did you use for the harbour photographs?",
    "I disagree with the second point; the evidence is thin.",
]


def _teach(app) -> None:
    from blog import spam
    from blog.services import spam as spam_service

    with app.app_context():
        for k in range(20):
            spam_service.learn(spam.Sample(SPAM[k % 3] + f" {k}", author="promo"), True)
            spam_service.learn(spam.Sample(GOOD[k % 3] + f" {k}", author="Ann"), False)
        db.session.commit()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_queue_shows_and_sorts_by_score(live_app, new_session, viewport):
    create_user(live_app, "admin", "admin")
    _, path = create_post(live_app, "admin", title="Filtered")
    _teach(live_app)
    reader = new_session(viewport=viewport)
    page = reader.page
    for text, name in ((GOOD[0] + " again", "Ann"), (SPAM[1] + " today", "promo")):
        page.goto(path)
        page.fill("#comment", text)
        page.fill("#author", name)
        page.fill("#email", f"{name.lower()}@example.org")
        page.wait_for_timeout(3100)  # past the time trap
        page.get_by_role("button", name="Post Comment").click()
        page.wait_for_load_state("load")

    admin = new_session(viewport=viewport)
    log_in(admin.page, "admin")
    page = admin.page
    page.goto("/admin/comments?status=pending")
    expect(page.locator(".spam-score")).to_have_count(2)
    page.select_option("#queue-order", "score")
    page.get_by_role("button", name="Show").click()
    first = page.locator(".queue-item").first
    expect(first).to_contain_text("BEST PRICES")
    expect(first.locator(".spam-score")).to_have_class("spam-score high")
    expect(first.locator(".reasons")).to_contain_text("spam score")
    name = "desktop" if viewport == DESKTOP else "phone"
    screenshot(page, f"{name}-queue-by-score")

    # Marking it spam from the keyboard teaches the filter.
    with live_app.app_context():
        before = db.session.get(SpamModel, 1).spam_examples
    first.click(position={"x": 5, "y": 5})
    page.keyboard.press("s")
    expect(page.locator(".queue-item", has_text="BEST PRICES")).to_have_count(0)
    with live_app.app_context():
        db.session.expire_all()
        assert db.session.get(SpamModel, 1).spam_examples == before + 1
    assert reader.errors == admin.errors == []


def test_the_discussion_settings_filter_section(live_app, new_session):
    create_user(live_app, "admin", "admin")
    _teach(live_app)
    admin = new_session(viewport=DESKTOP)
    log_in(admin.page, "admin")
    page = admin.page
    page.goto("/admin/settings/discussion")
    section = page.locator("fieldset", has_text="Spam filter")
    expect(section).to_contain_text("learned from 20 spam and 20 good comments")
    section.scroll_into_view_if_needed()
    screenshot(page, "desktop-settings-spam")
    section.get_by_role("button", name="Retrain the filter now").click()
    expect(page.locator(".flash-success")).to_contain_text("learned again")
    assert admin.errors == []


def test_asking_for_replies_and_confirming_in_the_browser(live_app, new_session):
    """With a mail server off, the confirmation link is made here as the mail would carry
    it; the page's button (CSRF on) confirms."""
    from blog.models import ConfirmedEmail
    from blog.services import subscriptions

    create_user(live_app, "admin", "admin")
    _, path = create_post(live_app, "admin", title="Replies wanted")
    reader = new_session(viewport=PHONE)
    page = reader.page
    page.goto(path)
    expect(page.locator("#notify_replies")).to_be_visible()
    screenshot(page, "phone-form-notify-replies")
    with live_app.test_request_context():
        token = subscriptions.confirm_token("zoe@example.org")
    page.goto(f"/comments/confirm/{token}")
    screenshot(page, "phone-confirm-email")
    page.get_by_role("button", name="Confirm zoe@example.org").click()
    expect(page.locator("h1")).to_have_text("Thank you")
    with live_app.app_context():
        assert db.session.get(ConfirmedEmail, "zoe@example.org") is not None
    assert reader.errors == []

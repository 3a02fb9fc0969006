"""Admin -> Users in Chromium: adding a user with no password, the one-time link it gives,
a reset, disabling; with screenshots of every screen, desktop and phone, light and dark."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from conftest import create_post, create_user
from playwright.sync_api import expect

from tests.browser.helpers import DESKTOP, PHONE, log_in, screenshot

pytestmark = pytest.mark.browser


def test_add_a_user_reset_a_password_and_disable(live_app, new_session):
    create_user(live_app, "ada", "admin")
    create_user(live_app, "bob", "author")
    create_post(live_app, "bob", title="Bob's first")
    admin = new_session()
    page = admin.page
    log_in(page, "ada")
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Users")
    expect(page.locator("#role-editor")).to_contain_text("moderate every comment")

    # Add a user and leave the password empty: a one-time link is shown.
    page.get_by_role("link", name="Add new").click()
    page.fill("#username", "cleo")
    page.fill("#display_name", "Cleo Writer")
    page.fill("#email", "cleo@example.org")
    page.select_option("#role", "editor")
    page.get_by_role("button", name="Add the user").click()
    expect(page.locator(".flash-success")).to_contain_text("cleo added as editor")
    link = urlsplit(page.locator("#password-link").inner_text()).path  # SITE_URL's host
    assert link.startswith("/password/")

    # Cleo opens it in her own browser and chooses a password, then logs in with it.
    cleo = new_session(viewport=PHONE)
    cleo.page.goto(link)
    expect(cleo.page.locator("h1")).to_have_text("Choose your password")
    cleo.page.fill("#password", "cleo's own pass")
    cleo.page.fill("#confirm", "cleo's own pass")
    cleo.page.get_by_role("button", name="Set my password").click()
    expect(cleo.page).to_have_url(re.compile(r"/login$"))
    expect(cleo.page.locator(".flash-success")).to_contain_text("Your password is set")
    log_in(cleo.page, "cleo", "cleo's own pass")
    cleo.page.goto(link)
    expect(cleo.page.locator("#link-refused")).to_contain_text("used already")

    # The admin resets Bob's password: a new link, once.
    page.goto("/admin/users?role=author")
    page.get_by_role("link", name="bob", exact=True).click()
    page.get_by_role("button", name="Make a password link").click()
    expect(page.locator("#password-link")).to_contain_text("/password/")
    bob_link = urlsplit(page.locator("#password-link").inner_text()).path

    # Disable Cleo: her open login ends at once.
    page.goto("/admin/users?s=cleo")
    page.get_by_role("link", name="cleo", exact=True).click()
    page.get_by_role("button", name="Disable cleo").click()
    expect(page.locator(".flash-success")).to_contain_text("cleo is disabled")
    cleo.page.goto("/admin/")
    expect(cleo.page).to_have_url(re.compile(r"/login"))

    bob = new_session()
    bob.page.goto(bob_link)
    bob.page.fill("#password", "bob's new pass")
    bob.page.fill("#confirm", "bob's new pass")
    bob.page.get_by_role("button", name="Set my password").click()
    log_in(bob.page, "bob", "bob's new pass")
    assert admin.errors == [] and cleo.errors == [] and bob.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_screens(live_app, new_session, scheme, viewport):
    create_user(live_app, "ada", "admin")
    create_user(live_app, "bob", "author", email="bob.writer.with.a.long.address@example.org")
    create_user(live_app, "mo", "moderator")
    create_post(live_app, "bob", title="Bob's first")
    with live_app.app_context():
        from blog.extensions import db
        from blog.services import user_admin, users

        user_admin.set_active(users.find_user("mo"), None, False)
        db.session.commit()
    name = f"users-{'desktop' if viewport is DESKTOP else 'phone'}-{scheme}"
    session = new_session(viewport=viewport, color_scheme=scheme)
    page = session.page
    log_in(page, "ada")
    page.goto("/admin/users")
    screenshot(page, f"{name}-list")
    page.goto("/admin/users/new")
    page.fill("#username", "bad name")
    page.get_by_role("button", name="Add the user").click()
    expect(page.locator(".field-error").first).to_be_visible()
    screenshot(page, f"{name}-new-error")
    page.goto("/admin/users")
    page.get_by_role("link", name="bob", exact=True).click()
    page.get_by_role("button", name="Make a password link").click()
    link = urlsplit(page.locator("#password-link").inner_text()).path
    screenshot(page, f"{name}-edit-link")
    reader = new_session(viewport=viewport, color_scheme=scheme)
    reader.page.goto(link)
    screenshot(reader.page, f"{name}-set-password")
    reader.page.goto(link + "x")
    screenshot(reader.page, f"{name}-link-refused")
    assert session.errors == [] and reader.errors == []

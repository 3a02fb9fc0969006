"""The theme at desktop and phone widths: every main screen renders, fits, and is saved.

Screenshots go to tests/browser/screenshots/ (git-ignored) for a person to look at; the
assertions here are the mechanical part of that look: no sideways scrolling at 360-390px,
the stylesheet applied, no script errors.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import create_post, create_user
from playwright.sync_api import expect

from blog.models import utcnow
from tests.browser.helpers import DESKTOP, PHONE, add_comment, log_in, screenshot

pytestmark = pytest.mark.browser

ARTICLE = """Sourdough is flour, water, salt and **patience**. This post walks through a
weekend bake, from feeding the starter to the first slice.[^1]

## What you need

- 500 g bread flour
- 350 g water, lukewarm
- 100 g active starter
- 10 g salt

## The schedule

| Time     | Step                  | Notes                         |
|----------|-----------------------|-------------------------------|
| Fri 21:00 | Feed the starter     | 1:1:1 by weight               |
| Sat 09:00 | Mix and autolyse     | 45 minutes, covered           |
| Sat 10:00 | Stretch and fold     | four sets, 30 minutes apart   |

> The dough is ready when it has grown by half, jiggles, and shows bubbles at the sides.

A timer helps; here is the one I use, in Python:

```python
import time

def countdown(minutes: int) -> None:
    for left in range(minutes, 0, -1):
        print(f"{left} minutes left; resist the urge to open the oven door, it lets the steam out")
        time.sleep(60)
```

Bake covered at `250 °C` for 20 minutes, then uncovered until deep brown.

[^1]: Which, be warned, you will want to eat while it is still hot.
"""

VARIANTS = {
    "desktop": {"viewport": DESKTOP},
    "phone": {"viewport": PHONE, "is_mobile": True, "has_touch": True},
    "desktop-dark": {"viewport": DESKTOP, "color_scheme": "dark"},
}


def _seed(app) -> str:
    create_user(app, "admin", "admin")
    create_post(
        app,
        "admin",
        title="Notes from the allotment",
        body="The beans are up. The slugs noticed first.",
        published_at=utcnow() - timedelta(days=3),
    )
    create_post(app, "admin", title="Rye, next", body="Notes so far.", action="draft")
    create_post(
        app,
        "admin",
        title="Winter beds",
        body="Mulch.",
        action="schedule",
        published_at=utcnow() + timedelta(days=4),
    )
    post_id, path = create_post(app, "admin", title="A weekend sourdough", body=ARTICLE)
    first = add_comment(app, post_id, "Maria", "Lovely write-up! How long do you *cold proof* it?")
    answer = add_comment(
        app,
        post_id,
        "Admin",
        "Overnight in the fridge, about 12 hours.",
        parent_id=first,
        user="admin",
    )
    add_comment(app, post_id, "Maria", "Perfect, trying it this weekend.", parent_id=answer)
    add_comment(app, post_id, "Jonas", "My starter smells of nail-polish remover. Normal?")
    add_comment(
        app,
        post_id,
        "Cheap Pills",
        "Great post!!! visit https://spam.example/a and https://spam.example/b "
        "and https://spam.example/c",
        approve_as=None,
    )
    add_comment(
        app,
        post_id,
        "Lee",
        "Could you share the oven temperature?",
        parent_id=first,
        approve_as=None,
    )
    return path


def _fits(page) -> None:
    """Nothing wider than the window: a phone never scrolls sideways."""
    # After a click the new document may be parsed before its stylesheet has loaded.
    page.wait_for_load_state("load")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"
    # The stylesheet loaded (CSP allows only 'self'): the body uses the system font stack.
    assert "system-ui" in page.evaluate("getComputedStyle(document.body).fontFamily")


@pytest.mark.parametrize("variant", VARIANTS)
def test_screens(live_app, new_session, variant):
    path = _seed(live_app)
    options = VARIANTS[variant]

    reader = new_session(**options)
    page = reader.page
    page.goto("/")
    expect(page.locator(".post-summary")).to_have_count(2)
    _fits(page)
    screenshot(page, f"{variant}-front")

    # A reader leaves a comment, so the post page shows a held one as well.
    page.goto(path)
    page.fill("#comment", "Does this work with rye flour as well?")
    page.fill("#author", "Sam")
    page.fill("#email", "sam@example.com")
    page.get_by_role("button", name="Post Comment").click()
    expect(page.locator(".comment-awaiting-moderation")).to_be_visible()
    expect(page.locator(".by-post-author")).to_have_count(1)
    expect(page.locator("li.depth-3")).to_have_count(1)
    _fits(page)
    screenshot(page, f"{variant}-post")

    page.goto("/no-such-page/")
    expect(page.locator(".error-page h1")).to_have_text("Page not found")
    _fits(page)
    screenshot(page, f"{variant}-404")

    page.goto("/login")
    _fits(page)
    screenshot(page, f"{variant}-login")

    admin = new_session(**options)
    log_in(admin.page, "admin")
    page = admin.page
    page.goto("/admin/")
    expect(page.locator(".dashboard-box")).to_have_count(4)
    expect(page.locator(".dashboard-box").first).to_contain_text("Cheap Pills")
    _fits(page)
    screenshot(page, f"{variant}-dashboard")

    page.goto("/admin/posts")
    _fits(page)
    screenshot(page, f"{variant}-admin-posts")

    page.locator(".admin-table a", has_text="A weekend sourdough").click()
    page.wait_for_url("**/edit")  # and its load event: blog.js must listen before we type
    page.locator("#body").press("Control+End")
    page.locator("#body").press_sequentially("\n\nHappy baking!")
    expect(page.locator("#preview")).to_contain_text("Happy baking!")
    expect(page.locator("#preview table")).to_have_count(1)
    _fits(page)
    screenshot(page, f"{variant}-editor")
    # Leaving with unsaved changes would ask first (test_writing covers that): save them.
    page.get_by_role("button", name="Update").click()
    expect(page.locator(".flash-success")).to_be_visible()

    page.goto("/admin/comments")
    expect(page.locator(".queue-item")).to_have_count(3)
    expect(page.locator(".reasons").first).to_be_visible()
    page.keyboard.press("j")
    expect(page.locator(".queue-item.is-current")).to_have_count(1)
    _fits(page)
    screenshot(page, f"{variant}-queue")

    page.goto("/admin/comments/log")
    expect(page.locator("tbody tr").first).to_be_visible()
    _fits(page)
    screenshot(page, f"{variant}-moderation-log")

    assert reader.dialogs == admin.dialogs == []
    assert reader.errors == admin.errors == []

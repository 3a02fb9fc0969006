"""Every page of the blog, checked by machines: valid HTML and WCAG 2.1 A/AA.

- The Nu Html Checker (npm's ``vnu-jar``, run with Java) reads the HTML each page was served
  with, every page at once in one Java run (it is slow to start), and must find 0 errors.
- axe-core (npm's ``axe-core``) runs inside each page as rendered, light and dark, desktop
  and phone, with the WCAG 2.0/2.1 A and AA rules, and must find 0 violations.

``PAGES`` is the list of pages: a new GET route fails ``test_every_page_is_listed`` until it
is added there (or to ``NOT_PAGES``, with the reason it is not an HTML page). The checkers
live in tests/browser/checks/ (README: "Page checks"); without them (or without Java) the tests
skip, saying how to install them, and with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import create_post, create_user, make_app
from playwright.sync_api import expect

from blog.extensions import db
from blog.models import utcnow
from tests.browser.helpers import DESKTOP, PHONE, add_comment, log_in, screenshot

pytestmark = pytest.mark.browser

CHECKS = Path(__file__).parent / "checks"
VNU_JAR = CHECKS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = CHECKS / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# PAGE_CHECK_SCREENSHOTS=1: every page view is also saved to tests/browser/screenshots/.
SCREENSHOTS = os.environ.get("PAGE_CHECK_SCREENSHOTS", "") not in ("", "0")

READER, COMMENTER, AUTHOR, ADMIN = "reader", "commenter", "author", "admin"


@dataclass(frozen=True)
class Page:
    """One page view: whose (a role of ``_sessions``), and where (``{sample}`` is filled in
    from ``_seed``'s samples)."""

    name: str
    endpoint: str
    path: str
    role: str = READER
    status: int = 200


# The pages. Add a row for every new page (the lead extends this table when merging).
PAGES: list[Page] = [
    # --- readers
    Page("front", "posts.index", "/"),
    Page("front-page-2", "posts.index", "/page/2/"),
    Page("post", "posts.post", "{post_path}"),
    Page("post-held-comment", "posts.post", "{post_path}", COMMENTER),
    Page("post-reply-form", "posts.post", "{post_path}?replytocom={comment_id}"),
    Page("page", "posts.page", "{page_path}"),
    Page("tag", "posts.tag", "/tag/{tag}/"),
    Page("category", "posts.category", "/category/{category}/"),
    Page("author", "posts.author", "/author/admin/"),
    Page("month", "posts.month", "{month_path}"),
    Page("archives", "posts.archives", "/archives/"),
    Page("search", "posts.search", "/search/?q=sourdough"),
    Page("search-nothing", "posts.search", "/search/?q=zzyzx"),
    Page("404", "posts.page", "/no-such-page/", status=404),
    Page("confirm-email", "posts.confirm_email", "/comments/confirm/{confirm_token}"),
    Page("stop-replies", "posts.stop_replies", "/comments/stop-replies/{stop_token}"),
    Page("login", "auth.login", "/login"),
    Page("logout", "auth.logout_get", "/logout", ADMIN),
    # --- the admin
    Page("dashboard", "admin.dashboard", "/admin/", ADMIN),
    Page("dashboard-author", "admin.dashboard", "/admin/", AUTHOR),
    Page("posts", "admin.posts", "/admin/posts", ADMIN),
    Page("posts-drafts", "admin.posts", "/admin/posts?status=draft", ADMIN),
    Page("posts-author", "admin.posts", "/admin/posts", AUTHOR),
    Page("editor-new", "admin.new_post", "/admin/posts/new", ADMIN),
    Page("editor", "admin.edit_post", "/admin/posts/{post_id}/edit", ADMIN),
    Page("revisions", "admin.post_revisions", "/admin/posts/{post_id}/revisions", ADMIN),
    Page(
        "revision",
        "admin.post_revision",
        "/admin/posts/{post_id}/revisions/{revision_id}",
        ADMIN,
    ),
    Page("queue-pending", "admin.comments", "/admin/comments?status=pending", ADMIN),
    Page("queue-approved", "admin.comments", "/admin/comments?status=approved", ADMIN),
    Page("queue-spam", "admin.comments", "/admin/comments?status=spam", ADMIN),
    Page("queue-trash", "admin.comments", "/admin/comments?status=trash", ADMIN),
    Page("queue-all", "admin.comments", "/admin/comments?status=all", ADMIN),
    Page("comment-edit", "admin.comment_edit", "/admin/comments/{comment_id}/edit", ADMIN),
    Page("moderation-log", "admin.moderation_log", "/admin/comments/log", ADMIN),
    Page("settings", "admin.settings_general", "/admin/settings", ADMIN),
    Page("discussion", "admin.settings_discussion", "/admin/settings/discussion", ADMIN),
    Page("account", "admin.account", "/admin/account", ADMIN),
    Page("tokens", "admin.all_tokens", "/admin/tokens", ADMIN),
    Page("import", "admin.import_site", "/admin/import", ADMIN),
    Page("export", "admin.export_site", "/admin/export", ADMIN),
    Page("privacy", "admin.privacy_tools", "/admin/privacy", ADMIN),
    Page("outbox", "admin.outbox", "/admin/outbox", ADMIN),
    Page("media", "admin.media", "/admin/media", ADMIN),
    Page("media-author", "admin.media", "/admin/media", AUTHOR),
    Page("tags", "admin.terms", "/admin/tags", ADMIN),
    Page("categories", "admin.terms", "/admin/categories", ADMIN),
    Page("tag-edit", "admin.term_edit", "/admin/tags/{tag_id}", ADMIN),
    Page("category-edit", "admin.term_edit", "/admin/categories/{category_id}", ADMIN),
    Page("users", "admin.users", "/admin/users", ADMIN),
    Page("user-new", "admin.new_user", "/admin/users/new", ADMIN),
    Page("user-edit", "admin.edit_user", "/admin/users/{otto_id}", ADMIN),
    Page("set-password", "auth.set_password", "/password/{password_token}"),
    Page("set-password-unknown", "auth.set_password", "/password/no-such-link", status=404),
]

# GET routes that are not HTML pages, and why.
NOT_PAGES: dict[str, str] = {
    "feeds.posts": "an Atom feed (XML)",
    "feeds.comments": "an Atom feed (XML)",
    "feeds.post_comments": "an Atom feed (XML)",
    "feeds.page_comments": "an Atom feed (XML)",
    "feeds.robots": "plain text",
    "feeds.sitemap": "XML",
    "feeds.sitemap_part": "XML",
    "health.healthz": "JSON for load balancers",
    "health.readyz": "JSON for load balancers",
    "admin.export_download": "a WXR file download (XML)",
    "static": "CSS and JavaScript files",
    "uploads.file": "uploaded files: images, PDF and downloads",
}
NOT_PAGES_PREFIXES = {"api.": "the JSON API"}

# Nu Html Checker warnings that are allowed, each with why. Errors are never filtered.
ALLOWED_WARNINGS: dict[str, str] = {
    "Article lacks heading": "each comment is an <article> (as in WordPress's themes) whose "
    "footer names its author; a heading per comment would only say the name again",
}

VARIANTS = {
    "desktop": {"viewport": DESKTOP},
    "desktop-dark": {"viewport": DESKTOP, "color_scheme": "dark"},
    "phone": {"viewport": PHONE, "is_mobile": True, "has_touch": True},
    "phone-dark": {"viewport": PHONE, "is_mobile": True, "has_touch": True, "color_scheme": "dark"},
}


def _unavailable(reason: str) -> None:
    how = (
        "install Java (apt-get install default-jre-headless) and the checkers "
        "(npm ci --prefix tests/browser/checks --ignore-scripts)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the page checks cannot run: {reason}; {how}", pytrace=False)
    pytest.skip(f"{reason}; to run the page checks, {how}")


def _not_a_page(endpoint: str) -> bool:
    return endpoint in NOT_PAGES or endpoint.startswith(tuple(NOT_PAGES_PREFIXES))


def _unchecked_routes(app: Any) -> list[str]:
    """GET routes in neither PAGES (a route without parameters by its own path) nor
    NOT_PAGES."""
    listed = {page.endpoint for page in PAGES}
    paths = {page.path.split("?")[0] for page in PAGES}
    missing = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or _not_a_page(rule.endpoint):
            continue
        if rule.endpoint not in listed or (not rule.arguments and rule.rule not in paths):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    return sorted(missing)


def test_every_page_is_listed(database_uri: str, tmp_path: Path) -> None:
    """A new page cannot escape the checks: every GET route is checked or says why not."""
    app = make_app(database_uri, tmp_path)
    missing = _unchecked_routes(app)
    assert not missing, (
        "GET routes that tests/browser/test_page_checks.py does not check; add a row to PAGES "
        "(or to NOT_PAGES with the reason it is no HTML page): " + ", ".join(missing)
    )
    routed = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = sorted({page.endpoint for page in PAGES} - routed)
    assert not stale, f"PAGES names endpoints that no longer exist: {stale}"

    # And it notices: a new page, and a second address of a listed one.
    app.add_url_rule("/admin/widgets", "admin.widgets", lambda: "")
    app.add_url_rule("/archives/all/", "posts.archives", app.view_functions["posts.archives"])
    assert _unchecked_routes(app) == [
        "/admin/widgets (admin.widgets)",
        "/archives/all/ (posts.archives)",
    ]


# --- the site the pages show ---------------------------------------------------------------

ARTICLE = """Sourdough is flour, water, salt and **patience**.[^1]

## The schedule

| Time | Step |
|------|------|
| Fri 21:00 | Feed the starter |
| Sat 09:00 | Mix and autolyse |

> The dough is ready when it has grown by half.

```python
def countdown(minutes: int) -> None:
    for left in range(minutes, 0, -1):
        print(f"{left} minutes left; resist the urge to open the oven door, it lets the steam out")
```

Bake at `250 °C`.

[^1]: Which, be warned, you will want to eat while it is still hot.
"""


def _seed(app: Any) -> dict[str, Any]:
    """Every kind of thing a page shows, and the samples PAGES' paths use."""
    from blog.models import OutboxMessage, OutboxStatus, Post, PostRevision
    from blog.services import media as media_service
    from blog.services import password_links, posts, subscriptions, terms
    from blog.services.users import create_token, find_user

    create_user(app, "admin", "admin")
    create_user(app, "otto", "author")
    for number in range(11):  # a second front page
        create_post(
            app,
            "otto",
            title=f"Allotment notes {number}",
            body="The beans are up. The slugs noticed first.",
            tags=["garden"],
            published_at=utcnow() - timedelta(days=30 + number),
        )
    create_post(app, "otto", title="Rye, next", body="Notes so far.", action="draft")
    create_post(
        app,
        "admin",
        title="Winter beds",
        body="Mulch.",
        action="schedule",
        published_at=utcnow() + timedelta(days=4),
    )
    post_id, post_path = create_post(
        app,
        "admin",
        title="A weekend sourdough",
        body=ARTICLE,
        tags=["bread", "baking"],
        categories=["kitchen/bread"],
    )
    _, page_path = create_post(
        app, "admin", title="About", body="Who bakes here.", type=posts.PostType.PAGE
    )
    first = add_comment(app, post_id, "Maria", "Lovely! How long do you *cold proof* it?")
    answer = add_comment(
        app, post_id, "Admin", "Overnight, about 12 hours.", parent_id=first, user="admin"
    )
    add_comment(
        app,
        post_id,
        "Maria",
        'Perfect, <b>trying it</b> <del datetime="last week">Saturday</del> Sunday.',
        parent_id=answer,
    )
    add_comment(
        app,
        post_id,
        "Cheap Pills",
        "Great post!!! visit https://spam.example/a and https://spam.example/b",
        approve_as=None,
    )
    spam = add_comment(app, post_id, "Promo", "Buy now https://spam.example/", approve_as=None)
    trash = add_comment(app, post_id, "Rude", "Meh.", approve_as=None)
    with app.app_context():
        from blog.models import Comment
        from blog.services import comments

        admin = find_user("admin")
        comments.moderate(db.session.get(Comment, spam), "spam", admin)
        comments.moderate(db.session.get(Comment, trash), "trash", admin)
        post = db.session.get(Post, post_id)
        data = posts.input_from(post)
        data.body = ARTICLE + "\nHappy baking!"
        posts.update_post(post, admin, data)
        revision_id = db.session.scalars(
            db.select(PostRevision.id).where(PostRevision.post_id == post_id)
        ).first()
        create_token(admin, "deploy script", utcnow() + timedelta(days=30))
        db.session.add(
            OutboxMessage(
                recipients=["maria@example.com"],
                subject="A reply to your comment",
                body="…",
                status=OutboxStatus.DEAD,
                attempts=15,
                last_error="550 mailbox unavailable",
            )
        )
        db.session.commit()
        otto = find_user("otto")
        media_service.store_upload(otto, _png(), "loaf.png")
        with app.test_request_context():  # the link is an absolute URL
            link = password_links.issue(otto, admin)
        tag_id = terms.by_slug("tag", "bread").id
        category_id = terms.by_slug("category", "bread").id
        otto_id = otto.id
        confirm_token = subscriptions.confirm_token("maria@example.com")
        stop_token = subscriptions.unsubscribe_token("maria@example.com", post_id)
    assert revision_id is not None
    month_path = "/".join(post_path.split("/")[:3]) + "/"
    return {
        "post_id": post_id,
        "post_path": post_path,
        "page_path": page_path,
        "comment_id": first,
        "revision_id": revision_id,
        "tag": "bread",
        "category": "kitchen/bread",
        "month_path": month_path,
        "confirm_token": confirm_token,
        "stop_token": stop_token,
        "tag_id": tag_id,
        "category_id": category_id,
        "otto_id": otto_id,
        "password_token": link.url.rstrip("/").rsplit("/", 1)[-1],
    }


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (180, 120, 60)).save(out, "PNG")
    return out.getvalue()


def _sessions(new_session: Any, options: dict[str, Any], samples: dict[str, Any]) -> dict:
    """A browser context per role; the commenter has a comment held for moderation."""
    sessions = {role: new_session(**options) for role in (READER, COMMENTER, AUTHOR, ADMIN)}
    page = sessions[COMMENTER].page
    page.goto(samples["post_path"])
    page.fill("#comment", "Does this work with rye flour as well?")
    page.fill("#author", "Sam")
    page.fill("#email", "sam@example.com")
    page.get_by_role("button", name="Post Comment").click()
    expect(page.locator(".comment-awaiting-moderation")).to_be_visible()
    log_in(sessions[AUTHOR].page, "otto")
    log_in(sessions[ADMIN].page, "admin")
    return sessions


def _visit(sessions: dict, samples: dict[str, Any], view: Page) -> tuple[Any, str]:
    """Open ``view`` as its role; the page and the HTML it was served with."""
    page = sessions[view.role].page
    response = page.goto(view.path.format(**samples))
    assert response is not None
    assert response.status == view.status, f"{view.name}: {response.status} at {page.url}"
    page.wait_for_load_state("load")
    return page, response.text()


# --- the Nu Html Checker -----------------------------------------------------------------


def _vnu(files: list[Path]) -> list[dict[str, Any]]:
    """The checker's messages for ``files``, in one Java run."""
    run = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--format", "json", "--stdout", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if not run.stdout.strip():
        pytest.fail(f"the Nu Html Checker printed nothing: {run.stderr[-2000:]}")
    return json.loads(run.stdout)["messages"]


def test_html_is_valid(live_app, new_session, tmp_path: Path) -> None:
    if shutil.which("java") is None:
        _unavailable("java is not installed")
    if not VNU_JAR.exists():
        _unavailable(f"{VNU_JAR} is missing")
    samples = _seed(live_app)
    sessions = _sessions(new_session, VARIANTS["desktop"], samples)
    files = []
    for view in PAGES:
        _, html = _visit(sessions, samples, view)
        path = tmp_path / f"{view.name}.html"
        path.write_text(html, encoding="utf-8")
        files.append(path)

    messages = _vnu(files)
    errors, warnings = [], []
    for message in messages:
        name = Path(message.get("url", "?")).stem
        where = f"{name}.html:{message.get('lastLine', '?')}"
        text = f"{where}: {message['message']}\n    {message.get('extract', '').strip()}"
        if message["type"] in ("error", "non-document-error"):
            errors.append(text)
        elif message.get("subType") == "warning" and not any(
            allowed in message["message"] for allowed in ALLOWED_WARNINGS
        ):
            warnings.append(text)
    if warnings:
        print("Nu Html Checker warnings (allowed):\n" + "\n".join(warnings))
    assert not errors, f"{len(errors)} HTML errors (Nu Html Checker):\n" + "\n".join(errors)


# --- axe-core ------------------------------------------------------------------------------


def _axe(page: Any, source: str) -> list[dict[str, Any]]:
    """axe's WCAG 2.1 A/AA violations on ``page``. The page's CSP allows no inline script, so
    add_script_tag cannot load it; evaluate() runs in the page without the CSP's say."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return result["violations"]


def _describe(view: Page, violations: list[dict[str, Any]]) -> list[str]:
    lines = []
    for violation in violations:
        lines.append(f"{view.name}: {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    ...and {len(violation['nodes']) - 5} more")
    return lines


@pytest.mark.parametrize("variant", VARIANTS)
def test_pages_are_accessible(live_app, new_session, variant: str) -> None:
    if not AXE_JS.exists():
        _unavailable(f"{AXE_JS} is missing")
    source = AXE_JS.read_text(encoding="utf-8")
    samples = _seed(live_app)
    sessions = _sessions(new_session, VARIANTS[variant], samples)
    problems: list[str] = []
    for view in PAGES:
        page, _ = _visit(sessions, samples, view)
        problems += _describe(view, _axe(page, source))
        if SCREENSHOTS:
            screenshot(page, f"checks-{variant}-{view.name}")
    for session in sessions.values():
        assert session.errors == [], session.errors
    assert not problems, f"axe-core, {variant}: WCAG 2.1 A/AA violations:\n" + "\n".join(problems)

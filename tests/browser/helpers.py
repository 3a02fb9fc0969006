"""Helpers for the browser tests: window sizes, the Chromium launch options, logging in,
seeding comments, screenshots. Imported as ``tests.browser.helpers`` everywhere (conftest
included), so there is one copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conftest import PASSWORD
from flask import Flask

from blog.extensions import db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).parent / "screenshots"

# Stands in for every Gravatar image: a grey disc, so screenshots show where avatars go.
AVATAR_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
    '<rect width="96" height="96" fill="#9aa5b1"/><circle cx="48" cy="38" r="18" fill="#e9edf1"/>'
    '<ellipse cx="48" cy="92" rx="32" ry="26" fill="#e9edf1"/></svg>'
)


@dataclass
class Session:
    """One browser context (one person) with what it saw that a test may assert on."""

    context: Any
    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def keep_local(route: Any) -> None:
    host = urlsplit(route.request.url).hostname
    if host == "127.0.0.1":
        route.continue_()
    elif host and host.endswith("gravatar.com"):
        route.fulfill(status=200, content_type="image/svg+xml", body=AVATAR_SVG)
    else:
        route.abort("blockedbyclient")


def log_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """Log in through the real form (with its CSRF token)."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/**")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def add_comment(
    app: Flask,
    post_id: int,
    author: str,
    content: str,
    *,
    parent_id: int | None = None,
    approve_as: str | None = "admin",
    user: str | None = None,
    email: str = "",
) -> int:
    """Store a comment through the same service the form uses; approve it unless told not."""
    from blog.models import Post
    from blog.moderation import CommentStatus, Limits
    from blog.services import comments
    from blog.services.settings import comment_whitelist, discussion_settings
    from blog.services.users import find_user

    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        data = comments.CommentInput(
            content=content,
            author=author,
            email=email or f"{author.lower().replace(' ', '.')}@example.com",
            parent_id=parent_id,
            ip="192.0.2.7",
            user_agent="browser-tests",
            seconds_to_fill=30.0,
        )
        commenter = find_user(user) if user else None
        comment = comments.submit(
            post, data, commenter, discussion_settings(), comment_whitelist(), Limits(0, 0)
        )
        if approve_as and comment.status != CommentStatus.APPROVED:
            moderator = find_user(approve_as)
            assert moderator is not None
            comments.moderate(comment, "approve", moderator)
        return comment.id

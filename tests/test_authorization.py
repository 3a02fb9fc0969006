"""Who may do what: every route of the URL map, as each of seven identities.

The matrix below names, for every endpoint and method the app routes, who may use it:
anonymous, a subscriber, the author of the post concerned (``otto``), another author
(``ann``), a moderator, an editor and an admin. A test per entry runs the request as each
identity, against objects made fresh for that identity, and checks the outcome by what it
did rather than by its status alone:

- a **read** names a marker (a held comment's text, a draft's title, a token's name): an
  allowed identity gets a 2xx page holding it; a refused one a 302 to the login page, 401,
  403, 404 or 405, and never the marker;
- a **write** is allowed when the database changed and refused when it did not (every
  table a request can touch is compared before and after, but for last-seen times), with
  no 5xx either way.

A route added without an entry fails ``test_every_route_has_an_entry``; the API is also
tried with a browser's session cookie and no token (it must count for nothing), and every
state-changing form route with CSRF checks on and no token (refused, nothing changed).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from comment_helpers import add_comment, discussion_form
from conftest import PASSWORD, create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.models import Post, PostType, User
from blog.moderation import CommentStatus

ANON, SUB, ANN, OTTO, MOD, ED, ADMIN = (
    "anonymous",
    "subscriber",
    "ann",
    "otto",
    "moderator",
    "editor",
    "admin",
)
IDENTITIES = (ANON, SUB, ANN, OTTO, MOD, ED, ADMIN)
ROLES = {
    SUB: "subscriber",
    ANN: "author",
    OTTO: "author",
    MOD: "moderator",
    ED: "editor",
    ADMIN: "admin",
}
EVERYONE = frozenset(IDENTITIES)
LOGGED_IN = EVERYONE - {ANON}
WRITERS = frozenset({ANN, OTTO, ED, ADMIN})
# Who moderates a comment on otto's post: moderators, editors, admins and otto himself.
MODERATES_OTTOS = frozenset({OTTO, MOD, ED, ADMIN})
EDITS_OTTOS = frozenset({OTTO, ED, ADMIN})
ADMINS = frozenset({ADMIN})

# Columns that change by being looked at, not by a decision.
VOLATILE = {"last_seen_at", "last_used_at"}
# Tables that keep counts for the machinery, not state a user decides.
MACHINERY = {"cache_versions", "comment_tallies", "login_throttle"}


@dataclass
class World:
    """The site every identity meets: users, two authors' posts, tokens, and makers of
    fresh objects so that one identity's allowed write cannot spoil the next one's."""

    app: Flask
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    posts: dict[str, tuple[int, str]] = field(default_factory=dict)
    made: int = 0

    def unique(self, what: str) -> str:
        self.made += 1
        return f"{what}-{self.made}-MARK"

    def held_on_ottos(self, text: str | None = None) -> tuple[int, str]:
        text = text or self.unique("held")
        post_id = self.posts["ottos"][0]
        return add_comment(self.app, post_id, text, status=CommentStatus.PENDING), text

    def approved_on_ottos(self) -> int:
        return add_comment(self.app, self.posts["ottos"][0], self.unique("approved"))

    def moved_on_ottos(self) -> int:
        """An approved comment with a logged move (held → approved) to undo."""
        from blog.services import comments as comment_service

        comment_id, _ = self.held_on_ottos()
        with self.app.app_context():
            comment = comment_service.get_comment(comment_id)
            admin = db.session.get(User, self.users[ADMIN])
            comment_service.moderate(comment, "approve", admin, "")
            db.session.commit()
        return comment_id

    def token_of(self, who: str) -> tuple[int, str]:
        """(id, name) of a new API token of ``who``."""
        from blog.models import ApiToken
        from blog.services.users import create_token

        name = self.unique("token")
        with self.app.app_context():
            user = db.session.get(User, self.users[who])
            create_token(user, name)
            row = db.session.scalars(sa.select(ApiToken).where(ApiToken.name == name)).one()
            return row.id, name

    def another_session_of(self, who: str) -> None:
        from blog.services.users import start_session

        with self.app.app_context():
            start_session(db.session.get(User, self.users[who]), "192.0.2.1", "elsewhere")
            db.session.commit()

    def fresh_user(self, active: bool = True) -> tuple[int, str]:
        """(id, username) of a new subscriber, for one identity to act on."""
        from blog.services.users import create_user as create

        username = self.unique("person")
        with self.app.app_context():
            user = create(username, PASSWORD, "subscriber", f"{username}@example.org")
            user.active = active
            db.session.commit()
            return user.id, username

    def password_link(self) -> tuple[str, str]:
        """(token, username) of a one-time password link for a fresh user."""
        from blog.services import password_links

        user_id, username = self.fresh_user()
        with self.app.test_request_context():
            link = password_links.issue(db.session.get(User, user_id), None)
            return link.url.rsplit("/", 1)[1], username

    def dead_message(self) -> tuple[int, str]:
        """(id, subject) of an outbox message that could not be sent."""
        from blog.models import OutboxMessage, OutboxStatus

        subject = self.unique("undeliverable")
        with self.app.app_context():
            message = OutboxMessage(
                recipients=["x@example.org"], subject=subject, status=OutboxStatus.DEAD
            )
            db.session.add(message)
            db.session.commit()
            return message.id, subject

    def draft_of_otto(self) -> tuple[int, str]:
        title = self.unique("draft")
        post_id, _ = create_post(self.app, OTTO, title=title, action="draft")
        return post_id, title


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    data: dict[str, Any] | None = None  # a form
    json: Any = None
    marker: str | None = None  # reads: what only an allowed identity may see
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "read" or "write"
    allowed: frozenset[str]
    make: Callable[[World, str], Call]  # (world, identity) -> the request


def _form_post(path: str, **data: Any) -> Call:
    return Call("POST", path, data=data)


def _post_form(title: str, action: str = "publish") -> dict[str, Any]:
    return {"title": title, "body": "Body.", "type": "post", "action": action}


def _api(method: str, path: str, body: Any = None, marker: str | None = None) -> Call:
    return Call(method, f"/api/v1{path}", json=body, marker=marker)


def _held_queue(world: World, _who: str) -> Call:
    _, text = world.held_on_ottos()
    return Call("GET", "/admin/comments?status=pending", marker=text)


def _moderation_log(world: World, _who: str) -> Call:
    """A decision about a comment on otto's post, read in the log (its text is shown)."""
    comment_id, text = world.held_on_ottos()
    with world.app.app_context():
        from blog.services import comments as comment_service

        comment = comment_service.get_comment(comment_id)
        comment_service.moderate(comment, "approve", db.session.get(User, world.users[ADMIN]), "")
        db.session.commit()
    return Call("GET", "/admin/comments/log", marker=text)


def _edit_comment_form(world: World, _who: str) -> Call:
    comment_id, text = world.held_on_ottos()
    return Call("GET", f"/admin/comments/{comment_id}/edit", marker=text)


def _edit_comment(world: World, _who: str) -> Call:
    comment_id, _ = world.held_on_ottos()
    fields = {"author": "Bob", "email": "bob@example.org", "url": "", "comment": "Edited."}
    return _form_post(f"/admin/comments/{comment_id}/edit", **fields)


def _settings_general(_world: World, _who: str) -> Call:
    fields = {"site_name": "Renamed", "site_description": "", "timezone": "UTC"}
    return _form_post("/admin/settings", posts_per_page=7, **fields)


def _settings_discussion(_world: World, _who: str) -> Call:
    return _form_post("/admin/settings/discussion", **discussion_form(comment_max_links=5))


def _preview(world: World, _who: str) -> Call:
    word = world.unique("preview")
    return Call("POST", "/admin/preview", data={"body": f"*{word}*"}, marker=word)


def _comment_form(world: World) -> dict[str, Any]:
    return {
        "author": "Reader",
        "email": "reader@example.org",
        "url": "",
        "comment": world.unique("remark"),  # the same text twice is a duplicate
        "comment_parent": 0,
    }


def _confirm_token(world: World) -> tuple[str, str]:
    from blog.services import subscriptions

    email = world.unique("reader").lower() + "@example.org"
    with world.app.test_request_context():
        return email, subscriptions.confirm_token(email)


def _confirm_page(world: World, _who: str) -> Call:
    email, token = _confirm_token(world)
    return Call("GET", f"/comments/confirm/{token}", marker=email)


def _confirm(world: World, _who: str) -> Call:
    _, token = _confirm_token(world)
    return Call("POST", f"/comments/confirm/{token}")


def _stop_token(world: World) -> tuple[str, str]:
    from blog.models import Comment
    from blog.services import subscriptions

    email = world.unique("reader").lower() + "@example.org"
    post_id = world.posts["ottos"][0]
    comment_id = add_comment(world.app, post_id, "Tell me about replies.", email=email)
    with world.app.test_request_context():
        db.session.get(Comment, comment_id).notify_replies = True
        db.session.commit()
        return email, subscriptions.unsubscribe_token(email, post_id)


def _stop_page(world: World, _who: str) -> Call:
    email, token = _stop_token(world)
    return Call("GET", f"/comments/stop-replies/{token}", marker=email)


def _stop(world: World, _who: str) -> Call:
    _, token = _stop_token(world)
    return Call("POST", f"/comments/stop-replies/{token}")


def _spam_retrain(world: World, _who: str) -> Call:
    """A decision the filter has not learned yet, so a retrain changes the model."""
    from blog.services import comments as comment_service

    comment_id, _ = world.held_on_ottos()
    with world.app.app_context():
        comment = comment_service.get_comment(comment_id)
        comment_service.set_status(comment, CommentStatus.SPAM, None, "spam", "test")
        comment.spam_label = "spam"  # decided, and not yet in the model
        db.session.commit()
    return _form_post("/admin/settings/discussion/retrain")


def _import_upload(world: World, _who: str) -> Call:
    import io

    title = world.unique("imported")
    export = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:wp="http://wordpress.org/export/1.2/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Old {title}</title><link>https://old.example/{title}</link>"
        f"<item><title>{title}</title><dc:creator>otto</dc:creator>"
        "<wp:post_id>1</wp:post_id><wp:post_date_gmt>2020-01-01 00:00:00</wp:post_date_gmt>"
        "<wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>"
        "</channel></rss>"
    )
    return Call("POST", "/admin/import", data={"file": (io.BytesIO(export.encode()), "x.xml")})


def _erase_commenter(world: World, _who: str) -> Call:
    world.held_on_ottos()  # bob@example.org has something left to erase
    return _form_post("/admin/privacy", email="bob@example.org", action="erase", confirm="yes")


PUBLIC_READS = {
    "posts.index": ["/", "/page/1/"],
    "posts.archives": ["/archives/"],
    "posts.author": ["/author/otto/", "/author/otto/page/1/"],
    "posts.category": ["/category/general/"],
    "posts.tag": ["/tag/news/", "/tag/news/page/1/"],
    "posts.month": ["{month}", "{month}page/1/"],
    "posts.search": ["/search/?s=Otto"],
    "posts.page": ["{page}"],
    "posts.post": ["{ottos}"],
    "feeds.posts": ["/feed/"],
    "feeds.comments": ["/comments/feed/"],
    "feeds.post_comments": ["{ottos}feed/"],
    "feeds.page_comments": ["{page}feed/"],
    "feeds.sitemap": ["/sitemap.xml"],
    "feeds.sitemap_part": ["/sitemap-1.xml"],
    "feeds.robots": ["/robots.txt"],
    "api.openapi": ["/api/v1/openapi.json"],
    "api.list_posts": ["/api/v1/posts"],
    "auth.login": ["/login"],
    "health.healthz": ["/healthz"],
    "health.readyz": ["/readyz"],  # says nothing a stranger could use
}


def _public(path: str) -> Callable[[World, str], Call]:
    def make(world: World, _who: str) -> Call:
        month = world.posts["ottos"][1].rsplit("/", 2)[0] + "/"
        filled = path.format(
            ottos=world.posts["ottos"][1], page=world.posts["page"][1], month=month
        )
        return Call("GET", filled)

    return make


def _cases() -> dict[tuple[str, str], list[Case]]:
    cases: dict[tuple[str, str], list[Case]] = {}

    def add(endpoint: str, method: str, case: Case) -> None:
        cases.setdefault((endpoint, method), []).append(case)

    for endpoint, paths in PUBLIC_READS.items():
        for path in paths:
            add(endpoint, "GET", Case(f"{endpoint} {path}", "read", EVERYONE, _public(path)))

    # --- a commenter's mailed links: the signed token is the credential, whoever holds it
    add(
        "posts.confirm_email", "GET", Case("the confirmation page", "read", EVERYONE, _confirm_page)
    )
    add("posts.confirm_email", "POST", Case("confirm an email", "write", EVERYONE, _confirm))
    add("posts.stop_replies", "GET", Case("the stop page", "read", EVERYONE, _stop_page))
    add("posts.stop_replies", "POST", Case("stop reply mail", "write", EVERYONE, _stop))

    # --- the readers' writes and logging in and out
    # A GET never logs out (an image could): a page with the button for whoever is logged
    # in (the write test of POST /logout shows the button does it), the login page else.
    add(
        "auth.logout_get",
        "GET",
        Case(
            "GET /logout", "read", LOGGED_IN, lambda w, _: Call("GET", "/logout", marker="Log out")
        ),
    )
    add(
        "posts.comment_on_post",
        "POST",
        Case(
            "comment on a post",
            "write",
            EVERYONE,
            lambda w, _: _form_post(w.posts["ottos"][1], **_comment_form(w)),
        ),
    )
    add(
        "posts.comment_on_page",
        "POST",
        Case(
            "comment on a page",
            "write",
            EVERYONE,
            lambda w, _: _form_post(w.posts["page"][1], **_comment_form(w)),
        ),
    )
    add(
        "auth.login",
        "POST",
        Case(
            "log in (a logged-in user is sent on, no new login)",
            "write",
            frozenset({ANON}),
            lambda _w, _: _form_post("/login", username="subscriber", password=PASSWORD),
        ),
    )
    add(
        "auth.logout",
        "POST",
        Case("log out", "write", LOGGED_IN, lambda _w, _: _form_post("/logout")),
    )

    # --- the admin: anyone logged in
    add(
        "admin.dashboard",
        "GET",
        Case("dashboard", "read", LOGGED_IN, lambda _w, _: Call("GET", "/admin/")),
    )
    add(
        "admin.account",
        "GET",
        Case("your account", "read", LOGGED_IN, lambda _w, _: Call("GET", "/admin/account")),
    )

    def logout_everywhere(world: World, who: str) -> Call:
        if who != ANON:
            world.another_session_of(who)
        return _form_post("/admin/account/logout-everywhere")

    add(
        "admin.logout_everywhere",
        "POST",
        Case("log out everywhere else", "write", LOGGED_IN, logout_everywhere),
    )
    add(
        "admin.create_token",
        "POST",
        Case(
            "make an API token",
            "write",
            LOGGED_IN,
            lambda _w, _: _form_post("/admin/account/tokens", name="laptop", expires_days="30"),
        ),
    )
    add(
        "admin.revoke_token",
        "POST",
        Case(
            "revoke otto's token",
            "write",
            frozenset({OTTO, ADMIN}),
            lambda w, _: _form_post(f"/admin/tokens/{w.token_of(OTTO)[0]}/revoke"),
        ),
    )
    add(
        "admin.all_tokens",
        "GET",
        Case(
            "everyone's tokens",
            "read",
            ADMINS,
            lambda w, _: Call("GET", "/admin/tokens", marker=w.token_of(OTTO)[1]),
        ),
    )

    # --- writing
    add(
        "admin.posts",
        "GET",
        Case(
            "posts list shows otto's draft",
            "read",
            EDITS_OTTOS,
            lambda w, _: Call("GET", "/admin/posts?status=draft", marker=w.draft_of_otto()[1]),
        ),
    )
    add(
        "admin.new_post",
        "GET",
        Case("the editor", "read", WRITERS, lambda _w, _: Call("GET", "/admin/posts/new")),
    )
    add(
        "admin.new_post",
        "POST",
        Case(
            "write a post",
            "write",
            WRITERS,
            lambda w, _: _form_post("/admin/posts/new", **_post_form(w.unique("new"))),
        ),
    )

    def edit_form(world: World, _who: str) -> Call:
        post_id, title = world.draft_of_otto()
        return Call("GET", f"/admin/posts/{post_id}/edit", marker=title)

    add(
        "admin.edit_post", "GET", Case("otto's draft in the editor", "read", EDITS_OTTOS, edit_form)
    )
    add(
        "admin.edit_post",
        "POST",
        Case(
            "edit otto's draft",
            "write",
            EDITS_OTTOS,
            lambda w, _: _form_post(
                f"/admin/posts/{w.draft_of_otto()[0]}/edit", **_post_form("Edited", "draft")
            ),
        ),
    )

    def revisions_page(world: World, _who: str) -> Call:
        post_id, title = world.draft_of_otto()
        return Call("GET", f"/admin/posts/{post_id}/revisions", marker=title)

    def revision_page(world: World, _who: str) -> Call:
        from sqlalchemy import select

        from blog.models import PostRevision

        post_id, title = world.draft_of_otto()
        with world.app.app_context():
            revision_id = db.session.scalar(
                select(PostRevision.id).where(PostRevision.post_id == post_id)
            )
        return Call("GET", f"/admin/posts/{post_id}/revisions/{revision_id}", marker=title)

    def restore_revision(world: World, _who: str) -> Call:
        """Otto's draft edited once, then its first revision put back."""
        from sqlalchemy import select

        from blog.models import PostRevision
        from blog.services import posts as post_service

        post_id, _title = world.draft_of_otto()
        with world.app.app_context():
            post = db.session.get(Post, post_id)
            data = post_service.input_from(post)
            otto = db.session.get(User, world.users[OTTO])
            post_service.update_post(post, otto, dataclasses.replace(data, body="Changed."))
            revision_id = db.session.scalar(
                select(PostRevision.id)
                .where(PostRevision.post_id == post_id)
                .order_by(PostRevision.id)
            )
        return _form_post(f"/admin/posts/{post_id}/revisions/{revision_id}")

    add(
        "admin.post_revisions", "GET", Case("otto's revisions", "read", EDITS_OTTOS, revisions_page)
    )
    add(
        "admin.post_revision",
        "GET",
        Case("a revision of otto's", "read", EDITS_OTTOS, revision_page),
    )
    add(
        "admin.restore_post_revision",
        "POST",
        Case("restore a revision of otto's", "write", EDITS_OTTOS, restore_revision),
    )
    add(
        "admin.autosave_post",
        "POST",
        Case(
            "autosave otto's draft",
            "write",
            EDITS_OTTOS,
            lambda w, _: _form_post(
                f"/admin/posts/{w.draft_of_otto()[0]}/autosave",
                title="Autosaved",
                body="Typed.",
                excerpt="",
            ),
        ),
    )

    def discard_autosave(world: World, _who: str) -> Call:
        from blog.services import posts as post_service

        post_id, _title = world.draft_of_otto()
        with world.app.app_context():
            post = db.session.get(Post, post_id)
            otto = db.session.get(User, world.users[OTTO])
            post_service.autosave(post, otto, "Unsaved", "Typed.", "")
        return _form_post(f"/admin/posts/{post_id}/autosave/discard")

    # Only otto has an autosave there to discard: others change nothing (a 303, or 403).
    add(
        "admin.discard_autosave",
        "POST",
        Case("discard otto's autosave", "write", frozenset({OTTO}), discard_autosave),
    )
    add(
        "admin.autosave_new_post",
        "POST",
        Case(
            "autosave a new post",
            "write",
            WRITERS,
            lambda w, _: _form_post("/admin/posts/autosave", **_post_form(w.unique("auto"))),
        ),
    )
    add(
        "admin.post_action",
        "POST",
        Case(
            "trash otto's post",
            "write",
            EDITS_OTTOS,
            lambda w, _: _form_post(
                f"/admin/posts/{create_post(w.app, OTTO, title=w.unique('doomed'))[0]}/trash"
            ),
        ),
    )
    add(
        "admin.posts_bulk",
        "POST",
        Case(
            "trash otto's post in bulk",
            "write",
            EDITS_OTTOS,
            lambda w, _: _form_post(
                "/admin/posts/bulk",
                action="trash",
                ids=create_post(w.app, OTTO, title=w.unique("doomed"))[0],
            ),
        ),
    )
    add("admin.preview", "POST", Case("preview Markdown", "read", WRITERS, _preview))

    # --- moderating
    add(
        "admin.comments",
        "GET",
        Case("the queue shows a held comment", "read", MODERATES_OTTOS, _held_queue),
    )
    add(
        "admin.moderation_log",
        "GET",
        Case("the log shows a decision on otto's post", "read", MODERATES_OTTOS, _moderation_log),
    )
    add(
        "admin.comments_action",
        "POST",
        Case(
            "approve a held comment on otto's post",
            "write",
            MODERATES_OTTOS,
            lambda w, _: _form_post(
                "/admin/comments/action", action="approve", comment_id=w.held_on_ottos()[0]
            ),
        ),
    )
    add(
        "admin.comments_action",
        "POST",
        Case(
            "delete a comment for good",
            "write",
            ADMINS,
            lambda w, _: _form_post(
                "/admin/comments/action", action="delete", comment_id=w.approved_on_ottos()
            ),
        ),
    )
    add(
        "admin.comment_undo",
        "POST",
        Case(
            "undo an approval",
            "write",
            MODERATES_OTTOS,
            lambda w, _: _form_post(f"/admin/comments/{w.moved_on_ottos()}/undo"),
        ),
    )
    add(
        "admin.comments_undo",
        "POST",
        Case(
            "undo approvals in bulk",
            "write",
            MODERATES_OTTOS,
            lambda w, _: _form_post("/admin/comments/undo", ids=w.moved_on_ottos()),
        ),
    )
    add(
        "admin.comment_edit",
        "GET",
        Case("a held comment in the editor", "read", MODERATES_OTTOS, _edit_comment_form),
    )
    add(
        "admin.comment_edit",
        "POST",
        Case("edit a held comment", "write", MODERATES_OTTOS, _edit_comment),
    )
    add(
        "admin.comment_reply",
        "POST",
        Case(
            "reply from the queue",
            "write",
            MODERATES_OTTOS,
            lambda w, _: _form_post(
                f"/admin/comments/{w.approved_on_ottos()}/reply", reply="Thanks!"
            ),
        ),
    )

    # --- settings
    add(
        "admin.settings_general",
        "GET",
        Case("general settings", "read", ADMINS, lambda _w, _: Call("GET", "/admin/settings")),
    )
    add(
        "admin.settings_general",
        "POST",
        Case("change the title", "write", ADMINS, _settings_general),
    )
    add(
        "admin.settings_discussion",
        "GET",
        Case(
            "discussion settings",
            "read",
            ADMINS,
            lambda _w, _: Call("GET", "/admin/settings/discussion"),
        ),
    )
    add(
        "admin.settings_discussion",
        "POST",
        Case("change the discussion rules", "write", ADMINS, _settings_discussion),
    )

    add(
        "admin.spam_retrain",
        "POST",
        Case("retrain the spam filter", "write", ADMINS, _spam_retrain),
    )

    # --- the outbox
    add(
        "admin.outbox",
        "GET",
        Case(
            "the outbox shows a dead message",
            "read",
            ADMINS,
            lambda w, _: Call("GET", "/admin/outbox", marker=w.dead_message()[1]),
        ),
    )
    add(
        "admin.outbox_retry",
        "POST",
        Case(
            "retry a dead message",
            "write",
            ADMINS,
            lambda w, _: _form_post(f"/admin/outbox/{w.dead_message()[0]}/retry"),
        ),
    )

    # --- moving in and out, personal data (administrators: exports hold emails and IPs)
    add(
        "admin.import_site",
        "GET",
        Case(
            "the import page",
            "read",
            ADMINS,
            lambda w, _: Call("GET", "/admin/import", marker="Upload and import"),
        ),
    )
    add(
        "admin.import_site",
        "POST",
        Case("import a WordPress export", "write", ADMINS, _import_upload),
    )
    add(
        "admin.export_site",
        "GET",
        Case(
            "the export page",
            "read",
            ADMINS,
            lambda w, _: Call("GET", "/admin/export", marker="Download the export file"),
        ),
    )
    add(
        "admin.export_download",
        "GET",
        Case(
            "the export holds otto's draft",
            "read",
            ADMINS,
            lambda w, _: Call("GET", "/admin/export/download", marker=w.draft_of_otto()[1]),
        ),
    )
    add(
        "admin.privacy_tools",
        "GET",
        Case(
            "the personal data page",
            "read",
            ADMINS,
            lambda w, _: Call("GET", "/admin/privacy", marker="Export personal data"),
        ),
    )
    add(
        "admin.privacy_tools",
        "POST",
        Case("erase a commenter's data", "write", ADMINS, _erase_commenter),
    )

    # --- users (admins), and the one-time password link (the token is the credential)
    add(
        "admin.users",
        "GET",
        Case(
            "the users list",
            "read",
            ADMINS,
            lambda w, _: Call("GET", "/admin/users", marker=w.fresh_user()[1]),
        ),
    )
    add(
        "admin.new_user",
        "GET",
        Case(
            "the add-a-user form",
            "read",
            ADMINS,
            lambda _w, _: Call("GET", "/admin/users/new", marker="Add the user"),
        ),
    )
    add(
        "admin.new_user",
        "POST",
        Case(
            "add a user",
            "write",
            ADMINS,
            lambda w, _: _form_post(
                "/admin/users/new", username=w.unique("new"), role="author", password=PASSWORD
            ),
        ),
    )

    def edit_user_page(world: World, _who: str) -> Call:
        user_id, username = world.fresh_user()
        return Call("GET", f"/admin/users/{user_id}", marker=f"{username}@example.org")

    def edit_user(world: World, _who: str) -> Call:
        user_id, username = world.fresh_user()
        return _form_post(
            f"/admin/users/{user_id}",
            display_name="Renamed",
            email=f"{username}@example.org",
            role="editor",
        )

    add("admin.edit_user", "GET", Case("a user's page", "read", ADMINS, edit_user_page))
    add("admin.edit_user", "POST", Case("change a user's role", "write", ADMINS, edit_user))
    add(
        "admin.disable_user",
        "POST",
        Case(
            "disable a user",
            "write",
            ADMINS,
            lambda w, _: _form_post(f"/admin/users/{w.fresh_user()[0]}/disable"),
        ),
    )
    add(
        "admin.enable_user",
        "POST",
        Case(
            "enable a user",
            "write",
            ADMINS,
            lambda w, _: _form_post(f"/admin/users/{w.fresh_user(active=False)[0]}/enable"),
        ),
    )
    add(
        "admin.user_password_link",
        "POST",
        Case(
            "make a password link",
            "write",
            ADMINS,
            lambda w, _: _form_post(f"/admin/users/{w.fresh_user()[0]}/password-link"),
        ),
    )
    add(
        "auth.set_password",
        "GET",
        Case(
            "the set-password page of a link",
            "read",
            EVERYONE,
            lambda w, _: (lambda t: Call("GET", f"/password/{t[0]}", marker=t[1]))(
                w.password_link()
            ),
        ),
    )
    add(
        "auth.set_password",
        "POST",
        Case(
            "set a password with a link",
            "write",
            EVERYONE,
            lambda w, _: _form_post(
                f"/password/{w.password_link()[0]}", password="new password", confirm="new password"
            ),
        ),
    )

    # --- the API (bearer tokens)
    add(
        "api.get_post",
        "GET",
        Case(
            "otto's draft",
            "read",
            EDITS_OTTOS,
            lambda w, _: (lambda d: _api("GET", f"/posts/{d[0]}", marker=d[1]))(w.draft_of_otto()),
        ),
    )
    add(
        "api.create_post",
        "POST",
        Case(
            "write a post",
            "write",
            WRITERS,
            lambda w, _: _api("POST", "/posts", {"title": w.unique("api"), "status": "publish"}),
        ),
    )
    add(
        "api.list_comments",
        "GET",
        Case(
            "held comments",
            "read",
            MODERATES_OTTOS,
            lambda w, _: _api("GET", "/comments?status=pending", marker=w.held_on_ottos()[1]),
        ),
    )
    add(
        "api.get_comment",
        "GET",
        Case(
            "a held comment",
            "read",
            MODERATES_OTTOS,
            lambda w, _: (lambda c: _api("GET", f"/comments/{c[0]}", marker=c[1]))(
                w.held_on_ottos()
            ),
        ),
    )
    add(
        "api.create_comment",
        "POST",
        Case(
            "comment (held when anonymous)",
            "write",
            EVERYONE,
            lambda w, _: _api(
                "POST",
                "/comments",
                {
                    "post": w.posts["ottos"][0],
                    "content": w.unique("api comment"),
                    "author": "Reader",
                    "email": "reader@example.org",
                },
            ),
        ),
    )
    add(
        "api.update_comment",
        "PATCH",
        Case(
            "approve a held comment",
            "write",
            MODERATES_OTTOS,
            lambda w, _: _api("PATCH", f"/comments/{w.held_on_ottos()[0]}", {"status": "approved"}),
        ),
    )
    add(
        "api.delete_comment",
        "DELETE",
        Case(
            "delete a comment for good",
            "write",
            ADMINS,
            lambda w, _: _api("DELETE", f"/comments/{w.approved_on_ottos()}"),
        ),
    )
    return cases


MATRIX = _cases()
NOT_IN_MATRIX = {("static", "GET")}  # the stylesheet and scripts: files, for everyone
CASES = [case for entries in MATRIX.values() for case in entries]


# --- running a case ------------------------------------------------------------------------


def _world(app: Flask) -> World:
    world = World(app)
    for who, role in ROLES.items():
        world.users[who] = create_user(app, who, role)
    world.posts["ottos"] = create_post(
        app, OTTO, title="Otto's post", tags=["news"], categories=["general"]
    )
    world.posts["anns"] = create_post(app, ANN, title="Ann's post")
    world.posts["page"] = create_post(app, ADMIN, title="About", type=PostType.PAGE)
    from blog.services.users import create_token

    with app.app_context():
        for who in ROLES:
            world.tokens[who] = create_token(db.session.get(User, world.users[who]), "matrix")
    return world


def _clients(app: Flask) -> dict[str, FlaskClient]:
    clients = {ANON: app.test_client()}
    for who in ROLES:
        client = app.test_client()
        assert login(client, who).status_code == 302, who
        clients[who] = client
    return clients


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a request could change, but for last-seen times and machinery counts."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with app.app_context():
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                if table.name in MACHINERY:
                    continue
                columns = [c for c in table.columns if c.name not in VOLATILE]
                found = connection.execute(sa.select(*columns)).all()
                rows[table.name] = sorted(tuple(map(repr, row)) for row in found)
    return rows


def send(client: FlaskClient, call: Call, token: str | None) -> Any:
    headers = dict(call.headers)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if call.json is not None:
        return client.open(
            call.path,
            method=call.method,
            data=json.dumps(call.json),
            content_type="application/json",
            headers=headers,
        )
    return client.open(call.path, method=call.method, data=call.data, headers=headers)


def _to_login(response: Any) -> bool:
    return response.status_code in (302, 303) and urlsplit(response.location).path == "/login"


def outcome(app: Flask, case: Case, client: FlaskClient, call: Call, token: str | None) -> bool:
    """True when the request did what it asked, False when it was refused; fails the test
    on a 5xx, on a refusal that leaked the marker, or on an answer that is neither."""
    before = snapshot(app) if case.kind == "write" else None
    response = send(client, call, token)
    status = response.status_code
    assert status < 500, (case.name, status)
    body = response.get_data(as_text=True)
    if case.kind == "write":
        changed = snapshot(app) != before
        if changed:
            assert status < 400, (case.name, status, "changed the database and answered an error")
        return changed
    if status in (401, 403, 404, 405) or _to_login(response):
        assert call.marker is None or call.marker not in body, (case.name, "leaked in a refusal")
        return False
    assert status < 400, (case.name, status)
    if call.marker is None:
        return True
    return call.marker in body


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_who_may_do_what(app: Flask, case: Case) -> None:
    world = _world(app)
    clients = _clients(app)
    got = {}
    for who in IDENTITIES:
        call = case.make(world, who)
        token = world.tokens.get(who) if call.path.startswith("/api/") else None
        got[who] = outcome(app, case, clients[who], call, token)
    allowed = {who for who, did in got.items() if did}
    assert allowed == set(case.allowed), case.name


def test_every_route_has_an_entry(app: Flask) -> None:
    routed = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    missing = routed - set(MATRIX) - NOT_IN_MATRIX
    assert not missing, f"routes with no authorization entry: {sorted(missing)}"
    assert not set(MATRIX) - routed, "entries for routes that are gone"


API_CASES = [
    case
    for (endpoint, _), entries in MATRIX.items()
    if endpoint.startswith("api.")
    for case in entries
]


@pytest.mark.parametrize("case", API_CASES, ids=[case.name for case in API_CASES])
def test_a_session_cookie_counts_for_nothing_on_the_api(app: Flask, case: Case) -> None:
    """The API takes no CSRF token, so a logged-in browser's cookie must not carry a role
    there: each identity without its token gets what anonymous gets."""
    world = _world(app)
    clients = _clients(app)
    for who in IDENTITIES:
        call = case.make(world, who)
        assert outcome(app, case, clients[who], call, None) == (ANON in case.allowed), who


FORM_WRITES = [
    case
    for (endpoint, method), entries in MATRIX.items()
    if method != "GET" and not endpoint.startswith("api.")
    for case in entries
    if case.kind == "write"
]


@pytest.mark.parametrize("case", FORM_WRITES, ids=[case.name for case in FORM_WRITES])
def test_every_form_write_needs_its_csrf_token(app: Flask, csrf_app: Flask, case: Case) -> None:
    """With CSRF checks on, the same request as the most privileged allowed identity but
    with no ``csrf_token`` changes nothing."""
    world = _world(csrf_app)
    who = next(who for who in reversed(IDENTITIES) if who in case.allowed)
    client = csrf_app.test_client()
    if who != ANON:
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        answer = client.post(
            "/login", data={"username": who, "password": PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 302
    call = case.make(world, who)
    before = snapshot(csrf_app)
    response = send(client, call, None)
    assert response.status_code in (400, 403), (case.name, response.status_code)
    assert snapshot(csrf_app) == before, case.name

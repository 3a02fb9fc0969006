"""Helpers shared by the comment, queue, notification and discussion-settings request tests.

Pages are parsed with html5lib (the parser bleach ships), so assertions see the document a
browser would build, not a string that merely looks right.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime

from bleach._vendor import html5lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment, utcnow
from blog.moderation import CommentStatus, DiscussionSettings
from blog.sanitize import sanitize_comment

WP_ALLOWED_TAGS = (
    '<a href="" title=""> <abbr title=""> <acronym title=""> <b> <blockquote cite=""> <cite> '
    '<code> <del datetime=""> <em> <i> <q cite=""> <strike> <strong>'
)


def parse(html: str) -> ET.Element:
    """The page as a browser's parser builds it."""
    return html5lib.parse(html, namespaceHTMLElements=False)


def page(response) -> ET.Element:
    return parse(response.get_data(as_text=True))


def by_id(root: ET.Element, element_id: str) -> ET.Element | None:
    for element in root.iter():
        if element.get("id") == element_id:
            return element
    return None


def text(element: ET.Element | None) -> str:
    return "" if element is None else " ".join("".join(element.itertext()).split())


def elements(root: ET.Element, tag: str) -> list[ET.Element]:
    return list(root.iter(tag))


def with_class(root: ET.Element, class_name: str) -> Iterator[ET.Element]:
    for element in root.iter():
        if class_name in (element.get("class") or "").split():
            yield element


def parent_map(root: ET.Element) -> dict[ET.Element, ET.Element]:
    return {child: parent for parent in root.iter() for child in parent}


def form_values(form: ET.Element) -> dict[str, str]:
    """What the browser would send for a form's inputs and textareas (checkboxes: if ticked)."""
    values: dict[str, str] = {}
    for element in form.iter():
        name = element.get("name")
        if not name:
            continue
        if element.tag == "textarea":
            values[name] = "".join(element.itertext())
        elif element.tag == "input":
            if element.get("type") == "checkbox" and element.get("checked") is None:
                continue
            values[name] = element.get("value", "")
        elif element.tag == "select":
            chosen = [o for o in element.iter("option") if o.get("selected") is not None]
            options = chosen or list(element.iter("option"))
            values[name] = options[0].get("value", "")
    return values


def comment_data(**fields: str | int) -> dict[str, str | int]:
    data: dict[str, str | int] = {
        "author": "Ann Reader",
        "email": "ann@example.org",
        "url": "",
        "comment": "A thoughtful remark.",
        "comment_parent": 0,
    }
    data.update(fields)
    return data


def post_comment(client: FlaskClient, path: str, **fields: str | int):
    return client.post(path, data=comment_data(**fields))


def comment_id_from(response) -> int:
    """The id in a 303 answer's ``#comment-ID``."""
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("#comment-", 1)[1])


def get_comment(app: Flask, comment_id: int) -> Comment | None:
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        if comment is not None:
            db.session.expunge(comment)
        return comment


def all_comments(app: Flask) -> list[Comment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Comment).order_by(Comment.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def add_comment(
    app: Flask,
    post_id: int,
    content: str = "Stored directly.",
    status: CommentStatus = CommentStatus.APPROVED,
    parent_id: int | None = None,
    author: str = "Bob",
    email: str = "bob@example.org",
    ip: str = "192.0.2.7",
    created_at: datetime | None = None,
    reasons: list[str] | None = None,
) -> int:
    """A comment row as an import would leave it (content sanitized, count kept right)."""
    from blog.services import comments as comment_service

    with app.app_context():
        comment = Comment(
            post_id=post_id,
            parent_id=parent_id,
            author=author,
            email=email,
            ip=ip,
            content=content,
            content_html=sanitize_comment(content),
            status=status,
            reasons=reasons or ["added by the test"],
            created_at=created_at or utcnow(),
            updated_at=created_at or utcnow(),
        )
        comment_service.store_new(comment)
        db.session.commit()
        return comment.id


def set_discussion(app: Flask, **changes: object) -> None:
    """Store discussion settings (WordPress names) as the settings page would."""
    from blog.services import settings as settings_service

    with app.app_context():
        current = settings_service.discussion_settings().to_mapping()
        merged = {**current, **changes}
        settings = DiscussionSettings.from_mapping(merged)
        settings_service.save_discussion(settings, settings_service.comment_whitelist_text())


def discussion_form(settings: DiscussionSettings | None = None, **changes: object) -> dict:
    """The discussion settings form as a browser posts it (unticked boxes are absent)."""
    from blog.sanitize import DEFAULT_COMMENT_WHITELIST, format_whitelist

    values: dict[str, object] = {}
    for name, value in (settings or DiscussionSettings()).to_mapping().items():
        default = getattr(DiscussionSettings(), name)
        if isinstance(default, bool):
            if value == "1":
                values[name] = "y"
        else:
            values[name] = value
    values["comment_whitelist"] = format_whitelist(DEFAULT_COMMENT_WHITELIST)
    for name, value in changes.items():
        if value is True:
            values[name] = "y"
        elif value is False:
            values.pop(name, None)
        else:
            values[name] = value
    return values


def approve(app: Flask, comment_id: int) -> None:
    """Approve as a moderator would (logged, count kept), without going through the queue."""
    from blog.services import comments as comment_service

    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert comment is not None
        comment_service.set_status(comment, CommentStatus.APPROVED, None, "approve", "test")
        db.session.commit()

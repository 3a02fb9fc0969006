"""Comment emails, sent to a real SMTP server (aiosmtpd) listening on 127.0.0.1."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from comment_helpers import (
    add_comment,
    comment_id_from,
    get_comment,
    post_comment,
    set_discussion,
)
from conftest import create_post, create_user, login, make_app
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.moderation import CommentStatus
from blog.services import notify


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    received: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Mail(envelope.mail_from, sorted(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class Inbox:
    """What the tests read: the collected messages, once background deliveries are done.

    (Not on the handler itself: aiosmtpd inspects its handler's attributes.)
    """

    collector: Collector

    @property
    def mails(self) -> list[Mail]:
        notify.wait_for_outbox()
        return self.collector.received

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.recipients]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield collector, controller.port
    finally:
        controller.stop()


@pytest.fixture
def mail_app(app: Flask, database_uri: str, tmp_path: Path, smtp) -> Iterator[Flask]:
    """The app, sending mail to the test server (the ``app`` fixture empties the database)."""
    _, port = smtp
    sending = make_app(database_uri, tmp_path / "mail", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield sending
    with sending.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def inbox(smtp) -> Inbox:
    return Inbox(smtp[0])


@pytest.fixture
def people(mail_app: Flask) -> dict[str, str]:
    """A post author, an admin, a moderator and a subscriber, with their addresses."""
    roles = {"writer": "author", "admin": "admin", "mod": "moderator", "sub": "subscriber"}
    addresses = {}
    for name, role in roles.items():
        addresses[name] = f"{name}@example.com"
        create_user(mail_app, name, role, email=addresses[name])
    return addresses


@pytest.fixture
def post(mail_app: Flask, people) -> tuple[int, str]:
    return create_post(mail_app, "writer", title="Letters")


def logged_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_held_comment_mails_the_post_author_and_moderators_once(
    mail_app: Flask, inbox: Inbox, people, post
) -> None:
    comment_id = comment_id_from(
        post_comment(mail_app.test_client(), post[1], comment="Hold me, please.")
    )
    assert get_comment(mail_app, comment_id).status == CommentStatus.PENDING
    assert len(inbox.mails) == 1
    (mail,) = inbox.mails
    assert mail.recipients == sorted([people["writer"], people["admin"], people["mod"]])
    assert mail.sender == "blog@localhost"
    assert "Please moderate" in mail.subject and "Letters" in mail.subject
    assert "Hold me, please." in mail.body
    assert "- first comment from this email" in mail.body
    assert f"http://127.0.0.1:5000/admin/comments?status=pending#comment-{comment_id}" in mail.body


def test_no_moderation_mail_when_the_setting_is_off(mail_app: Flask, inbox: Inbox, post) -> None:
    set_discussion(mail_app, moderation_notify=False)
    comment_id_from(post_comment(mail_app.test_client(), post[1]))
    assert inbox.mails == []


@pytest.mark.parametrize("comments_notify", [True, False])
def test_approved_comment_mails_the_post_author(
    mail_app: Flask, inbox: Inbox, people, post, comments_notify: bool
) -> None:
    set_discussion(mail_app, comments_notify=comments_notify)
    add_comment(mail_app, post[0], author="Ann Reader", email="ann@example.org", ip="127.0.0.1")
    comment_id = comment_id_from(
        post_comment(mail_app.test_client(), post[1], comment="Trusted words.")
    )
    assert get_comment(mail_app, comment_id).status == CommentStatus.APPROVED
    if not comments_notify:
        assert inbox.mails == []
        return
    (mail,) = inbox.mails
    assert mail.recipients == [people["writer"]]
    assert "Comment" in mail.subject and "Letters" in mail.subject
    assert "Trusted words." in mail.body
    assert f"{post[1]}#comment-{comment_id}" in mail.body


def test_post_author_is_not_mailed_about_their_own_comment(
    mail_app: Flask, inbox: Inbox, post
) -> None:
    comment_id_from(post_comment(logged_in(mail_app, "writer"), post[1], author="", email=""))
    assert inbox.mails == []


@pytest.mark.parametrize("ticked", [True, False])
def test_commenter_who_asked_is_mailed_once_on_approval(
    mail_app: Flask, inbox: Inbox, people, post, ticked: bool
) -> None:
    fields = {"email": "reader@example.net", "comment": "Tell me when it is out."}
    if ticked:
        fields["notify"] = "y"
    comment_id = comment_id_from(post_comment(mail_app.test_client(), post[1], **fields))
    assert get_comment(mail_app, comment_id).notify_on_approval is ticked
    assert inbox.to("reader@example.net") == []  # nothing while it is held

    moderator = logged_in(mail_app, "mod")
    for action in ("approve", "unapprove", "approve"):
        response = moderator.post(
            "/admin/comments/action", data={"action": action, "ids": str(comment_id)}
        )
        assert response.status_code == 303
    assert get_comment(mail_app, comment_id).status == CommentStatus.APPROVED
    sent = inbox.to("reader@example.net")
    if not ticked:
        assert sent == []
        return
    (mail,) = sent
    assert mail.recipients == ["reader@example.net"]
    assert "Your comment is published" in mail.subject
    assert f"http://127.0.0.1:5000{post[1]}#comment-{comment_id}" in mail.body
    assert "Tell me when it is out." not in mail.subject


def test_reply_from_the_queue_counts_as_approval(
    mail_app: Flask, inbox: Inbox, people, post
) -> None:
    comment_id = comment_id_from(
        post_comment(mail_app.test_client(), post[1], email="reader@example.net", notify="y")
    )
    response = logged_in(mail_app, "admin").post(
        f"/admin/comments/{comment_id}/reply", data={"reply": "Thanks, approved."}
    )
    assert response.status_code == 303
    assert get_comment(mail_app, comment_id).status == CommentStatus.APPROVED
    (mail,) = inbox.to("reader@example.net")
    assert "Your comment is published" in mail.subject


def test_smtp_server_down_does_not_break_commenting(
    app: Flask, database_uri: str, tmp_path: Path, admin: str
) -> None:
    down = make_app(database_uri, tmp_path / "down", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    create_user(down, "mod", "moderator", email="mod@example.com")
    path = create_post(down, admin, title="No mail today")[1]
    client = down.test_client()
    comment_id = comment_id_from(post_comment(client, path, comment="Stored anyway.", notify="y"))
    stored = get_comment(down, comment_id)
    assert stored is not None and stored.content == "Stored anyway."
    assert stored.status == CommentStatus.PENDING
    moderator = logged_in(down, "mod")
    response = moderator.post(
        "/admin/comments/action", data={"action": "approve", "ids": str(comment_id)}
    )
    assert response.status_code == 303
    assert get_comment(down, comment_id).status == CommentStatus.APPROVED
    with down.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_silent_smtp_server_does_not_hold_up_the_comment(
    app: Flask, database_uri: str, tmp_path: Path, admin: str
) -> None:
    """A server that takes the connection and never answers: the POST does not wait for it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nobody ever greets them
        port = silent.getsockname()[1]
        slow = make_app(
            database_uri,
            tmp_path / "slow",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            MAIL_TIMEOUT=5,
        )
        path = create_post(slow, admin, title="Quiet mail server")[1]
        response = post_comment(slow.test_client(), path, comment="Do not wait for mail.")
        assert response.status_code == 303
        # The notification is still on its way (it can only end by the 5 s timeout).
        assert notify.pending() >= 1
        assert get_comment(slow, comment_id_from(response)) is not None
        notify.wait_for_outbox()
        assert notify.pending() == 0
    with slow.app_context():
        db.session.remove()
        db.engine.dispose()


def test_no_mail_server_configured_sends_nothing_and_posts(
    app: Flask, client: FlaskClient, admin: str, inbox: Inbox
) -> None:
    assert app.config["MAIL_SERVER"] == ""
    path = create_post(app, admin, title="Quiet")[1]
    assert post_comment(client, path).status_code == 303
    assert inbox.mails == []


def test_approval_mail_links_to_the_comment_page_when_comments_are_paged(
    mail_app: Flask, inbox: Inbox, people, post
) -> None:
    set_discussion(mail_app, page_comments=True, comments_per_page=1)
    add_comment(mail_app, post[0], "An earlier thread.")
    comment_id = comment_id_from(
        post_comment(
            mail_app.test_client(),
            post[1],
            email="late@example.net",
            comment="Second thread.",
            notify="y",
        )
    )
    moderator = logged_in(mail_app, "mod")
    moderator.post("/admin/comments/action", data={"action": "approve", "ids": str(comment_id)})
    (mail,) = inbox.to("late@example.net")
    assert f"http://127.0.0.1:5000{post[1]}?cpage=2#comment-{comment_id}" in mail.body

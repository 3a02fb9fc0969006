"""Comment emails, sent to a real SMTP server (aiosmtpd) listening on 127.0.0.1; and the
double opt-in that reply mail needs (a confirmed email), which also makes a commenter known."""

from __future__ import annotations

import email
import re
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
from blog.models import ConfirmedEmail
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


# --- double opt-in: a confirmed email, the reply mail it allows, the link that stops it ---


def _link(body: str, kind: str) -> str:
    match = re.search(rf"http://127\.0\.0\.1:5000(/comments/{kind}/[^\s]+)", body)
    assert match, body
    return match.group(1)


def _ask(app, post, email="zoe@example.org", **fields):
    return comment_id_from(
        post_comment(
            app.test_client(), post[1], email=email, author="Zoë", notify_replies="y", **fields
        )
    )


def test_ticking_the_box_mails_a_link_once_a_day(mail_app, inbox: Inbox, post):
    _ask(mail_app, post)
    _ask(mail_app, post, comment="And another thought.")
    mails = [m for m in inbox.to("zoe@example.org") if "confirm your email" in m.subject]
    assert len(mails) == 1
    assert "/comments/confirm/" in mails[0].body
    with mail_app.app_context():
        assert db.session.get(ConfirmedEmail, "zoe@example.org") is None  # not until asked


def test_the_link_shows_a_button_and_the_button_confirms(mail_app, inbox: Inbox, post):
    _ask(mail_app, post, email="Zoe@Example.org")
    (mail,) = [m for m in inbox.to("zoe@example.org") if "confirm" in m.subject]
    path = _link(mail.body, "confirm")
    client = mail_app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    assert "Confirm zoe@example.org" in page.get_data(as_text=True)
    with mail_app.app_context():
        assert db.session.get(ConfirmedEmail, "zoe@example.org") is None  # a GET changes nothing
    done = client.post(path)
    assert done.status_code == 200 and "is confirmed" in done.get_data(as_text=True)
    with mail_app.app_context():
        assert db.session.get(ConfirmedEmail, "zoe@example.org") is not None
    assert client.post(path).status_code == 200  # again: still fine


@pytest.mark.parametrize("tampered", ["x", "not-a-token", "-"])
def test_a_bad_link_says_so(mail_app, tampered):
    client = mail_app.test_client()
    for kind in ("confirm", "stop-replies"):
        response = client.post(f"/comments/{kind}/{tampered}")
        assert response.status_code == 400
        assert "This link is not valid" in response.get_data(as_text=True)


def test_replies_are_mailed_to_a_confirmed_commenter_who_asked(mail_app, inbox: Inbox, post):
    first = _ask(mail_app, post)
    (mail,) = [m for m in inbox.to("zoe@example.org") if "confirm" in m.subject]
    mail_app.test_client().post(_link(mail.body, "confirm"))
    # Approved by a moderator, then answered by someone whose reply is published.
    with mail_app.app_context():
        from blog.models import Comment, User
        from blog.services import comments as comment_service

        admin = db.session.query(User).filter_by(username="admin").one()
        comment_service.moderate(db.session.get(Comment, first), "approve", admin)
    add_comment(mail_app, post[0], author="Ben", email="ben@example.org", ip="127.0.0.1")
    reply = comment_id_from(
        post_comment(
            mail_app.test_client(),
            post[1],
            author="Ben",
            email="ben@example.org",
            comment="I agree with Zoë.",
            comment_parent=first,
        )
    )
    assert get_comment(mail_app, reply).status == CommentStatus.APPROVED
    replies = [m for m in inbox.to("zoe@example.org") if "New reply" in m.subject]
    assert len(replies) == 1
    assert "I agree with Zoë." in replies[0].body
    assert f"#comment-{reply}" in replies[0].body
    # The link in it stops them, for that post.
    stop = _link(replies[0].body, "stop-replies")
    client = mail_app.test_client()
    assert "Stop these emails" in client.get(stop).get_data(as_text=True)
    assert client.post(stop).status_code == 200
    assert get_comment(mail_app, first).notify_replies is False


def test_no_reply_mail_without_confirmation(mail_app, inbox: Inbox, post):
    parent = add_comment(mail_app, post[0], author="Una", email="una@example.org")
    with mail_app.app_context():
        from blog.models import Comment

        db.session.get(Comment, parent).notify_replies = True
        db.session.commit()
    add_comment(mail_app, post[0], author="Ben", email="ben@example.org", ip="127.0.0.1")
    comment_id_from(
        post_comment(
            mail_app.test_client(),
            post[1],
            author="Ben",
            email="ben@example.org",
            comment="A reply.",
            comment_parent=parent,
        )
    )
    assert inbox.to("una@example.org") == []


def test_a_confirmed_email_is_trusted_as_a_returning_commenter(mail_app, post):
    """The same email from another network and under another name: held, unless the
    email was confirmed, which nobody typing it could have done."""
    add_comment(mail_app, post[0], author="Zoë", email="zoe@example.org", ip="198.51.100.9")
    held = comment_id_from(
        post_comment(mail_app.test_client(), post[1], author="Z.", email="zoe@example.org")
    )
    assert get_comment(mail_app, held).status == CommentStatus.PENDING
    with mail_app.app_context():
        db.session.add(ConfirmedEmail(email="zoe@example.org"))
        db.session.commit()
    trusted = comment_id_from(
        post_comment(
            mail_app.test_client(),
            post[1],
            author="Z.",
            email="zoe@example.org",
            comment="Me again.",
        )
    )
    stored = get_comment(mail_app, trusted)
    assert stored.status == CommentStatus.APPROVED
    assert stored.reasons[0] == "author has 1 approved comment (email confirmed)"

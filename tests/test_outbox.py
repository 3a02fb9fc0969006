"""The outbox: a notification is written with the change and delivered once the mail server
takes it, whatever happened in between (the server down, a process killed, two workers).

A real SMTP server (aiosmtpd) on 127.0.0.1; real gunicorn processes for the kill test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from comment_helpers import comment_id_from, post_comment
from conftest import TEST_DATABASE_URL, _with_search_path, create_post, create_user, login, make_app
from flask import Flask
from sqlalchemy import select
from test_notifications import Collector, free_port
from test_two_processes import blog_env, call, flask_cli, start_gunicorn, wait_ready

from blog.extensions import db
from blog.models import OutboxMessage, OutboxStatus, utcnow
from blog.services import notify
from blog.services import outbox as outbox_service

SECONDS = 15.0  # the longest any delivery here may take to happen


class Smtp:
    """An SMTP server on a fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.collector = Collector()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list:
        return self.collector.received

    def wait_for(self, count: int, seconds: float = SECONDS) -> list:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    try:
        yield server
    finally:
        server.stop()


def mailing_app(database_uri: str, folder: Path, smtp: Smtp, **overrides: object) -> Flask:
    """An app mailing the test server, retrying quickly, with an admin to mail."""
    settings = {"MAIL_TIMEOUT": 2, "OUTBOX_FIRST_RETRY": 0.3, "OUTBOX_LONGEST_RETRY": 1}
    mailing = make_app(
        database_uri,
        folder,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        **{**settings, **overrides},
    )
    create_user(mailing, "admin", "admin", email="admin@example.com")
    return mailing


@pytest.fixture
def site(app: Flask, database_uri: str, tmp_path: Path, smtp: Smtp) -> Iterator[Flask]:
    """The mailing app (``app`` empties the tables afterwards)."""
    mailing = mailing_app(database_uri, tmp_path / "outbox", smtp)
    yield mailing
    notify.wait_for_outbox(5)
    with mailing.app_context():
        db.session.remove()
        db.engine.dispose()


def messages(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def held_comment(app: Flask, text: str = "Please hold me.") -> int:
    _, path = create_post(app, "admin", title=f"Post for {text}")
    response = post_comment(app.test_client(), path, comment=text, email="new@example.org")
    assert response.status_code == 303
    return comment_id_from(response)


def wait_until(predicate, seconds: float = SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --- written with the change ---------------------------------------------------------------


def test_a_held_comment_and_its_mail_are_one_transaction(site: Flask, smtp: Smtp) -> None:
    smtp.start()
    held_comment(site)
    (row,) = messages(site)
    assert row.recipients == ["admin@example.com"]
    assert "Please moderate" in row.subject
    (mail,) = smtp.wait_for(1)
    assert mail.subject == row.subject
    assert wait_until(lambda: messages(site)[0].status == OutboxStatus.SENT)


def test_a_refused_comment_leaves_no_mail(site: Flask, smtp: Smtp) -> None:
    smtp.start()
    _, path = create_post(site, "admin", title="Refusals")
    response = post_comment(site.test_client(), path, comment="", email="new@example.org")
    assert response.status_code == 400
    assert messages(site) == []


def test_an_approval_rolled_back_sends_nothing(site: Flask, smtp: Smtp) -> None:
    """A reply from the queue that is refused takes its approval, and that approval's mail
    to the commenter, back with it."""
    from blog.services import comments as comment_service
    from blog.services.settings import comment_whitelist, discussion_settings
    from blog.services.users import find_user

    smtp.start()
    _, path = create_post(site, "admin", title="Rolled back")
    client = site.test_client()
    answer = post_comment(client, path, comment="Tell me.", email="asker@example.org", notify="y")
    comment_id = comment_id_from(answer)
    notify.wait_for_outbox()
    before = len(messages(site))
    with site.app_context():
        parent = comment_service.get_comment(comment_id)
        with pytest.raises(comment_service.CommentRefused):
            comment_service.reply(
                parent,
                find_user("admin"),
                "",  # an empty reply is refused
                discussion_settings(),
                comment_whitelist(),
            )
    assert len(messages(site)) == before


# --- the mail server down ------------------------------------------------------------------


def test_mail_posted_while_the_server_is_down_arrives_when_it_is_back(
    site: Flask, smtp: Smtp
) -> None:
    held_comment(site)  # no server listens: the first tries fail
    assert wait_until(lambda: messages(site)[0].attempts >= 1)
    (row,) = messages(site)
    assert row.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
    assert "ConnectionRefused" in row.last_error or row.status == OutboxStatus.SENDING
    smtp.start()
    (mail,) = smtp.wait_for(1)
    assert "Please moderate" in mail.subject
    assert wait_until(lambda: messages(site)[0].status == OutboxStatus.SENT)
    time.sleep(0.5)
    assert len(smtp.received) == 1  # once


def test_after_the_last_try_a_message_is_dead_until_retried(
    app: Flask, database_uri: str, tmp_path: Path, smtp: Smtp
) -> None:
    dying = mailing_app(
        database_uri,
        tmp_path / "dying",
        smtp,
        OUTBOX_FIRST_RETRY=0.1,
        OUTBOX_LONGEST_RETRY=0.2,
        OUTBOX_MAX_ATTEMPTS=3,
    )
    held_comment(dying)
    assert wait_until(lambda: messages(dying)[0].status == OutboxStatus.DEAD)
    (row,) = messages(dying)
    assert row.attempts == 3 and row.last_error
    admin = dying.test_client()
    login(admin, "admin")
    page = admin.get("/admin/outbox").get_data(as_text=True)
    assert "dead" in page and row.last_error.split(":")[0] in page and "Retry now" in page
    smtp.start()
    assert admin.post(f"/admin/outbox/{row.id}/retry").status_code == 303
    (mail,) = smtp.wait_for(1)
    assert "Please moderate" in mail.subject
    assert wait_until(lambda: messages(dying)[0].status == OutboxStatus.SENT)
    assert admin.post("/admin/outbox/999999/retry").status_code == 404
    notify.wait_for_outbox(5)
    with dying.app_context():
        db.engine.dispose()


def test_retries_wait_longer_each_time_with_jitter() -> None:
    config = {"OUTBOX_FIRST_RETRY": 10, "OUTBOX_LONGEST_RETRY": 3600}
    for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 80), (9, 2560), (10, 3600), (50, 3600)]:
        delays = {outbox_service.retry_delay(attempts, config) for _ in range(50)}
        assert all(0.75 * full <= d <= full for d in delays), (attempts, delays)
        assert len(delays) > 1  # spread, not in step


# --- several workers, and workers that die -------------------------------------------------


def test_two_workers_send_each_message_once(
    app: Flask, database_uri: str, tmp_path: Path, smtp: Smtp
) -> None:
    """Two apps (two pools of connections, as two processes) deliver the same backlog at
    once: every message reaches the server exactly once."""
    smtp.start()
    apps = [
        make_app(
            database_uri,
            tmp_path / f"worker-{n}",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=smtp.port,
            OUTBOX_WORKER=False,  # only the two loops below deliver
        )
        for n in range(2)
    ]
    with apps[0].app_context():
        for n in range(40):
            db.session.add(OutboxMessage(recipients=[f"r{n}@example.org"], subject=f"#{n}"))
        db.session.commit()
    barrier = threading.Barrier(2)

    def drain(worker: Flask) -> None:
        barrier.wait(timeout=10)
        with worker.app_context():
            while outbox_service.deliver_due(limit=3):
                pass

    threads = [threading.Thread(target=drain, args=(worker,)) for worker in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    subjects = sorted(str(mail.subject) for mail in smtp.wait_for(40, 5))
    assert subjects == sorted(f"#{n}" for n in range(40))
    assert {row.status for row in messages(apps[0])} == {OutboxStatus.SENT}
    for worker in apps:
        with worker.app_context():
            db.engine.dispose()


def test_a_claim_left_by_a_dead_worker_is_taken_again(site: Flask, smtp: Smtp) -> None:
    smtp.start()
    with site.app_context():
        message = OutboxMessage(
            recipients=["late@example.org"],
            subject="Left behind",
            status=OutboxStatus.SENDING,
            attempts=1,
            claimed_until=utcnow() - timedelta(seconds=1),
        )
        db.session.add(message)
        db.session.commit()
        assert outbox_service.deliver_due() == 1
    (mail,) = smtp.wait_for(1)
    assert mail.subject == "Left behind"
    assert messages(site)[0].attempts == 2


def test_a_live_claim_is_left_alone(site: Flask, smtp: Smtp) -> None:
    smtp.start()
    with site.app_context():
        db.session.add(
            OutboxMessage(
                recipients=["busy@example.org"],
                subject="Being sent",
                status=OutboxStatus.SENDING,
                claimed_until=utcnow() + timedelta(minutes=5),
            )
        )
        db.session.commit()
        assert outbox_service.deliver_due() == 0
        assert outbox_service.seconds_until_next() > 200
    assert smtp.received == []


def test_the_command_delivers_what_is_due(site: Flask, smtp: Smtp) -> None:
    smtp.start()
    with site.app_context():
        db.session.add(OutboxMessage(recipients=["cli@example.org"], subject="From the CLI"))
        db.session.add(
            OutboxMessage(
                recipients=["later@example.org"],
                subject="Not yet",
                next_at=utcnow() + timedelta(hours=1),
            )
        )
        db.session.commit()
    result = site.test_cli_runner().invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "Tried 1; 1 pending, 0 dead, 1 sent." in result.output
    assert [str(m.subject) for m in smtp.received] == ["From the CLI"]


def test_sent_messages_are_pruned_after_their_days(site: Flask) -> None:
    with site.app_context():
        old = utcnow() - timedelta(days=40)
        db.session.add(OutboxMessage(subject="old", status=OutboxStatus.SENT, sent_at=old))
        db.session.add(OutboxMessage(subject="new", status=OutboxStatus.SENT, sent_at=utcnow()))
        db.session.add(OutboxMessage(subject="dead", status=OutboxStatus.DEAD))
        db.session.commit()
        assert outbox_service.prune() == 1
    assert sorted(m.subject for m in messages(site)) == ["dead", "new"]


# --- a process killed with mail queued -----------------------------------------------------


def test_mail_queued_in_a_killed_process_arrives_once_after_a_restart(
    app: Flask, own_database: str, tmp_path: Path, smtp: Smtp
) -> None:
    """SIGKILL to a gunicorn master and its workers while a held comment's mail is queued
    (the mail server down): started again, the blog delivers it, exactly once."""
    env = blog_env(tmp_path, own_database, "database")
    env.update(
        FLASK_MAIL_SERVER="127.0.0.1",
        FLASK_MAIL_PORT=str(smtp.port),
        FLASK_MAIL_TIMEOUT="2",
        FLASK_OUTBOX_FIRST_RETRY="0.3",
        FLASK_OUTBOX_LONGEST_RETRY="1",
        FLASK_COMMENT_MIN_FILL_SECONDS="0",
    )
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "user", "create", "admin", "--role", "admin", "--email", "admin@example.com",
              "--password", "correct horse battery")  # fmt: skip
    path = flask_cli(env, "post", "create", "--author", "admin", "--title", "Killed",
                     "--publish").splitlines()[-1]  # fmt: skip
    process, port = start_gunicorn(env, tmp_path / "first.log")
    try:
        wait_ready(process, port, tmp_path / "first.log")
        body = {"post": _post_id(port, path), "content": "Held, then killed.", "author": "Kim",
                "email": "kim@example.org"}  # fmt: skip
        reply = call(port, "POST", "/api/v1/comments", body)
        assert reply.status == 201, reply.body
        time.sleep(0.5)  # a try or two against the closed port
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    smtp.start()
    time.sleep(1.0)
    assert smtp.received == []  # nobody is left to send it
    second, port = start_gunicorn(env, tmp_path / "second.log")
    try:
        wait_ready(second, port, tmp_path / "second.log")  # its first request wakes the outbox
        (mail,) = smtp.wait_for(1)
        assert "Please moderate" in mail.subject and "Held, then killed." in mail.body
        time.sleep(1.0)
        assert len(smtp.received) == 1
    finally:
        second.terminate()
        try:
            second.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait(timeout=10)


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    """A database of the test's own on the backend under test (the processes migrate it):
    a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if not TEST_DATABASE_URL:
        yield "sqlite:///" + str(tmp_path / "killed.db")
        return
    schema = f"test_killed_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(TEST_DATABASE_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(TEST_DATABASE_URL, schema)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _post_id(port: int, path: str) -> int:
    import json

    posts = json.loads(call(port, "GET", "/api/v1/posts").body)["items"]
    return next(post["id"] for post in posts if post["url"] == path)

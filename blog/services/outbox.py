"""The outbox: side effects written with the change that causes them, delivered after it.

A notification is an ``outbox`` row added to the session of the change (a held comment, an
approval), so it commits or rolls back with it: nothing acknowledged goes unannounced,
and nothing rolled back is announced. A worker then delivers it: a thread in each app
process (woken when a transaction that added a row commits, and at a process's first
request, so a restart picks up what a dead process left), or ``flask --app app outbox
run`` for sites that prefer a process of their own. Both are safe to run at once, on any
number of processes: a message is claimed before it is sent (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, then a conditional ``UPDATE ... WHERE status = 'pending'`` everywhere), and a
claim lapses (``claimed_until``) so that a process killed while sending does not take the
message with it.

A message is marked sent only after the SMTP server accepted it: a crash between the two
sends it twice, never zero times. A failure is retried after ``OUTBOX_FIRST_RETRY``
seconds, doubling each time (with jitter, so that workers do not retry in step) up to
``OUTBOX_LONGEST_RETRY``; after ``OUTBOX_MAX_ATTEMPTS`` tries the message is dead, with
its last error, until an admin retries it (*Admin → Outbox*).
"""

from __future__ import annotations

import logging
import os
import random
import smtplib
import threading
import time
import weakref
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from blog.extensions import db
from blog.models import OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

_ADDED = "outbox_added"  # session.info flag: this transaction added a message
BATCH = 20  # messages claimed per pass


# --- writing -------------------------------------------------------------------------------


def add_mail(recipients: Iterable[str], subject: str, body: str) -> bool:
    """Add one plain-text message to the current transaction; False when there is nothing
    to send (no mail server configured, or no recipient)."""
    to = sorted({r.strip() for r in recipients if r and r.strip()})
    if not to or not current_app.config.get("MAIL_SERVER"):
        return False
    db.session.add(OutboxMessage(kind="mail", recipients=to, subject=subject, body=body))
    db.session.info[_ADDED] = True
    return True


def _after_commit(session: Session) -> None:
    if session.info.pop(_ADDED, False):
        worker_for(current_app).wake()


def _after_rollback(session: Session) -> None:
    session.info.pop(_ADDED, None)


# --- delivering ----------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    """Messages a worker may take now: pending and due, or claimed by one that has let
    its claim lapse (killed while sending)."""
    table = OutboxMessage
    return or_(
        and_(table.status == OutboxStatus.PENDING, table.next_at <= now),
        and_(table.status == OutboxStatus.SENDING, table.claimed_until < now),
    )


def _lease() -> timedelta:
    """How long a claim holds: longer than any send can take."""
    return timedelta(seconds=float(current_app.config["MAIL_TIMEOUT"]) * 3 + 60)


def claim(limit: int = BATCH) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this worker, committed before sending."""
    now = utcnow()
    query = select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.next_at).limit(limit)
    if db.session.connection().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    claimed = []
    for message_id in ids:
        taken = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, _due(now))
            .values(
                status=OutboxStatus.SENDING,
                claimed_until=now + _lease(),
                attempts=OutboxMessage.attempts + 1,
            )
        )
        if taken.rowcount == 1:
            claimed.append(message_id)
    db.session.commit()
    if not claimed:
        return []
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(claimed))))


def retry_delay(attempts: int, config: Any) -> float:
    """Seconds before the next try after ``attempts`` tries: the first retry after
    OUTBOX_FIRST_RETRY, doubling, at most OUTBOX_LONGEST_RETRY, each between 75% and 100%
    of that (jitter, so that messages that failed together do not retry together)."""
    first = float(config["OUTBOX_FIRST_RETRY"])
    longest = float(config["OUTBOX_LONGEST_RETRY"])
    delay = min(first * 2 ** min(max(attempts - 1, 0), 30), longest)
    return delay * random.uniform(0.75, 1.0)  # noqa: S311 - spreading retries, not secrets


def _record(message_id: int, error: str | None, attempts: int) -> None:
    config = current_app.config
    now = utcnow()
    claimed = and_(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING)
    if error is None:
        values: dict[str, Any] = {
            "status": OutboxStatus.SENT,
            "sent_at": now,
            "claimed_until": None,
            "last_error": "",
        }
    elif attempts >= int(config["OUTBOX_MAX_ATTEMPTS"]):
        values = {"status": OutboxStatus.DEAD, "claimed_until": None, "last_error": error}
        log.error("outbox: message %s is dead after %s tries: %s", message_id, attempts, error)
    else:
        later = now + timedelta(seconds=retry_delay(attempts, config))
        values = {
            "status": OutboxStatus.PENDING,
            "next_at": later,
            "claimed_until": None,
            "last_error": error,
        }
    db.session.execute(update(OutboxMessage).where(claimed).values(**values))
    db.session.commit()


def deliver_due(limit: int = BATCH) -> int:
    """Claim the due messages and try each once; how many were tried."""
    messages = claim(limit)
    for message in messages:
        error = _send(message)
        _record(message.id, error, message.attempts)
    return len(messages)


def _send(message: OutboxMessage) -> str | None:
    """Hand one message to the SMTP server: None when it accepted it, else why not."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return "no MAIL_SERVER is configured"
    mail = EmailMessage()
    mail["From"] = config["MAIL_DEFAULT_SENDER"]
    mail["To"] = ", ".join(message.recipients)
    mail["Subject"] = message.subject
    mail["Message-ID"] = f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S}@blog>"
    mail.set_content(message.body)
    try:
        with smtplib.SMTP(
            config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=float(config["MAIL_TIMEOUT"])
        ) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("outbox: could not send %r to %s: %s", message.subject, mail["To"], exc)
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None


def seconds_until_next() -> float | None:
    """Seconds until the next pending message falls due (0 when one is due), or None when
    nothing waits."""
    when = db.session.scalar(
        select(func.min(OutboxMessage.next_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
    )
    lapsing = db.session.scalar(
        select(func.min(OutboxMessage.claimed_until)).where(
            OutboxMessage.status == OutboxStatus.SENDING
        )
    )
    times = [t for t in (when, lapsing) if t is not None]
    if not times:
        return None
    return max(0.0, (min(times) - utcnow()).total_seconds())


def prune() -> int:
    """Forget sent messages older than OUTBOX_KEEP_SENT_DAYS."""
    days = int(current_app.config["OUTBOX_KEEP_SENT_DAYS"])
    before = utcnow() - timedelta(days=days)
    gone = db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at < before
        )
    )
    db.session.commit()
    return gone.rowcount or 0


def counts() -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    found = {OutboxStatus(status).value: count for status, count in rows}
    return {status.value: found.get(status.value, 0) for status in OutboxStatus}


def retry_now(message_id: int) -> bool:
    """Send a dead or waiting message again at once, with a fresh count of tries."""
    changed = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status.in_((OutboxStatus.DEAD, OutboxStatus.PENDING)),
        )
        .values(status=OutboxStatus.PENDING, next_at=utcnow(), attempts=0, claimed_until=None)
    )
    db.session.commit()
    if changed.rowcount:
        worker_for(current_app).wake()
    return bool(changed.rowcount)


# --- the worker thread ---------------------------------------------------------------------


class Worker:
    """One delivery thread per app and process, started when there is work and ended after
    OUTBOX_IDLE_SECONDS with nothing waiting."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pid = os.getpid()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()  # set when a pass found nothing due
        self.idle.set()
        self._stopping = False

    def wake(self) -> None:
        if not self.app.config["OUTBOX_WORKER"]:
            return
        self.idle.clear()
        self._wake.set()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """End the thread after the message it is sending, if any (shutdown, tests)."""
        with self._lock:
            thread, self._stopping = self._thread, True
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
        self.idle.set()

    def _pass(self) -> float | None:
        """Deliver what is due; the seconds until more is (None: nothing waits)."""
        with self.app.app_context():
            try:
                while not self._stopping and deliver_due():
                    pass
                if random.random() < 0.01:  # noqa: S311 - now and then
                    prune()
                return seconds_until_next()
            except Exception:  # noqa: BLE001 - a bad pass must not end the thread
                log.exception("outbox: a delivery pass failed")
                db.session.rollback()
                return float(self.app.config["OUTBOX_POLL_SECONDS"])

    def _run(self) -> None:
        poll = float(self.app.config["OUTBOX_POLL_SECONDS"])
        idle_for = float(self.app.config["OUTBOX_IDLE_SECONDS"])
        quiet_since = time.monotonic()
        while not self._stopping:
            self._wake.clear()
            wait = self._pass()
            if wait == 0:
                continue
            if not self._wake.is_set():
                self.idle.set()
            if wait is not None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > idle_for:
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
            self._wake.wait(timeout=min(wait if wait is not None else poll, poll))
            self.idle.clear()
        self.idle.set()


_workers: weakref.WeakSet[Worker] = weakref.WeakSet()
_workers_lock = threading.Lock()


def worker_for(app: Flask) -> Worker:
    """This process's worker for ``app`` (a forked process gets a new one)."""
    # The app itself: a thread outlives the context that current_app stands for.
    app = getattr(app, "_get_current_object", lambda: app)()
    with _workers_lock:
        worker = app.extensions.get("outbox")
        if worker is None or worker.pid != os.getpid():
            worker = Worker(app)
            app.extensions["outbox"] = worker
            _workers.add(worker)
        return worker


def stop_all(timeout: float = 10) -> None:
    """Stop every worker thread of this process."""
    for worker in list(_workers):
        worker.stop(timeout)


def wait_until_idle(timeout: float = 30) -> bool:
    """Block until every worker in this process has found nothing due (tests, shutdown)."""
    deadline = time.monotonic() + timeout
    for worker in list(_workers):
        if not worker.idle.wait(timeout=max(0.0, deadline - time.monotonic())):
            return False
    return True


def due_or_sending() -> int:
    """Messages due now or being sent, over every app this process runs."""
    total = 0
    for worker in list(_workers):
        with worker.app.app_context():
            now = utcnow()
            total += db.session.scalar(
                select(func.count()).select_from(OutboxMessage).where(
                    or_(
                        and_(
                            OutboxMessage.status == OutboxStatus.PENDING,
                            OutboxMessage.next_at <= now,
                        ),
                        OutboxMessage.status == OutboxStatus.SENDING,
                    )
                )
            ) or 0
    return total


def init_app(app: Flask) -> None:
    """Wake the worker when a transaction that added a message commits, and at each
    process's first request (what a dead process left behind is delivered)."""
    from sqlalchemy import event

    session = db.session
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)

    started: dict[str, int] = {}

    @app.before_request
    def _first_request_wakes_the_outbox() -> None:
        # Without a mail server nothing is ever added, and no thread need poll for it.
        if started.get("pid") != os.getpid() and app.config.get("MAIL_SERVER"):
            started["pid"] = os.getpid()
            worker_for(app).wake()

"""Is this process able to serve: for load balancers, systemd and monitoring (/readyz)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, text

from blog.extensions import db
from blog.models import OutboxMessage, OutboxStatus, utcnow


@cache
def _heads(directory: str) -> frozenset[str]:
    """The migration heads shipped with the code (read once per process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness() -> tuple[bool, dict[str, Any]]:
    """(ready, what was checked): the database answers, its schema is at the code's
    migration head, and no notification has waited past OUTBOX_STUCK_SECONDS."""
    checks: dict[str, Any] = {}
    try:
        connection = db.session.connection()
        applied = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception as exc:  # noqa: BLE001 - any failure here means "not ready"
        db.session.rollback()
        checks["database"] = f"unreachable: {type(exc).__name__}"
        return False, checks
    checks["database"] = "ok"
    heads = _heads(current_app.extensions["migrate"].directory)
    checks["migrations"] = "at head" if applied == heads else (
        f"database at {', '.join(sorted(applied)) or 'nothing'}, code at {', '.join(sorted(heads))}"
    )
    stuck_after = timedelta(seconds=float(current_app.config["OUTBOX_STUCK_SECONDS"]))
    now = utcnow()
    stuck = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            or_(
                (OutboxMessage.status == OutboxStatus.PENDING)
                & (OutboxMessage.next_at < now - stuck_after)
                & (OutboxMessage.attempts == 0),
                (OutboxMessage.status == OutboxStatus.SENDING)
                & (OutboxMessage.claimed_until < now - stuck_after),
            )
        )
    )
    checks["outbox"] = "ok" if not stuck else f"{stuck} message(s) waiting for a worker"
    db.session.rollback()  # nothing was written; end the read
    ready = checks["migrations"] == "at head" and not stuck
    return ready, checks

"""The outbox page: what waits to be sent, what could not be, and "retry now"."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import case, select

from blog.admin import bp
from blog.auth.forms import EmptyForm
from blog.decorators import permission_required
from blog.extensions import db
from blog.models import OutboxMessage, OutboxStatus, Permission, utcnow
from blog.services import outbox as outbox_service

SHOWN = 200  # rows on the page: the dead first, then what waits, newest first


@bp.get("/outbox")
@permission_required(Permission.MANAGE_SETTINGS)
def outbox():
    waiting = (OutboxStatus.DEAD, OutboxStatus.PENDING, OutboxStatus.SENDING)
    dead_first = case((OutboxMessage.status == OutboxStatus.DEAD, 0), else_=1)
    rows = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(waiting))
        .order_by(dead_first, OutboxMessage.id.desc())
        .limit(SHOWN)
    )
    sent = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENT)
        .order_by(OutboxMessage.id.desc())
        .limit(20)
    )
    return render_template(
        "admin/outbox.html",
        messages=list(rows),
        sent=list(sent),
        counts=outbox_service.counts(),
        now=utcnow(),
        max_attempts=int(current_app.config["OUTBOX_MAX_ATTEMPTS"]),
    )


@bp.post("/outbox/<int:message_id>/retry")
@permission_required(Permission.MANAGE_SETTINGS)
def outbox_retry(message_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not 0 < message_id < 2**31 or db.session.get(OutboxMessage, message_id) is None:
        abort(404)
    if outbox_service.retry_now(message_id):
        flash(f"Message {message_id} will be sent again now.", "success")
    else:
        flash(f"Message {message_id} is being sent or was sent already.", "info")
    return redirect(url_for("admin.outbox"), 303)

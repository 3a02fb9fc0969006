"""Your account: where you are logged in, logging out everywhere, your API tokens; and, for
admins, everyone's tokens."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from blog.admin import bp
from blog.admin.forms import LogoutEverywhereForm, TokenForm
from blog.auth.forms import EmptyForm
from blog.auth.views import safe_next
from blog.decorators import permission_required
from blog.models import Permission, utcnow
from blog.services import ServiceError
from blog.services import users as user_service


def _account(token_form: TokenForm | None = None, new_token: str | None = None, status=200):
    sessions = user_service.sessions_of(current_user)
    return (
        render_template(
            "admin/account.html",
            sessions=[(row, user_service.is_current(current_user, row)) for row in sessions],
            tokens=user_service.tokens_of(current_user),
            token_form=token_form or TokenForm(formdata=None),
            logout_form=LogoutEverywhereForm(formdata=None),
            new_token=new_token,
            now=utcnow(),
        ),
        status,
    )


@bp.get("/account")
def account():
    return _account()


@bp.post("/account/logout-everywhere")
def logout_everywhere():
    form = LogoutEverywhereForm()
    if not form.validate_on_submit():
        abort(400)
    sessions, tokens = user_service.end_other_sessions(
        current_user, revoke_tokens=bool(form.revoke_tokens.data)
    )
    what = f"{sessions} other session{'' if sessions == 1 else 's'} ended"
    if form.revoke_tokens.data:
        what += f", {tokens} API token{'' if tokens == 1 else 's'} revoked"
    else:
        what += "; your API tokens still work"
    flash(f"Logged out everywhere else: {what}. This browser stays logged in.", "success")
    return redirect(url_for("admin.account"), 303)


@bp.post("/account/tokens")
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        return _account(token_form=form, status=400)
    days = int(form.expires_days.data) if form.expires_days.data else None
    expires = utcnow() + timedelta(days=days) if days else None
    try:
        token = user_service.create_token(current_user, form.name.data or "", expires)
    except ServiceError as exc:
        form.name.errors = [*form.name.errors, exc.message]
        return _account(token_form=form, status=400)
    # Shown in this answer only (never in a redirect's session): store it now or never.
    return _account(new_token=token, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        row = user_service.revoke_token(token_id, current_user)
    except ServiceError as exc:
        abort(exc.status)
    flash(f"Token {row.prefix}… ({row.name or 'no name'}) revoked.", "success")
    target = safe_next(request.form.get("next"))
    return redirect(
        target if target and target.startswith("/admin") else url_for("admin.account"), 303
    )


@bp.get("/tokens")
@permission_required(Permission.MANAGE_USERS)
def all_tokens():
    return render_template("admin/tokens.html", tokens=user_service.tokens_of(None), now=utcnow())

"""Admin -> Users: the list of users, adding one, changing a role, name or email, disabling
and enabling, and one-time set-password links. Admins only (Permission.MANAGE_USERS)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from blog.admin import bp
from blog.admin.forms import UserCreateForm, UserEditForm
from blog.auth.forms import EmptyForm
from blog.decorators import permission_required
from blog.models import Permission, Role, User
from blog.services import ServiceError, password_links, user_admin
from blog.services import users as user_service


def _field_error(form, exc: ServiceError) -> None:
    """Put a service's refusal under the field it is about (or the form's top)."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None:
        flash(exc.message, "error")
    else:
        field.errors = [*field.errors, exc.message]


@bp.get("/users")
@permission_required(Permission.MANAGE_USERS)
def users():
    role = request.args.get("role", "")
    role = role if role in {r.value for r in Role} else ""
    search = request.args.get("s", "")
    error = None
    try:
        listing = user_admin.list_users(role, search, request.args.get("page", 1, type=int))
    except ServiceError as exc:
        error = exc.message
        listing = user_admin.list_users(role, "", 1)
    return render_template(
        "admin/users.html",
        listing=listing,
        role=role,
        search=search,
        search_error=error,
        roles=user_admin.role_descriptions(),
    ), (400 if error else 200)


def _new_user_page(form: UserCreateForm, status: int = 200):
    return render_template(
        "admin/user_new.html", form=form, roles=user_admin.role_descriptions()
    ), status


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def new_user():
    form = UserCreateForm()
    if request.method == "GET":
        return _new_user_page(form)
    if not form.validate_on_submit():
        return _new_user_page(form, 400)
    try:
        user = user_service.create_user(
            form.username.data or "",
            form.password.data or None,
            form.role.data or Role.SUBSCRIBER,
            form.email.data or "",
            form.display_name.data or "",
        )
    except ServiceError as exc:
        _field_error(form, exc)
        return _new_user_page(form, exc.status)
    flash(f"User {user.username} added as {user.role.value}.", "success")
    if form.password.data:
        return redirect(url_for("admin.edit_user", user_id=user.id), 303)
    # No password typed: the link is shown in this answer only (never through the session).
    link = password_links.issue(user, current_user, new_account=True)
    return _edit_page(user, link=link, status=201)


def _edit_page(user: User, form: UserEditForm | None = None, link=None, status: int = 200):
    if form is None:
        form = UserEditForm(formdata=None, obj=user)
        form.role.data = user.role.value
    return render_template(
        "admin/user_edit.html",
        user=user,
        form=form,
        link=link,
        link_hours=password_links.hours(),
        roles=user_admin.role_descriptions(),
        is_self=user.id == current_user.id,
    ), status


def _user_or_404(user_id: int) -> User:
    try:
        return user_admin.get_user(user_id)
    except ServiceError as exc:
        abort(exc.status)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def edit_user(user_id: int):
    user = _user_or_404(user_id)
    if request.method == "GET":
        return _edit_page(user)
    form = UserEditForm()
    if not form.validate_on_submit():
        return _edit_page(user, form, status=400)
    try:
        changed = user_admin.update_user(
            user,
            current_user,
            role=form.role.data or "",
            display_name=form.display_name.data or "",
            email=form.email.data or "",
        )
    except ServiceError as exc:
        _field_error(form, exc)
        return _edit_page(user, form, status=exc.status)
    if changed:
        flash(f"{user.username}: {', '.join(changed)} changed.", "success")
    else:
        flash(f"{user.username}: nothing to change.", "info")
    return redirect(url_for("admin.edit_user", user_id=user.id), 303)


def _set_active(user_id: int, active: bool):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    try:
        changed = user_admin.set_active(user, current_user, active)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.edit_user", user_id=user.id), 303)
    if not changed:
        flash(f"{user.username} is already {'active' if active else 'disabled'}.", "info")
    elif active:
        flash(f"{user.username} is enabled: they can log in again.", "success")
    else:
        flash(
            f"{user.username} is disabled: logged out everywhere, their API tokens refused.",
            "success",
        )
    return redirect(url_for("admin.edit_user", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/disable")
@permission_required(Permission.MANAGE_USERS)
def disable_user(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
@permission_required(Permission.MANAGE_USERS)
def enable_user(user_id: int):
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/password-link")
@permission_required(Permission.MANAGE_USERS)
def user_password_link(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    try:
        link = password_links.issue(user, current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.edit_user", user_id=user.id), 303)
    return _edit_page(user, link=link, status=201)

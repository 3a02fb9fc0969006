"""Settings pages: general (title, time zone) and discussion (comments, moderation)."""

from __future__ import annotations

import dataclasses

from flask import abort, flash, redirect, render_template, request, url_for

from blog.admin import bp
from blog.admin.forms import DiscussionSettingsForm, GeneralSettingsForm
from blog.auth.forms import EmptyForm
from blog.decorators import permission_required
from blog.models import Permission
from blog.moderation import DiscussionSettings
from blog.services import ServiceError
from blog.services import settings as settings_service
from blog.services import spam as spam_service


def _field_error(form, exc: ServiceError) -> None:
    target = getattr(form, exc.field or "", None)
    if target is not None:
        target.errors = [*target.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


@bp.route("/settings", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_SETTINGS)
def settings_general():
    current = settings_service.site_settings()
    form = GeneralSettingsForm(
        data=None
        if request.method == "POST"
        else {
            "site_name": current.name,
            "site_description": current.description,
            "timezone": current.timezone,
            "posts_per_page": current.posts_per_page,
            "language": current.language,
            "image_hosts": "\n".join(current.image_hosts),
        }
    )
    if form.validate_on_submit():
        # A form sent without the newer fields (a script from before them) keeps them.
        sent = request.form
        try:
            settings_service.save_site(
                form.site_name.data,
                form.site_description.data or "",
                form.timezone.data,
                form.posts_per_page.data,
                language=form.language.data if "language" in sent else None,
                image_hosts=(form.image_hosts.data or "") if "image_hosts" in sent else None,
            )
        except ServiceError as exc:
            _field_error(form, exc)
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("admin.settings_general"), 303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/settings_general.html", form=form), status


@bp.route("/settings/discussion", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_SETTINGS)
def settings_discussion():
    if request.method == "POST":
        form = DiscussionSettingsForm()
    else:
        current = dataclasses.asdict(settings_service.discussion_settings())
        data = {k: "\n".join(v) if isinstance(v, tuple) else v for k, v in current.items()}
        data["comment_whitelist"] = settings_service.comment_whitelist_text()
        form = DiscussionSettingsForm(data=data)
    if form.validate_on_submit():
        values = {name: form[name].data for name in DiscussionSettings.__dataclass_fields__}
        try:
            settings_service.save_discussion(
                DiscussionSettings.from_mapping(values), form.comment_whitelist.data
            )
        except ServiceError as exc:
            _field_error(form, exc)
        else:
            flash("Discussion settings saved.", "success")
            return redirect(url_for("admin.settings_discussion"), 303)
    status = 400 if request.method == "POST" else 200
    model = spam_service.state()
    spam_state = (
        f"So far it has learned from {model.spam_examples} spam and {model.ham_examples} good "
        "comments."
        if model.has_learned
        else "It has learned nothing yet."
    )
    return (
        render_template("admin/settings_discussion.html", form=form, spam_state=spam_state),
        status,
    )


@bp.post("/settings/discussion/retrain")
@permission_required(Permission.MANAGE_SETTINGS)
def spam_retrain():
    """Learn every spam / not-spam decision again (as ``flask spam retrain``): the model
    moderation alone trains catches less than one retrained over the same decisions."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    learned = spam_service.retrain()
    flash(
        f"The spam filter learned again from {learned.spam_examples} spam and "
        f"{learned.ham_examples} good comments.",
        "success",
    )
    return redirect(url_for("admin.settings_discussion"), 303)

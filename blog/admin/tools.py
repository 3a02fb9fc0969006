"""Moving a site in and out, and a commenter's personal data: WordPress's Tools pages.

Thin views over the services the command line uses (``wxr_import``, ``wxr_export``,
``privacy``), for administrators only: an export holds every commenter's email and address.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from flask import (
    abort,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from blog.admin import bp
from blog.admin.forms import ImportForm, PrivacyForm
from blog.decorators import permission_required
from blog.extensions import csrf
from blog.models import Permission, utcnow
from blog.services import ServiceError, privacy, wxr_export, wxr_import


def _upload_limit() -> int:
    return int(current_app.config["WXR_UPLOAD_MAX_BYTES"])


@bp.route("/import", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def import_site():
    limit = _upload_limit()
    summary = problems = None
    if request.method == "POST":
        # An export is larger than any other form: this request may bring up to the limit.
        request.max_content_length = limit
    try:
        form = ImportForm()
        submitted = form.validate_on_submit()
    except RequestEntityTooLarge:
        # Refused unread: the rest of the request (the page's logout button is a form too)
        # sees an empty form rather than the upload again.
        request.__dict__.update(form=ImmutableMultiDict(), files=ImmutableMultiDict())
        form = ImportForm(formdata=None)
        form.file.errors = [
            f"The file is larger than the upload limit ({limit / 2**20:.0f} MiB, "
            "WXR_UPLOAD_MAX_BYTES). Nothing was imported. Import a larger export from the "
            "command line: flask --app app wxr import FILE"
        ]
        return render_template("admin/import.html", form=form, limit=limit), 413
    status = 200
    if submitted:
        with tempfile.TemporaryDirectory(prefix="blog-import-") as folder:
            path = Path(folder) / "export.xml"
            form.file.data.save(path)
            try:
                summary = wxr_import.import_file(path, dry_run=form.dry_run.data)
            except ServiceError as refused:
                problems = getattr(refused, "problems", None) or [refused.message]
                status = 400
    elif request.method == "POST":
        status = 400
    return (
        render_template(
            "admin/import.html", form=form, limit=limit, summary=summary, problems=problems
        ),
        status,
    )


# The form checks its own CSRF token, after this view has raised the size limit: the
# app-wide check would read the upload first, under the 1 MiB limit of every other form.
csrf.exempt(import_site)


@bp.get("/export")
@permission_required(Permission.MANAGE_USERS)
def export_site():
    return render_template("admin/export.html", items=wxr_export.item_count())


@bp.get("/export/download")
@permission_required(Permission.MANAGE_USERS)
def export_download():
    """The whole site as WXR 1.2, written to a temporary file first (constant memory, and
    a failure is a clear error rather than a truncated download)."""
    folder = tempfile.mkdtemp(prefix="blog-export-")
    path = wxr_export.default_path(Path(folder), utcnow())
    try:
        wxr_export.export_to(path)
    except ServiceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        flash(exc.message, "error")
        return redirect(url_for("admin.export_site"), 303)

    @after_this_request
    def _clean_up(response):
        # The response holds the open file: its name can go now.
        shutil.rmtree(folder, ignore_errors=True)
        return response

    return send_file(
        path,
        mimetype="application/rss+xml",
        as_attachment=True,
        download_name=path.name,
        max_age=0,
    )


@bp.route("/privacy", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def privacy_tools():
    form = PrivacyForm()
    action = request.form.get("action", "")
    if request.method == "POST" and action not in ("export", "erase"):
        abort(400)
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("admin/privacy.html", form=form), status
    try:
        if action == "export":
            data = privacy.personal_data(form.email.data)
            response = current_app.response_class(
                json.dumps(data, indent=2, ensure_ascii=False),
                mimetype="application/json",
            )
            name = "personal-data-" + data["email"].replace("@", "-at-") + ".json"
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
            response.headers["Cache-Control"] = "private, no-store"
            return response
        if request.form.get("confirm") != "yes":
            # Say what will happen, and ask again.
            found = privacy.personal_data(form.email.data)
            return render_template(
                "admin/privacy.html", form=form, confirm=found, delete=form.delete.data
            )
        erasure = privacy.erase(form.email.data, current_user, delete=form.delete.data)
    except ServiceError as exc:
        form.email.errors = [exc.message]
        return render_template("admin/privacy.html", form=form), 400
    flash(" ".join(erasure.lines()), "success")
    return redirect(url_for("admin.privacy_tools"), 303)

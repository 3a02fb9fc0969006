"""The media library (``/admin/media``): upload, list, alt text, delete. The editor's Upload
button posts to the same upload route (with JavaScript, asking for JSON)."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from blog.admin import bp
from blog.admin.forms import AltTextForm, MediaUploadForm
from blog.auth.forms import EmptyForm
from blog.decorators import permission_required
from blog.errors import wants_json
from blog.extensions import csrf, db
from blog.models import Media, Permission
from blog.services import ServiceError
from blog.services import media as media_service

#: Room for the multipart envelope (boundaries, the CSRF token) around the largest file.
ENVELOPE_BYTES = 64 * 1024
MAX_PAGE = 10_000


def _library(
    upload_form: MediaUploadForm | None = None,
    status: int = 200,
    uploaded: int | None = None,
):
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    per_page = int(current_app.config.get("MEDIA_PER_PAGE", 24))
    pagination = db.paginate(
        media_service.library_query(), page=page, per_page=per_page, error_out=False
    )
    new = None
    if uploaded is not None:
        new = db.session.get(Media, uploaded)
    return (
        render_template(
            "admin/media.html",
            pagination=pagination,
            upload_form=upload_form or MediaUploadForm(formdata=None),
            new=new,
            media=media_service,
            max_bytes=media_service.max_bytes(),
            allowed=media_service.allowed_types(),
        ),
        status,
    )


@bp.get("/media")
@permission_required(Permission.WRITE)
def media():
    uploaded = request.args.get("uploaded", type=int)
    return _library(uploaded=uploaded)


def _refused(message: str, status: int, form: MediaUploadForm | None = None):
    if wants_json():
        code = {413: "too_large", 403: "forbidden"}.get(status, "invalid_upload")
        return jsonify({"error": {"code": code, "message": message}}), status
    form = form or MediaUploadForm(formdata=None)
    form.file.errors = [message]
    return _library(form, status)


@bp.post("/media/upload")
@permission_required(Permission.WRITE)
def media_upload():
    limit = media_service.max_bytes()
    # Files are bigger than any other form: this request alone may bring up to the limit.
    request.max_content_length = limit + ENVELOPE_BYTES
    try:
        form = MediaUploadForm()
        submitted = form.validate_on_submit()
    except RequestEntityTooLarge:
        # Refused unread: the rest of the request sees an empty form, not the upload again.
        request.__dict__.update(form=ImmutableMultiDict(), files=ImmutableMultiDict())
        return _refused(media_service.too_large_message(), 413)
    if not submitted:
        errors = [message for field in form.errors.values() for message in field]
        return _refused(
            errors[0] if errors else "Choose a file to upload.", 400, MediaUploadForm(formdata=None)
        )
    upload = form.file.data
    data = upload.stream.read(limit + 1)
    try:
        item = media_service.store_upload(current_user, data, upload.filename or "")
    except ServiceError as refused:
        return _refused(refused.message, refused.status)
    if wants_json():
        return (
            jsonify(
                {
                    "id": item.id,
                    "url": media_service.src_of(item),
                    "snippet": media_service.snippet(item),
                    "html_snippet": media_service.html_snippet(item),
                    "filename": item.filename,
                    "content_type": item.content_type,
                    "width": item.width,
                    "height": item.height,
                    "library_url": url_for("admin.media", uploaded=item.id),
                }
            ),
            201,
        )
    flash(f"Uploaded {item.filename}. Copy its Markdown below into a post.", "success")
    return redirect(url_for("admin.media", uploaded=item.id), 303)


# The form checks its own CSRF token, after this view has raised the size limit: the app-wide
# check would read the upload first, under the 1 MiB limit of every other form.
csrf.exempt(media_upload)


def _item_or_refuse(media_id: int):
    try:
        item = media_service.get(media_id)
    except ServiceError:
        abort(404)
    if not media_service.may_change(current_user, item):
        abort(403)
    return item


def _back() -> str:
    page = request.form.get("page", type=int)
    return url_for("admin.media", page=page if page and page > 1 else None)


@bp.post("/media/<int(max=2147483647):media_id>/alt")
@permission_required(Permission.WRITE)
def media_alt(media_id: int):
    item = _item_or_refuse(media_id)
    form = AltTextForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        flash(
            f"The alt text is too long: at most {media_service.ALT_MAX} characters are kept. "
            "Nothing was changed.",
            "error",
        )
        return redirect(_back(), 303)
    try:
        media_service.set_alt_text(item, current_user, form.alt_text.data or "")
    except ServiceError as refused:
        flash(refused.message, "error")
        return redirect(_back(), 303)
    flash(f"Alt text of {item.filename} saved.", "success")
    return redirect(_back(), 303)


@bp.post("/media/<int(max=2147483647):media_id>/delete")
@permission_required(Permission.WRITE)
def media_delete(media_id: int):
    item = _item_or_refuse(media_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    name = item.filename or item.original_url
    media_service.delete(item, current_user)
    flash(f"Deleted {name}.", "success")
    return redirect(_back(), 303)

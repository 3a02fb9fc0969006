"""Author pages: the list of posts, the editor with its preview, and the publishing buttons."""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from blog.admin import bp
from blog.admin.forms import PostForm
from blog.auth.forms import EmptyForm
from blog.auth.views import safe_next
from blog.decorators import permission_required
from blog.extensions import db
from blog.models import BodyFormat, OutboxStatus, Permission, Post, PostStatus, PostType
from blog.moderation import CommentStatus
from blog.services import ServiceError, revisions
from blog.services import comments as comment_service
from blog.services import media as media_service
from blog.services import outbox as outbox_service
from blog.services import posts as post_service
from blog.services.settings import site_settings
from blog.templating import localtime
from blog.text import line_diff


@bp.get("/")
def dashboard():
    # Moderators see every held comment; authors those on their own posts.
    pending = None
    if current_user.can(Permission.MODERATE) or current_user.can(Permission.WRITE):
        pending = comment_service.status_counts(current_user)[CommentStatus.PENDING.value]
    counts = (
        post_service.admin_status_counts(current_user) if current_user.can(Permission.WRITE) else {}
    )
    undeliverable = None
    if current_user.can(Permission.MANAGE_SETTINGS):
        undeliverable = outbox_service.counts()[OutboxStatus.DEAD.value]
    moderates = pending is not None
    writes = current_user.can(Permission.WRITE)
    return render_template(
        "admin/dashboard.html",
        counts=counts,
        pending=pending,
        undeliverable=undeliverable,
        held=comment_service.oldest_held(current_user) if moderates and pending else [],
        recent=comment_service.recent(current_user) if moderates else [],
        drafts=post_service.recent_drafts(current_user) if writes else [],
        upcoming=post_service.upcoming(current_user) if writes else [],
        moderates=moderates,
        writes=writes,
    )


@bp.get("/posts")
@permission_required(Permission.WRITE)
def posts():
    status = request.args.get("status") or None
    if status not in (None, *[s.value for s in PostStatus]):
        abort(404)
    post_type = request.args.get("type") or None
    if post_type not in (None, "post", "page"):
        abort(404)
    author = request.args.get("author", "")
    editor = current_user.can(Permission.EDIT_OTHERS)
    wanted = post_service.PostFilter(
        status=status,
        post_type=post_type,
        search=request.args.get("s", "")[:200],
        author_id=int(author) if editor and author.isascii() and author.isdecimal() else None,
        tag=request.args.get("tag", "")[:200] or None,
        category=request.args.get("category", "")[:200] or None,
    )
    query = post_service.admin_posts(current_user, status, post_type, wanted)
    page = min(max(request.args.get("page", 1, type=int), 1), post_service.MAX_PAGE)
    pagination = db.paginate(query, page=page, per_page=20, error_out=False)
    # What the list is filtered by, to keep it across tabs, pages and bulk actions.
    filters = {
        key: value
        for key, value in (
            ("type", post_type),
            ("s", wanted.search),
            ("author", wanted.author_id),
            ("tag", wanted.tag),
            ("category", wanted.category),
        )
        if value
    }
    return render_template(
        "admin/posts.html",
        pagination=pagination,
        status=status,
        post_type=post_type,
        wanted=wanted,
        filters=filters,
        authors=post_service.post_authors() if editor else [],
        categories=post_service.all_categories(),
        bulk_actions=post_service.BULK_ACTIONS,
        counts=post_service.admin_status_counts(current_user),
    )


@bp.post("/posts/bulk")
@permission_required(Permission.WRITE)
def posts_bulk():
    """The posts list's bulk actions: each ticked post the action applies to."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    back = safe_next(request.form.get("next")) or url_for("admin.posts")
    if not back.startswith("/admin/posts"):
        back = url_for("admin.posts")
    action = request.form.get("action", "")
    if action not in post_service.BULK_ACTIONS:
        flash("Pick an action for the ticked posts.", "error")
        return redirect(back, 303)
    ids = [int(i) for i in request.form.getlist("ids") if i.isascii() and i.isdecimal()]
    if not ids:
        flash("Tick at least one post first.", "error")
        return redirect(back, 303)
    changed, skipped = post_service.bulk(ids, action, current_user)
    done = post_service.BULK_ACTIONS[action][1]
    message = f"{changed} post{'' if changed == 1 else 's'} {done}."
    if skipped:
        message += f" {skipped} skipped (already there, or not yours to change)."
    flash(message, "success" if changed else "info")
    return redirect(back, 303)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _form_input(form: PostForm) -> post_service.PostInput:
    when: datetime | None = form.published_at.data
    if when is not None:
        when = when.replace(tzinfo=site_settings().tz)
    return post_service.PostInput(
        title=form.title.data or "",
        body=form.body.data or "",
        slug=form.slug.data or "",
        excerpt=form.excerpt.data or "",
        tags=_split(form.tags.data),
        categories=_split(form.categories.data),
        comments_open=bool(form.comments_open.data),
        type=PostType(form.type.data),
        published_at=when,
    )


def _fill_form(form: PostForm, post: Post) -> None:
    form.title.data = post.title
    form.slug.data = post.slug
    form.body.data = post.body
    form.excerpt.data = post_service.custom_excerpt(post)
    form.tags.data = ", ".join(t.name for t in post.tags)
    form.categories.data = ", ".join(
        "/".join(c.name for c in category.ancestry()) for category in post.categories
    )
    form.type.data = post.type.value
    form.comments_open.data = post.comments_open
    if post.published_at is not None:
        local = post.published_at.astimezone(site_settings().tz)
        form.published_at.data = local.replace(tzinfo=None, second=0, microsecond=0)


MESSAGES = {
    "draft": "Draft saved.",
    "publish": "Post published.",
    "schedule": "Post scheduled.",
    "update": "Post updated.",
}


def _render_editor(form: PostForm, post: Post | None, preview: str | None, **extra):
    """The editor page, with the post's revisions and the user's unsaved autosave."""
    history = revisions.history(post) if post is not None else []
    autosaved = None
    if post is not None and "restored" not in extra:
        autosaved = revisions.pending_autosave(
            post, current_user, post_service.custom_excerpt(post)
        )
    return render_template(
        "admin/edit.html",
        form=form,
        post=post,
        preview=preview,
        history=history,
        autosaved=autosaved,
        autosave_seconds=current_app.config.get("AUTOSAVE_SECONDS", 30),
        upload_accept=",".join(media_service.allowed_types()),
        **extra,
    )


def _editor(post: Post | None):
    form = PostForm()
    if request.method == "GET":
        restored = None
        if post is not None:
            _fill_form(form, post)
            if request.args.get("restore") == "autosave":
                # The unsaved work back in the form; nothing is saved until the user saves.
                restored = revisions.pending_autosave(
                    post, current_user, post_service.custom_excerpt(post)
                )
                if restored is not None:
                    form.title.data, form.body.data = restored.title, restored.body
                    form.excerpt.data = restored.excerpt
        # An existing post's preview is its stored HTML (what readers see) from the start.
        preview = post.body_html if post is not None and restored is None else None
        if restored is not None:
            return _render_editor(form, post, preview, restored=restored)
        return _render_editor(form, post, preview)
    action = request.form.get("action", "draft")
    if action == "preview" or not form.validate_on_submit():
        # Nothing saved: the page comes back with what was typed and the preview.
        preview = None
        if action == "preview":
            try:
                preview = post_service.render_body(
                    form.body.data or "", post.body_format if post else BodyFormat.MARKDOWN
                )
            except ServiceError as exc:
                form.body.errors = [*form.body.errors, exc.message]
        status = 200 if action == "preview" and not form.errors else 400
        return _render_editor(form, post, preview), status
    try:
        data = _form_input(form)
        if post is None:
            post = post_service.create_post(current_user, data, action)
        else:
            post_service.update_post(post, current_user, data, action)
    except ServiceError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        target = getattr(form, exc.field or "", None)
        if target is not None:
            target.errors = [*target.errors, exc.message]
        else:
            flash(exc.message, "error")
        return _render_editor(form, post, None), 400
    flash(MESSAGES.get(action, "Saved."), "success")
    return redirect(url_for("admin.edit_post", post_id=post.id), 303)


@bp.route("/posts/new", methods=["GET", "POST"])
@permission_required(Permission.WRITE)
def new_post():
    return _editor(None)


def _own_post(post_id: int) -> Post:
    post = db.session.get(Post, post_id) or abort(404)
    if not current_user.can_edit_post(post):
        abort(403)
    return post


@bp.route("/posts/<int(max=2147483647):post_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.WRITE)
def edit_post(post_id: int):
    return _editor(_own_post(post_id))


def _json_error(exc: ServiceError, status: int = 400):
    return jsonify({"error": {"code": exc.field or "invalid", "message": exc.message}}), status


@bp.post("/posts/autosave")
@permission_required(Permission.WRITE)
def autosave_new_post():
    """The first autosave of a new post makes it a draft, which the editor then edits."""
    form = PostForm()
    if not form.validate_on_submit():
        problems = [message for errors in form.errors.values() for message in errors]
        message = " ".join(problems) or "The form could not be read; reload the page."
        return jsonify({"error": {"code": "invalid", "message": message}}), 400
    try:
        post = post_service.create_post(current_user, _form_input(form), "draft")
    except ServiceError as exc:
        db.session.rollback()
        return _json_error(exc, 403 if exc.status == 403 else 400)
    return jsonify(
        {
            "post_id": post.id,
            "edit_url": url_for("admin.edit_post", post_id=post.id),
            "autosave_url": url_for("admin.autosave_post", post_id=post.id),
            "message": f"Saved as a draft at {localtime(post.updated_at, '%H:%M:%S')}.",
        }
    )


@bp.post("/posts/<int(max=2147483647):post_id>/autosave")
@permission_required(Permission.WRITE)
def autosave_post(post_id: int):
    """Keep what the editor holds, unsaved, for a restore offer (JSON for the editor)."""
    post = _own_post(post_id)
    if not EmptyForm().validate_on_submit():
        return jsonify({"error": {"code": "csrf", "message": "Reload the page."}}), 400
    try:
        when = post_service.autosave(
            post,
            current_user,
            request.form.get("title", ""),
            request.form.get("body", ""),
            request.form.get("excerpt", ""),
        )
    except ServiceError as exc:
        db.session.rollback()
        return _json_error(exc)
    return jsonify({"message": f"Autosaved at {localtime(when, '%H:%M:%S')}."})


@bp.post("/posts/<int(max=2147483647):post_id>/autosave/discard")
@permission_required(Permission.WRITE)
def discard_autosave(post_id: int):
    post = _own_post(post_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    revisions.discard_autosave(post, current_user)
    flash("The unsaved changes were discarded.", "success")
    return redirect(url_for("admin.edit_post", post_id=post.id), 303)


@bp.get("/posts/<int(max=2147483647):post_id>/revisions")
@permission_required(Permission.WRITE)
def post_revisions(post_id: int):
    post = _own_post(post_id)
    return render_template("admin/revisions.html", post=post, history=revisions.history(post))


@bp.get("/posts/<int(max=2147483647):post_id>/revisions/<int(max=2147483647):revision_id>")
@permission_required(Permission.WRITE)
def post_revision(post_id: int, revision_id: int):
    """One revision against the post as it is now, with a button to put it back."""
    post = _own_post(post_id)
    revision = revisions.get(post, revision_id) or abort(404)
    excerpt = post_service.custom_excerpt(post)
    return render_template(
        "admin/revision.html",
        post=post,
        revision=revision,
        changes={
            # As restoring would change the post: from what it is now to the revision.
            "Title": line_diff(post.title, revision.title),
            "Body": line_diff(post.body, revision.body),
            "Excerpt": line_diff(excerpt, revision.excerpt),
        },
    )


@bp.post("/posts/<int(max=2147483647):post_id>/revisions/<int(max=2147483647):revision_id>")
@permission_required(Permission.WRITE)
def restore_post_revision(post_id: int, revision_id: int):
    post = _own_post(post_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    revision = revisions.get(post, revision_id) or abort(404)
    when = localtime(revision.created_at, "%Y-%m-%d %H:%M")
    try:
        post_service.restore_revision(post, revision, current_user)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.post_revision", post_id=post.id, revision_id=revision_id))
    flash(f"Restored the revision of {when}. The version it replaced is a revision too.", "success")
    return redirect(url_for("admin.edit_post", post_id=post.id), 303)


@bp.post("/posts/<int(max=2147483647):post_id>/<any(unpublish, trash, restore):action>")
@permission_required(Permission.WRITE)
def post_action(post_id: int, action: str):
    post = _own_post(post_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    getattr(post_service, action)(post, current_user)
    flash(
        {
            "unpublish": "Post moved back to drafts.",
            "trash": "Post moved to the trash.",
            "restore": "Post restored.",
        }[action],
        "success",
    )
    return redirect(safe_next(request.form.get("next")) or url_for("admin.posts"), 303)


@bp.post("/preview")
@permission_required(Permission.WRITE)
def preview():
    """The live preview: the same renderer as the public page. CSRF-checked like any POST."""
    body = request.form.get("body", "")
    if len(body) > post_service.BODY_MAX:
        abort(413)
    try:
        body_format = request.form.get("body_format", BodyFormat.MARKDOWN)
        if body_format not in set(BodyFormat):
            abort(400)
        return (
            post_service.render_body(body, body_format),
            200,
            {"Content-Type": "text/html; charset=utf-8"},
        )
    except ServiceError as exc:
        # The editor's script shows this as text where the preview would be.
        return exc.message, 422, {"Content-Type": "text/plain; charset=utf-8"}

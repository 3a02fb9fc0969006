"""The moderation queue: tabs per status, search, per-row and bulk actions, edit, reply, undo."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from blog.admin import bp
from blog.admin.forms import CommentEditForm, CommentReplyForm
from blog.auth.forms import EmptyForm
from blog.auth.views import safe_next
from blog.extensions import db
from blog.models import Permission
from blog.moderation import CommentStatus
from blog.services import ServiceError, modlog
from blog.services import comments as comment_service
from blog.services.settings import comment_whitelist, discussion_settings, site_settings

PER_PAGE = 20
MAX_PAGE = 1_000_000
#: The actions each status offers (per row, and in bulk on its tab).
BULK_ACTIONS = {
    "pending": ["approve", "spam", "trash"],
    "approved": ["unapprove", "spam", "trash"],
    "spam": ["unspam", "trash", "delete"],
    "trash": ["restore", "spam", "delete"],
    # Every status at once: what applies to each ticked comment is done, the rest skipped.
    "all": ["approve", "unapprove", "spam", "unspam", "trash", "restore", "delete"],
}
TABS = ("pending", "approved", "spam", "trash", "all")
#: How many moved comments the queue shows where they were, each with its Undo.
MOVED_SHOWN = 50
ACTION_BUTTONS = {
    "approve": "Approve",
    "unapprove": "Unapprove",
    "spam": "Spam",
    "unspam": "Not spam",
    "trash": "Trash",
    "restore": "Restore",
    "delete": "Delete permanently",
}


def _may_use_queue() -> None:
    if not (current_user.can(Permission.MODERATE) or current_user.can(Permission.WRITE)):
        abort(403)


def _back(moved: list[int] | None = None) -> str:
    """Back to the queue page the action came from; with ``moved``, the comments that left
    it, so that page shows each where it was, with its Undo (no JavaScript needed)."""
    target = safe_next(request.form.get("next") or request.args.get("next"))
    if not (target and target.startswith("/admin/comments")):
        target = url_for("admin.comments")
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "moved"]
    if moved:
        query.append(("moved", ",".join(str(i) for i in moved[:MOVED_SHOWN])))
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def _counts() -> dict[str, int]:
    counts = comment_service.status_counts(current_user)
    counts["all"] = sum(counts.values())
    return counts


def _moved_ids() -> list[int]:
    raw = request.args.get("moved", "")
    return [int(i) for i in raw.split(",") if i.isascii() and i.isdecimal()][:MOVED_SHOWN]


def _id_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if raw.isascii() and raw.isdecimal() and len(raw) < 19:
        return int(raw)
    return None


#: The queue's order in Python, to put moved comments back where they were.
_ORDER_KEYS = {
    "newest": lambda c: (-c.created_at.timestamp(), -c.id),
    "oldest": lambda c: (c.created_at.timestamp(), c.id),
    "score": lambda c: (c.spam_score is None, -(c.spam_score or 0), -c.id),
    "score-asc": lambda c: (c.spam_score is None, c.spam_score or 0, -c.id),
}


@bp.get("/comments")
def comments():
    _may_use_queue()
    tab = request.args.get("status", "pending")
    if tab not in TABS:
        abort(404)
    status = None if tab == "all" else CommentStatus(tab)
    search = request.args.get("s", "").strip()[:200]
    post_id = request.args.get("post", type=int)
    comment_id = _id_arg("comment")
    order = request.args.get("order", "newest")
    if order not in comment_service.QUEUE_ORDERS:
        order = "newest"
    min_score = request.args.get("min_score", type=int)  # percent
    if min_score is not None and not 0 <= min_score <= 100:
        min_score = None
    query = comment_service.queue_query(
        current_user,
        status,
        search,
        post_id,
        order=order,
        min_score=min_score / 100 if min_score is not None else None,
        comment_id=comment_id,
    )
    # Clamped so a made-up page number cannot overflow the database's OFFSET.
    number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    counts = _counts()
    # A whole tab's size is kept with every move: counting 100,000 held comments on every
    # visit is what made a big queue slow. A search or a post filter is counted.
    filtered = (
        bool(search) or post_id is not None or min_score is not None or comment_id is not None
    )
    pagination = db.paginate(query, page=number, per_page=PER_PAGE, error_out=False, count=filtered)
    if not filtered:
        pagination.total = counts[tab]
    items = list(pagination.items)
    elsewhere = 0
    if search and status is not None and not items:
        # Nothing here: say how many the same search finds in the other tabs.
        elsewhere = comment_service.queue_count(current_user, None, search, post_id)
    # The comments an action just moved out of this page, back where they were, with Undo.
    shown = {c.id for c in items}
    candidates = comment_service.visible_comments(current_user, _moved_ids())
    changes = comment_service.last_changes(candidates)
    # Only those that left this tab, and only while their move can still be undone.
    undo_all = [
        c.id
        for c in candidates
        if c.id in changes and (status is None or changes[c.id].from_status == status)
    ]
    moved = [c for c in candidates if c.id in undo_all and c.id not in shown]
    if moved:
        key = _ORDER_KEYS.get(order, _ORDER_KEYS["newest"])
        items = sorted([*items, *moved], key=key)
    allowed = {
        name: [a for a in names if a != "delete" or current_user.can(Permission.MANAGE_USERS)]
        for name, names in BULK_ACTIONS.items()
    }
    return render_template(
        "admin/comments.html",
        pagination=pagination,
        comments=items,
        moved={c.id for c in moved},
        undo_all=undo_all,
        changes=changes,
        elsewhere=elsewhere,
        row_actions=allowed,
        status=tab,
        search=search,
        post_id=post_id,
        comment_id=comment_id,
        order=order,
        min_score=min_score,
        counts=counts,
        histories=comment_service.author_histories(items),
        undoable=comment_service.undoable(items),
        actions=allowed[tab],
        action_labels=ACTION_BUTTONS,
        action_done=comment_service.ACTION_LABELS,
        reply_form=CommentReplyForm(),
    )


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/comments/action")
def comments_action():
    """Per-row buttons (comment_id) and bulk actions (ids) share this one endpoint."""
    _may_use_queue()
    if not EmptyForm().validate_on_submit():
        abort(400)
    action = request.form.get("action", "")
    raw_ids = request.form.getlist("ids") or request.form.getlist("comment_id")
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    ids = [int(i) for i in raw_ids if i.isascii() and i.isdecimal()]
    if not ids:
        message = "Tick at least one comment first."
        if _wants_json():
            return jsonify({"error": {"code": "no_selection", "message": message}}), 400
        flash(message, "error")
        return redirect(_back(), 303)
    if action == "delete" and not current_user.can(Permission.MANAGE_USERS):
        abort(403)
    if action not in ACTION_BUTTONS:
        abort(400)
    changed, skipped = comment_service.moderate_many(ids, action, current_user)
    noun = "comment" if changed == 1 else "comments"
    message = f"{changed} {noun} {comment_service.ACTION_LABELS[action]}."
    if skipped:
        message += f" {skipped} skipped (already there, or not yours to moderate)."
    if _wants_json():
        return jsonify(
            {
                "changed": changed,
                "skipped": skipped,
                "message": message,
                "done": comment_service.ACTION_LABELS[action],
                "counts": _counts(),
            }
        )
    flash(message, "success" if changed else "info")
    return redirect(_back(moved=ids if changed and action != "delete" else None), 303)


def _day(name: str) -> tuple[date | None, str | None]:
    """A YYYY-MM-DD query parameter: (the day, None) or (None, what is wrong with it)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None, None
    try:
        return date.fromisoformat(raw[:10]), None
    except ValueError:
        return None, f"“{raw[:40]}” is not a date: write it as {date.today().isoformat()}."


@bp.get("/comments/log")
def moderation_log():
    """Every decision about comments, newest first, filtered; Undo where it is the last."""
    _may_use_queue()
    raw_actor = request.args.get("moderator", "")
    actor: int | str | None = None
    if raw_actor == modlog.AUTOMATIC:
        actor = modlog.AUTOMATIC
    elif raw_actor.isascii() and raw_actor.isdecimal():
        actor = int(raw_actor)
    action = request.args.get("action") or None
    since, since_error = _day("from")
    until, until_error = _day("to")
    wanted = modlog.LogFilter(
        actor=actor,
        action=action,
        since=since,
        until=until,
        comment_id=_id_arg("comment"),
        before=_id_arg("before"),
    )
    log_page = modlog.page(current_user, wanted, site_settings().tz)
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template(
        "admin/moderation_log.html",
        log=log_page,
        wanted=wanted,
        errors=[e for e in (since_error, until_error) if e],
        args=args,
        filtered=any(v for k, v in args.items()),
        moderators=modlog.moderators(),
        actions=modlog.ACTIONS,
        automatic=modlog.AUTOMATIC,
        describe=modlog.describe,
    )


@bp.post("/comments/undo")
def comments_undo():
    """Undo the last change of each ticked (or just moved) comment."""
    _may_use_queue()
    if not EmptyForm().validate_on_submit():
        abort(400)
    ids = [int(i) for i in request.form.getlist("ids") if i.isascii() and i.isdecimal()]
    undone, skipped = comment_service.undo_many(ids, current_user)
    message = f"Undone: {undone} comment{'' if undone == 1 else 's'} back where they were."
    if skipped:
        message += f" {skipped} could not be (moved again meanwhile, or not yours)."
    flash(message, "success" if undone else "info")
    return redirect(_back(), 303)


@bp.post("/comments/<int:comment_id>/undo")
def comment_undo(comment_id: int):
    _may_use_queue()
    if not EmptyForm().validate_on_submit():
        abort(400)
    comment = comment_service.get_comment(comment_id)
    try:
        comment_service.undo_last(comment, current_user)
    except ServiceError as exc:
        if exc.status == 403:
            abort(403)
        if _wants_json():
            return jsonify({"error": {"code": "not_undoable", "message": exc.message}}), 409
        flash(exc.message, "error")
    else:
        message = f"Undone: the comment is {comment.status.value} again."
        if _wants_json():
            return jsonify(
                {"status": comment.status.value, "message": message, "counts": _counts()}
            )
        flash(message, "success")
    return redirect(_back(), 303)


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
def comment_edit(comment_id: int):
    _may_use_queue()
    comment = comment_service.get_comment(comment_id)
    if not comment_service.can_moderate(current_user, comment):
        abort(403)
    form = CommentEditForm(obj=None if request.method == "POST" else comment)
    if request.method == "GET":
        form.comment.data = comment.content
    if form.validate_on_submit():
        try:
            comment_service.edit(
                comment,
                current_user,
                form.author.data or "",
                form.email.data or "",
                form.url.data or "",
                form.comment.data or "",
                comment_whitelist(),
            )
        except comment_service.CommentRefused as exc:
            db.session.rollback()
            for refusal in exc.refusals:
                field = form._fields.get(refusal.field or "")
                if field is not None:
                    field.errors = [*field.errors, refusal.message]
                else:
                    form.form_errors.append(refusal.message)
        else:
            flash("Comment updated.", "success")
            return redirect(_back(), 303)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/comment_edit.html",
        form=form,
        comment=comment,
        log=comment_service.log_for(comment),
        back=_back(),  # only a queue address: never an address a link brought in
    ), status


@bp.post("/comments/<int:comment_id>/reply")
def comment_reply(comment_id: int):
    _may_use_queue()
    parent = comment_service.get_comment(comment_id)
    form = CommentReplyForm()
    if not form.validate_on_submit():
        flash("Type a reply first.", "error")
        return redirect(_back(), 303)
    try:
        reply = comment_service.reply(
            parent,
            current_user,
            form.reply.data or "",
            discussion_settings(),
            comment_whitelist(),
            ip=(request.remote_addr or "")[:45],
            user_agent=request.headers.get("User-Agent", ""),
        )
    except comment_service.CommentRefused as exc:
        db.session.rollback()
        flash("Your reply was not posted: " + exc.message, "error")
        return redirect(_back(), 303)
    except ServiceError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        flash(exc.message, "error")
        return redirect(_back(), 303)
    flash(f"Reply posted ({reply.status.value}).", "success")
    return redirect(_back(), 303)

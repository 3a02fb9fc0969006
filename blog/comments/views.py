"""Showing a post's comments and taking a new one."""

from __future__ import annotations

import time

from flask import current_app, flash, make_response, redirect, render_template, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from blog.comments.forms import CommentForm
from blog.models import Post, utcnow
from blog.moderation import CommentStatus, Limits, Refusal, comments_closed_reason
from blog.sanitize import allowed_tags_line
from blog.services import comments as comment_service
from blog.services import notify
from blog.services.settings import comment_whitelist, discussion_settings
from blog.tree import build_tree, paginate_threads

OWN_COMMENTS_COOKIE = "comment_held"  # ids of the reader's own held comments, signed
OWN_COMMENTS_MAX = 20
REMEMBER_COOKIES = ("comment_author", "comment_author_email", "comment_author_url")
REMEMBER_SECONDS = 365 * 24 * 3600
NOT_UTF8 = (
    "Your comment could not be read: the form was not sent as valid UTF-8 text. Please "
    "remove any unusual characters and send it again."
)


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def own_comment_ids() -> list[int]:
    """The held comments this browser posted (WordPress shows them only to their author)."""
    raw = request.cookies.get(OWN_COMMENTS_COOKIE)
    if not raw:
        return []
    try:
        ids = _serializer("own-comments").loads(raw)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)][:OWN_COMMENTS_MAX]


def _remembered() -> dict[str, str]:
    reader = _serializer("remember-commenter")
    values: dict[str, str] = {}
    for name, field in zip(REMEMBER_COOKIES, ("author", "email", "url"), strict=True):
        raw = request.cookies.get(name)
        if raw:
            try:
                values[field] = str(reader.loads(raw))
            except BadSignature:
                continue
    return values


def _render_stamp() -> str:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="comment-form").dumps(
        int(time.time())
    )


def _rendered_at(stamp: str | None) -> float | None:
    """When the form was rendered, from its signed stamp; None for a missing or forged one."""
    if not stamp:
        return None
    try:
        rendered = URLSafeTimedSerializer(
            current_app.config["SECRET_KEY"], salt="comment-form"
        ).loads(stamp, max_age=7 * 24 * 3600)
    except BadSignature:
        return None
    return float(rendered)


def _seconds_to_fill(stamp: str | None) -> float | None:
    """Seconds between rendering the form and this POST; 0 for a missing or forged stamp."""
    rendered = _rendered_at(stamp)
    return 0.0 if rendered is None else max(0.0, time.time() - rendered)


def comment_section(
    post: Post, form: CommentForm | None = None, refusals: list[Refusal] | None = None
) -> dict:
    """Everything ``comments/_comments.html`` needs, from one query for the comments."""
    settings = discussion_settings()
    own_ids = own_comment_ids()
    rows = comment_service.thread_rows(post, own_ids)
    nodes = build_tree(rows, max_depth=settings.max_depth)
    page = None
    if settings.page_comments:
        # Pages are always cut from the oldest thread on (as WordPress, and as ``page_of``
        # computes the redirect after posting); comment_order only orders each page.
        newest_first = settings.default_comments_page == "newest"
        try:
            page = paginate_threads(
                nodes,
                settings.comments_per_page,
                request.args.get("cpage", type=int),
                newest_first=newest_first,
            )
        except LookupError:
            page = paginate_threads(nodes, settings.comments_per_page, None, newest_first)
        nodes = page.nodes
    if settings.comment_order == "desc":
        nodes = list(reversed(nodes))
    if form is None:
        form = CommentForm(formdata=None, data=_remembered())
        form.remember.data = bool(request.cookies.get(REMEMBER_COOKIES[0]))
        replyto = request.args.get("replytocom", type=int)
        if replyto and any(r.id == replyto and r.status == CommentStatus.APPROVED for r in rows):
            form.comment_parent.data = replyto
        else:
            form.comment_parent.data = 0
    if form.rendered.data is None or _rendered_at(form.rendered.data) is None:
        # A form sent back with a refusal keeps its first stamp: a reader who fixes a typo
        # quickly has not filled the form in faster than the time trap allows.
        form.rendered.data = _render_stamp()
    parent_id = form.comment_parent.data or 0
    replying_to = next((r for r in rows if r.id == parent_id), None)
    return {
        "comment_nodes": nodes,
        "comment_page": page,
        "comment_total": sum(1 for r in rows if r.status == CommentStatus.APPROVED),
        "comment_form": form,
        "comment_refusals": refusals or [],
        "replying_to": replying_to,
        "allowed_tags": allowed_tags_line(comment_whitelist()),
        "comments_closed": comments_closed_reason(
            comment_service.post_context(post, None, utcnow()), settings
        ),
        "discussion": settings,
    }


def _client_ip() -> str:
    # Behind a proxy, set PROXY_FIX (see README) so remote_addr is the reader's address.
    return (request.remote_addr or "")[:45]


def submit_comment(post: Post):
    form = CommentForm()
    if request.content_length and not request.form:
        # Werkzeug hands over an empty form when the body is not UTF-8 at all.
        return _refused(post, form, [Refusal(None, NOT_UTF8)], 400)
    if not form.validate_on_submit():
        refusals = [
            Refusal(
                name if name != "csrf_token" else None,
                "The form expired; please send it again."
                if name == "csrf_token"
                else " ".join(errors),
            )
            for name, errors in form.errors.items()
        ]
        return _refused(post, form, refusals, 400)
    settings = discussion_settings()
    data = comment_service.CommentInput(
        content=form.comment.data or "",
        author=form.author.data or "",
        email=form.email.data or "",
        url=form.url.data or "",
        parent_id=form.comment_parent.data or None,
        ip=_client_ip(),
        user_agent=request.headers.get("User-Agent", "")[:255],
        notify_on_approval=bool(form.notify.data),
        seconds_to_fill=_seconds_to_fill(form.rendered.data),
    )
    user = current_user if current_user.is_authenticated else None
    limits = Limits(
        flood_seconds=current_app.config["COMMENT_FLOOD_SECONDS"],
        min_fill_seconds=current_app.config["COMMENT_MIN_FILL_SECONDS"],
    )
    try:
        comment = comment_service.submit(post, data, user, settings, comment_whitelist(), limits)
    except comment_service.CommentRefused as exc:
        return _refused(post, form, exc.refusals, exc.status)
    notify.comment_posted(comment)

    response = make_response(redirect(comment_service.comment_path(comment, settings), 303))
    _after_post_cookies(response, form, comment)
    if comment.status == CommentStatus.APPROVED:
        flash("Thank you: your comment is published.", "success")
    elif comment.status == CommentStatus.PENDING:
        flash(
            "Thank you: your comment is awaiting moderation. It will appear once a "
            "moderator approves it.",
            "info",
        )
    else:
        # Spam and trash are not announced as such to a bot; a person sees it is held.
        flash("Thank you: your comment is awaiting moderation.", "info")
    return response


def _after_post_cookies(response, form: CommentForm, comment) -> None:
    secure = current_app.config.get("SESSION_COOKIE_SECURE", False)
    if comment.status != CommentStatus.APPROVED:
        ids = [comment.id, *own_comment_ids()][:OWN_COMMENTS_MAX]
        response.set_cookie(
            OWN_COMMENTS_COOKIE,
            _serializer("own-comments").dumps(ids),
            max_age=7 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
    if form.remember.data:
        writer = _serializer("remember-commenter")
        for name, value in zip(
            REMEMBER_COOKIES, (comment.author, comment.email, comment.url), strict=True
        ):
            response.set_cookie(
                name,
                writer.dumps(value),
                max_age=REMEMBER_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=secure,
            )
    else:
        # No consent, no cookie: forget what an earlier consent stored.
        for name in REMEMBER_COOKIES:
            if request.cookies.get(name):
                response.delete_cookie(name)


def _refused(post: Post, form: CommentForm, refusals: list[Refusal], status: int):
    """The post page again, the reader's text kept in the form, the reasons above it."""
    from blog.services import posts as post_service

    older, newer = post_service.neighbours(post)
    for refusal in refusals:
        field = form._fields.get(refusal.field or "")
        if field is not None and refusal.message not in field.errors:
            field.errors = (
                [*field.errors, refusal.message]
                if isinstance(field.errors, list)
                else [refusal.message]
            )
    html = render_template(
        "posts/post.html",
        post=post,
        older=older,
        newer=newer,
        **comment_section(post, form=form, refusals=refusals),
    )
    return html, status

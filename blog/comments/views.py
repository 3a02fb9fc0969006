"""Showing a post's comments and taking a new one."""

from __future__ import annotations

from functools import lru_cache

from flask import current_app, flash, g, make_response, redirect, render_template, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import ValidationError

from blog import pagecache
from blog.comments import tokens
from blog.comments.forms import CommentForm
from blog.models import Comment, utcnow
from blog.moderation import CommentStatus, Limits, Refusal, comments_closed_reason
from blog.sanitize import allowed_tags_line
from blog.services import comments as comment_service
from blog.services import threads
from blog.services.posts import PostPage
from blog.services.settings import comment_whitelist, discussion_settings
from blog.templating import post_path

OWN_COMMENTS_COOKIE = "comment_held"  # ids of the reader's own held comments, signed
OWN_COMMENTS_MAX = 20
REMEMBER_COOKIES = ("comment_author", "comment_author_email", "comment_author_url")
REMEMBER_SECONDS = 365 * 24 * 3600
NOT_UTF8 = (
    "Your comment could not be read: the form was not sent as valid UTF-8 text. Please "
    "remove any unusual characters and send it again."
)


@lru_cache(maxsize=16)
def _serializer_for(secret: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt)


def _serializer(salt: str) -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"], salt)


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


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _stamp_of(form: CommentForm, post: PostPage) -> tokens.Stamp:
    """The form's stamp: in ``csrf_token`` for a reader, in ``rendered`` when logged in
    (checked once per request: ``_forged`` asks first)."""
    checked = g.get("comment_stamp")
    if checked is None:
        raw = form.rendered.data if current_user.is_authenticated else form.csrf_token.data
        checked = g.comment_stamp = tokens.check(_secret(), raw, post.id)
    return checked


def _fill_tokens(form: CommentForm, post: PostPage) -> None:
    """Put the tokens a fresh (or sent back) form needs into it.

    A form sent back with a refusal keeps a valid first stamp: a reader who fixes a typo
    quickly has not filled the form in faster than the time trap allows.
    """
    stamp = tokens.issue(_secret(), post.id)
    if current_user.is_authenticated:
        if not tokens.check(_secret(), form.rendered.data, post.id).ok:
            form.rendered.data = stamp
        form.csrf_token.data = generate_csrf()
    elif not tokens.check(_secret(), form.csrf_token.data, post.id).ok:
        form.csrf_token.data = stamp


def _replying_to(post: PostPage, comment_id: int | None) -> Comment | None:
    if not comment_id:
        return None
    parent = comment_service.find_comment(comment_id)
    if parent is None or parent.post_id != post.id or parent.status != CommentStatus.APPROVED:
        return None
    return parent


def comment_section(
    post: PostPage, form: CommentForm | None = None, refusals: list[Refusal] | None = None
) -> dict:
    """Everything ``comments/_comments.html`` needs: the stored comment fragments of one
    page of threads, and the form."""
    settings = discussion_settings()
    closed = comments_closed_reason(comment_service.post_context(post, None, utcnow()), settings)
    # Read before the comments, so a comment landing meanwhile makes this page stale.
    pagecache.depends(pagecache.keys.post_key(post.id))
    page = threads.comment_page(
        post,
        settings,
        request.args.get("cpage", type=int),
        own_comment_ids(),
        replies_open=closed is None,
    )
    if form is None:
        form = CommentForm(formdata=None, data=_remembered())
        form.remember.data = bool(request.cookies.get(REMEMBER_COOKIES[0]))
        replyto = _replying_to(post, request.args.get("replytocom", type=int))
        form.comment_parent.data = replyto.id if replyto else 0
    _fill_tokens(form, post)
    pagecache.varying(form.csrf_token.data)
    return {
        "comment_page": page,
        "comment_form": form,
        "comment_refusals": refusals or [],
        "replying_to": _replying_to(post, form.comment_parent.data),
        "allowed_tags": allowed_tags_line(comment_whitelist()),
        "comments_closed": closed,
        "discussion": settings,
    }


def _client_ip() -> str:
    # Behind a proxy, set PROXY_FIX (see README) so remote_addr is the reader's address.
    return (request.remote_addr or "")[:45]


def _own_origins() -> tuple[str, ...]:
    return (request.host_url, current_app.config.get("SITE_URL") or "")


def _forged(form: CommentForm, post: PostPage) -> Refusal | None:
    """Why this POST cannot be taken as coming from the form on our page (CSRF), or None.

    Checked before anything else is read, as the cheapest refusal. Off with Flask-WTF's
    own switch (``WTF_CSRF_ENABLED``), like every other form's check.
    """
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    if current_user.is_authenticated:
        try:
            validate_csrf(form.csrf_token.data)
        except ValidationError:
            return Refusal(
                None,
                "The form expired, or was opened before you logged in. It has been renewed: "
                "please send it again.",
            )
        return None
    if tokens.cross_site(request.headers, _own_origins()):
        return Refusal(None, tokens.CROSS)
    stamp = _stamp_of(form, post)
    if not stamp.ok:
        return Refusal(None, f"{stamp.problem} It has been renewed: please send it again.")
    return None


def submit_comment(post: PostPage):
    form = CommentForm(request.form)
    if request.content_length and not request.form:
        # Werkzeug hands over an empty form when the body is not UTF-8 at all.
        return _refused(post, form, [Refusal(None, NOT_UTF8)], 400)
    forged = _forged(form, post)
    if forged is not None:
        cross = forged.message == tokens.CROSS
        return _refused(post, form, [forged], 403 if cross else 400)
    if not form.validate():
        refusals = [Refusal(name, " ".join(errors)) for name, errors in form.errors.items()]
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
        notify_replies=bool(form.notify_replies.data),
        seconds_to_fill=tokens.seconds_since(_stamp_of(form, post)),
    )
    user = current_user if current_user.is_authenticated else None
    limits = Limits(
        flood_seconds=current_app.config["COMMENT_FLOOD_SECONDS"],
        min_fill_seconds=current_app.config["COMMENT_MIN_FILL_SECONDS"],
    )
    try:
        comment = comment_service.submit(post, data, user, settings, comment_whitelist(), limits)
    except comment_service.CommentRefused as exc:
        html, status = _refused(post, form, exc.refusals, exc.status)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        return html, status, headers

    response = make_response(redirect(threads.comment_path(comment, settings, post), 303))
    _after_post_cookies(response, form, post, comment)
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


def _after_post_cookies(response, form: CommentForm, post: PostPage, comment) -> None:
    secure = current_app.config.get("SESSION_COOKIE_SECURE", False)
    if comment.status != CommentStatus.APPROVED:
        # Sent back for this post's pages only: the reader's other pages stay cacheable.
        ids = [comment.id, *own_comment_ids()][:OWN_COMMENTS_MAX]
        response.set_cookie(
            OWN_COMMENTS_COOKIE,
            _serializer("own-comments").dumps(ids),
            max_age=7 * 24 * 3600,
            path=post_path(post),
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


def _refused(post: PostPage, form: CommentForm, refusals: list[Refusal], status: int):
    """The post page again, the reader's text kept in the form, the reasons above it."""
    from blog.services import posts as post_service

    post = post_service.with_terms(post)  # a POST reads the post without them
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

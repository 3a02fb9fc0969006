"""API endpoints. Views parse JSON, call the same services as the web pages, answer JSON.

Requests are read strictly (a JSON object, known fields, each of the right type) so a client
learns at once what it got wrong; what the blog's rules then refuse comes from the services,
with the same messages the web forms show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from flask import Response, current_app, g, jsonify, request, url_for
from sqlalchemy import Select
from werkzeug.exceptions import BadRequest

from blog.api import bp
from blog.api.openapi import (
    COMMENT_STATUSES,
    DEFAULT_PER_PAGE,
    MAX_INT,
    MAX_PER_PAGE,
    MAX_TERMS,
    POST_ACTIONS,
    POST_TYPES,
    REASON_MAX,
    TERM_NAME_MAX,
    build_document,
)
from blog.extensions import csrf, db, limiter
from blog.models import Comment, Permission, Post, PostType, User
from blog.moderation import CommentStatus, Limits
from blog.services import ServiceError
from blog.services import comments as comment_service
from blog.services import posts as post_service
from blog.services.settings import comment_whitelist, discussion_settings
from blog.services.users import user_for_token
from blog.templating import post_path
from blog.text import bad_characters

csrf.exempt(bp)  # bearer tokens, no cookies: nothing for a cross-site form to ride on

ID = f"int(min=1, max={MAX_INT})"
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
}
AUTH_HINT = "Send the header 'Authorization: Bearer TOKEN' (flask --app app token create NAME)."
DIGITS = re.compile(r"[0-9]{1,10}")
# The service names the comment text "comment" (the form's field); the API calls it "content".
API_FIELD = {"comment": "content"}
# PATCH {"status": ...} is the moderation action that leads there, so it is logged as one.
ACTION_FOR_STATUS = {
    dst: action for action, dst in comment_service.ACTIONS.items() if dst is not None
}


class ApiError(Exception):
    """A request the client can fix; answered as the JSON error."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _error(status: int, code: str, message: str, **extra: Any):
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else {}
    return jsonify({"error": body}), status, headers


def _invalid(field: str, message: str) -> NoReturn:
    raise ApiError(422, message, field)


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    extra = {"field": exc.field} if exc.field else {}
    return _error(exc.status, CODES.get(exc.status, "error"), exc.message, **extra)


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    """The service's own words, with the field (and every refusal) named as the API names it."""
    extra: dict[str, Any] = {}
    if exc.field:
        extra["field"] = API_FIELD.get(exc.field, exc.field)
    code = CODES.get(exc.status, "error")
    if isinstance(exc, comment_service.CommentRefused):
        code = "comment_refused"
        extra["refusals"] = [
            {"field": API_FIELD.get(r.field, r.field) if r.field else None, "message": r.message}
            for r in exc.refusals
        ]
        named = [r["field"] for r in extra["refusals"] if r["field"]]
        if named and "field" not in extra:
            extra["field"] = named[0]  # the first field to fix, as for any other error
        if exc.retry_after:
            body, status, headers = _error(exc.status, code, exc.message, **extra)
            return body, status, {**headers, "Retry-After": str(exc.retry_after)}
    return _error(exc.status, code, exc.message, **extra)


@bp.before_request
def authenticate():
    """Optional bearer auth; endpoints that need a user check ``g.api_user`` themselves."""
    g.api_user = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "unauthorized", AUTH_HINT)
        user = user_for_token(token.strip())
        if user is None:
            return _error(401, "unauthorized", "That API token is not valid.")
        g.api_user = user
    return None


@bp.after_request
def no_shared_caching(response: Response) -> Response:
    """What a token's user sees (drafts, email addresses) must never be served to another."""
    response.vary.add("Authorization")
    if g.get("api_user") is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


# --- reading requests -------------------------------------------------------------------


def _require_user() -> User:
    if g.api_user is None:
        raise ApiError(401, f"This needs a user. {AUTH_HINT}")
    return g.api_user


def _json_object(allowed: Collection[str]) -> dict[str, Any]:
    """The body as a JSON object with only ``allowed`` keys; 400 or 422 otherwise."""
    if not request.is_json:
        raise ApiError(400, "Send a JSON object with the header 'Content-Type: application/json'.")
    try:
        data = request.get_json()
    except BadRequest:
        raise ApiError(400, "The body is not valid JSON (UTF-8).") from None
    except RecursionError:
        raise ApiError(400, "The JSON is nested too deeply.") from None
    if not isinstance(data, dict):
        raise ApiError(400, 'The body must be a JSON object, such as {"title": "..."}.')
    for key in data:
        if key not in allowed:
            _invalid(key, f"Unknown field. The fields are: {', '.join(sorted(allowed))}.")
    return data


def _check_text(name: str, value: str) -> str:
    """Refuse characters no column can store, with the field named (422)."""
    problem = bad_characters(value)
    if problem:
        _invalid(name, f"{name} {problem}.")
    return value


def _string(
    data: Mapping[str, Any], name: str, *, required: bool = False, check: bool = True
) -> str:
    """A string field ("" when left out). ``check=False`` leaves characters to the service."""
    if name not in data:
        if required:
            _invalid(name, f"{name} is required.")
        return ""
    value = data[name]
    if not isinstance(value, str):
        _invalid(name, f"{name} must be a string.")
    return _check_text(name, value) if check else value


def _integer(
    data: Mapping[str, Any], name: str, *, required: bool = False, minimum: int = 1
) -> int | None:
    """An integer field that fits the database, or None when left out or null."""
    value = data.get(name)
    if value is None:
        if required:
            _invalid(name, f"{name} is required.")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 3.0 is the integer 3 (JSON Schema too)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_INT:
        _invalid(name, f"{name} must be a whole number from {minimum} to {MAX_INT}.")
    return value


def _boolean(data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        _invalid(name, f"{name} must be true or false.")
    return value


def _choice(data: Mapping[str, Any], name: str, choices: Iterable[str], default: str) -> str:
    value = data.get(name, default)
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        _invalid(name, f"{name} must be one of: {', '.join(choices)}.")
    return value


def _names(data: Mapping[str, Any], name: str) -> list[str]:
    """A list of tag or category names; a category may be a "Parent/Child" path."""
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _invalid(name, f"{name} must be a list of strings.")
    if len(value) > MAX_TERMS:
        _invalid(name, f"{name} takes at most {MAX_TERMS} names.")
    for item in value:
        _check_text(name, item)
        if any(len(part.strip()) > TERM_NAME_MAX for part in item.split("/")):
            _invalid(name, f"A name in {name} is longer than {TERM_NAME_MAX} characters.")
    return value


def _datetime(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        _invalid(name, f"{name} must be an ISO 8601 string such as 2024-05-01T09:00:00+02:00.")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        _invalid(name, f"{name} is not an ISO 8601 time; use e.g. 2024-05-01T09:00:00+02:00.")
    if when.utcoffset() is None:
        _invalid(name, f"{name} needs a UTC offset, e.g. 2024-05-01T09:00:00+02:00 or ...Z.")
    try:
        return when.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        _invalid(name, f"{name} is out of range.")


def _query_int(name: str, default: int | None, maximum: int = MAX_INT) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not DIGITS.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        _invalid(name, f"{name} must be a whole number from 1 to {maximum}.")
    return int(raw)


def _paging() -> tuple[int, int]:
    page = _query_int("page", 1)
    per_page = _query_int("per_page", DEFAULT_PER_PAGE, maximum=MAX_PER_PAGE)
    assert page is not None and per_page is not None
    return page, per_page


def _listing(query: Select, serialize: Callable[[Any], dict[str, Any]]) -> Response:
    page, per_page = _paging()
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False, count=True)
    return jsonify(
        {
            "items": [serialize(item) for item in pagination.items],
            "page": page,
            "per_page": per_page,
            "total": pagination.total,
        }
    )


# --- writing responses ------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "type": post.type.value,
        "title": post.title,
        "slug": post.slug,
        "url": post_path(post),
        "status": post.effective_status.value,
        "body": post.body,
        "body_html": post.body_html,
        "excerpt": post.excerpt,
        "author": {
            "id": post.author.id,
            "username": post.author.username,
            "name": post.author.name,
        },
        "tags": [tag.name for tag in post.tags],
        "categories": [category.name for category in post.categories],
        "published_at": _iso(post.published_at),
        "created_at": _iso(post.created_at),
        "updated_at": _iso(post.updated_at),
        "comments_open": post.comments_open,
        "comment_count": post.comment_count,
    }


def comment_json(comment: Comment, private: bool) -> dict[str, Any]:
    """``private``: for the comment's moderators, with what identifies the commenter."""
    status = CommentStatus(comment.status)
    if not private and status != CommentStatus.APPROVED:
        # As on the web form, a bot is not told that it was caught as spam.
        status = CommentStatus.PENDING
    body: dict[str, Any] = {
        "id": comment.id,
        "post_id": comment.post_id,
        "parent_id": comment.parent_id,
        "author": comment.author,
        "url": comment.url,
        "content": comment.content,
        "content_html": comment.content_html,
        "status": status.value,
        "created_at": _iso(comment.created_at),
    }
    if private:
        body["email"] = comment.email
        body["ip"] = comment.ip
        body["user_agent"] = comment.user_agent
        body["reasons"] = list(comment.reasons or [])
        # The spam filter's score when the comment came in; null before it had a model.
        body["spam_score"] = (
            round(comment.spam_score, 4) if comment.spam_score is not None else None
        )
    return body


def _created(body: dict[str, Any], location: str) -> Response:
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = location
    return response


# --- lookups that hide what the user may not see ----------------------------------------


def _may_read_post(post: Post, user: User | None) -> bool:
    return post.is_visible() or (user is not None and user.can_edit_post(post))


def _post_for_reader(post_id: int, field: str | None = None) -> Post:
    post = db.session.get(Post, post_id)
    if post is None or not _may_read_post(post, g.api_user):
        raise ApiError(404, "There is no post with that id.", field)
    return post


def _comment_for_reader(comment_id: int) -> tuple[Comment, bool]:
    """The comment and whether the user moderates it; 404 when they may not see it."""
    comment = db.session.get(Comment, comment_id)
    if comment is not None:
        if comment_service.can_moderate(g.api_user, comment):
            return comment, True
        if comment.status == CommentStatus.APPROVED and comment.post.is_visible():
            return comment, False
    raise ApiError(404, "There is no comment with that id.")


# --- endpoints --------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_document())


@bp.get("/posts")
def list_posts():
    kind = request.args.get("type", "post")
    if kind not in POST_TYPES:
        _invalid("type", f"type must be one of: {', '.join(POST_TYPES)}.")
    return _listing(post_service.visible_posts(PostType(kind)), post_json)


@bp.get(f"/posts/<{ID}:post_id>")
def get_post(post_id: int):
    return jsonify(post_json(_post_for_reader(post_id)))


POST_FIELDS = frozenset(
    {
        "title",
        "body",
        "slug",
        "excerpt",
        "tags",
        "categories",
        "type",
        "comments_open",
        "status",
        "published_at",
    }
)


@bp.post("/posts")
def create_post():
    user = _require_user()
    if not user.can(Permission.WRITE):
        raise ApiError(403, "Your role cannot write posts; authors, editors and admins can.")
    data = _json_object(POST_FIELDS)
    fields = post_service.PostInput(
        title=_string(data, "title", required=True),
        body=_string(data, "body"),
        slug=_string(data, "slug"),
        excerpt=_string(data, "excerpt"),
        tags=_names(data, "tags"),
        categories=_names(data, "categories"),
        comments_open=_boolean(data, "comments_open"),
        type=PostType(_choice(data, "type", POST_TYPES, "post")),
        published_at=_datetime(data, "published_at"),
    )
    action = _choice(data, "status", POST_ACTIONS, "draft")
    post = post_service.create_post(user, fields, action)
    return _created(post_json(post), url_for("api.get_post", post_id=post.id))


@bp.get("/comments")
def list_comments():
    user: User | None = g.api_user
    raw_status = request.args.get("status") or None
    if raw_status is not None and raw_status not in COMMENT_STATUSES:
        _invalid("status", f"status must be one of: {', '.join(COMMENT_STATUSES)}.")
    status = CommentStatus(raw_status) if raw_status else None
    moderates_some = user is not None and (
        user.can(Permission.MODERATE) or user.can(Permission.WRITE)
    )
    if status not in (None, CommentStatus.APPROVED) and not moderates_some:
        if user is None:
            raise ApiError(401, f"Only moderators and authors see held comments. {AUTH_HINT}")
        raise ApiError(403, "Only moderators and the authors of posts see held comments.")
    query = comment_service.listing_query(user, status, _query_int("post", None))
    return _listing(
        query, lambda comment: comment_json(comment, comment_service.can_moderate(user, comment))
    )


def _comment_limit() -> str:
    return current_app.config["COMMENT_RATE_LIMIT"]


COMMENT_FIELDS = frozenset({"post", "content", "author", "email", "url", "parent"})


@bp.post("/comments")
@limiter.limit(_comment_limit)
def create_comment():
    """The comment form's path: same checks, sanitizer, policy and notifications."""
    user: User | None = g.api_user
    data = _json_object(COMMENT_FIELDS)
    post_id = _integer(data, "post", required=True)
    # Characters and lengths of these are the service's check_fields, as for the form.
    content = _string(data, "content", required=True, check=False)
    author = _string(data, "author", check=False)
    email = _string(data, "email", check=False)
    url = _string(data, "url", check=False)
    parent_id = _integer(data, "parent", minimum=0) or None
    assert post_id is not None
    post = _post_for_reader(post_id, field="post")
    submitted = comment_service.CommentInput(
        content=content,
        author=author,
        email=email,
        url=url,
        parent_id=parent_id,
        ip=(request.remote_addr or "")[:45],
        user_agent=request.headers.get("User-Agent", "")[:255],
        seconds_to_fill=None,  # no form was shown, so there is nothing to time
        sent_without_form=True,  # so an anonymous client's comment is held (moderation)
    )
    limits = Limits(flood_seconds=current_app.config["COMMENT_FLOOD_SECONDS"], min_fill_seconds=0)
    comment = comment_service.submit(
        post, submitted, user, discussion_settings(), comment_whitelist(), limits
    )
    body = comment_json(comment, comment_service.can_moderate(user, comment))
    return _created(body, url_for("api.get_comment", comment_id=comment.id))


@bp.get(f"/comments/<{ID}:comment_id>")
def get_comment(comment_id: int):
    comment, moderates = _comment_for_reader(comment_id)
    return jsonify(comment_json(comment, moderates))


EDIT_FIELDS = ("content", "author", "email", "url")
PATCH_FIELDS = frozenset({"status", "reason", *EDIT_FIELDS})


@bp.patch(f"/comments/<{ID}:comment_id>")
def update_comment(comment_id: int):
    """Moderate and/or edit; each change goes through the service, which logs it."""
    user = _require_user()
    comment, moderates = _comment_for_reader(comment_id)
    if not moderates:
        raise ApiError(403, "You can only moderate comments on your own posts.")
    data = _json_object(PATCH_FIELDS)
    if not any(name in data for name in ("status", *EDIT_FIELDS)):
        _invalid("status", f"Send a status, or one of {', '.join(EDIT_FIELDS)} to edit.")
    status = (
        CommentStatus(_choice(data, "status", COMMENT_STATUSES, "")) if "status" in data else None
    )
    reason = _string(data, "reason")
    if reason and status is None:
        _invalid("reason", "A reason goes with a status change.")
    if len(reason) > REASON_MAX:
        _invalid("reason", f"reason is {len(reason):,} characters; the limit is {REASON_MAX:,}.")
    edits = {name: _string(data, name, check=False) for name in EDIT_FIELDS if name in data}
    if edits:
        comment_service.edit(
            comment,
            user,
            author=edits.get("author", comment.author),
            email=edits.get("email", comment.email),
            url=edits.get("url", comment.url),
            content=edits.get("content", comment.content),
            whitelist=comment_whitelist(),
        )
    if status is not None:
        comment_service.moderate(comment, ACTION_FOR_STATUS[status], user, reason.strip())
    return jsonify(comment_json(comment, True))


@bp.delete(f"/comments/<{ID}:comment_id>")
def delete_comment(comment_id: int):
    user = _require_user()
    comment, _ = _comment_for_reader(comment_id)
    comment_service.delete_permanently(comment, user)
    return "", 204

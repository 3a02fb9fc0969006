"""Error pages (HTML) and errors (JSON, under /api/) that say what to do, never a traceback."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from blog.extensions import db
from blog.requestlog import current
from blog.services import ServiceError

HINTS = {
    400: "The request could not be understood. Go back, check what you sent, and try again.",
    401: "You need to log in for that.",
    403: "You are not allowed to do that. If you think you should be, log in with another "
    "account or ask the site owner.",
    404: "There is nothing at this address. It may have moved or never existed: try the "
    "search, the archives or the front page.",
    405: "That address does not take this kind of request.",
    413: "What you sent is too large. Make it shorter and send it again.",
    429: "Too many requests in a short time. Wait a minute and try again.",
    500: "Something went wrong on our side. It has been logged; please try again later.",
}


UNAVAILABLE = (
    "The blog cannot reach its database just now. It will be back shortly: please try again "
    "in a minute."
)
RETRY_AFTER = "30"
#: The comment form's fields a 503 gives back as they were typed.
TYPED = ("author", "email", "url", "comment")
KEPT_HIDDEN = ("comment_parent", "csrf_token", "notify", "rendered")

log = logging.getLogger(__name__)


class Outage:
    """Logs a database outage once when it starts and once when it ends, not per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        with self._lock:
            self.failures += 1
            if self.since is not None:
                return
            self.since = time.monotonic()
        log.error("database unreachable; answering 503 until it is back: %s", exc)

    def answered(self) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            lasted, failures = time.monotonic() - self.since, self.failures
            self.since, self.failures = None, 0
        log.warning(
            "database reachable again after %.0f s (%d requests answered 503)", lasted, failures
        )


outage = Outage()


#: What SQLite says when the database is there in principle but cannot be used now (the
#: file gone, a writer holding the lock past the busy timeout, a full or read-only disk);
#: its other OperationalErrors ("no such table", a syntax error) are bugs: 500.
SQLITE_TEMPORARY = (
    "unable to open database file",
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "attempt to write a readonly database",
)


#: PostgreSQL's read_only_sql_transaction: the server takes no writes now (a standby after a
#: failover, a database set read-only); psycopg files it under InternalError.
PG_READ_ONLY = "25006"


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or used just now."""
    if isinstance(exc, InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == PG_READ_ONLY:
        return True
    if not isinstance(exc, OperationalError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.OperationalError):
        message = str(exc.orig).lower()
        return any(words in message for words in SQLITE_TEMPORARY)
    return True  # the server's driver: a connection refused, cut or timed out


def database_error(exc: Exception):
    if is_unavailable(exc):
        return unavailable_response(exc)
    current_app.logger.error("database error", exc_info=exc)
    db.session.rollback()
    return error_response(500, HINTS[500])


def _redis_unavailable(exc: Exception):
    log.warning("Redis unreachable: %s", exc)
    return unavailable_response(exc, log_outage=False, message=REDIS_UNAVAILABLE)


REDIS_UNAVAILABLE = "The blog cannot check its limits just now. Please try again in a minute."


def unavailable_response(exc: Exception, log_outage: bool = True, message: str = UNAVAILABLE):
    """503 for a database that cannot be reached: JSON for the API, the comment form with
    what was typed for a comment POST, a short page otherwise. Nothing here may need the
    database (no context processors, no settings)."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone with the database
        db.session.remove()
    if log_outage:
        outage.failed(exc)
    headers = {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"}
    if wants_json():
        body = {"error": {"code": "unavailable", "message": message}}
        return jsonify(body), 503, headers
    form = None
    hidden: list[tuple[str, str]] = []
    if request.method == "POST" and "comment" in request.form:
        form = {name: request.form.get(name, "") for name in TYPED}
        hidden = [(name, request.form[name]) for name in KEPT_HIDDEN if name in request.form]
    template = current_app.jinja_env.get_template("unavailable.html")
    page = template.render(
        message=message, form=form, hidden=hidden, action=request.path, request_id=current
    )
    return page, 503, {**headers, "Content-Type": "text/html; charset=utf-8"}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def error_response(code: int, message: str, error_code: str | None = None):
    if wants_json():
        body = {"error": {"code": error_code or _code_name(code), "message": message}}
        return jsonify(body), code
    try:
        return render_template("error.html", code=code, message=message), code
    except Exception:  # noqa: BLE001 - the database down, a Host refused by TRUSTED_HOSTS
        if code >= 500:
            current_app.logger.exception("The %d page could not be rendered", code)
        return _plain_page(code, message), code, {"Content-Type": "text/html; charset=utf-8"}


def _plain_page(code: int, message: str) -> str:
    """The error page when the site's own page cannot be made (no database, no URLs)."""
    title = "Server error" if code >= 500 else f"Error {code}"
    reference = escape(current())
    return (
        f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{escape(message)}</p>"
        f"<p>Reference: <code>{reference}</code></p>"
    )


def _code_name(code: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        422: "invalid",
        429: "rate_limited",
        500: "server_error",
    }.get(code, "error")


def register(app: Flask) -> None:
    # Connection-level failures (the server down or restarting, SQLite locked past its busy
    # timeout, a full disk, a read-only file) are temporary: 503, not 500.
    app.register_error_handler(DBAPIError, database_error)
    try:
        import redis
    except ImportError:  # pragma: no cover - installed with flask-limiter[redis]
        pass
    else:
        # Redis gone with RATELIMIT_IN_MEMORY_FALLBACK_ENABLED false: refused, for now.
        app.register_error_handler(redis.exceptions.ConnectionError, _redis_unavailable)
        app.register_error_handler(redis.exceptions.TimeoutError, _redis_unavailable)

    @app.after_request
    def _outage_over(response):
        # Any page but these two read the database: one that did, answered, ends the outage.
        quiet = request.endpoint in ("health.healthz", "static")
        if outage.since is not None and response.status_code < 500 and not quiet:
            outage.answered()
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(
            400,
            "The form expired or came from another site. Go back, reload the page and send it "
            "again; what you typed may still be in the form.",
            "csrf_failed",
        )

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        return error_response(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if code == 404 and request.method in ("GET", "HEAD"):
            from blog.posts.views import legacy_redirect

            moved = legacy_redirect(request.path)
            if moved is not None:
                return moved
        message = HINTS.get(code) or exc.description or "Error."
        if code == 404 and wants_json():
            message = "There is no such resource; see /api/v1/openapi.json for what there is."
        if code == 429 and exc.description:
            message = f"{HINTS[429]} (limit: {exc.description})"
        response = error_response(code, message)
        if code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            body, status = response
            return body, status, {"Allow": ", ".join(exc.valid_methods)}  # type: ignore[attr-defined]
        return response

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        # The database lost outside a view (loading the logged-in user, say) is still 503.
        if exc.original_exception is not None and is_unavailable(exc.original_exception):
            return unavailable_response(exc.original_exception)
        # A failed statement leaves the transaction aborted (PostgreSQL refuses every query
        # after it), and the page itself reads the site settings: start clean first.
        db.session.rollback()
        return error_response(500, HINTS[500])

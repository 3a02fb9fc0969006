"""Error pages (HTML) and errors (JSON, under /api/) that say what to do, never a traceback."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from blog.extensions import db
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
    return f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{escape(message)}</p>"


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
        # A failed statement leaves the transaction aborted (PostgreSQL refuses every query
        # after it), and the page itself reads the site settings: start clean first.
        db.session.rollback()
        return error_response(500, HINTS[500])

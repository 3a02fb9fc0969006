"""Request ids: one per request, in the ``X-Request-Id`` header of every answer (stored
pages too), on every error page, and on every log line written while the request runs,
so that a reader's "it said reference 3f2a..." finds its lines in the logs.

An incoming ``X-Request-Id`` (a proxy's) is kept when it is a plain token of at most 64
characters; otherwise a new one is made.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

ENVIRON_KEY = "blog.request_id"
HEADER = "X-Request-Id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def request_id(environ: dict[str, Any]) -> str:
    """The id of the request ``environ`` describes (made once, kept in it)."""
    found = environ.get(ENVIRON_KEY)
    if found is None:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        found = incoming if _SANE.fullmatch(incoming) else secrets.token_hex(8)
        environ[ENVIRON_KEY] = found
    return found


def current() -> str:
    """This request's id, or "-" outside a request."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        g.request_id = request_id(request.environ)
    return g.request_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current()
        return True


def init_app(app: Flask) -> None:
    # Flask's handler on the "blog" logger (every blog.* logger reaches it) gets the id.
    default_handler.setFormatter(logging.Formatter(FORMAT))
    if not any(isinstance(f, RequestIdFilter) for f in default_handler.filters):
        default_handler.addFilter(RequestIdFilter())
    app.logger.setLevel(str(app.config.get("LOG_LEVEL") or "INFO").upper())

    @app.after_request
    def _tag(response):
        response.headers[HEADER] = current()
        return response

    app.jinja_env.globals["request_id"] = current

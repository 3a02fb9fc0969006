"""The JSON API, /api/v1 (INTERFACE.md). Token auth; JSON errors; no CSRF (no cookies)."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from blog.api import views  # noqa: E402,F401

"""API endpoints. Views parse JSON, call the same services as the web pages, answer JSON."""

from __future__ import annotations

from flask import g, jsonify, request

from blog.api import bp
from blog.extensions import csrf
from blog.services.users import user_for_token

csrf.exempt(bp)  # bearer tokens, no cookies: nothing for a cross-site form to ride on


@bp.before_request
def authenticate() -> None:
    """Optional bearer auth; endpoints that need a user check ``g.api_user`` themselves."""
    g.api_user = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "unauthorized", "Use the header 'Authorization: Bearer TOKEN'.")
        user = user_for_token(token.strip())
        if user is None:
            return _error(401, "unauthorized", "That API token is not valid.")
        g.api_user = user
    return None


def _error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status

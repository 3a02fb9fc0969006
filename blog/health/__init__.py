"""/healthz and /readyz: cheap answers for load balancers and systemd, never cached."""

from __future__ import annotations

from flask import Blueprint, jsonify

from blog.extensions import limiter
from blog.services.health import readiness

bp = Blueprint("health", __name__)

NEVER_STORED = {"Cache-Control": "no-store"}


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process answers (nothing else is asked of it)."""
    return "ok\n", 200, {**NEVER_STORED, "Content-Type": "text/plain; charset=utf-8"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """The process can serve: database reachable, migrations at head, outbox moving."""
    ready, checks = readiness()
    response = jsonify({"ready": ready, **checks})
    response.status_code = 200 if ready else 503
    response.headers.update(NEVER_STORED)
    if not ready:
        response.headers["Retry-After"] = "10"
    return response

"""``/uploads/<path>``: the media library's files, served so that nothing uploaded can run
in the blog's origin.

Only paths the media service makes are served (no ``..``, no dot files); raster images and
PDFs go out inline, anything else (and anything not recognised) as an attachment under
``Content-Security-Policy: sandbox``; every answer carries ``nosniff``. Names are random and
never reused, so a file may be cached for a year. (Behind nginx, the folder can be served
directly with the same headers; README, "Media".)
"""

from __future__ import annotations

from flask import Blueprint, abort, send_file

from blog.extensions import limiter
from blog.mediafiles import INLINE_EXTENSIONS
from blog.services import media as media_service

bp = Blueprint("uploads", __name__)

ONE_YEAR = 365 * 24 * 3600
#: Inline files: nothing may load or run around them (a PDF viewer is an object).
INLINE_POLICY = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'none'"
#: Everything else: a download, and a sandboxed document with no origin if opened anyway.
ATTACHMENT_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"


@bp.get("/uploads/<path:stored_path>")
@limiter.exempt
def file(stored_path: str):
    path = media_service.resolve(stored_path)
    if path is None or not path.is_file():
        abort(404)
    extension = path.suffix.lstrip(".").lower()
    mimetype = INLINE_EXTENSIONS.get(extension)
    inline = mimetype is not None
    response = send_file(
        path,
        mimetype=mimetype or "application/octet-stream",
        as_attachment=not inline,
        download_name=path.name,
        max_age=ONE_YEAR,
        conditional=True,
        etag=True,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = INLINE_POLICY if inline else ATTACHMENT_POLICY
    # Public even for a logged-in author: the same bytes for everyone, never personal.
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.headers["Cross-Origin-Resource-Policy"] = "same-site"
    return response

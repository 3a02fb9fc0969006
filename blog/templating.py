"""Template filters and globals: addresses, local times, avatars, security headers."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from flask import Flask, Response, g, request, url_for
from flask_login import current_user
from jinja2 import Undefined
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from blog import dates
from blog.auth.forms import EmptyForm
from blog.models import Permission, Post, PostType

GRAVATAR_ORIGIN = "https://www.gravatar.com"


@lru_cache(maxsize=64)
def content_security_policy(gravatar: bool, image_hosts: tuple[str, ...]) -> str:
    """The policy: this site's own scripts and styles only; images from this site, from
    Gravatar only while avatars come from it, and from the sites the general settings name
    for post images. A reader's browser talks to no other site."""
    images = ["'self'", "data:", *([GRAVATAR_ORIGIN] if gravatar else []), *image_hosts]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src " + " ".join(images),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


STRICTEST_POLICY = content_security_policy(False, ())


def current_policy() -> str:
    from blog.services.settings import discussion_settings, site_settings

    discussion = discussion_settings()
    gravatar = discussion.show_avatars and discussion.avatar_source == "gravatar"
    return content_security_policy(gravatar, site_settings().image_hosts)


@lru_cache(maxsize=8192)
def _address(script_root: str, endpoint: str, values: tuple[tuple[str, Any], ...]) -> str:
    return url_for(endpoint, **dict(values))


def link(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)``, remembered: a post page asks for a dozen addresses
    (the stylesheet, the feeds, the neighbours, the author), each costing werkzeug a rule
    lookup and a build, and the same ones on every render. An address depends only on the
    endpoint, its values and where the app is mounted (``script_root``); absolute addresses
    (``_external`` and the like) are built every time."""
    if any(name.startswith("_") for name in values):
        return url_for(endpoint, **values)
    try:
        return _address(request.script_root, endpoint, tuple(values.items()))
    except TypeError:  # a value that cannot be a key (a list of values)
        return url_for(endpoint, **values)


def post_month(post: Post) -> tuple[int, int]:
    """The (year, month) in a post's address: when it appears, in the site's time zone."""
    from blog.services.settings import site_settings

    when = (post.published_at or post.created_at).astimezone(site_settings().tz)
    return when.year, when.month


def post_path(post: Post) -> str:
    """A post's address: /YYYY/MM/slug/ in the site's time zone; a page's: /slug/."""
    if post.type == PostType.PAGE:
        return link("posts.page", slug=post.slug)
    year, month = post_month(post)
    return link("posts.post", year=year, month=month, slug=post.slug)


def localtime(value: datetime | None, fmt: str | None = None) -> str:
    """A time in the site's time zone: by default as a reader reads a date, in the site's
    language ("December 3, 2026"); with ``fmt``, as ``strftime`` writes it (admin pages)."""
    if value is None:
        return ""
    from blog.services.settings import site_settings

    site = site_settings()
    local = value.astimezone(site.tz)
    if fmt is None:
        return dates.date_text(local, site.language)
    return local.strftime(fmt)


def month_name(year: int, month: int) -> str:
    """ "December 2026" in the site's language: a month archive's name."""
    from blog.services.settings import site_settings

    return dates.month_year(year, month, site_settings().language)


def age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or, for a future time, how long until), rounded in the largest unit
    that fits: "3 minutes", "1 hour", "2 days". Under a minute is "under a minute"."""
    if value is None:
        return ""
    seconds = abs(((now or datetime.now(UTC)) - value).total_seconds())
    for unit, size in (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("week", 7 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = max(1, round(seconds / size))
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "under a minute"


def dict_with(values: dict, key: str, value: object = None) -> dict:
    """A copy of ``values`` with ``key`` set to ``value`` (None: left out), the rest kept in
    order: a filter link changes one filter and keeps the others."""
    changed = {k: v for k, v in values.items() if k != key}
    if value is not None:
        changed[key] = value
    return changed


def isotime(value: datetime | None) -> str:
    """For ``<time datetime>``: whole seconds (HTML allows at most three fraction digits)."""
    return value.isoformat(timespec="seconds") if value else ""


def no_id(field: object) -> Markup | str:
    """A hidden field (the CSRF token) rendered without its id: WTForms gives every form's
    token ``id="csrf_token"``, repeated on a page with several forms (invalid HTML), and no
    label points at a hidden field. Nothing when the form has no such field (CSRF off)."""
    if not callable(field) or isinstance(field, Undefined):
        return ""
    return field(id=False)


def register(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["isotime"] = isotime
    app.jinja_env.filters["no_id"] = no_id
    app.jinja_env.filters["age"] = age
    app.jinja_env.filters["dict_with"] = dict_with
    app.jinja_env.globals["post_path"] = post_path
    app.jinja_env.globals["month_name"] = month_name
    app.jinja_env.globals["url_for"] = link
    app.jinja_env.globals["Permission"] = Permission
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def site_context() -> dict:
        from blog.services.settings import site_settings

        def button_form() -> EmptyForm:
            # One CSRF-only form object per request, reused by every state-changing button.
            if "button_form" not in g:
                g.button_form = EmptyForm()
            return g.button_form

        site = site_settings()
        return {
            "site": site,
            "html_lang": dates.language(site.language).html_lang,
            "button_form": button_form,
            "current_user": current_user,
        }

    @app.after_request
    def security_headers(response: Response) -> Response:
        if "Content-Security-Policy" not in response.headers:
            # A policy governs documents only: a stylesheet, a script or JSON gets the
            # strictest one without a settings read (no query for a static file).
            policy = STRICTEST_POLICY
            if request.endpoint != "static" and response.mimetype == "text/html":
                try:
                    policy = current_policy()
                except SQLAlchemyError:  # the settings unreadable (the database down)
                    pass
            response.headers["Content-Security-Policy"] = policy
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(("/admin", "/login")):
            response.headers.setdefault("Cache-Control", "no-store")
        elif request.endpoint != "static" and current_user.is_authenticated:
            # Made for this user (drafts previewed at public addresses, their held comment):
            # no shared cache may keep it.
            response.headers.setdefault("Cache-Control", "private, no-store")
        if app.config.get("IS_PRODUCTION"):
            # Production cookies are Secure: tell browsers to come back over HTTPS only.
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

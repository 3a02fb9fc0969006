"""Site settings kept in the database, read once per request."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g, has_app_context
from sqlalchemy import select

from blog.dates import LANGUAGES
from blog.extensions import db
from blog.models import Setting
from blog.moderation import DiscussionSettings
from blog.pagecache.keys import SITE
from blog.sanitize import DEFAULT_COMMENT_WHITELIST, Whitelist, format_whitelist, parse_whitelist
from blog.services import ServiceError
from blog.text import bad_characters

COMMENT_WHITELIST_KEY = "comment_whitelist"
#: WordPress's option for the site language: "" is English, else a locale such as "fr_FR".
LANGUAGE_KEY = "WPLANG"
IMAGE_HOSTS_KEY = "image_hosts"
#: Today's behaviour: post images may come from any HTTPS site.
DEFAULT_IMAGE_HOSTS = ("https:",)
IMAGE_HOSTS_MAX = 20
# "https:" (any HTTPS site) or one origin, "https://img.example.com", "https://*.example.com",
# with a port if need be: what a CSP source may be, and nothing that could end the directive.
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_IMAGE_HOST = re.compile(rf"https:|https://(?:\*\.)?{_LABEL}(?:\.{_LABEL})*(?::\d{{1,5}})?")


@dataclass(frozen=True)
class SiteSettings:
    name: str
    description: str
    timezone: str
    posts_per_page: int
    language: str = ""
    image_hosts: tuple[str, ...] = DEFAULT_IMAGE_HOSTS

    @property
    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


_PROCESS_KEY = "blog.settings"


def _stored() -> dict[str, str]:
    """All stored settings: kept for the request, and in the process for as long as the
    site's cache generation (bumped by every settings change, in any process) stays put."""
    if not has_app_context():
        return _query()
    if "blog_settings" in g:
        return g.blog_settings
    cache = current_app.extensions.get("pagecache")
    versions = cache.versions_in_request((SITE,)) if cache is not None else None
    kept = current_app.extensions.get(_PROCESS_KEY)
    if versions is not None and kept is not None and kept[0] == versions:
        values, derived = kept[1], kept[2]
    else:
        # Read after the version: a change landing in between only makes this copy look
        # older than it is, so it is read again next time.
        values, derived = _query(), {}
        if versions is not None:
            current_app.extensions[_PROCESS_KEY] = (versions, values, derived)
    g.blog_settings, g.blog_settings_derived = values, derived
    return values


def _derived(name: str, make: Callable[[dict[str, str]], Any]) -> Any:
    """What is made from the stored values (the settings objects, the whitelist), made once
    per set of values rather than at every call (a page asks for them dozens of times)."""
    if not has_app_context():
        return make(_query())
    derived = g.get("blog_settings_derived")
    if derived is None:
        _stored()
        derived = g.blog_settings_derived
    made = derived.get(name)
    if made is None:
        made = derived[name] = make(g.blog_settings)
    return made


def _query() -> dict[str, str]:
    return {row.key: row.value for row in db.session.scalars(select(Setting))}


def _forget() -> None:
    if has_app_context():
        g.pop("blog_settings", None)
        g.pop("blog_settings_derived", None)


def site_settings() -> SiteSettings:
    return _derived("site", lambda values: site_settings_from(values, current_app.config))


def site_settings_from(stored: Mapping[str, str], config: Mapping[str, Any]) -> SiteSettings:
    """The site settings from stored values over the config defaults (no database access)."""
    try:
        per_page = int(stored.get("posts_per_page", config["POSTS_PER_PAGE"]))
    except ValueError:
        per_page = config["POSTS_PER_PAGE"]
    language = stored.get(LANGUAGE_KEY, "")
    hosts = stored.get(IMAGE_HOSTS_KEY)
    try:
        image_hosts = DEFAULT_IMAGE_HOSTS if hosts is None else parse_image_hosts(hosts)
    except ServiceError:
        image_hosts = ()  # validated on save; should it be broken, fail closed
    return SiteSettings(
        name=stored.get("site_name", config["SITE_NAME"]),
        description=stored.get("site_description", config["SITE_DESCRIPTION"]),
        timezone=stored.get("timezone", config["SITE_TIMEZONE"]),
        posts_per_page=max(1, min(per_page, 100)),
        language=language if language in LANGUAGES else "",
        image_hosts=image_hosts,
    )


def parse_image_hosts(text: str) -> tuple[str, ...]:
    """The sites post images may come from, one a line: "https:" for any HTTPS site, or
    origins. Anything else is refused: each becomes part of the Content-Security-Policy."""
    hosts: list[str] = []
    for line in text.splitlines():
        host = line.strip().lower().rstrip("/")
        if not host:
            continue
        if not _IMAGE_HOST.fullmatch(host):
            raise ServiceError(
                f"{line.strip()[:80]!r} is not a site address: give one per line, like "
                '"https://images.example.com", or "https:" for any HTTPS site.',
                field=IMAGE_HOSTS_KEY,
            )
        if host not in hosts:
            hosts.append(host)
    if len(hosts) > IMAGE_HOSTS_MAX:
        raise ServiceError(
            f"{len(hosts)} sites; the limit is {IMAGE_HOSTS_MAX}.", field=IMAGE_HOSTS_KEY
        )
    return tuple(hosts)


def discussion_settings() -> DiscussionSettings:
    return _derived("discussion", discussion_settings_from)


def discussion_settings_from(stored: Mapping[str, str]) -> DiscussionSettings:
    fields = DiscussionSettings.__dataclass_fields__
    try:
        return DiscussionSettings.from_mapping({k: v for k, v in stored.items() if k in fields})
    except ValueError:
        # Values are validated on save; should one be broken, fall back to the defaults.
        return DiscussionSettings()


def comment_whitelist() -> Whitelist:
    return _derived("whitelist", _whitelist_from)


def _whitelist_from(stored: Mapping[str, str]) -> Whitelist:
    text = stored.get(COMMENT_WHITELIST_KEY)
    if text is None:
        return DEFAULT_COMMENT_WHITELIST
    try:
        return MappingProxyType(parse_whitelist(text))
    except ValueError:
        # A stored value is validated on save; should it be broken, fail safe.
        return DEFAULT_COMMENT_WHITELIST


def comment_whitelist_text() -> str:
    return format_whitelist(comment_whitelist())


SITE_NAME_MAX = 200
SITE_DESCRIPTION_MAX = 500
VALUE_MAX = 65_535  # any other stored setting (word lists, the whitelist)


def save(values: Mapping[str, str]) -> None:
    """Store settings; every value is checked as comment text is (no NUL, no control
    characters, a bounded length), so a settings form cannot store what breaks a page."""
    from blog.services import comment_html

    for key, value in values.items():
        problem = bad_characters(value)
        if problem:
            raise ServiceError(f"This setting {problem}; please remove it.", field=key)
        if len(value) > VALUE_MAX:
            raise ServiceError(
                f"This setting is {len(value):,} characters; the limit is {VALUE_MAX:,}.",
                field=key,
            )
    before = comment_html.current_context()
    for key, value in values.items():
        row = db.session.get(Setting, key)
        if row is None:
            db.session.add(Setting(key=key, value=value))
        else:
            row.value = value
    db.session.commit()
    _forget()
    if comment_html.current_context().key != before.key:
        # Committed first: pages are right at once (stale fragments render on the fly);
        # this brings the stored ones up to date for the fast path.
        comment_html.refresh_all(db.session)


def save_site(
    name: str,
    description: str,
    timezone: str,
    posts_per_page: int,
    *,
    language: str | None = None,
    image_hosts: str | None = None,
) -> None:
    """Save the general settings; ``language`` and ``image_hosts`` left None stay as they are."""
    name = name.strip()
    if not name:
        raise ServiceError("The site needs a title.", field="site_name")
    for field, value, limit in (
        ("site_name", name, SITE_NAME_MAX),
        ("site_description", description.strip(), SITE_DESCRIPTION_MAX),
    ):
        if len(value) > limit:
            raise ServiceError(
                f"This is {len(value):,} characters; the limit is {limit:,}.", field=field
            )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ServiceError(f"Unknown time zone {timezone!r}.", field="timezone") from None
    if not 1 <= posts_per_page <= 100:
        raise ServiceError("Posts per page must be between 1 and 100.", field="posts_per_page")
    values = {
        "site_name": name,
        "site_description": description.strip(),
        "timezone": timezone,
        "posts_per_page": str(posts_per_page),
    }
    if language is not None:
        if language not in LANGUAGES:
            raise ServiceError(f"Unknown language {language!r}.", field="language")
        values[LANGUAGE_KEY] = language
    if image_hosts is not None:
        values[IMAGE_HOSTS_KEY] = "\n".join(parse_image_hosts(image_hosts))
    save(values)


def save_discussion(settings: DiscussionSettings, whitelist_text: str) -> None:
    problems = settings.validate()
    if problems:
        raise ServiceError(" ".join(problems))
    try:
        whitelist = parse_whitelist(whitelist_text)
    except ValueError as exc:
        raise ServiceError(str(exc), field="comment_whitelist") from None
    values = dict(settings.to_mapping())
    values[COMMENT_WHITELIST_KEY] = format_whitelist(whitelist)
    save(values)

"""Configuration classes.

Every setting can be overridden from the environment with Flask's ``FLASK_`` prefix
(``FLASK_SECRET_KEY``, ``FLASK_SQLALCHEMY_DATABASE_URI``...); ``DATABASE_URL`` is accepted
too. Secrets come only from the environment or from ``instance/secret_key``, never from here.
"""

from __future__ import annotations

import os


class Default:
    IS_PRODUCTION = False
    SITE_NAME = "My Blog"
    SITE_DESCRIPTION = "Just another blog"
    # Shown times use this zone; the database keeps UTC.
    SITE_TIMEZONE = "UTC"
    POSTS_PER_PAGE = 10
    # The editor keeps unsaved work every this many seconds (0: never); a post keeps this
    # many revisions, the oldest going first.
    AUTOSAVE_SECONDS = 30
    POST_REVISIONS_KEPT = 50

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: SQLite at instance/blog.db
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    # Argon2id cost (argon2-cffi's defaults, RFC 9106's low-memory choice). Raised values
    # rehash each password at its next login.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536  # KiB
    ARGON2_PARALLELISM = 4
    # Hours a one-time set-password link (Admin -> Users: reset, or a new user with no
    # password typed) works; it works once.
    PASSWORD_LINK_HOURS = 24
    WTF_CSRF_TIME_LIMIT = None  # a comment form left open for hours still posts
    # Limit request bodies: a comment is at most 65,525 characters (x4 bytes in UTF-8).
    MAX_CONTENT_LENGTH = 1024 * 1024
    # The largest WordPress export `wxr import` reads (checked before reading a byte).
    WXR_MAX_BYTES = 512 * 1024 * 1024
    # The largest export the admin's Import page takes as an upload (the command line takes
    # up to WXR_MAX_BYTES).
    WXR_UPLOAD_MAX_BYTES = 32 * 1024 * 1024

    # Media uploads (README, "Media"). Empty UPLOAD_FOLDER: instance/uploads; set it to a
    # directory every machine mounts when several serve the blog.
    UPLOAD_FOLDER = ""
    # The largest file the media library and the editor take (refused with a message); only
    # the upload route accepts a body this big, every other form keeps MAX_CONTENT_LENGTH.
    UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    # What may be uploaded, judged by content (SVG and HTML never: they can run script).
    # From the environment as JSON or a comma-separated list.
    UPLOAD_ALLOWED_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"]
    # Widths (px) of the smaller copies made of each image, for srcset; never enlarged.
    UPLOAD_IMAGE_WIDTHS = [480, 960, 1600]
    # The most pixels (all frames) an image may have before it is decoded: decompression bombs.
    UPLOAD_MAX_PIXELS = 50_000_000
    MEDIA_PER_PAGE = 24

    # Anti-abuse (INTERFACE.md).
    COMMENT_FLOOD_SECONDS = 15
    # Days a comment keeps its IP address and browser (`flask privacy purge-ips`, from
    # cron, forgets older ones); 0 keeps them.
    COMMENT_IP_RETENTION_DAYS = 60
    COMMENT_MIN_FILL_SECONDS = 3
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # Redis (RATELIMIT_STORAGE_URI) unreachable: true keeps limits per process in memory,
    # with a warning; false refuses what needs a limit with 503 until Redis is back.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    COMMENT_RATE_LIMIT = "10 per minute;100 per day"
    LOGIN_RATE_LIMIT = "10 per minute"
    # SQLite: FULL puts each commit on the disk before it is acknowledged (a power cut
    # keeps every acknowledged comment); NORMAL is faster and may lose the last ones.
    SQLITE_SYNCHRONOUS = "FULL"
    # Milliseconds a write waits for another one to finish before the request answers 503.
    SQLITE_BUSY_TIMEOUT = 5000
    # The login throttle (blog.services.throttle), kept in the database so it holds across
    # workers and machines: failures allowed per account and per address before each
    # attempt waits 1, 2, 4... seconds, up to LOGIN_LONGEST_WAIT; failures are forgotten
    # LOGIN_FAILURE_WINDOW seconds after the last one.
    LOGIN_FREE_FAILURES_PER_ACCOUNT = 5
    LOGIN_FREE_FAILURES_PER_ADDRESS = 20
    LOGIN_FAILURE_WINDOW = 900
    LOGIN_LONGEST_WAIT = 900

    # The outbox (blog.services.outbox): notifications are rows written with the change, then
    # delivered by a thread in each app process (OUTBOX_WORKER; false leaves it to
    # `flask --app app outbox run`). A failure is retried after OUTBOX_FIRST_RETRY seconds,
    # doubling up to OUTBOX_LONGEST_RETRY; after OUTBOX_MAX_ATTEMPTS tries it is dead
    # (Admin -> Outbox retries it). Sent messages are kept OUTBOX_KEEP_SENT_DAYS.
    OUTBOX_WORKER = True
    OUTBOX_FIRST_RETRY = 10
    OUTBOX_LONGEST_RETRY = 3600
    OUTBOX_MAX_ATTEMPTS = 15
    OUTBOX_POLL_SECONDS = 30
    OUTBOX_IDLE_SECONDS = 600
    OUTBOX_KEEP_SENT_DAYS = 30
    # /readyz says "not ready" when a message has waited this long with no worker trying it.
    OUTBOX_STUCK_SECONDS = 600

    # The app's log (stderr, gunicorn's error log): each line carries the request's id.
    LOG_LEVEL = "INFO"

    # Outgoing mail for notifications; empty host disables sending.
    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_DEFAULT_SENDER = "blog@localhost"
    MAIL_TIMEOUT = 10

    # How many reverse proxies (nginx, a load balancer) stand in front of the app. Their
    # X-Forwarded-For/-Proto/-Host headers are trusted for that many hops, so comment IPs
    # and rate limits see the reader's address. 0: headers ignored (nobody can forge them).
    PROXY_FIX = 0

    # Absolute base for links in emails and feeds when not in a request.
    SITE_URL = "http://127.0.0.1:5000"

    # Seconds a post's Markdown may take to render (saving, previewing); past it the body is
    # refused with this limit named. A helper process does the work and is killed past it.
    MARKDOWN_TIME_LIMIT = 1.0

    # The readers' page cache (README, "Performance"): anonymous pages kept rendered in each
    # process, checked against versions every process sees on every request.
    PAGE_CACHE = True
    PAGE_CACHE_MAX_BYTES = 64 * 1024 * 1024  # per process
    # Seconds a stored page lives at most, whatever the versions say: its comment form's
    # token must stay fresh for the readers who open it.
    PAGE_CACHE_MAX_AGE = 24 * 3600
    # Kept pages are also kept gzip-compressed and sent so to browsers that take it; false
    # when a proxy in front compresses (or to send every page as it is).
    PAGE_CACHE_GZIP = True
    PAGE_CACHE_S_MAXAGE = 0  # > 0: how long a CDN or proxy may keep a page (s-maxage)
    # Where the versions live: "" follows RATELIMIT_STORAGE_URI when it is Redis, else the
    # database; "database", or a redis:// URL.
    CACHE_URL = ""


class Development(Default):
    DEBUG = True
    RATELIMIT_ENABLED = False


class Testing(Default):
    TESTING = True
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SECRET_KEY = "testing-only-not-secret"  # noqa: S105
    COMMENT_FLOOD_SECONDS = 0
    COMMENT_MIN_FILL_SECONDS = 0
    # The cheapest Argon2id: tests log in hundreds of times, and the hash is still Argon2id.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    # Delivery threads of the many apps a test run makes end soon after their work.
    OUTBOX_IDLE_SECONDS = 2
    OUTBOX_POLL_SECONDS = 1


class Production(Default):
    IS_PRODUCTION = True
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS: dict[str, type[Default]] = {
    "default": Default,
    "development": Development,
    "testing": Testing,
    "production": Production,
}


def config_name() -> str:
    """The config class picked by BLOG_CONFIG (default: ``default``)."""
    return os.environ.get("BLOG_CONFIG", "default").lower()

"""The blog application factory."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Foreign keys on, WAL so readers never wait for a writer, and a busy timeout. (How
    hard each commit is pushed to the disk is the app's setting: _sqlite_durability.)"""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")  # the app's SQLITE_BUSY_TIMEOUT follows
        cursor.close()


SQLITE_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA", "OFF")


def _sqlite_durability(app: Flask) -> None:
    """SQLITE_SYNCHRONOUS on every connection of the app's engine. FULL (the default):
    each commit is on the disk before the 303 that acknowledges it, so a power cut keeps
    every acknowledged comment; NORMAL (in WAL mode) may lose the last ones, for speed."""
    from blog.extensions import db

    level = str(app.config.get("SQLITE_SYNCHRONOUS") or "FULL").upper()
    if level not in SQLITE_SYNCHRONOUS:
        raise RuntimeError(
            f"SQLITE_SYNCHRONOUS is {level!r}; it must be one of {', '.join(SQLITE_SYNCHRONOUS)}."
        )
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    busy = int(app.config.get("SQLITE_BUSY_TIMEOUT", 5000))

    @event.listens_for(engine, "connect")
    def _synchronous(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={level}")  # one of four words, checked above
        cursor.execute(f"PRAGMA busy_timeout={busy}")  # an int
        cursor.close()


def create_app(config: Any = None) -> Flask:
    """Build the app. ``config`` is a config class, a mapping, or a name from config.CONFIGS."""
    import config as config_module

    app = Flask(
        __name__,
        instance_path=os.environ.get("BLOG_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    overrides: dict[str, Any] = {}
    if config is None:
        config = config_module.config_name()
    if isinstance(config, str):
        if config not in config_module.CONFIGS:
            raise RuntimeError(
                f"Unknown BLOG_CONFIG {config!r}; use one of {', '.join(config_module.CONFIGS)}."
            )
        config = config_module.CONFIGS[config]
    if isinstance(config, dict):
        # Settings on top of a config class: the one named in the mapping, else BLOG_CONFIG's,
        # never silently the testing one (it turns CSRF checks off).
        overrides = config
        name = overrides.get("BLOG_CONFIG") or config_module.config_name()
        if name not in config_module.CONFIGS:
            raise RuntimeError(
                f"Unknown BLOG_CONFIG {name!r}; use one of {', '.join(config_module.CONFIGS)}."
            )
        config = config_module.CONFIGS[name]
    app.config.from_object(config)
    app.config.from_prefixed_env()
    if os.environ.get("DATABASE_URL") and "FLASK_SQLALCHEMY_DATABASE_URI" not in os.environ:
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config.update(overrides)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_secret_key(app)
    _configure_database(app)

    _init_extensions(app)
    # Before any other after-request hook, so it runs last and stores the finished page.
    _sqlite_durability(app)
    _init_page_cache(app)
    _register_blueprints(app)
    from blog.services import outbox

    outbox.init_app(app)

    # Outermost: the page cache keys pages by the scheme and host the reader used.
    proxies = int(app.config.get("PROXY_FIX") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    from blog import errors, requestlog, templating

    requestlog.init_app(app)
    errors.register(app)
    templating.register(app)

    from blog.cli import register as register_cli

    register_cli(app)
    return app


def _configure_secret_key(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("IS_PRODUCTION"):
        raise RuntimeError(
            "FLASK_SECRET_KEY is not set. Production refuses to start without a secret key: "
            'set it to a long random value, e.g. FLASK_SECRET_KEY="$(python -c '
            "'import secrets; print(secrets.token_hex(32))')\"."
        )
    # Development and `make run`: one key generated on first start and kept in instance/,
    # so sessions survive restarts.
    key_file = Path(app.instance_path) / "secret_key"
    try:
        # O_EXCL: when several processes start at once, exactly one writes the key.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def _configure_database(app: Flask) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = "sqlite:///" + str(Path(app.instance_path) / "blog.db")
    elif uri.startswith("postgres://"):  # the form some hosts hand out
        uri = "postgresql+psycopg://" + uri.removeprefix("postgres://")
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.pop("pool_pre_ping", None)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _init_extensions(app: Flask) -> None:
    from blog.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from blog.services.users import load_user

    login_manager.user_loader(load_user)


def _init_page_cache(app: Flask) -> None:
    from blog import pagecache
    from blog.comments.views import OWN_COMMENTS_COOKIE, REMEMBER_COOKIES
    from blog.extensions import db
    from blog.services import comment_html
    from blog.services import comments as comment_service

    with app.app_context():
        engine = db.engine
    comment_html.register(db.session)
    comment_service.register(db.session)
    pagecache.init_app(app, engine, db.session, (OWN_COMMENTS_COOKIE, *REMEMBER_COOKIES))


def _register_blueprints(app: Flask) -> None:
    from blog.admin import bp as admin_bp
    from blog.api import bp as api_bp
    from blog.auth import bp as auth_bp
    from blog.feeds import bp as feeds_bp
    from blog.health import bp as health_bp
    from blog.posts import bp as posts_bp
    from blog.uploads import bp as uploads_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(feeds_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(uploads_bp)
    # Last: its /<slug>/ catch-all must not shadow the others.
    app.register_blueprint(posts_bp)

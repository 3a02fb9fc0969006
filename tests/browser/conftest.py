"""Browser fixtures: the app served on a real port, and Debian's Chromium driven by Playwright.

The browser is started once per session; every test gets fresh contexts (cookies, storage),
so a reader, a second reader and the moderator can be open at the same time. CSRF is on:
these tests see what a real browser sends. Requests that would leave 127.0.0.1 (Gravatar)
are answered locally, so the tests never touch the network.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_app
from flask import Flask
from werkzeug.serving import make_server

from tests.browser import helpers
from tests.browser.helpers import DESKTOP, Session


def _unavailable(reason: str) -> None:
    """Skip on a developer machine without Chromium; fail in CI, where it must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not helpers.CHROMIUM.exists():
        _unavailable(f"{helpers.CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        _unavailable(f"Playwright for Python is not installed: {exc}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(helpers.CHROMIUM), headless=True, args=helpers.CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_app(database_uri: str, tmp_path: Path) -> Iterator[Flask]:
    """The app the live server runs; tests use it to seed and inspect the database."""
    with fresh_app(database_uri, tmp_path, WTF_CSRF_ENABLED=True) as app:
        yield app


@pytest.fixture
def live_server(live_app: Flask) -> Iterator[str]:
    """The base URL of ``live_app`` served by Werkzeug on a free port, in a thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def new_session(browser: Any, live_server: str) -> Iterator[Callable[..., Session]]:
    """Factory: ``new_session(viewport=PHONE, java_script_enabled=False)`` -> Session.

    Every dialog (an ``alert`` that got through the sanitizer) is recorded and dismissed,
    and so is every uncaught page error, for the test to assert on.
    """
    opened: list[Session] = []

    def open_session(**options: Any) -> Session:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(10_000)
        context.route("**/*", helpers.keep_local)
        page = context.new_page()
        session = Session(context, page)

        def on_dialog(dialog: Any) -> None:
            session.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: session.errors.append(str(error)))
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.context.close()

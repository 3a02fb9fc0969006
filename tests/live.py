"""The app served on a real port, and bursts of requests released together: for tests of
what holds when requests race (tests/test_races.py, tests/test_login_throttle.py)."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def request(url: str, data: bytes | None = None, method: str = "GET", **headers: str) -> int:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(
            urllib.request.Request(url, data, headers, method=method), timeout=30
        ) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def at_once(calls: list[Callable[[], int]]) -> Counter[int]:
    """Run ``calls`` in threads released together; their status codes."""
    barrier = threading.Barrier(len(calls))
    results: list[int] = []
    lock = threading.Lock()

    def run(call: Callable[[], int]) -> None:
        barrier.wait(timeout=30)
        status = call()
        with lock:
            results.append(status)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == len(calls), "a request did not finish"
    return Counter(results)

"""Run a pure function within a hard time budget, in a helper process.

Some inputs make a parser's work grow faster than their length (Python-Markdown takes
seconds on a few thousand unmatched ``[``), and no scan of the input can rule out every
such shape. A thread cannot be stopped; a process can. So the work runs in a helper
process started once (``spawn``: safe beside threads, nothing inherited), fed through a
pipe; past the budget the helper is killed, a new one takes its place for the next call,
and the caller gets ``TimedOut``. A RecursionError in the work comes back as ``TooDeep``.
If no helper can be started at all, the work runs in this process, unbounded, and a
warning is logged.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

STARTUP_SECONDS = 60.0  # importing the work's modules, once per helper


class TimedOut(Exception):
    """The work did not finish within the budget."""


class TooDeep(Exception):
    """The work hit Python's recursion limit (input nested too deeply)."""


def _serve(connection: Connection, target: Callable[[Any], Any]) -> None:
    """The helper's loop: one argument in, one result (or the reason it failed) out."""
    connection.send(("ready", None))
    while True:
        try:
            argument = connection.recv()
        except EOFError:
            return
        try:
            connection.send(("ok", target(argument)))
        except RecursionError:
            connection.send(("deep", None))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, who raises it
            connection.send(("error", f"{type(exc).__name__}: {exc}"))


class TimeBox:
    """``box(argument)`` is ``target(argument)``, or TimedOut after ``seconds``.

    ``target`` must be importable by name (a module-level function) and pure. One call at a
    time per box; callers in other threads wait their turn.
    """

    def __init__(self, target: Callable[[Any], Any], seconds: float) -> None:
        self.target = target
        self.seconds = seconds
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Connection | None = None
        self.started = 0  # helpers started so far (one more after each timeout)

    def _start(self) -> Connection | None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        try:
            process = context.Process(
                target=_serve, args=(theirs, self.target), daemon=True, name="timebox"
            )
            process.start()
        except OSError:
            log.warning("timebox: cannot start a helper process; working unbounded")
            return None
        theirs.close()
        if not ours.poll(STARTUP_SECONDS) or ours.recv()[0] != "ready":
            process.kill()
            log.warning("timebox: the helper did not start; working unbounded")
            return None
        self._process, self._connection = process, ours
        self.started += 1
        return ours

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def __call__(self, argument: Any) -> Any:
        with self._lock:
            connection = self._connection
            if connection is None or not self._process.is_alive():
                self._stop()
                connection = self._start()
            if connection is None:
                return self.target(argument)
            try:
                connection.send(argument)
                ready = connection.poll(self.seconds)
                kind, value = connection.recv() if ready else ("late", None)
            except (EOFError, OSError):
                kind, value = "error", "the helper process died"
            if kind in ("late", "error"):
                self._stop()  # whatever it was doing, it is not doing it any more
            if kind == "ok":
                return value
            if kind == "late":
                raise TimedOut(f"took longer than {self.seconds:g} s")
            if kind == "deep":
                raise TooDeep("nested too deeply")
            raise RuntimeError(value)

    def close(self) -> None:
        with self._lock:
            self._stop()

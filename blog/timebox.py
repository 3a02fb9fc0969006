"""Run a pure function within a hard time budget, in a helper process.

Some inputs make a parser's work grow faster than their length (Python-Markdown takes
seconds on a few thousand unmatched ``[``), and no scan of the input can rule out every
such shape. A thread cannot be stopped; a process can. So the work runs in a helper: a
Python interpreter of its own (``python -m blog.timebox module:function``, nothing
inherited, whatever the parent's main script is), fed through its standard input. Past the
budget the helper is killed, a new one takes its place at the next call, and the caller
gets ``TimedOut``; a RecursionError in the work comes back as ``TooDeep``. If no helper can
be started, the work runs in this process, unbounded, and a warning is logged.

Frames on the pipes are an 8-byte length and a JSON document.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

STARTUP_SECONDS = 60.0  # importing the work's modules, once per helper
_PROJECT = str(Path(__file__).resolve().parent.parent)


class TimedOut(Exception):
    """The work did not finish within the budget."""


class TooDeep(Exception):
    """The work hit Python's recursion limit (input nested too deeply)."""


def _write(stream: IO[bytes], value: Any) -> None:
    data = json.dumps(value).encode("utf-8")
    stream.write(len(data).to_bytes(8, "big") + data)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int, deadline: float | None) -> bytes:
    chunks, left = [], size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([stream], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(stream.fileno(), left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read(stream: IO[bytes], deadline: float | None = None) -> Any:
    size = int.from_bytes(_read_exactly(stream, 8, deadline), "big")
    return json.loads(_read_exactly(stream, size, deadline))


def _name_of(target: Callable[[Any], Any]) -> str:
    return f"{target.__module__}:{target.__qualname__}"


def serve(name: str) -> None:
    """The helper's loop: one argument in, one result (or the reason it failed) out."""
    module, _, function = name.partition(":")
    target = getattr(importlib.import_module(module), function)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    _write(sink, ["ready", None])
    while True:
        try:
            argument = _read(source)
        except EOFError:
            return
        try:
            _write(sink, ["ok", target(argument)])
        except RecursionError:
            _write(sink, ["deep", None])
        except Exception as exc:  # noqa: BLE001 - reported to the caller, who raises it
            _write(sink, ["error", f"{type(exc).__name__}: {exc}"])


class TimeBox:
    """``box(argument)`` is ``target(argument)``, or TimedOut after ``seconds``.

    ``target`` must be a pure module-level function taking and returning JSON values. One
    call at a time per box; callers in other threads wait their turn.
    """

    def __init__(self, target: Callable[[Any], Any], seconds: float) -> None:
        self.target = target
        self.seconds = seconds
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self.started = 0  # helpers started so far (one more after each timeout)

    def _start(self) -> subprocess.Popen[bytes] | None:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [_PROJECT, *filter(None, [os.environ.get("PYTHONPATH")])]
        )}  # fmt: skip
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "blog.timebox", _name_of(self.target)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=environment,
                cwd=_PROJECT,
            )
        except OSError:
            log.warning("timebox: cannot start a helper process; working unbounded")
            return None
        assert process.stdout is not None
        try:
            ready = _read(process.stdout, time.monotonic() + STARTUP_SECONDS)
        except (TimeoutError, EOFError, ValueError):
            ready = None
        if ready != ["ready", None]:
            process.kill()
            process.wait(timeout=5)
            log.warning("timebox: the helper did not start; working unbounded")
            return None
        self.started += 1
        return process

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
        self._process = None

    def __call__(self, argument: Any) -> Any:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._stop()
                self._process = self._start()
            process = self._process
            if process is None:
                return self.target(argument)
            assert process.stdin is not None and process.stdout is not None
            try:
                _write(process.stdin, argument)
                kind, value = _read(process.stdout, time.monotonic() + self.seconds)
            except TimeoutError:
                kind, value = "late", None
            except (EOFError, OSError, ValueError):
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


if __name__ == "__main__":
    serve(sys.argv[1])

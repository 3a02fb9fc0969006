"""Work for tests/test_render_budget.py's time boxes, importable by the helper process."""

from __future__ import annotations

import time


def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def deep(depth: int) -> int:
    return 0 if depth == 0 else 1 + deep(depth - 1)

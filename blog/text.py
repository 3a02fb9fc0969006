"""Pure text checks shared by every way text comes in (forms, API, CLI, import)."""

from __future__ import annotations

import difflib
import unicodedata


def bad_characters(value: str) -> str | None:
    """Why ``value`` cannot be stored (NUL, control characters, lone surrogates), or None.

    PostgreSQL refuses NUL in text and lone surrogates cannot be encoded; refusing them
    up front gives the person a message instead of a server error.
    """
    for ch in value:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            return "contains an invalid character (a lone surrogate)"
        if ch in "\t\n\r":
            continue
        if code == 0:
            return "contains a NUL character"
        if unicodedata.category(ch) == "Cc":
            return f"contains a control character (U+{code:04X})"
        if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
            # Unicode noncharacters: no text needs them, and XML (the feeds) cannot hold them.
            return f"contains an invalid character (U+{code:04X})"
    return None


def like_pattern(terms: str) -> str:
    """A LIKE pattern (escape character backslash) that finds ``terms`` literally anywhere."""
    escaped = terms.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def line_diff(old: str, new: str, context: int = 3) -> list[tuple[str, str]]:
    """What changed from ``old`` to ``new``, line by line: (kind, line) with kind "same",
    "removed" or "added", and "gap" (with no line) where unchanged lines are left out: only
    ``context`` of them are kept around each change. Nothing changed: no rows."""
    before, after = old.splitlines(), new.splitlines()
    rows: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if rows or group[0][1] > 0:
            rows.append(("gap", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [("same", line) for line in before[i1:i2]]
                continue
            rows += [("removed", line) for line in before[i1:i2]]
            rows += [("added", line) for line in after[j1:j2]]
    return rows

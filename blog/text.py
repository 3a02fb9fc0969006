"""Pure text checks shared by every way text comes in (forms, API, CLI, import)."""

from __future__ import annotations

import difflib
import re
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


_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_QUOTE_MARKERS = re.compile(r"^(?:\s{0,3}>)+")


def markdown_nesting(text: str) -> int:
    """How deeply Markdown text nests lists and quotes, judged line by line: two columns of
    indentation (a tab is four) or one ``>`` make a level. Fenced code is skipped, since
    its indentation is text. A cheap upper bound, read before the renderer, whose
    recursion a few hundred levels would exhaust."""
    deepest = 0
    fence = ""
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        expanded = line.expandtabs(4)
        quotes = _QUOTE_MARKERS.match(expanded)
        levels = quotes.group(0).count(">") if quotes else 0
        rest = expanded[quotes.end() :] if quotes else expanded
        levels += (len(rest) - len(rest.lstrip(" "))) // 2
        deepest = max(deepest, levels)
    return deepest

"""Avatars made here, as inline SVG, so a reader's browser asks no other site for them.

An email's hash gives an identicon: a symmetric 5x5 grid in one colour, the same for the
same email on every page and different from one email to the next (as Gravatar's own
``d=identicon``, without asking Gravatar). A commenter with no email gets their initials.

The SVG uses presentation attributes (``fill``), never ``style=``, so the
Content-Security-Policy (no inline style) lets it through; the avatar is decorative (the
name is printed beside it), so it is hidden from screen readers as the ``<img alt="">`` of
a Gravatar is.

Pure: no Flask, no database.
"""

from __future__ import annotations

import colorsys
import hashlib
from html import escape

__all__ = ["identicon", "initials", "initials_avatar", "local_avatar"]

GRID = 5
MARGIN = 1.5


def _colour(digest: bytes, darkest: float = 0.42) -> str:
    """A colour from the hash: any hue, saturated, its lightness from ``darkest`` up a
    little (dark enough for white initials at 0.3, and to show on the light tile)."""
    hue = int.from_bytes(digest[-2:], "big") / 65536
    saturation = 0.45 + digest[-3] / 255 * 0.25
    lightness = darkest + digest[-4] / 255 * 0.12
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _cells(digest: bytes) -> list[tuple[int, int]]:
    """The filled cells (column, row): the left three columns from 15 bits of the hash,
    mirrored onto the right two."""
    bits = int.from_bytes(digest[:2], "big")
    cells: list[tuple[int, int]] = []
    for column in range((GRID + 1) // 2):
        for row in range(GRID):
            if bits >> (column * GRID + row) & 1:
                cells.append((column, row))
                if column != GRID - 1 - column:
                    cells.append((GRID - 1 - column, row))
    if not cells:  # one chance in 32,768: a blank tile would look like a broken image
        cells.append((GRID // 2, GRID // 2))
    return sorted(cells)


def identicon(email_hash: str, size: int) -> str:
    """The identicon of ``email_hash`` (hex, as ``blog.fragments.avatar_hash`` gives)."""
    digest = hashlib.sha256(email_hash.encode("ascii", "replace")).digest()
    colour = _colour(digest)
    # One path of unit squares: a few hundred bytes per comment rather than 15 elements.
    path = "".join(f"M{c} {r}h1v1h-1z" for c, r in _cells(digest))
    # A margin of 1.5 cells keeps the grid's corners inside the round crop of .avatar.
    box = f"{-MARGIN} {-MARGIN} {GRID + 2 * MARGIN} {GRID + 2 * MARGIN}"
    return (
        f'<svg class="avatar avatar-local" xmlns="http://www.w3.org/2000/svg" '
        f'width="{size}" height="{size}" viewBox="{box}" aria-hidden="true" focusable="false">'
        f'<rect class="avatar-tile" x="{-MARGIN}" y="{-MARGIN}" width="{GRID + 2 * MARGIN}" '
        f'height="{GRID + 2 * MARGIN}" fill="#eef0f3"/>'
        f'<path fill="{colour}" d="{path}"/></svg>'
    )


def initials(name: str) -> str:
    """Up to two letters: the first of the first and last words ("Ada Lovelace": "AL")."""
    words = [word for word in name.split() if word[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def initials_avatar(name: str, size: int) -> str:
    digest = hashlib.sha256(name.strip().lower().encode("utf-8")).digest()
    return (
        f'<svg class="avatar avatar-local" xmlns="http://www.w3.org/2000/svg" '
        f'width="{size}" height="{size}" viewBox="0 0 48 48" '
        'aria-hidden="true" focusable="false">'
        f'<rect width="48" height="48" fill="{_colour(digest, darkest=0.3)}"/>'
        '<text x="24" y="24" dy="0.35em" text-anchor="middle" font-size="19" '
        f'font-family="system-ui, sans-serif" fill="#ffffff">{escape(initials(name))}</text>'
        "</svg>"
    )


def local_avatar(email_hash: str, name: str, size: int) -> str:
    """An identicon for a commenter with an email (its hash), else their initials."""
    if email_hash:
        return identicon(email_hash, size)
    return initials_avatar(name or "Anonymous", size)

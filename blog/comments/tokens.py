"""The comment form's token, for readers who have no session: CSRF defence and time trap.

A reader's post page is the same bytes for everyone (it may come from the page cache or a
CDN), so its form cannot carry a token tied to a session. What it carries instead, in the
field ``csrf_token``, is a signed, time-stamped stamp naming the post: it proves the form
came from this site for this post, and says when it was made (the time trap). Forged
cross-site posts are refused by the request's standard headers, as OWASP recommends: a
browser says where a form comes from (``Sec-Fetch-Site``, ``Origin``) and a page elsewhere
cannot change that; a client that sends neither (a script, an old browser) must still
bring a valid stamp. Logged-in users keep Flask-WTF's session-bound token.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

SALT = "comment-form"
#: How long one page's form keeps working; the page cache renders pages again well before.
MAX_AGE = 7 * 24 * 3600
#: ``Sec-Fetch-Site`` values of requests a page on another site made the browser send.
CROSS_SITE = frozenset({"cross-site", "same-site"})

MISSING = "The form could not be checked (its security token is missing)."
FORGED = "The form could not be checked (its security token is not valid for this post)."
STALE = "The form was open too long and has expired."
CROSS = "Comments can only be sent from this site's own pages."


@dataclass(frozen=True)
class Stamp:
    """A checked token: when its form was made, or why it was refused."""

    issued_at: float | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _SignerAt(TimestampSigner):
    """A signer whose clock reads ``at`` (for a stamp made at a given time)."""

    at = 0

    def get_timestamp(self) -> int:
        return self.at


@lru_cache(maxsize=8)
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue(secret: str, post_id: int, at: float | None = None) -> str:
    """A stamp for the form of ``post_id``, made now (or ``at``, seconds since the epoch)."""
    second = int(time.time() if at is None else at)
    key = (secret, post_id)
    made = _ISSUED.get(key)
    if made is not None and made[0] == second:
        return made[1]
    signer = _signer_at(second)
    stamp = URLSafeTimedSerializer(secret, salt=SALT, signer=signer).dumps(post_id)
    if len(_ISSUED) >= _ISSUED_MAX:
        _ISSUED.clear()
    _ISSUED[key] = (second, stamp)
    return stamp


#: The last stamp made per (secret, post): a stamp names its second, so every page of a
#: post rendered within one second carries the same one; signing it again would make the
#: very same string. Bounded: cleared when it holds this many posts.
_ISSUED: dict[tuple[str, int], tuple[int, str]] = {}
_ISSUED_MAX = 1024


@lru_cache(maxsize=4)
def _signer_at(second: int) -> type[_SignerAt]:
    return type("Signer", (_SignerAt,), {"at": second})


def check(secret: str, token: str | None, post_id: int, now: float | None = None) -> Stamp:
    """Verify a stamp for ``post_id``: signed by us, for this post, younger than MAX_AGE."""
    if not token:
        return Stamp(None, MISSING)
    serializer = _serializer(secret)
    try:
        value, issued = serializer.loads(token, max_age=MAX_AGE, return_timestamp=True)
    except SignatureExpired as expired:
        signed = expired.date_signed
        if signed is not None and signed.timestamp() > (now or time.time()):
            return Stamp(None, FORGED)  # a stamp from the future was not made by this clock
        return Stamp(None, STALE)
    except BadSignature:
        return Stamp(None, FORGED)
    if value != post_id:
        return Stamp(None, FORGED)
    return Stamp(issued.timestamp())


def seconds_since(stamp: Stamp, now: float | None = None) -> float:
    """Seconds between making the form and sending it; 0 when the stamp is not valid, so
    that a missing or forged stamp looks like the fastest bot."""
    if stamp.issued_at is None:
        return 0.0
    return max(0.0, (now or time.time()) - stamp.issued_at)


def _origin(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    if not parts.scheme or not parts.hostname:
        return ""
    port = parts.port
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return f"{parts.scheme}://{parts.hostname}"
    return f"{parts.scheme}://{parts.hostname}:{port}"


def cross_site(headers: Mapping[str, str], own_origins: Iterable[str]) -> bool:
    """Whether the browser says this request was made by a page of another site.

    ``Sec-Fetch-Site: cross-site`` or ``same-site`` (a sibling subdomain is another site for
    a blog), or an ``Origin`` that is not one of ``own_origins`` (``null`` included: sandboxed
    frames and opaque redirects). Neither header: not known to be cross-site.
    """
    fetch_site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
    if fetch_site in CROSS_SITE:
        return True
    origin = headers.get("Origin")
    if origin is None:
        return False
    mine = {_origin(url) for url in own_origins} - {""}
    return _origin(origin) not in mine

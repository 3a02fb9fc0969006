"""The readers' page cache: anonymous pages served as stored bytes, exact after every write.

How a request goes:

1. ``CachedPages`` (WSGI, in front of Flask) decides whether the request is a reader's:
   GET or HEAD, none of the blog's cookies, no query but ``page``/``cpage``. If it is, and
   this process holds the page, it reads the generations of the keys the page was made from
   (one query, ``versions``) and, when none moved and the page has not expired, sends the
   stored bytes (or a 304) without entering Flask: no session, no login, no rate limiter.
2. Otherwise Flask renders. A cacheable view calls ``depends(...)`` with the keys it shows
   *before* reading what they cover, so a write landing meanwhile can only make the page
   look older than its versions (rendered again next time), never newer.
3. ``_finish`` (the last after-request hook) stores a reader's 200 with its ETag and sends
   ``Cache-Control: public``; a response to anyone else (logged in, a commenter with
   cookies, ``?replytocom=``) from a cacheable view gets ``private, no-store``.

Writes bump the keys they make stale (``keys``) inside their transaction (database store)
or right after it (Redis), through session hooks, so no view or template decides staleness.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session
from werkzeug.http import is_resource_modified, quote_etag

from blog import requestlog
from blog.pagecache import keys
from blog.pagecache.store import Entry, PageStore, Variant
from blog.pagecache.versions import DatabaseVersions, RedisVersions, VersionStore

__all__ = [
    "CachedPages",
    "PageCache",
    "depends",
    "init_app",
    "keys",
    "mark_stale",
    "storing",
    "valid_until",
    "varying",
]

log = logging.getLogger(__name__)

ENVIRON_KEY = "blog.page_cache_key"
#: Query arguments a cached page may have; any other makes the request a dynamic one.
CACHEABLE_ARGS = frozenset({"page", "cpage"})
#: Headers never kept with a stored page: they are about one client, not the page.
UNSTORED_HEADERS = frozenset(
    {"set-cookie", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining",
     "x-ratelimit-reset", "x-request-id"}
)  # fmt: skip
NOT_MODIFIED_HEADERS = frozenset({"cache-control", "etag", "last-modified", "vary", "expires"})
STORED_TYPES = ("text/html", "application/atom+xml")
#: Pages smaller than this are kept as they are: gzip would save little on them.
GZIP_FROM_BYTES = 1024


class PageCache:
    """The per-process store, the shared version store, and the rules tying them."""

    def __init__(self, app: Flask, engine: Engine, private_cookies: Iterable[str] = ()) -> None:
        config = app.config
        self.enabled = bool(config["PAGE_CACHE"])
        self.store = PageStore(int(config["PAGE_CACHE_MAX_BYTES"]))
        self.versions = version_store(config, engine)
        self.session: Any = None  # the app's scoped session (init_app)
        self.max_age = float(config["PAGE_CACHE_MAX_AGE"])
        self.gzip = bool(config.get("PAGE_CACHE_GZIP", True))
        s_maxage = int(config.get("PAGE_CACHE_S_MAXAGE") or 0)
        self.cache_control = "public, max-age=0, must-revalidate" + (
            f", s-maxage={s_maxage}" if s_maxage > 0 else ""
        )
        # Any of these cookies means the reader may see something of their own.
        self.cookie_names = tuple(
            f"{name}="
            for name in (
                config.get("SESSION_COOKIE_NAME") or "session",
                config.get("REMEMBER_COOKIE_NAME") or "remember_token",
                *private_cookies,
            )
        )

    # --- deciding ----------------------------------------------------------------------

    def key_for(self, environ: dict[str, Any]) -> str | None:
        """The key of a reader's request (the same bytes for everyone), or None."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        if environ.get("HTTP_AUTHORIZATION"):
            return None
        cookies = environ.get("HTTP_COOKIE")
        if cookies and any(name in cookies for name in self.cookie_names):
            return None  # a substring match errs on the dynamic side, which is always right
        query = environ.get("QUERY_STRING", "")
        if query and not _plain_paging(query):
            return None
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        key = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}"
        return f"{key}?{query}" if query else key

    def versions_in_request(self, names: Sequence[str]) -> tuple[int, ...] | None:
        """The generations of ``names``, read inside a request on the connection its session
        holds (the pool's connection the request already has), not a second one."""
        if self.session is None or not self.versions.transactional:
            return self.versions.read(names)
        return self.versions.read(names, self.session.connection())

    def fresh_entry(self, key: str) -> Entry | _Stale | None:
        """The stored page for ``key`` if it is still exactly what a render would give."""
        entry = self.store.get(key)
        if entry is None:
            self.store.misses += 1
            return None
        versions = self.versions.read(entry.deps)
        if versions is None and not self.versions.transactional:
            # Redis unreachable: writes made meanwhile cannot be seen, so nothing kept so far
            # can be trusted once it is back. Start again.
            self.store.clear()
            self.store.misses += 1
            return None
        if versions is None and self.versions.transactional:
            # The database is unreachable: no page could be made now. The one kept is the
            # best a reader can have until it is back (served marked, see serve_stale).
            self.store.stale_served += 1
            return _Stale(entry)
        if entry.expires > time.time() and versions == entry.versions:
            self.store.hits += 1
            return entry
        self.store.discard(key, entry)
        self.store.misses += 1
        return None

    # --- storing ------------------------------------------------------------------------

    def validate(self, response: Response, render: RenderState) -> None:
        """Give a reader's page its validators and caching headers (ETag, Last-Modified,
        Cache-Control, Vary), kept or not."""
        etag, _ = response.get_etag()
        if not etag:
            # Weak: renders differ only in values that mean the same (a form's stamp), so two
            # workers' copies of a page validate each other.
            varying = [value.encode() for value in render.varying]
            response.set_etag(_digest_without(response.get_data(), varying), weak=bool(varying))
        if response.last_modified is None:
            response.last_modified = datetime.fromtimestamp(int(render.started), UTC)
        response.headers["Cache-Control"] = self.cache_control
        response.vary.add("Cookie")
        if self.enabled and self.gzip:
            response.vary.add("Accept-Encoding")  # a kept page may go out compressed

    def entry_for(self, response: Response, render: RenderState) -> Entry:
        """What is kept of a validated page (``validate`` first)."""
        etag, weak = response.get_etag()
        headers = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in UNSTORED_HEADERS
        )
        assert response.last_modified is not None and etag
        body = response.get_data()
        return Entry(
            body=body,
            headers=headers,
            not_modified_headers=_not_modified(headers),
            etag=etag,
            weak=weak,
            last_modified=response.last_modified,
            deps=tuple(render.deps),
            versions=tuple(render.deps.values()),
            expires=min(render.valid_until, render.started + self.max_age),
            gzipped=self._gzipped(body, headers, etag, weak) if self.gzip else None,
        )

    @staticmethod
    def _gzipped(
        body: bytes, headers: tuple[tuple[str, str], ...], etag: str, weak: bool
    ) -> Variant | None:
        """The page compressed once, when it is kept, for every hit after: a 100 KB post
        page goes out as about a sixth of that. No mtime in it, so workers compress a page
        to the same bytes."""
        if len(body) < GZIP_FROM_BYTES:
            return None
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        if len(packed) >= len(body):
            return None
        tag = f"{etag}-gzip"
        plain = [(n, v) for n, v in headers if n.lower() not in ("content-length", "etag")]
        packed_headers = (
            *plain,
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(packed))),
            ("ETag", quote_etag(tag, weak)),
        )
        return Variant(packed, packed_headers, _not_modified(packed_headers), tag)

    def serve(
        self, entry: Entry | _Stale, environ: dict[str, Any], start_response: Callable
    ) -> list:
        if isinstance(entry, _Stale):
            return self.serve_stale(entry.entry, environ, start_response)
        tag = (requestlog.HEADER, requestlog.request_id(environ))
        sent: Entry | Variant = entry
        if entry.gzipped is not None and _takes_gzip(environ.get("HTTP_ACCEPT_ENCODING")):
            sent = entry.gzipped
        if ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ) and not (
            # If-None-Match compares weakly, as RFC 9110 says for GET.
            is_resource_modified(environ, etag=sent.etag, last_modified=entry.last_modified)
        ):
            start_response("304 Not Modified", [*sent.not_modified_headers, tag])
            return []
        start_response("200 OK", [*sent.headers, tag])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [sent.body]

    def serve_stale(self, entry: Entry, environ: dict[str, Any], start_response: Callable) -> list:
        """A stored page while the database is down: maybe older than the last write, so
        no validator (no 304 on it) and no shared cache may keep it."""
        dropped = {"etag", "last-modified", "cache-control"}
        headers = [(name, value) for name, value in entry.headers if name.lower() not in dropped]
        headers.append(("Cache-Control", "no-store"))
        headers.append((requestlog.HEADER, requestlog.request_id(environ)))
        start_response("200 OK", headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [entry.body]

    # --- bumping ------------------------------------------------------------------------

    def stale(self, session: Session, names: Iterable[str]) -> None:
        """Mark ``names`` stale as part of ``session``'s transaction."""
        names = set(names)
        if not names:
            return
        if self.versions.transactional:
            self.versions.bump_in(session.connection(), sorted(names))
        else:
            keys.mark(session, names)


def _not_modified(headers: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in headers if name.lower() in NOT_MODIFIED_HEADERS)


@lru_cache(maxsize=64)
def _takes_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (named, and not with q=0)."""
    if not accept_encoding:
        return False
    for part in accept_encoding.lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() not in ("gzip", "x-gzip"):
            continue
        quality = "1"
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                quality = value.strip()
        try:
            return float(quality or "1") > 0
        except ValueError:
            return False
    return False


def _digest_without(body: bytes, left_out: Sequence[bytes]) -> str:
    """SHA-1 of ``body`` with every occurrence of the ``left_out`` values taken out, read
    in place (a page is 100 KB; a copy of it would cost more than the hash)."""
    cuts: list[tuple[int, int]] = []
    for value in left_out:
        start = body.find(value)
        while value and start != -1:
            cuts.append((start, start + len(value)))
            start = body.find(value, start + len(value))
    digest = hashlib.sha1(usedforsecurity=False)
    view, position = memoryview(body), 0
    for start, end in sorted(cuts):
        if start >= position:
            digest.update(view[position:start])
        position = max(position, end)
    digest.update(view[position:])
    return digest.hexdigest()


@dataclass(frozen=True)
class _Stale:
    """A stored page handed out while the version store (the database) is unreachable."""

    entry: Entry


@dataclass
class RenderState:
    """What a cacheable view has said about the page it is rendering (in ``g``)."""

    public_key: str | None
    started: float = field(default_factory=time.time)
    deps: dict[str, int] = field(default_factory=dict)
    valid_until: float = float("inf")
    storable: bool = True
    varying: list[str] = field(default_factory=list)


def _plain_paging(query: str) -> bool:
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name not in CACHEABLE_ARGS or not value.isdigit() or len(value) > 7:
            return False
    return True


def version_store(config: Any, engine: Engine) -> VersionStore:
    """Redis when ``CACHE_URL`` (or, when that is empty, ``RATELIMIT_STORAGE_URI``) names
    one, else the database."""
    url = config.get("CACHE_URL") or ""
    if not url:
        limiter = config.get("RATELIMIT_STORAGE_URI") or ""
        url = limiter if limiter.startswith(("redis://", "rediss://")) else "database"
    if url == "database":
        return DatabaseVersions(engine)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisVersions(url)
    raise RuntimeError(f"CACHE_URL must be 'database' or a redis:// URL, not {url!r}.")


class CachedPages:
    """WSGI middleware: answers readers from the store before Flask is entered."""

    def __init__(self, wsgi_app: Callable, cache: PageCache) -> None:
        self.wsgi_app = wsgi_app
        self.cache = cache

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        key = self.cache.key_for(environ)
        if key is not None:
            if self.cache.enabled:
                entry = self.cache.fresh_entry(key)
                if entry is not None:
                    return self.cache.serve(entry, environ, start_response)
            environ[ENVIRON_KEY] = key
        return self.wsgi_app(environ, start_response)


# --- what views call ------------------------------------------------------------------


def _state() -> RenderState:
    state = g.get("page_render")
    if state is None:
        state = g.page_render = RenderState(public_key=request.environ.get(ENVIRON_KEY))
    return state


def storing() -> bool:
    """Whether the page being rendered will be kept for readers (worth bounding its life)."""
    state = _state()
    cache: PageCache | None = current_app.extensions.get("pagecache")
    return state.public_key is not None and cache is not None and cache.enabled


def depends(*names: str) -> None:
    """This page shows what ``names`` cover; call before reading it from the database."""
    state = _state()
    cache: PageCache | None = current_app.extensions.get("pagecache")
    if state.public_key is None or cache is None or not cache.enabled or not state.storable:
        return
    wanted = [name for name in names if name not in state.deps]
    if not wanted:
        return
    versions = cache.versions_in_request(wanted)
    if versions is None:
        state.storable = False
        return
    state.deps.update(zip(wanted, versions, strict=True))


def varying(value: str) -> None:
    """``value`` is in the page but changes from render to render without changing what the
    page means (the comment form's stamp): left out of the ETag, which is then weak."""
    if value:
        _state().varying.append(value)


def valid_until(when: float | None) -> None:
    """This page changes by itself at ``when`` (a post due, comments closing by age)."""
    state = _state()
    if when is not None:
        state.valid_until = min(state.valid_until, when)


def _finish(response: Response) -> Response:
    state: RenderState | None = g.get("page_render")
    if state is None:
        return response
    if state.public_key is None:
        response.headers["Cache-Control"] = "private, no-store"
        return response
    if (
        response.status_code != 200
        or response.direct_passthrough
        or "Set-Cookie" in response.headers
        or session.modified
        or response.mimetype not in STORED_TYPES
    ):
        return response
    cache: PageCache = current_app.extensions["pagecache"]
    cache.validate(response, state)
    if cache.enabled and state.storable and state.deps:
        cache.store.put(state.public_key, cache.entry_for(response, state))
    return response.make_conditional(request)


# --- the session hooks that bump -------------------------------------------------------


def _cache() -> PageCache | None:
    from flask import has_app_context

    return current_app.extensions.get("pagecache") if has_app_context() else None


def _after_flush(session: Session, flush_context: Any) -> None:
    cache = _cache()
    if cache is not None:
        cache.stale(session, keys.keys_for_flush(session))


def _before_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    cache = _cache()
    if cache is None:
        return
    named = state.execution_options.get(keys.EXECUTION_OPTION)
    if named is None:
        statement: Any = state.statement
        table = getattr(statement, "table", None)
        names = [table.name] if table is not None else ["?"]
        values = getattr(statement, "_values", None) or {}
        columns = [getattr(c, "key", str(c)) for c in values]
        named = keys.keys_for_statement(names, columns)
    cache.stale(state.session, named)


def mark_stale(session: Session, names: Iterable[str]) -> None:
    """For writes that go around the session's flush: ``names`` are stale once ``session``
    commits."""
    cache = _cache()
    if cache is not None:
        cache.stale(session, names)


def _after_commit(session: Session) -> None:
    stale = keys.take(session)
    cache = _cache()
    if stale and cache is not None and not cache.versions.transactional:
        cache.versions.bump_after_commit(sorted(stale))


def _after_rollback(session: Session) -> None:
    keys.forget(session)


_HOOKS_LOCK = threading.Lock()


def _register_session_hooks(session: Any) -> None:
    with _HOOKS_LOCK:
        for name, hook in (
            ("after_flush", _after_flush),
            ("do_orm_execute", _before_bulk),
            ("after_commit", _after_commit),
            ("after_rollback", _after_rollback),
        ):
            if not event.contains(session, name, hook):
                event.listen(session, name, hook)


def init_app(
    app: Flask, engine: Engine, session: Any, private_cookies: Iterable[str] = ()
) -> PageCache:
    """Install the cache in front of ``app`` (call before other after-request hooks).

    ``private_cookies`` are the cookies besides the session's and Flask-Login's that make a
    reader's page their own (a held comment shown to its author, remembered details).
    """
    cache = PageCache(app, engine, private_cookies)
    cache.session = session
    app.extensions["pagecache"] = cache
    app.wsgi_app = CachedPages(app.wsgi_app, cache)  # type: ignore[method-assign]
    app.after_request(_finish)
    _register_session_hooks(session)
    return cache

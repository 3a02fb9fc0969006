"""Rendered pages kept in this process: an LRU bounded by the bytes it holds."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

#: Bytes counted per entry on top of its body (key, headers, bookkeeping).
ENTRY_OVERHEAD = 1024


@dataclass(frozen=True)
class Variant:
    """The same page in another encoding (gzip): its bytes and the headers that differ."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    not_modified_headers: tuple[tuple[str, str], ...]
    etag: str  # unquoted; not the plain page's (RFC 9110: one validator per encoding)


@dataclass(frozen=True)
class Entry:
    """One stored page: the bytes to send and what they were made from."""

    body: bytes
    headers: tuple[tuple[str, str], ...]  # everything a 200 carries, Content-Length included
    not_modified_headers: tuple[tuple[str, str], ...]  # what a 304 carries
    etag: str  # unquoted
    weak: bool  # a weak validator (see ``pagecache.varying``)
    last_modified: datetime
    deps: tuple[str, ...]  # the cache keys the page was made from...
    versions: tuple[int, ...]  # ...and their generations, read before rendering
    expires: float  # when it must be rendered again whatever the versions say
    gzipped: Variant | None = None  # for readers whose browser takes gzip
    size: int = field(init=False)

    def __post_init__(self) -> None:
        extra = len(self.gzipped.body) + ENTRY_OVERHEAD if self.gzipped is not None else 0
        object.__setattr__(self, "size", len(self.body) + ENTRY_OVERHEAD + extra)


class PageStore:
    """A thread-safe LRU of entries; the oldest used go first once ``max_bytes`` is held."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.stored = self.evicted = 0
        self.stale_served = 0  # pages handed out while the database was unreachable

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> bool:
        """Keep ``entry``; a page larger than a quarter of the bound is not kept."""
        if entry.size > self.max_bytes // 4:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            self.stored += 1
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
                self.evicted += 1
        return True

    def discard(self, key: str, entry: Entry) -> None:
        """Drop ``entry`` if it is still the one kept under ``key``."""
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
                self._bytes -= entry.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

"""Where the cache keys' generation numbers live, so that every process sees a change.

Two stores with one interface: the database (the default: the ``cache_versions`` table,
bumped inside the writing transaction, so a page can never be newer than its version), and
Redis (``INCR`` right after the commit, before the request that wrote returns). Reading
costs one indexed query (or one ``MGET``) per request: in the WSGI layer, before Flask has
set anything up, on a pooled connection of its own; inside a request, on the connection
its session already holds (``connection``), so that a request never holds two of the
pool's connections at once: twenty threads each waiting for a second one while holding a
first (and a lock the others wait on) would stall the pool until it timed out.

A key never bumped reads as 0. Reads that fail (the store unreachable) return None: the
caller then neither serves nor stores a cached page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from blog.models import CacheVersion
from blog.sqlutil import add_to_counters, driver_sql

log = logging.getLogger(__name__)


class VersionStore(Protocol):
    """What the page cache needs of a store."""

    #: True when bumps happen inside the database transaction (``bump_in``), False when
    #: they happen after the commit (``bump_after_commit``).
    transactional: bool

    def read(
        self, names: Sequence[str], connection: Connection | None = None
    ) -> tuple[int, ...] | None: ...

    def bump_in(self, connection: Connection, names: Sequence[str]) -> None: ...

    def bump_after_commit(self, names: Sequence[str]) -> None: ...


class DatabaseVersions:
    """Generations in the ``cache_versions`` table of the blog's own database."""

    transactional = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        style = engine.dialect.paramstyle
        self._marker = "?" if style == "qmark" else "%s"
        self._sql: dict[int, str] = {}

    def _statement(self, count: int) -> str:
        sql = self._sql.get(count)
        if sql is None:
            # Only placeholders are joined in; the names travel as parameters.
            markers = ", ".join([self._marker] * count)
            sql = self._sql[count] = (
                f"SELECT name, version FROM cache_versions WHERE name IN ({markers})"  # noqa: S608
            )
        return sql

    def read(
        self, names: Sequence[str], connection: Connection | None = None
    ) -> tuple[int, ...] | None:
        if connection is not None:  # inside a request: its session's connection
            found = dict(driver_sql(connection, self._statement(len(names)), tuple(names)))
            return tuple(found.get(name, 0) for name in names)
        # A raw pooled connection: this runs for every cached page served, before Flask.
        try:
            raw = self.engine.raw_connection()
        except Exception:  # noqa: BLE001 - an unreachable database is a miss, not an error
            log.warning("page cache: the database is unreachable; serving uncached")
            return None
        try:
            cursor = raw.cursor()
            cursor.execute(self._statement(len(names)), tuple(names))
            found = dict(cursor.fetchall())
            cursor.close()
        except Exception:  # noqa: BLE001
            log.warning("page cache: could not read versions; serving uncached", exc_info=True)
            raw.invalidate()
            return None
        finally:
            raw.close()  # back to the pool, which ends any read transaction
        return tuple(found.get(name, 0) for name in names)

    def bump_in(self, connection: Connection, names: Sequence[str]) -> None:
        add_to_counters(
            connection, CacheVersion.__table__, "name", "version", dict.fromkeys(names, 1)
        )

    def bump_after_commit(self, names: Sequence[str]) -> None:
        raise AssertionError("database versions are bumped inside the transaction")


class RedisVersions:
    """Generations as Redis integers (``INCR``), for sites that already run Redis.

    Redis unreachable: reads answer None (pages are rendered, not served from the store),
    and a bump that could not be made is owed: it is made before anything else once Redis
    answers again, so a page kept elsewhere from before the write cannot outlive the
    outage by more than the time until this process next talks to Redis. The outage is
    logged when it starts and when it ends.
    """

    transactional = False
    PREFIX = "blog:cache-version:"

    def __init__(self, url: str, client: Any = None) -> None:
        import redis

        self.url = url
        self.client = client or redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._owed: set[str] = set()
        self._lock = threading.Lock()
        self.down = False

    def _failed(self, what: str) -> None:
        if not self.down:
            self.down = True
            log.error("page cache: Redis is unreachable (%s); rendering every page", what)

    def _pay(self) -> bool:
        """Make the bumps owed from an outage; False when Redis still does not answer."""
        with self._lock:
            owed = sorted(self._owed)
            if not owed:
                return True
            try:
                pipe = self.client.pipeline(transaction=False)
                for name in owed:
                    pipe.incr(self.PREFIX + name)
                pipe.execute()
            except Exception:  # noqa: BLE001
                self._failed("bumping")
                return False
            self._owed.difference_update(owed)
            return True

    def read(
        self, names: Sequence[str], connection: Connection | None = None
    ) -> tuple[int, ...] | None:
        if self._owed and not self._pay():
            return None
        try:
            values = self.client.mget([self.PREFIX + name for name in names])
        except Exception:  # noqa: BLE001
            self._failed("reading")
            return None
        if self.down:
            self.down = False
            log.warning("page cache: Redis answers again")
        return tuple(int(value) if value is not None else 0 for value in values)

    def bump_in(self, connection: Connection, names: Sequence[str]) -> None:
        raise AssertionError("Redis versions are bumped after the commit")

    def bump_after_commit(self, names: Sequence[str]) -> None:
        # The write is committed whatever happens here; what cannot be bumped now is owed.
        with self._lock:
            self._owed.update(names)
        self._pay()

"""Small SQL helpers shared by the services and the page cache."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError


@cache
def _upsert_add(dialect: str, table: Table, key: str, column: str) -> Prepared:
    """INSERT a row, or add its value to the existing one (prepared once: every comment and
    every moderation runs it)."""
    insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
    return Prepared(
        insert.values({key: bindparam(key), column: bindparam(column)}).on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={column: table.c[column] + insert.excluded[column]},
        )
    )


def add_to_counters(
    connection: Any, table: Table, key: str, column: str, deltas: Mapping[Any, int]
) -> None:
    """``column += delta`` for the row of each key in ``deltas``; a missing row is created
    holding its delta. One statement (an upsert) on SQLite and PostgreSQL.

    Rows are written in the order of their keys, so two transactions touching the same rows
    (an approval: pending then approved; an unapproval: approved then pending) lock them in
    the same order and cannot deadlock each other on PostgreSQL.
    """
    rows = [{key: name, column: delta} for name, delta in sorted(deltas.items()) if delta]
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        upsert = _upsert_add(dialect, table, key, column)
        for row in rows:
            upsert.execute(connection, **row)
        return
    for row in rows:  # other backends: update, else insert
        updated = connection.execute(
            table.update()
            .where(table.c[key] == row[key])
            .values({column: table.c[column] + row[column]})
        )
        if not updated.rowcount:
            connection.execute(table.insert().values(row))


@cache
def _insert_or_nothing(dialect: str, table: Table) -> Any:
    insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
    # RETURNING says whether the row went in (psycopg reports no rowcount for this insert).
    return insert.on_conflict_do_nothing().returning(*table.primary_key.columns)


def insert_if_absent(connection: Any, table: Table, row: Mapping[str, Any]) -> bool:
    """INSERT ``row`` unless its key is taken (by another transaction too); whether it went
    in. One statement, no savepoint, on SQLite and PostgreSQL."""
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        inserted = connection.execute(_insert_or_nothing(dialect, table), dict(row)).first()
        return inserted is not None
    try:  # other backends: a savepoint around a plain insert
        with connection.begin_nested():
            connection.execute(table.insert().values(dict(row)))
    except IntegrityError:
        return False
    return True


# --- prepared statements: the hot paths' queries without SQLAlchemy's per-call work ---------


@dataclass(frozen=True)
class _Compiled:
    """A statement as one dialect's driver takes it."""

    sql: str
    positions: tuple[str, ...] | None  # bind names in order (qmark, format); None: by name
    defaults: dict[str, Any]  # values written into the statement (a status compared with)
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # type conversions of bound values
    results: tuple[Callable[[Any], Any] | None, ...]  # type conversions of result columns
    converts: bool  # whether any result column needs converting


class Prepared:
    """A Core statement compiled once per dialect into the driver's own SQL, and run on the
    driver's cursor of the SQLAlchemy connection it is given.

    A reader's page and a comment POST run a dozen statements each. Through
    ``Connection.execute`` each costs about 50 µs of SQLAlchemy's own work (cache key,
    parameter processing, result metadata) for 5-15 µs in SQLite; here it is the driver's
    call and the type conversions the statement's columns ask for (enums, UTC times), as
    ``Connection.execute`` would apply them. It runs in that connection's transaction (the
    session's); errors come out as SQLAlchemy's (``OperationalError`` and the rest), so
    outage handling sees them as it sees any.

    No SQLAlchemy event sees these statements: a write through here must be to a table
    readers never see, or its caller marks the pages it makes stale
    (``pagecache.mark_stale``), as ``comments.store_new`` does.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        columns = getattr(statement, "selected_columns", None)
        names = list(columns.keys()) if columns is not None else []
        self.Row = namedtuple("Row", names, rename=True) if names else None  # noqa: PYI024

    def _compiled(self, dialect: Any) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Any) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("an IN with a list of values cannot be prepared once")
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Python-side column defaults are computed per execution by SQLAlchemy only.
            missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"give every column a value; these have defaults: {missing}")
        # The values written in the statement itself (``status == APPROVED`` binds one).
        defaults = {
            name: bind.effective_value
            for bind, name in compiled.bind_names.items()
            if not bind.required
        }
        binds = tuple(
            (name, process) for name, process in compiled._bind_processors.items() if process
        )
        results = tuple(
            entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns
        )
        return _Compiled(
            sql=compiled.string,
            positions=tuple(compiled.positiontup) if compiled.positional else None,
            defaults=defaults,
            binds=binds,
            results=results,
            converts=any(results),
        )

    def _run(self, connection: Any, params: Mapping[str, Any], fetch: str) -> Any:
        """Run with ``params``: every row (``all``), the first (``one``), or the rowcount."""
        compiled = self._compiled(connection.dialect)
        values = {**compiled.defaults, **params}
        try:
            for name, process in compiled.binds:
                if name in values:
                    values[name] = process(values[name])
        except Exception as exc:  # noqa: BLE001 - as SQLAlchemy reports a value it cannot bind
            raise StatementError(str(exc), compiled.sql, dict(params), exc) from exc
        args: Any = (
            tuple(values[name] for name in compiled.positions)
            if compiled.positions is not None
            else values
        )
        found = driver_sql(connection, compiled.sql, args, fetch)
        return found if fetch == "rows" else self._convert(found, compiled)

    @staticmethod
    def _convert(rows: list[Any], compiled: _Compiled) -> list[Any]:
        if compiled.converts:
            processors = compiled.results
            rows = [
                tuple(
                    process(value) if process is not None else value
                    for process, value in zip(processors, row, strict=True)
                )
                for row in rows
            ]
        return rows

    def rows(self, connection: Any, **params: Any) -> list[Any]:
        """Every row, as named tuples."""
        make = self.Row._make  # type: ignore[union-attr]
        return [make(row) for row in self._run(connection, params, "all")]

    def first(self, connection: Any, **params: Any) -> Any:
        """The first row as a named tuple, or None."""
        rows = self._run(connection, params, "one")
        return self.Row._make(rows[0]) if rows else None  # type: ignore[union-attr]

    def scalar(self, connection: Any, **params: Any) -> Any:
        """The first column of the first row, or None."""
        rows = self._run(connection, params, "one")
        return rows[0][0] if rows else None

    def execute(self, connection: Any, **params: Any) -> int:
        """Run a write; how many rows it touched."""
        return self._run(connection, params, "rows")


def driver_sql(connection: Any, sql: str, args: Any, fetch: str = "all") -> Any:
    """Run the driver's own ``sql`` in ``connection``'s transaction: every row (``all``),
    at most the first (``one``), or how many rows a write touched (``rows``).

    On the driver's cursor, unless statement events are listened to (query counts and
    plans in the tests, a query log): then through ``exec_driver_sql``, which they see.
    Errors come out as SQLAlchemy's, the connection invalidated when it is gone.
    """
    if _watched(connection):
        result = connection.exec_driver_sql(sql, args)
        if fetch == "rows":
            return result.rowcount
        rows = result.fetchall() if fetch == "all" else result.fetchmany(1)
        result.close()
        return rows
    raw = connection.connection  # the connection has begun its transaction (autobegin)
    cursor = raw.driver_connection.cursor()
    try:
        cursor.execute(sql, args)
        if fetch == "rows":
            return cursor.rowcount
        return cursor.fetchall() if fetch == "all" else cursor.fetchmany(1)
    except connection.dialect.loaded_dbapi.Error as exc:
        _reraise(connection, raw, cursor, sql, args, exc)
    finally:
        cursor.close()


def _watched(connection: Any) -> bool:
    """Whether statement events are listened to on this connection or its engine."""
    return getattr(connection, "_has_events", True) or getattr(
        connection.engine, "_has_events", True
    )


def _reraise(connection: Any, raw: Any, cursor: Any, sql: str, args: Any, exc: Exception) -> None:
    """Raise ``exc`` as SQLAlchemy would have: wrapped in its exception class, and the
    connection invalidated when the error says it is gone."""
    dialect = connection.dialect
    disconnect = dialect.is_disconnect(exc, raw.driver_connection, cursor)
    if disconnect:
        connection.invalidate(exc)
    raise DBAPIError.instance(
        sql,
        args,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
    ) from exc

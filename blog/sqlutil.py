"""Small SQL helpers shared by the services and the page cache."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError


@cache
def _upsert_add(dialect: str, table: Table, key: str, column: str) -> Any:
    """INSERT a row, or add its value to the existing one (built once: writes run it often)."""
    insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
    return insert.on_conflict_do_update(
        index_elements=[table.c[key]], set_={column: table.c[column] + insert.excluded[column]}
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
        connection.execute(_upsert_add(dialect, table, key, column), rows)
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

"""INSERT … ON CONFLICT for both engines (SQLite and PostgreSQL share the syntax, not the construct)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _insert(connection: Connection, table: Table):  # type: ignore[no-untyped-def]
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignoring_duplicates(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(_insert(connection, table).on_conflict_do_nothing(), rows)


def upsert(connection: Connection, table: Table, row: dict[str, Any], keys: list[str],
           newer_by: str | None = None) -> None:
    """Insert ``row`` or update the one with its ``keys``; with ``newer_by`` (a column), a stored row whose value
    there is later than the new one's is kept as it is."""
    statement = _insert(connection, table).values(row)
    updates = {name: statement.excluded[name] for name in row if name not in keys}
    where = None if newer_by is None else table.c[newer_by] <= statement.excluded[newer_by]
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates, where=where))

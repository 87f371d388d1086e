"""The hot bulk statements of the group-commit writer, compiled once and run as one DBAPI ``executemany``.

Each MeterValues writes about seven rows (both raw frames, three readings, the session's progress, the charger's
last-seen time). Through ``Connection.execute`` SQLAlchemy builds an execution context and runs every value of
every row through its type's bind processor, once per batch: about a third of the writer's time. Here the
statement is compiled once per dialect (the same SQL SQLAlchemy would send, casts and quoting included) and each
row is turned into the driver's parameters with the very same bind processors (``UtcDateTime``, ``ExactDecimal``,
JSON), applied only to the columns that have one, so what is stored is identical. Rows with other keys than the
first one (never the case for the rows ``writes`` builds) take SQLAlchemy's own path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Insert, Update

_Processor = Callable[[Any], Any]


class _Plan:
    """One statement compiled for one dialect and one set of row keys."""

    def __init__(self, statement: Insert | Update, table: Table, keys: tuple[str, ...], dialect: Dialect,
                 key: str | None):
        # As Connection.execute compiles it for an executemany of rows with these keys.
        compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
        self.sql = compiled.string
        self.positional = bool(dialect.positional)
        # The parameter names in the order the driver wants them (positional) or by name (pyformat).
        names: Sequence[str] = (compiled.positiontup or []) if self.positional else list(compiled.binds)
        # False when SQLAlchemy would add something of its own (a column default for a key the rows lack).
        self.exact = set(names) == set(keys)
        self.names = tuple(names)
        columns = table.columns

        def processor(name: str) -> _Processor | None:
            column = columns[key if name == "_key" and key is not None else name]
            return column.type.dialect_impl(dialect).bind_processor(dialect)

        self.processors = tuple((i, p) for i, name in enumerate(self.names) if (p := processor(name)) is not None)
        self.get = itemgetter(*self.names) if len(self.names) > 1 else (lambda row, _n=self.names[0]: (row[_n],))

    def parameters(self, rows: list[dict[str, Any]]) -> list[Any]:
        get, processors = self.get, self.processors
        out: list[Any] = []
        if self.positional:
            for row in rows:
                values = list(get(row))
                for i, process in processors:
                    values[i] = process(values[i])
                out.append(values)
            return out
        names = self.names
        for row in rows:
            values = list(get(row))
            for i, process in processors:
                values[i] = process(values[i])
            out.append(dict(zip(names, values, strict=True)))
        return out


class BulkStatement:
    """``INSERT`` (optionally ``ON CONFLICT DO NOTHING``) or ``UPDATE … WHERE key = :_key`` for many rows.

    ``last_per_key``: rows updating the same key keep only the last one (the earlier ones would be overwritten
    in the same transaction anyway)."""

    def __init__(self, table: Table, *, update_key: str | None = None, ignore_duplicates: bool = False,
                 last_per_key: bool = False):
        self._table = table
        self._update_key = update_key
        self._ignore_duplicates = ignore_duplicates
        self._last_per_key = last_per_key
        self._plans: dict[tuple[int, tuple[str, ...]], _Plan] = {}

    def _statement(self, dialect: Dialect) -> Insert | Update:
        table = self._table
        if self._update_key is not None:
            return update(table).where(table.c[self._update_key] == bindparam("_key"))
        if self._ignore_duplicates:
            module = postgresql if dialect.name == "postgresql" else sqlite
            return module.insert(table).on_conflict_do_nothing()
        return insert(table)

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        plan = self._plans.get((id(dialect), keys))
        if plan is None:
            plan = _Plan(self._statement(dialect), self._table, keys, dialect, self._update_key)
            self._plans[(id(dialect), keys)] = plan
        return plan

    def __call__(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._last_per_key:
            rows = list({row["_key"]: row for row in rows}.values())
        keys = tuple(rows[0])
        shape = rows[0].keys()
        plan = self._plan(connection.dialect, keys)
        if not plan.exact or any(row.keys() != shape for row in rows):  # defaults, or rows of several shapes
            connection.execute(self._statement(connection.dialect), rows)
            return
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(plan.sql, plan.parameters(rows))
        finally:
            cursor.close()

"""Transaction ids from blocks reserved in the database (hi/lo), so no CALL waits on a sequence round trip.

Ids stay unique across restarts and across gateway nodes sharing one database; a crash only skips the rest
of a block. OCPP 1.6 transactionId is an int32, so blocks never cross 2**31 − 1.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select, update

from . import schema
from .upsert import insert_ignoring_duplicates

INT32_MAX = 2**31 - 1
_COUNTER = "transaction_id"


class TransactionIdAllocator:
    def __init__(self, engine: Engine, block_size: int = 100):
        self._engine = engine
        self._block = block_size
        self._next = 0
        self._limit = 0
        self._lock = threading.Lock()

    def reserve(self) -> None:
        """Reserve a fresh block (blocking; call from a thread or at start-up)."""
        counters = schema.counters
        with self._engine.begin() as connection:
            insert_ignoring_duplicates(connection, counters, [{"name": _COUNTER, "value": 0}])
            if connection.dialect.name == "postgresql":
                connection.execute(select(counters.c.value).where(counters.c.name == _COUNTER).with_for_update())
            connection.execute(
                update(counters).where(counters.c.name == _COUNTER).values(value=counters.c.value + self._block)
            )
            top = connection.execute(select(counters.c.value).where(counters.c.name == _COUNTER)).scalar_one()
        if top > INT32_MAX:
            raise OverflowError("OCPP 1.6 transaction ids are exhausted (int32)")
        with self._lock:
            self._next, self._limit = top - self._block + 1, top + 1

    @property
    def remaining(self) -> int:
        return self._limit - self._next

    def allocate(self) -> int:
        with self._lock:
            if self._next < self._limit:
                value = self._next
                self._next += 1
                return value
        self.reserve()
        return self.allocate()

"""Engines for the embedded default (SQLite, WAL) and production (PostgreSQL), and schema migrations."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

DEFAULT_DB = "sqlite:///chargewatch.db"


def normalise_url(url: str) -> str:
    """Accept the plain URLs operators write (postgresql://…) and pick our drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def database_url(explicit: str | None = None) -> str:
    return normalise_url(explicit or os.environ.get("CHARGEWATCH_DB") or DEFAULT_DB)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit we acknowledged survives power loss, not only a process crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _ensure_sqlite_directory(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return True


def create_db_engine(url: str, *, pool_size: int = 8) -> Engine:
    url = normalise_url(url)
    if _ensure_sqlite_directory(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


def create_single_use_engine(url: str) -> Engine:
    """An engine without pooling, for one-off CLI work and migrations."""
    url = normalise_url(url)
    engine = create_engine(url, poolclass=NullPool)
    if _ensure_sqlite_directory(url):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("chargewatch.store").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema up to date (idempotent; safe on every start).

    Each domain (billing, faults, feedback) has its own migration branch off the backbone, so "heads".
    """
    command.upgrade(alembic_config(url), "heads")

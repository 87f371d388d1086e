"""Alembic environment: runs migrations on the URL chargewatch passes in."""

from __future__ import annotations

from alembic import context

from chargewatch.store.database import create_single_use_engine
from chargewatch.store.schema import metadata

config = context.config


def run_migrations_online() -> None:
    engine = create_single_use_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

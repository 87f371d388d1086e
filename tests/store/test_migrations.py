"""The migrations create exactly the schema the code declares, on both engines."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chargewatch.store.database import create_single_use_engine, migrate
from chargewatch.store.schema import metadata


def test_migrations_match_the_declared_tables(db_url):
    migrate(db_url)
    migrate(db_url)  # a second run is a no-op
    engine = create_single_use_engine(db_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == []

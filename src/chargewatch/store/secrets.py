"""The instance secret (signs driver links): $CHARGEWATCH_SECRET, else generated once and kept in the database."""

from __future__ import annotations

import os
import secrets

from sqlalchemy import Engine, select

from . import schema
from .upsert import insert_ignoring_duplicates

_KEY = "instance_secret"


def instance_secret(engine: Engine) -> bytes:
    configured = os.environ.get("CHARGEWATCH_SECRET")
    if configured:
        return configured.encode()
    with engine.begin() as connection:
        insert_ignoring_duplicates(connection, schema.settings, [{"key": _KEY, "value": secrets.token_hex(32)}])
        value = connection.execute(select(schema.settings.c.value).where(schema.settings.c.key == _KEY)).scalar_one()
    return value.encode()

"""`chargewatch chargers site` sets the site that groups a site's outages into one incident."""

from __future__ import annotations

from sqlalchemy import create_engine

from chargewatch.cli import main
from chargewatch.store.faults import charger_sites


def sites(url: str) -> dict[str, str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return charger_sites(connection)
    finally:
        engine.dispose()


def test_chargers_site_sets_and_clears_the_site(sqlite_url, capsys):
    assert main(["chargers", "add", "CP-SITE-1", "--db", sqlite_url]) == 0
    assert main(["chargers", "site", "CP-SITE-1", "depot-north", "--db", sqlite_url]) == 0
    assert sites(sqlite_url) == {"CP-SITE-1": "depot-north"}
    assert main(["chargers", "site", "CP-SITE-1", "--none", "--db", sqlite_url]) == 0
    assert sites(sqlite_url) == {"CP-SITE-1": None}
    assert "CP-SITE-1: site (none)" in capsys.readouterr().out


def test_chargers_site_of_an_unknown_charger_fails_with_its_name(sqlite_url, capsys):
    assert main(["chargers", "site", "NOPE-1", "depot", "--db", sqlite_url]) == 2
    assert "charger NOPE-1 not found" in capsys.readouterr().err

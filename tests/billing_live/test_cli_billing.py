"""`chargewatch tariffs …` and `chargewatch invoices reissue` against the database."""

from __future__ import annotations

import copy
import json

import httpx

from billing_live.live_billing import (
    TOU_IDLE_TARIFF,
    accept_driver_cards,
    idle_and_stop,
    register_berlin_charger,
    start_evening_session,
    wait_for_bill,
)
from chargewatch.cli import main
from chargewatch.runtime import Chargewatch
from conftest import make_options
from helpers import connect, http_url


def test_tariffs_add_stores_versions_and_refuses_an_invalid_file_with_the_field(sqlite_url, tmp_path, capsys):
    path = tmp_path / "tariff.json"
    path.write_text(json.dumps(TOU_IDLE_TARIFF))
    assert main(["tariffs", "add", str(path), "--db", sqlite_url]) == 0
    assert main(["tariffs", "add", str(path), "--db", sqlite_url]) == 0
    assert capsys.readouterr().out.splitlines() == ["tariff TOU-IDLE version 1", "tariff TOU-IDLE version 2"]

    bad = copy.deepcopy(TOU_IDLE_TARIFF)
    bad["elements"][0]["restrictions"]["start_time"] = "7:00"
    path.write_text(json.dumps(bad))
    assert main(["tariffs", "add", str(path), "--db", sqlite_url]) == 2
    assert "elements[0].restrictions.start_time: must be a 24h time HH:MM" in capsys.readouterr().err


def test_tariffs_assign_and_list(sqlite_url, tmp_path, capsys):
    path = tmp_path / "tariff.json"
    path.write_text(json.dumps(TOU_IDLE_TARIFF))
    main(["tariffs", "add", str(path), "--db", sqlite_url])
    assert main(["tariffs", "assign", "TOU-IDLE", "--default", "--db", sqlite_url]) == 0
    assert main(["tariffs", "assign", "TOU-IDLE", "--charger", "CP-1", "--db", sqlite_url]) == 2, "no such charger"
    assert main(["chargers", "add", "CP-1", "--db", sqlite_url]) == 0
    assert main(["tariffs", "assign", "TOU-IDLE", "--charger", "CP-1", "--connector", "2", "--db", sqlite_url]) == 0
    assert main(["tariffs", "assign", "TOU-IDLE", "--db", sqlite_url]) == 2
    assert main(["tariffs", "assign", "MISSING", "--default", "--db", sqlite_url]) == 2
    capsys.readouterr()
    assert main(["tariffs", "list", "--db", sqlite_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("TOU-IDLE\tversion 1\tEUR\t3 elements")
    assert lines[1:] == ["assigned\tdefault\tTOU-IDLE", "assigned\tcharger CP-1 connector 2\tTOU-IDLE"]


async def test_invoices_reissue_credits_the_invoice_in_force_and_issues_a_new_one(sqlite_url, capsys):
    app = Chargewatch(make_options(sqlite_url, accept_unknown=True))
    await app.start()
    accept_driver_cards(app)
    try:
        async with httpx.AsyncClient(base_url=http_url(app), timeout=10) as api:
            await api.post("/api/v1/tariffs", json=TOU_IDLE_TARIFF)
            await register_berlin_charger(api, "BER-CLI")
            cp = await connect(app, "BER-CLI")
            tx = await start_evening_session(cp)
            await idle_and_stop(cp, tx)
            await cp.close()
            first = (await wait_for_bill(api, tx))["invoice_number"]
    finally:
        await app.stop()
    assert main(["invoices", "reissue", str(tx), "--reason", "customer asked", "--db", sqlite_url]) == 0
    assert capsys.readouterr().out.strip() == (
        f"credit note CW-00000002 cancels {first}; new invoice CW-00000003")
    assert main(["invoices", "reissue", "999", "--db", sqlite_url]) == 2

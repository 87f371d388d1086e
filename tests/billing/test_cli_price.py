"""`chargewatch price TARIFF.json CDR.json` through `price_command`."""

import json

from chargewatch.billing.cli_price import price_command

TARIFF = {
    "id": "12", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 20.0, "step_size": 1}],
         "restrictions": {"start_time": "22:00", "end_time": "07:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 20.0, "step_size": 1}]},
    ],
}


def cdr(time_zone: str | None = None) -> dict:
    doc = {
        "start_date_time": "2026-11-25T21:30:00Z",
        "end_date_time": "2026-11-25T23:30:00Z",
        "charging_periods": [{"start_date_time": "2026-11-25T21:30:00Z",
                              "dimensions": [{"type": "ENERGY", "volume": 10}, {"type": "TIME", "volume": 2}]}],
    }
    if time_zone:
        doc["cdr_location"] = {"time_zone": time_zone}
    return doc


def write(tmp_path, name: str, doc: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def test_prints_totals_as_decimal_strings_with_4_decimals(tmp_path, capsys):
    code = price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", cdr()), None)
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.8000"}  # 21:30 UTC is day in UTC
    assert set(out) >= {"total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost",
                        "total_energy", "total_time", "total_parking_time"}
    assert out["total_energy"] == "10.0000"


def test_uses_the_cdr_location_time_zone_before_the_option(tmp_path, capsys):
    code = price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", cdr("Europe/Helsinki")), "UTC")
    assert code == 0
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == "2.0000"  # 23:30 in Helsinki: night


def test_uses_the_timezone_option_when_the_cdr_has_none(tmp_path, capsys):
    price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", cdr()), "Asia/Tokyo")
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == "2.0000"  # 06:30 in Tokyo: night


def test_invalid_tariff_names_file_and_json_path(tmp_path, capsys):
    bad = json.loads(json.dumps(TARIFF))
    bad["elements"][1]["price_components"][0]["step_size"] = "one"
    tariff_path = write(tmp_path, "t.json", bad)
    code = price_command(tariff_path, write(tmp_path, "c.json", cdr()), None)
    err = capsys.readouterr().err
    assert code == 2
    assert tariff_path in err and "elements[1].price_components[0].step_size" in err


def test_invalid_cdr_json_is_reported_with_exit_code_2(tmp_path, capsys):
    cdr_path = write(tmp_path, "c.json", "{not json")
    assert price_command(write(tmp_path, "t.json", TARIFF), cdr_path, None) == 2
    assert cdr_path in capsys.readouterr().err


def test_unknown_cdr_dimension_names_its_path(tmp_path, capsys):
    doc = cdr()
    doc["charging_periods"][0]["dimensions"][1]["type"] = "WATTS"
    assert price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", doc), None) == 2
    assert "charging_periods[0].dimensions[1].type" in capsys.readouterr().err


def test_unknown_time_zone_is_invalid_input(tmp_path, capsys):
    assert price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", cdr()), "Mars/Olympus") == 2
    assert "Mars/Olympus" in capsys.readouterr().err


def test_missing_file_is_invalid_input(tmp_path, capsys):
    assert price_command(str(tmp_path / "absent.json"), write(tmp_path, "c.json", cdr()), None) == 2
    assert "absent.json" in capsys.readouterr().err

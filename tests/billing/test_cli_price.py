"""`chargewatch price [TARIFF.json] CDR.json` through `price_command` and the installed command."""

import json
import subprocess
import sys
from pathlib import Path

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


def test_timezone_option_wins_over_the_cdr_location_time_zone(tmp_path, capsys):
    code = price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", cdr("Europe/Helsinki")), "UTC")
    assert code == 0
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == "4.0000"  # 21:30 in UTC: day


def test_uses_the_cdr_location_time_zone_without_the_option(tmp_path, capsys):
    price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", cdr("Europe/Helsinki")), None)
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == "2.0000"  # 23:30 in Helsinki: night


def with_location(country: str, latitude: str | None = None, longitude: str | None = None) -> dict:
    doc = cdr()
    doc["cdr_location"] = {"country": country}
    if latitude is not None:
        doc["cdr_location"]["coordinates"] = {"latitude": latitude, "longitude": longitude}
    return doc


def test_zone_comes_from_the_country_of_a_one_zone_country(tmp_path, capsys):
    price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", with_location("FIN")), None)
    out = capsys.readouterr()
    assert json.loads(out.out)["total_cost"]["excl_vat"] == "2.0000"  # 23:30 in Helsinki: night
    assert out.err == ""


def test_zone_comes_from_the_coordinates_in_a_country_with_several_zones(tmp_path, capsys):
    doc = with_location("USA", "21.3069", "-157.8583")
    doc["start_date_time"] = doc["charging_periods"][0]["start_date_time"] = "2026-11-26T09:30:00Z"
    doc["end_date_time"] = "2026-11-26T11:30:00Z"
    price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", doc), None)
    out = capsys.readouterr()
    assert json.loads(out.out)["total_cost"]["excl_vat"] == "2.0000"  # 09:30 UTC is 23:30 in Honolulu: night
    assert out.err == ""


def test_falls_back_to_utc_and_says_so_when_the_zone_cannot_be_told(tmp_path, capsys):
    code = price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", with_location("USA")), None)
    out = capsys.readouterr()
    assert code == 0
    assert json.loads(out.out)["total_cost"]["excl_vat"] == "4.0000"
    assert "UTC" in out.err and "--timezone" in out.err


def test_prices_with_the_cdr_embedded_tariff_when_no_tariff_file_is_given(tmp_path, capsys):
    doc = cdr("Europe/Helsinki")
    doc["tariffs"] = [TARIFF]
    assert price_command(None, write(tmp_path, "c.json", doc), None) == 0
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == "2.0000"


def test_a_cdr_without_tariffs_and_no_tariff_file_is_invalid_input(tmp_path, capsys):
    assert price_command(None, write(tmp_path, "c.json", cdr()), "UTC") == 2
    assert "tariffs" in capsys.readouterr().err


def test_ocpi_response_envelopes_are_unwrapped(tmp_path, capsys):
    envelope = {"data": cdr("Europe/Helsinki"), "status_code": 1000, "status_message": "Success",
                "timestamp": "2026-11-26T00:00:00Z"}
    tariff_envelope = {"data": TARIFF, "status_code": 1000, "timestamp": "2026-11-26T00:00:00Z"}
    assert price_command(write(tmp_path, "t.json", tariff_envelope), write(tmp_path, "c.json", envelope), None) == 0
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == "2.0000"


def test_an_ocpi_2_1_1_cdr_gets_one_sentence_not_field_errors(tmp_path, capsys):
    old = {"id": "12345", "start_date_time": "2015-06-29T21:39:09Z", "stop_date_time": "2015-06-29T23:37:32Z",
           "currency": "EUR", "total_cost": 4.00, "charging_periods": []}
    assert price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", old), None) == 2
    assert capsys.readouterr().err.strip().endswith("OCPI 2.1.1 is not supported (this is 2.2.1).")


def test_total_time_is_the_cdr_duration(tmp_path, capsys):
    price_command(write(tmp_path, "t.json", TARIFF), write(tmp_path, "c.json", cdr()), "UTC")
    assert json.loads(capsys.readouterr().out)["total_time"] == "2.0000"


CHARGEWATCH = str(Path(sys.executable).with_name("chargewatch"))


def test_every_option_of_the_price_command_has_a_help_text():
    out = subprocess.run([CHARGEWATCH, "price", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "CDR's own `tariffs`" in out
    assert "IANA time zone" in out


def test_output_into_a_closed_pipe_ends_without_a_traceback(tmp_path):
    doc = cdr("Europe/Helsinki")
    doc["tariffs"] = [TARIFF]
    path = write(tmp_path, "c.json", doc)
    # `chargewatch price … | head -0`: the reader is gone before the first byte is written.
    proc = subprocess.Popen([CHARGEWATCH, "price", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


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

"""settle(): one path from a stored session to its price, for the bill and for the live cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from chargewatch.billing import MeterSample, RepairRule, VerificationStatus, tariff_from_json
from chargewatch.billing.invoice import invoice_from_json
from chargewatch.billing.settlement import Operator, SessionUsage, issue_documents, settle
from chargewatch.sim.ocmf import OcmfSigner

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TARIFF = tariff_from_json({"id": "E30", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19, "step_size": 1}]},
    {"price_components": [{"type": "PARKING_TIME", "price": 2.40, "step_size": 60}]}]})
OPERATOR = Operator("op", "Op GmbH", ("Street 1", "10115 Berlin"), "DE1", "DE", "CWA", "Street 1", "10115",
                    "Berlin", "DEU", "52.5", "13.4", "CW")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def usage(samples: list[tuple[int, int]], *, stop: tuple[int, int] | None, flags: tuple[str, ...] = (),
          signed: tuple[str, ...] = ()) -> SessionUsage:
    return SessionUsage(1, "CP", 1, "TAG", T0, at(stop[0]) if stop else None, 10_000, stop[1] if stop else None,
                        flags, tuple(MeterSample(at(m), wh) for m, wh in samples), signed, "Europe/Berlin")


def test_a_register_reboot_to_zero_is_billed_as_the_sum_of_its_rising_segments():
    result = settle(usage([(10, 14_000), (20, 300), (30, 2_300)], stop=(30, 2_300), flags=("register_reset",)),
                    TARIFF)
    assert not result.needs_review and result.rule is RepairRule.RESET_SUMS_SEGMENTS
    assert result.energy_wh == 4_000 + 300 + 2_000
    assert result.priced is not None and result.priced.total_energy == Decimal("6.3")


def test_a_running_session_is_priced_up_to_its_latest_sample():
    result = settle(usage([(15, 12_000), (30, 14_000)], stop=None), TARIFF)
    assert result.stop == at(30) and result.energy_wh == 4_000
    assert result.priced is not None and result.priced.total_cost.excl_vat == Decimal("1.2000")


def test_a_session_without_meter_data_waits_for_review():
    assert settle(usage([], stop=(30, 0), flags=("no_meter_data",)), TARIFF).needs_review


def test_operator_stated_energy_keeps_the_samples_that_fit_it():
    result = settle(usage([(10, 12_000), (20, 500)], stop=(30, 900), flags=("register_reset",)), TARIFF,
                    stated_energy_wh=5_000)
    assert (result.needs_review, result.rule, result.energy_wh) == (False, RepairRule.OPERATOR_STATED, 5_000)


def test_signed_begin_and_end_matching_the_meter_verify():
    signer = OcmfSigner()
    signed = (signer.sign(register_wh=10_000, at=T0, transaction="B", id_tag="TAG"),
              signer.sign(register_wh=14_000, at=at(30), transaction="E", id_tag="TAG"))
    result = settle(usage([(15, 12_000)], stop=(30, 14_000), signed=signed), TARIFF,
                    public_key=signer.public_key_hex)
    assert (result.needs_review, result.verification) == (False, VerificationStatus.VALID)
    other = OcmfSigner()
    refused = settle(usage([(15, 12_000)], stop=(30, 14_000), signed=signed), TARIFF, public_key=other.public_key_hex)
    assert (refused.needs_review, refused.verification) == (True, VerificationStatus.INVALID)


def test_an_issued_invoice_reads_back_from_its_json():
    session = usage([(15, 12_000), (30, 14_000)], stop=(45, 14_000))
    result = settle(session, TARIFF)
    invoice, cdr = issue_documents(session, result, TARIFF, OPERATOR, number="CW-00000001", issued_at=at(50),
                                   issue_date=at(50).date(), feedback_url="https://example.test/s/1-x")
    assert invoice_from_json(invoice.to_json()).to_json() == invoice.to_json()
    assert cdr["id"] == "CW-00000001" and cdr["cdr_location"]["evse_id"] == "DE*CWA*ECP*1"

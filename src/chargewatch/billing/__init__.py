"""Billing: OCPI 2.2.1 tariffs, pricing, charging periods, CDRs, invoices, signed meter values.

Pure domain code: no I/O, no clock. Times are passed in (aware UTC), money is Decimal, energy integer Wh.
"""

from chargewatch.billing.anomalies import MeterAssessment, MeterFlag, RepairRule, assess_meter
from chargewatch.billing.cdr import (
    CdrLocation,
    CdrToken,
    SessionFacts,
    build_cdr,
    build_credit_cdr,
    cdr_for_pricing,
    cdr_to_json_text,
)
from chargewatch.billing.charging_period import CdrDimension, CdrDimensionType, ChargingPeriod
from chargewatch.billing.invoice import Invoice, InvoiceLine, Party, VatSubtotal, build_invoice, credit_note
from chargewatch.billing.invoice_pdf import render_pdf
from chargewatch.billing.ocmf import OcmfVerification, VerificationStatus, compare_with_meter, verify_ocmf
from chargewatch.billing.periods import MeterSample, MeterSeriesError, build_charging_periods
from chargewatch.billing.price import Price
from chargewatch.billing.pricing import CostCategory, CostLine, PricedSession, price_session
from chargewatch.billing.tariff import (
    PriceComponent,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffValidationError,
    tariff_from_json,
    tariff_to_json,
)

__all__ = [
    "CdrDimension", "CdrDimensionType", "CdrLocation", "CdrToken", "ChargingPeriod", "CostCategory", "CostLine",
    "Invoice", "InvoiceLine", "MeterAssessment", "MeterFlag", "MeterSample", "MeterSeriesError",
    "OcmfVerification", "Party", "Price", "PriceComponent", "PricedSession", "RepairRule", "SessionFacts",
    "Tariff", "TariffDimensionType", "TariffElement", "TariffRestrictions",
    "TariffValidationError", "VatSubtotal", "VerificationStatus", "assess_meter", "build_cdr",
    "build_charging_periods", "build_credit_cdr", "build_invoice", "cdr_for_pricing", "cdr_to_json_text",
    "compare_with_meter", "credit_note", "price_session", "render_pdf", "tariff_from_json", "tariff_to_json",
    "verify_ocmf",
]

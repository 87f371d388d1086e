"""Error catalog: what each fault means for the driver and what the operator should check.

The built-in ``catalog.json`` covers every connector error code of the neutral model (the ChargePointErrorCode
names, which the 2.0.1 adapter maps its NotifyEvent components to), every security event type, the situations the
detector recognises (offline, stalled, aborted, failed start, ...) and a few published vendor
codes. Operators know their own hardware better than we do, so they can lay a JSON file of the
same shape over it; a bad file is refused with the path and the place of the mistake, because a
half-loaded catalog would silently show drivers the wrong advice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from chargewatch.faults.incidents import Incident, IncidentKind, Severity

TEXT_FIELDS = ("title", "driver_message", "driver_steps", "technical", "operator_checklist", "screen_text")
LIST_FIELDS = frozenset({"driver_steps", "operator_checklist"})
# Charger displays are small (and a screen message has no length limit in some versions): keep it to a glance.
SCREEN_TEXT_MAX = 120

SITUATION_BY_KIND: dict[IncidentKind, str] = {
    IncidentKind.CHARGER_OFFLINE: "ChargerOffline",
    IncidentKind.CONNECTION_FLAPPING: "ConnectionFlapping",
    IncidentKind.STALLED_SESSION: "StalledSession",
    IncidentKind.LOW_POWER_SESSION: "LowPowerSession",
    IncidentKind.ABORTED_SESSION: "AbortedSession",
    IncidentKind.FAILED_START: "FailedStart",
    IncidentKind.BOOT_LOOP: "BootLoop",
    IncidentKind.INVALID_TRANSITION: "InvalidTransition",
    IncidentKind.DRIVER_REPORT: "DriverReport",
    IncidentKind.FROZEN_METER: "FrozenMeter",
    IncidentKind.SITE_OFFLINE: "SiteOffline",
    IncidentKind.FIRMWARE_FAILED: "FirmwareUpdateFailed",
}
# The guidance of a security event of a type the catalog has no entry for.
SECURITY_EVENT_FALLBACK = "SecurityEvent"


class CatalogError(ValueError):
    """A catalog document is malformed; the message names the source and the offending path."""


@dataclass(frozen=True)
class Guidance:
    """Advice for one fault in one language (``language`` is the one actually used)."""

    key: str
    vendor_id: str | None
    vendor_error_code: str | None
    language: str
    severity: Severity
    title: str
    driver_message: str
    driver_steps: tuple[str, ...]
    technical: str
    operator_checklist: tuple[str, ...]
    screen_text: str


@dataclass(frozen=True)
class _Entry:
    severity: Severity | None
    texts: Mapping[str, Mapping[str, Any]]


def _parse_entry(raw: Any, where: str, source: str) -> _Entry:
    if not isinstance(raw, dict):
        raise CatalogError(f"{source}: {where} must be an object")
    unknown = set(raw) - {"severity", "texts"}
    if unknown:
        raise CatalogError(f"{source}: {where} has unknown keys {sorted(unknown)}")
    severity: Severity | None = None
    if "severity" in raw:
        try:
            severity = Severity(raw["severity"])
        except ValueError:
            allowed = ", ".join(s.value for s in Severity)
            raise CatalogError(f"{source}: {where}.severity must be one of {allowed}") from None
    texts = raw.get("texts")
    if not isinstance(texts, dict) or not texts:
        raise CatalogError(f"{source}: {where}.texts must be an object with at least one language")
    parsed: dict[str, dict[str, Any]] = {}
    for language, text in texts.items():
        place = f"{where}.texts.{language}"
        if not isinstance(text, dict):
            raise CatalogError(f"{source}: {place} must be an object")
        missing = [name for name in TEXT_FIELDS if name not in text]
        extra = sorted(set(text) - set(TEXT_FIELDS))
        if missing or extra:
            raise CatalogError(f"{source}: {place} is missing {missing} / has unknown {extra}")
        for name in TEXT_FIELDS:
            value = text[name]
            if name in LIST_FIELDS:
                if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                    raise CatalogError(f"{source}: {place}.{name} must be a list of strings")
            elif not isinstance(value, str) or not value.strip():
                raise CatalogError(f"{source}: {place}.{name} must be a non-empty string")
        if len(text["screen_text"]) > SCREEN_TEXT_MAX:
            raise CatalogError(f"{source}: {place}.screen_text is longer than {SCREEN_TEXT_MAX} characters")
        parsed[language] = {name: tuple(text[name]) if name in LIST_FIELDS else text[name] for name in TEXT_FIELDS}
    return _Entry(severity=severity, texts=parsed)


class ErrorCatalog:
    """Guidance entries keyed by OCPP error code or situation, plus vendor codes per vendorId."""

    def __init__(
        self,
        entries: Mapping[str, _Entry],
        vendors: Mapping[str, Mapping[str, _Entry]],
        default_language: str = "en",
    ) -> None:
        self._entries = dict(entries)
        self._vendors = {vendor.casefold(): dict(codes) for vendor, codes in vendors.items()}
        self.default_language = default_language

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<catalog>") -> ErrorCatalog:
        if not isinstance(raw, dict):
            raise CatalogError(f"{source}: the document must be a JSON object")
        if raw.get("version") != 1:
            raise CatalogError(f"{source}: version must be 1, got {raw.get('version')!r}")
        unknown = set(raw) - {"version", "default_language", "entries", "vendors"}
        if unknown:
            raise CatalogError(f"{source}: unknown top-level keys {sorted(unknown)}")
        entries_raw = raw.get("entries", {})
        vendors_raw = raw.get("vendors", {})
        if not isinstance(entries_raw, dict) or not isinstance(vendors_raw, dict):
            raise CatalogError(f"{source}: entries and vendors must be objects")
        entries = {key: _parse_entry(value, f"entries.{key}", source) for key, value in entries_raw.items()}
        vendors: dict[str, dict[str, _Entry]] = {}
        for vendor, codes in vendors_raw.items():
            if not isinstance(codes, dict):
                raise CatalogError(f"{source}: vendors.{vendor} must be an object of codes")
            vendors[vendor] = {
                code: _parse_entry(value, f"vendors.{vendor}.{code}", source) for code, value in codes.items()
            }
        default_language = raw.get("default_language", "en")
        if not isinstance(default_language, str):
            raise CatalogError(f"{source}: default_language must be a string")
        return cls(entries, vendors, default_language)

    @classmethod
    def from_file(cls, path: str | Path) -> ErrorCatalog:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise CatalogError(f"{path}: cannot read catalog file ({error.strerror})") from error
        except json.JSONDecodeError as error:
            raise CatalogError(f"{path}: not valid JSON at line {error.lineno} column {error.colno}") from error
        return cls.from_dict(raw, str(path))

    @classmethod
    def builtin(cls) -> ErrorCatalog:
        return _builtin_catalog()

    def merged_with(self, overlay: ErrorCatalog) -> ErrorCatalog:
        """Lay ``overlay`` over this catalog, language by language: an operator may translate or
        reword one language of one entry and keep the rest."""

        def merge(base: _Entry | None, top: _Entry) -> _Entry:
            if base is None:
                return top
            return _Entry(
                severity=top.severity or base.severity,
                texts={**base.texts, **top.texts},
            )

        entries = dict(self._entries)
        for key, entry in overlay._entries.items():
            entries[key] = merge(entries.get(key), entry)
        vendors = {vendor: dict(codes) for vendor, codes in self._vendors.items()}
        for vendor, codes in overlay._vendors.items():
            target = vendors.setdefault(vendor, {})
            for code, entry in codes.items():
                target[code] = merge(target.get(code), entry)
        return ErrorCatalog(entries, vendors, self.default_language)

    def with_operator_file(self, path: str | Path) -> ErrorCatalog:
        return self.merged_with(ErrorCatalog.from_file(path))

    def with_vendor_dir(self, directory: str | Path) -> ErrorCatalog:
        """Lay every ``*.json`` vendor file of ``directory`` over this catalog (see :func:`vendor_file`)."""
        folder = Path(directory)
        if not folder.is_dir():
            raise CatalogError(f"{folder}: not a directory of vendor catalog files")
        catalog = self
        for path in sorted(folder.glob("*.json")):
            catalog = catalog.merged_with(vendor_file(path))
        return catalog

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._entries)

    def guidance_for(
        self,
        error_code: str,
        vendor_id: str | None = None,
        vendor_error_code: str | None = None,
        lang: str = "en",
    ) -> Guidance:
        """Most specific first: the vendor's code (the first known one of a comma-separated list, as
        EVgo MREC sends concurrent codes), then the OCPP error code or situation, then OtherError."""
        if vendor_id and vendor_error_code:
            codes = self._vendors.get(vendor_id.casefold(), {})
            for code in (part.strip() for part in vendor_error_code.split(",")):
                if code in codes:
                    return self._render(codes[code], f"{vendor_id}:{code}", vendor_id, code, lang)
        entry = self._entries.get(error_code) or self._entries.get("OtherError")
        if entry is None:
            raise CatalogError(f"no guidance for {error_code!r} and no OtherError fallback in the catalog")
        key = error_code if error_code in self._entries else "OtherError"
        return self._render(entry, key, vendor_id, vendor_error_code, lang)

    def guidance_for_incident(self, incident: Incident, lang: str = "en") -> Guidance:
        if incident.kind is IncidentKind.CONNECTOR_ERROR:
            first = incident.evidence[0].data if incident.evidence else {}
            code = incident.code if incident.code and incident.code != "Faulted" else "InternalError"
            guidance = self.guidance_for(code, first.get("vendorId"), first.get("vendorErrorCode"), lang)
            return quote_vendor_words(guidance, first.get("vendorErrorCode"), first.get("info"))
        if incident.kind is IncidentKind.SECURITY_EVENT:
            return self.guidance_for(self._security_key(incident.code or ""), lang=lang)
        return self.guidance_for(SITUATION_BY_KIND[incident.kind], lang=lang)

    def security_severity(self, event_type: str) -> Severity:
        """How serious a security event of this type is (``info``: informational, no incident); the catalog's
        entry for the type, or that of an unknown security event."""
        entry = self._entries.get(self._security_key(event_type))
        return entry.severity if entry is not None and entry.severity is not None else Severity.WARNING

    def _security_key(self, event_type: str) -> str:
        return event_type if event_type in self._entries else SECURITY_EVENT_FALLBACK

    def _render(
        self, entry: _Entry, key: str, vendor_id: str | None, vendor_error_code: str | None, lang: str
    ) -> Guidance:
        candidates = [lang, lang.split("-")[0].split("_")[0], self.default_language, *sorted(entry.texts)]
        language = next(candidate for candidate in candidates if candidate in entry.texts)
        text = entry.texts[language]
        return Guidance(
            key=key,
            vendor_id=vendor_id,
            vendor_error_code=vendor_error_code,
            language=language,
            severity=entry.severity or Severity.WARNING,
            title=text["title"],
            driver_message=text["driver_message"],
            driver_steps=text["driver_steps"],
            technical=text["technical"],
            operator_checklist=text["operator_checklist"],
            screen_text=text["screen_text"],
        )


def quote_vendor_words(guidance: Guidance, vendor_error_code: Any, info: Any) -> Guidance:
    """No catalog entry for the vendor's code: say what the charger said instead of a generic text."""
    if guidance.key.count(":") == 1 and guidance.vendor_id and guidance.key.startswith(f"{guidance.vendor_id}:"):
        return guidance  # the vendor's own entry
    words = [str(part) for part in (vendor_error_code, info) if isinstance(part, str) and part.strip()]
    if not words:
        return guidance
    vendor = f"{guidance.vendor_id} " if guidance.vendor_id else ""
    quoted = f"{vendor}{' — '.join(words)}"
    return replace(guidance, title=f"{guidance.title}: {quoted}",
                   technical=f"Charger reports {quoted}. {guidance.technical}")


def vendor_file(path: str | Path) -> ErrorCatalog:
    """One vendor's error codes: ``{"vendor_id": "ABB", "language": "en", "codes": {"0x1F": {"title": ...,
    "driver_text": ..., "operator_checklist": [...]}}}`` (``vendor_id`` defaults to the file name)."""
    source = str(path)
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"{source}: cannot read vendor catalog ({error.strerror})") from error
    except json.JSONDecodeError as error:
        raise CatalogError(f"{source}: not valid JSON at line {error.lineno} column {error.colno}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("codes"), dict):
        raise CatalogError(f"{source}: must be an object with a codes object")
    vendor = raw.get("vendor_id") or Path(path).stem
    language = raw.get("language", "en")
    if not isinstance(vendor, str) or not isinstance(language, str):
        raise CatalogError(f"{source}: vendor_id and language must be strings")
    codes: dict[str, Any] = {}
    for code, entry in raw["codes"].items():
        where = f"codes.{code}"
        if not isinstance(entry, dict) or set(entry) - {"title", "driver_text", "operator_checklist", "severity"}:
            raise CatalogError(f"{source}: {where} takes title, driver_text, operator_checklist (and severity)")
        title, driver_text = entry.get("title"), entry.get("driver_text")
        checklist = entry.get("operator_checklist", [])
        if not isinstance(title, str) or not title.strip() or not isinstance(driver_text, str) or not driver_text:
            raise CatalogError(f"{source}: {where} needs a title and a driver_text")
        codes[code] = {
            **({"severity": entry["severity"]} if "severity" in entry else {}),
            "texts": {language: {
                "title": title, "driver_message": driver_text, "driver_steps": [],
                "technical": f"{vendor} error {code}: {title}", "operator_checklist": checklist,
                "screen_text": driver_text[:SCREEN_TEXT_MAX],
            }},
        }
    return ErrorCatalog.from_dict({"version": 1, "vendors": {vendor: codes}}, source)


@cache
def _builtin_catalog() -> ErrorCatalog:
    raw = json.loads(resources.files("chargewatch.faults").joinpath("catalog.json").read_text(encoding="utf-8"))
    return ErrorCatalog.from_dict(raw, "chargewatch/faults/catalog.json")


def guidance_for(
    error_code: str,
    vendor_id: str | None = None,
    vendor_error_code: str | None = None,
    lang: str = "en",
    catalog: ErrorCatalog | None = None,
) -> Guidance:
    """Look up guidance in ``catalog`` (the built-in one by default)."""
    return (catalog or ErrorCatalog.builtin()).guidance_for(error_code, vendor_id, vendor_error_code, lang)

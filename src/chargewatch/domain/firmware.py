"""Firmware updates and log uploads in neutral words: what an operator asks of a charger, and how far it got.

An operator's :class:`FirmwareUpdate` (one per charger of a campaign) and :class:`LogRequest` are domain intents;
each OCPP adapter renders them (1.6: UpdateFirmware, or the security extension's SignedUpdateFirmware when the
firmware is signed; GetDiagnostics, or GetLog; 2.0.1: UpdateFirmware and GetLog, always with a requestId). The
charger's progress reports, whatever their version (1.6 FirmwareStatusNotification, the security extension's
SignedFirmwareStatusNotification, 2.0.1 FirmwareStatusNotification), move one charger's update through the
:class:`Phase` of :func:`advance`; a boot reporting the expected firmware version confirms an install. Pure: no
clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Phase(StrEnum):
    """Where one charger's firmware update stands."""

    PENDING = "pending"  # not sent yet (the charger is offline, or it was just created)
    SENT = "sent"  # the charger accepted the request and has not reported progress yet
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"  # (and, when signed, its signature verified)
    INSTALLING = "installing"  # scheduled, installing or rebooting into it
    INSTALLED = "installed"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (Phase.INSTALLED, Phase.FAILED)


# FirmwareStatusEnumType of 1.6 (Core), of the 1.6 security extension and of 2.0.1, by the phase it means.
_PHASE_OF_STATUS: dict[str, Phase] = {
    "Downloading": Phase.DOWNLOADING, "DownloadScheduled": Phase.DOWNLOADING, "DownloadPaused": Phase.DOWNLOADING,
    "Downloaded": Phase.DOWNLOADED, "SignatureVerified": Phase.DOWNLOADED,
    "InstallScheduled": Phase.INSTALLING, "Installing": Phase.INSTALLING, "InstallRebooting": Phase.INSTALLING,
    "Installed": Phase.INSTALLED,
}
# Statuses that end an update as failed: each becomes an incident of the charger.
FAILURE_STATUSES = frozenset({"DownloadFailed", "InstallationFailed", "InvalidSignature",
                              "InstallVerificationFailed"})
# Answers to the request itself that refuse it (2.0.1 UpdateFirmwareStatusEnumType, the 1.6 extension's).
REFUSALS = frozenset({"Rejected", "InvalidCertificate", "RevokedCertificate"})
# Failure reasons chargewatch itself finds.
TIMEOUT = "Timeout"
VERSION_MISMATCH = "FirmwareVersionMismatch"


def advance(phase: Phase, status: str) -> Phase:
    """The phase after the charger reported ``status``. A finished update stays finished, except that a charger
    that failed once may still report success for the same request (a retry of its own). Idle says nothing of
    progress; an unknown status changes nothing."""
    if status in FAILURE_STATUSES:
        return phase if phase is Phase.INSTALLED else Phase.FAILED
    reached = _PHASE_OF_STATUS.get(status)
    if reached is None or phase is Phase.INSTALLED:
        return phase
    if phase is Phase.FAILED and reached is not Phase.INSTALLED:
        return phase
    return reached


def after_boot(phase: Phase, booted_version: str | None, expected_version: str | None) -> tuple[Phase, str | None]:
    """A charger booted during its update (with ``booted_version``): (new phase, failure reason or None).

    A boot while installing (or after Installed) with the campaign's expected version confirms the install; with
    another version, the install did not take (the charger rolled back). Without an expected version, a boot
    after an install is taken as the install's reboot. Earlier phases are not affected (a reboot mid-download)."""
    if phase not in (Phase.INSTALLING, Phase.INSTALLED):
        return phase, None
    if expected_version is not None and booted_version != expected_version:
        return Phase.FAILED, VERSION_MISMATCH
    return Phase.INSTALLED, None


def answer_refuses(response: Mapping[str, object] | None) -> str | None:
    """The refusal in a charger's answer to UpdateFirmware/SignedUpdateFirmware, or None when it took it (the 1.6
    Core answer is empty: accepted)."""
    status = (response or {}).get("status")
    return str(status) if isinstance(status, str) and status in REFUSALS else None


@dataclass(frozen=True)
class Summary:
    """How many of a campaign's chargers are in each phase."""

    total: int
    pending: int
    sent: int
    downloading: int
    downloaded: int
    installing: int
    installed: int
    failed: int
    confirmed: int  # installed and confirmed by the new version in a boot

    @property
    def finished(self) -> bool:
        return self.installed + self.failed == self.total


def summarise(targets: Iterable[tuple[Phase, bool]]) -> Summary:
    """A campaign's progress from its targets' (phase, confirmed) pairs."""
    counts = {phase: 0 for phase in Phase}
    confirmed = total = 0
    for phase, is_confirmed in targets:
        total += 1
        counts[phase] += 1
        confirmed += phase is Phase.INSTALLED and is_confirmed
    return Summary(total=total, confirmed=confirmed, **{phase.value: counts[phase] for phase in Phase})


# ---------------------------------------------------------------- intents the adapters render


@dataclass(frozen=True)
class FirmwareUpdate:
    """Install the firmware at ``location``, fetched from ``retrieve_at`` on. Signed (``signing_certificate``,
    PEM, and ``signature``, base64) per the OCA "Improved security for OCPP 1.6-J" SignedUpdateFirmware and 2.0.1
    UpdateFirmware; ``request_id`` names this update in the charger's progress reports (where they carry it)."""

    request_id: int
    location: str
    retrieve_at: datetime
    install_at: datetime | None = None
    signing_certificate: str | None = None
    signature: str | None = None
    retries: int | None = None
    retry_interval: int | None = None

    def __post_init__(self) -> None:
        if (self.signing_certificate is None) != (self.signature is None):
            raise ValueError("a signed firmware needs both its signing certificate and its signature")

    @property
    def signed(self) -> bool:
        return self.signature is not None


class LogType(StrEnum):
    DIAGNOSTICS = "DiagnosticsLog"
    SECURITY = "SecurityLog"


@dataclass(frozen=True)
class LogRequest:
    """Upload a log to ``location`` (chargewatch's upload endpoint for this request). ``use_get_log``: a 1.6
    charger gets the security extension's GetLog instead of Core GetDiagnostics (a security log always does)."""

    request_id: int
    location: str
    log_type: LogType = LogType.DIAGNOSTICS
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    use_get_log: bool = False


# DiagnosticsStatus (1.6 Core) and UploadLogStatusEnumType (1.6 extension, 2.0.1) → a log request's state.
_LOG_STATE = {"Uploading": "uploading", "Uploaded": "uploaded", "UploadFailed": "failed", "UploadFailure": "failed",
              "BadMessage": "failed", "NotSupportedOperation": "failed", "PermissionDenied": "failed",
              "AcceptedCanceled": "cancelled"}


def log_state(state: str, status: str) -> str:
    """A log request's state after the charger reported ``status`` (Idle: no change). A file already received
    keeps the request ``received`` whatever the charger says afterwards."""
    if state == "received":
        return state
    return _LOG_STATE.get(status, state)

"""Firmware updates and log uploads in OCPP 1.6 words.

A plain firmware is Core UpdateFirmware {location, retrieveDate, retries?, retryInterval?} (no requestId: its
FirmwareStatusNotification names no request either). A signed one is the OCA "Improved security for OCPP 1.6-J"
SignedUpdateFirmware {requestId, firmware{location, retrieveDateTime, installDateTime?, signingCertificate,
signature}, retries?, retryInterval?}, answered by SignedFirmwareStatusNotification with the requestId. A
diagnostics log is Core GetDiagnostics {location, startTime?, stopTime?, retries?, retryInterval?}; a security log
(or a diagnostics log asked with ``use_get_log``) is the extension's GetLog {logType, requestId,
log{remoteLocation, oldestTimestamp?, latestTimestamp?}}.
"""

from __future__ import annotations

from typing import Any

from ...domain.firmware import FirmwareUpdate, LogRequest, LogType
from ...timeutil import format_timestamp
from ..shapes import with_retries


def render_firmware(update: FirmwareUpdate) -> tuple[str, dict[str, Any]]:
    if not update.signed:
        return "UpdateFirmware", with_retries({"location": update.location,
                                           "retrieveDate": format_timestamp(update.retrieve_at)},
                                          update.retries, update.retry_interval)
    firmware: dict[str, Any] = {"location": update.location, "retrieveDateTime": format_timestamp(update.retrieve_at),
                                "signingCertificate": update.signing_certificate, "signature": update.signature}
    if update.install_at is not None:
        firmware["installDateTime"] = format_timestamp(update.install_at)
    return "SignedUpdateFirmware", with_retries({"requestId": update.request_id, "firmware": firmware},
                                            update.retries, update.retry_interval)


def render_log(request: LogRequest) -> tuple[str, dict[str, Any]]:
    if request.log_type is LogType.DIAGNOSTICS and not request.use_get_log:
        payload: dict[str, Any] = {"location": request.location}
        if request.oldest is not None:
            payload["startTime"] = format_timestamp(request.oldest)
        if request.latest is not None:
            payload["stopTime"] = format_timestamp(request.latest)
        return "GetDiagnostics", with_retries(payload, request.retries, request.retry_interval)
    log: dict[str, Any] = {"remoteLocation": request.location}
    if request.oldest is not None:
        log["oldestTimestamp"] = format_timestamp(request.oldest)
    if request.latest is not None:
        log["latestTimestamp"] = format_timestamp(request.latest)
    return "GetLog", with_retries({"logType": request.log_type.value, "requestId": request.request_id, "log": log},
                              request.retries, request.retry_interval)

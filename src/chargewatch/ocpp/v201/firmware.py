"""Firmware updates and log uploads in OCPP 2.0.1 words: UpdateFirmware {requestId, firmware{location,
retrieveDateTime, installDateTime?, signingCertificate?, signature?}, retries?, retryInterval?} and GetLog {logType,
requestId, log{remoteLocation, oldestTimestamp?, latestTimestamp?}, retries?, retryInterval?} (part 2, L01 and N01)."""

from __future__ import annotations

from typing import Any

from ...domain.firmware import FirmwareUpdate, LogRequest
from ...timeutil import format_timestamp
from ..shapes import with_retries


def render_firmware(update: FirmwareUpdate) -> tuple[str, dict[str, Any]]:
    firmware: dict[str, Any] = {"location": update.location, "retrieveDateTime": format_timestamp(update.retrieve_at)}
    if update.install_at is not None:
        firmware["installDateTime"] = format_timestamp(update.install_at)
    if update.signed:
        firmware["signingCertificate"] = update.signing_certificate
        firmware["signature"] = update.signature
    return "UpdateFirmware", with_retries({"requestId": update.request_id, "firmware": firmware},
                                      update.retries, update.retry_interval)


def render_log(request: LogRequest) -> tuple[str, dict[str, Any]]:
    log: dict[str, Any] = {"remoteLocation": request.location}
    if request.oldest is not None:
        log["oldestTimestamp"] = format_timestamp(request.oldest)
    if request.latest is not None:
        log["latestTimestamp"] = format_timestamp(request.latest)
    return "GetLog", with_retries({"logType": request.log_type.value, "requestId": request.request_id, "log": log},
                              request.retries, request.retry_interval)

"""The rules of a firmware update's progress (domain.firmware), with the statuses of OCPP 1.6 FirmwareStatus,
the 1.6 security extension and 2.0.1 FirmwareStatusEnumType, and how each version renders the intents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chargewatch.domain.firmware import (
    FirmwareUpdate,
    LogRequest,
    LogType,
    Phase,
    advance,
    after_boot,
    answer_refuses,
    log_state,
    summarise,
)
from chargewatch.ocpp import v16, v201

AT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def run(*statuses: str, phase: Phase = Phase.SENT) -> Phase:
    for status in statuses:
        phase = advance(phase, status)
    return phase


def test_a_1_6_core_install_runs_download_to_installed() -> None:
    assert run("Downloading") is Phase.DOWNLOADING
    assert run("Downloading", "Downloaded", "Installing") is Phase.INSTALLING
    assert run("Downloading", "Downloaded", "Installing", "Installed", "Idle") is Phase.INSTALLED


def test_2_0_1_and_signed_statuses_have_their_phases() -> None:
    assert run("DownloadScheduled", "DownloadPaused") is Phase.DOWNLOADING
    assert run("Downloaded", "SignatureVerified") is Phase.DOWNLOADED
    assert run("InstallScheduled", "InstallRebooting") is Phase.INSTALLING


@pytest.mark.parametrize("failure", ["DownloadFailed", "InstallationFailed", "InvalidSignature",
                                     "InstallVerificationFailed"])
def test_every_failure_status_fails_the_update_and_later_progress_does_not_revive_it(failure: str) -> None:
    assert run("Downloading", failure) is Phase.FAILED
    assert run("Downloading", failure, "Downloading") is Phase.FAILED


def test_an_installed_update_stays_installed_and_idle_changes_nothing() -> None:
    assert run("Installed", "DownloadFailed") is Phase.INSTALLED
    assert run("Idle") is Phase.SENT
    assert run("NoSuchStatus") is Phase.SENT


def test_a_boot_with_the_expected_version_confirms_another_fails_and_a_boot_mid_download_is_nothing() -> None:
    assert after_boot(Phase.INSTALLING, "2.0.0", "2.0.0") == (Phase.INSTALLED, None)
    assert after_boot(Phase.INSTALLED, "1.0.0", "2.0.0") == (Phase.FAILED, "FirmwareVersionMismatch")
    assert after_boot(Phase.INSTALLED, "1.0.0", None) == (Phase.INSTALLED, None)
    assert after_boot(Phase.DOWNLOADING, "1.0.0", "2.0.0") == (Phase.DOWNLOADING, None)


def test_refusals_of_the_request() -> None:
    assert answer_refuses({}) is None  # 1.6 Core UpdateFirmware.conf is empty
    assert answer_refuses({"status": "Accepted"}) is None
    assert answer_refuses({"status": "InvalidCertificate"}) == "InvalidCertificate"


def test_summary_counts_each_phase_and_the_confirmed_installs() -> None:
    summary = summarise([(Phase.INSTALLED, True), (Phase.INSTALLED, False), (Phase.FAILED, False),
                         (Phase.PENDING, False)])
    assert (summary.total, summary.installed, summary.confirmed, summary.failed, summary.pending) == (4, 2, 1, 1, 1)
    assert not summary.finished
    assert summarise([(Phase.FAILED, False)]).finished


def test_log_states() -> None:
    assert log_state("accepted", "Uploading") == "uploading"
    assert log_state("uploading", "UploadFailed") == "failed"  # 1.6 DiagnosticsStatus
    assert log_state("uploading", "UploadFailure") == "failed"  # UploadLogStatusEnumType
    assert log_state("received", "UploadFailure") == "received"
    assert log_state("accepted", "Idle") == "accepted"


def test_a_signed_firmware_needs_both_certificate_and_signature() -> None:
    with pytest.raises(ValueError):
        FirmwareUpdate(1, "https://fw.example/x.bin", AT, signature="c2ln")


def test_each_version_renders_the_update_and_the_log_request_in_its_words() -> None:
    plain = FirmwareUpdate(7, "https://fw.example/x.bin", AT)
    signed = FirmwareUpdate(7, "https://fw.example/x.bin", AT, signing_certificate="PEM", signature="c2ln")
    assert v16.ADAPTER.render_maintenance(plain).action == "UpdateFirmware"
    assert v16.ADAPTER.render_maintenance(signed).payload["requestId"] == 7
    assert v16.ADAPTER.render_maintenance(signed).action == "SignedUpdateFirmware"
    rendered = v201.ADAPTER.render_maintenance(plain)
    assert (rendered.action, rendered.payload["requestId"], rendered.mapped_from) == ("UpdateFirmware", 7,
                                                                                      "FirmwareUpdate")
    diagnostics = LogRequest(9, "http://127.0.0.1:8080/upload/t/")
    assert v16.ADAPTER.render_maintenance(diagnostics).action == "GetDiagnostics"
    assert v16.ADAPTER.render_maintenance(LogRequest(9, "http://x/u/", use_get_log=True)).action == "GetLog"
    assert v16.ADAPTER.render_maintenance(LogRequest(9, "http://x/u/", LogType.SECURITY)).payload == {
        "logType": "SecurityLog", "requestId": 9, "log": {"remoteLocation": "http://x/u/"}}
    assert v201.ADAPTER.render_maintenance(diagnostics).action == "GetLog"

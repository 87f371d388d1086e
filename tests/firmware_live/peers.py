"""A charger that takes firmware updates and log requests, through the `ocpp` library's 1.6 or 2.0.1 ChargePoint
(which validates our requests against the official schemas, the 1.6 security extension's included).

It answers UpdateFirmware / SignedUpdateFirmware / GetDiagnostics / GetLog as a real charger does (the library
checks the answers too), reports progress in its version's words, reboots with a new firmware version, and uploads
a log by HTTP to the location it was given, as a PUT of the raw file or a multipart/form-data POST.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from peers.chargers import LibraryCharger

DIAGNOSTICS_FILE = "diagnostics.zip"


@dataclass
class FirmwareCharger(LibraryCharger):
    """A LibraryCharger that also takes maintenance requests; ``received`` keeps them as sent."""

    firmware_version: str = "1.0.0"
    refuse_firmware: str | None = None  # answer UpdateFirmware with this status (2.0.1 / signed 1.6)

    async def connect(self) -> None:
        await super().connect()
        answers = self._maintenance_answers()
        for action, answer in answers.items():
            self._cp.route_map[action] = {"_on_action": answer, "_skip_schema_validation": False}

    def _maintenance_answers(self) -> dict[str, Any]:
        status = self.refuse_firmware or "Accepted"
        if self.v201:
            return {"UpdateFirmware": lambda **_: result201.UpdateFirmware(status=status),
                    "GetLog": lambda **_: result201.GetLog(status="Accepted", filename="station.log")}
        return {"UpdateFirmware": lambda **_: result16.UpdateFirmware(),
                "SignedUpdateFirmware": lambda **_: result16.SignedUpdateFirmware(status=status),
                "GetDiagnostics": lambda **_: result16.GetDiagnostics(file_name=DIAGNOSTICS_FILE),
                "GetLog": lambda **_: result16.GetLog(status="Accepted", filename="security.log")}

    def requests(self, *actions: str) -> list[tuple[str, dict[str, Any]]]:
        return [(action, payload) for action, payload in self.received if action in actions]

    async def firmware_status(self, status: str, request_id: int | None = None) -> None:
        """Progress as this charger reports it: 1.6 Core (no request id), the 1.6 security extension's signed
        variant (with one), or 2.0.1 (with one)."""
        if self.v201:
            await self.send(call201.FirmwareStatusNotification(status=status, request_id=request_id))
        elif request_id is not None:
            await self.send(call16.SignedFirmwareStatusNotification(status=status, request_id=request_id))
        else:
            await self.send(call16.FirmwareStatusNotification(status=status))

    async def log_status(self, status: str, request_id: int | None = None) -> None:
        if self.v201:
            await self.send(call201.LogStatusNotification(status=status, request_id=request_id))
        elif request_id is not None:
            await self.send(call16.LogStatusNotification(status=status, request_id=request_id))
        else:
            await self.send(call16.DiagnosticsStatusNotification(status=status))

    async def reboot(self, firmware_version: str) -> None:
        """Come back from the install with a new firmware version in the BootNotification."""
        self.firmware_version = firmware_version
        if self.v201:
            await self.send(call201.BootNotification(
                charging_station={"model": "LIB-201", "vendor_name": "mobilityhouse",
                                  "firmware_version": firmware_version}, reason="FirmwareUpdate"))
        else:
            await self.send(call16.BootNotification(charge_point_vendor="mobilityhouse", charge_point_model="LIB-16",
                                                    firmware_version=firmware_version))

    @staticmethod
    async def upload(location: str, content: bytes, file_name: str, *, multipart: bool) -> httpx.Response:
        """Upload a file the way chargers do over HTTP: PUT to location + file name, or POST multipart."""
        async with httpx.AsyncClient(timeout=20) as client:
            if multipart:
                return await client.post(location, files={"file": (file_name, content, "application/zip")})
            return await client.put(location + file_name, content=content,
                                    headers={"Content-Type": "application/octet-stream"})

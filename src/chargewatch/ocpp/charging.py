"""Smart charging per OCPP version: which package renders a neutral charging profile for a charger's subprotocol
(``ocpp.v16.smart``, ``ocpp.v201.smart``), and the interface both give, chosen per charger as the adapters are
(``ocpp.versions``)."""

from __future__ import annotations

from typing import Any, Protocol

from ..domain.charging import ChargingProfile, CompositeSchedule, Purpose
from .v16 import smart as smart16
from .v201 import smart as smart201

Call = tuple[str, dict[str, Any]]


class ChargingRenderer(Protocol):
    """Smart charging in one version's words: the CALLs, and what their answers mean in neutral terms."""

    version: str
    # The device-model / configuration name that says which rate units the charger takes.
    rate_unit_key: str
    max_stack_level_key: str

    def set_profile(self, profile: ChargingProfile, transaction_ref: str | None) -> Call: ...

    def clear_profile(self, profile_id: int | None, connector_id: int | None = None, purpose: Purpose | None = None,
                      stack_level: int | None = None) -> Call: ...

    def get_composite(self, connector_id: int, duration: int, rate_unit: str | None) -> Call: ...

    def composite_from(self, connector_id: int, response: dict[str, Any]) -> CompositeSchedule: ...

    def get_profiles(self, request_id: int, connector_id: int | None) -> Call: ...

    def read_setting(self, key: str) -> Call: ...

    def setting_from(self, response: dict[str, Any]) -> str | None: ...


RENDERERS: dict[str, ChargingRenderer] = {smart16.VERSION: smart16.RENDERER, smart201.VERSION: smart201.RENDERER}


def renderer_for(subprotocol: str | None) -> ChargingRenderer:
    return RENDERERS.get(subprotocol or "", smart16.RENDERER)

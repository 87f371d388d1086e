"""OCPP 2.0.1 NotifyReport → the station's device model in neutral words.

A report (the answer to GetBaseReport / GetReport) comes in parts: the same ``requestId``, ``seqNo`` 0, 1, …, and
``tbc`` (to be continued) true on every part but the last. Each ``reportData`` names a component (with its instance
and, for EVSE and Connector components, the ``evse`` {id, connectorId} it sits on), a variable, one to four
attributes (Actual, Target, MinSet, MaxSet: value, mutability, persistent, constant) and its characteristics (unit,
dataType, min/maxLimit, valuesList). Every attribute becomes one :class:`ReportedVariable`.

The station's topology is read from its standardized components (OCPP 2.0.1 part 2, appendix 3): an ``EVSE``
component per EVSE, a ``Connector`` component per connector with its ``ConnectorType`` (a ConnectorEnumType value,
e.g. cCCS2, cType2, sType2), and the ``Power`` variable whose ``maxLimit`` (or MaxSet value) is the most the EVSE
or connector can deliver, in W unless its unit says kW.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ...domain.model import (
    ChargerState,
    DeviceModelReported,
    ReportedConnector,
    ReportedVariable,
    ReportProgress,
)
from ...timeutil import parse_timestamp

MAX_REPORTS_TRACKED = 16  # reports in progress remembered per station (a new request pushes the oldest out)
_POWER_UNITS = {"w": 1, "kw": 1000}


def _power_w(variable: ReportedVariable) -> int | None:
    """The most an EVSE or connector delivers, from its ``Power`` variable: maxLimit, else the MaxSet value."""
    factor = _POWER_UNITS.get((variable.unit or "W").lower())
    if factor is None:
        return None
    limit: Any = variable.max_limit
    if limit is None and variable.attribute_type == "MaxSet":
        limit = variable.value
    try:
        watts = Decimal(str(limit)) * factor if limit is not None else None
    except InvalidOperation:
        return None
    return int(watts) if watts is not None and watts.is_finite() and watts > 0 else None


def _variables(item: dict[str, Any]) -> list[ReportedVariable]:
    component, variable = item["component"], item["variable"]
    evse = component.get("evse") or {}
    characteristics = item.get("variableCharacteristics") or {}
    return [ReportedVariable(
        component=component["name"], component_instance=component.get("instance", ""),
        evse_id=evse.get("id", 0), connector_id=evse.get("connectorId", 0),
        variable=variable["name"], variable_instance=variable.get("instance", ""),
        attribute_type=attribute.get("type", "Actual"), value=attribute.get("value"),
        mutability=attribute.get("mutability", "ReadWrite"), persistent=attribute.get("persistent", False),
        constant=attribute.get("constant", False), unit=characteristics.get("unit"),
        data_type=characteristics.get("dataType"), min_limit=characteristics.get("minLimit"),
        max_limit=characteristics.get("maxLimit"), values_list=characteristics.get("valuesList"),
    ) for attribute in item["variableAttribute"]]


def _topology(variables: list[ReportedVariable]) -> tuple[ReportedConnector, ...]:
    """The EVSEs and connectors the report's EVSE and Connector components describe (names are case-insensitive)."""
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for v in variables:
        kind = v.component.lower()
        if kind not in ("evse", "connector") or v.evse_id < 1:
            continue
        key = (v.evse_id, 0) if kind == "evse" else (v.evse_id, v.connector_id or 1)
        entry = found.setdefault(key, {})
        name = v.variable.lower()
        if kind == "connector" and name == "connectortype" and v.attribute_type == "Actual" and v.value:
            entry["connector_type"] = v.value
        elif name == "power" and (watts := _power_w(v)) is not None:
            entry["max_power_w"] = max(watts, entry.get("max_power_w", 0))
    return tuple(ReportedConnector(evse, connector, **values) for (evse, connector), values in sorted(found.items()))


def parse(payload: dict[str, Any], state: ChargerState) -> DeviceModelReported:
    """One NotifyReport part (schema-valid); records the report's progress in ``state``."""
    request_id, seq_no, more = payload["requestId"], payload["seqNo"], bool(payload.get("tbc", False))
    variables = [v for item in payload.get("reportData") or () for v in _variables(item)]
    before = state.reports.get(request_id)
    if before is None:
        progress = ReportProgress(parts=1, last_seq_no=seq_no, sequence_gap=seq_no != 0, complete=not more)
    elif seq_no <= before.last_seq_no:  # re-delivered: its data is stored again (idempotent), nothing counted
        progress = before
    else:
        progress = ReportProgress(parts=before.parts + 1, last_seq_no=seq_no,
                                  sequence_gap=before.sequence_gap or seq_no != before.last_seq_no + 1,
                                  complete=not more)
    state.reports.pop(request_id, None)
    state.reports[request_id] = progress
    while len(state.reports) > MAX_REPORTS_TRACKED:
        del state.reports[next(iter(state.reports))]
    return DeviceModelReported(request_id=request_id, seq_no=seq_no, generated_at=parse_timestamp(
        payload["generatedAt"]), progress=progress, variables=tuple(variables), connectors=_topology(variables))

"""docs/OPERATIONS.md is the one reference of every setting: it must name each CHARGEWATCH_* variable the code
reads and each key the fault settings accept, and its example fault settings must load."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path

from chargewatch.faults.detection import FaultConfig
from chargewatch.workers import billing
from chargewatch.workers.faults import FaultsSettings

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
SOURCE = ROOT / "src" / "chargewatch"


class _Recorder(Mapping[str, str]):
    """An empty environment that remembers every name asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key, default=None):  # type: ignore[no-untyped-def, override]
        self.asked.add(key)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _variables_read() -> set[str]:
    names = set()
    for path in SOURCE.rglob("*.py"):
        names |= set(re.findall(r"CHARGEWATCH_[A-Z0-9]+(?:_[A-Z0-9]+)*(?![_A-Z0-9])", path.read_text(encoding="utf-8")))
    recorder = _Recorder()  # names the billing settings compose from a prefix
    billing.config_from_env(recorder)
    names |= recorder.asked
    return {name for name in names if not name.endswith("_")}


def _documented(name: str) -> bool:
    """Named in full, or as a `_SUFFIX` in the cell of a table row that names its family first."""
    if f"`{name}`" in GUIDE:
        return True
    for row in GUIDE.splitlines():
        if row.startswith("| `CHARGEWATCH_"):
            first = row.split("`")[1]
            family = first.rsplit("_", 1)[0] + "_"
            if name.startswith(family) and f"`_{name[len(family):]}`" in row.split("|")[1]:
                return True
    return False


def test_every_environment_variable_the_code_reads_is_in_the_reference():
    read = _variables_read()
    assert len(read) > 20, read  # the scan found the settings (a broken regex would pass vacuously)
    missing = sorted(name for name in read if not _documented(name))
    assert not missing, f"read by the code, not in docs/OPERATIONS.md: {missing}"


def test_every_fault_detection_threshold_is_in_the_example_and_the_example_loads(monkeypatch):
    monkeypatch.setenv("CHARGEWATCH_SMTP_HOST", "mail.example.com")  # the example's e-mail uses the shared relay
    example = re.search(r"```toml\n(tick_seconds.*?)```", GUIDE, re.S)
    assert example is not None, "the fault settings example is missing"
    raw = tomllib.loads(example.group(1))
    assert {"catalog_file", "vendor_catalog_dir"} <= set(raw)  # the operator's own files: shown, not loaded here
    settings = FaultsSettings.from_dict({k: v for k, v in raw.items() if k not in ("catalog_file",
                                                                                     "vendor_catalog_dir")})
    thresholds = {f.name for f in fields(FaultConfig)}
    assert thresholds - set(raw["detection"]) == set(), "thresholds the example does not show"
    assert settings.remediation is not None and settings.screen is not None and settings.webhooks
    assert settings.detection.rating_w("CP-0002", 1) == 150000


def test_the_guide_s_charger_settings_name_the_measurands_billing_reads():
    for measurand in ("Energy.Active.Import.Register", "Power.Active.Import", "SoC"):
        assert measurand in GUIDE

"""The store persists the neutral model: it imports nothing of the OCPP adapters or the gateway (issue 13)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import chargewatch.store

STORE = Path(chargewatch.store.__file__).parent
FORBIDDEN = ("chargewatch.ocpp", "chargewatch.gateway")


def _imported(path: Path) -> set[str]:
    package = "chargewatch." + ".".join(path.relative_to(STORE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.update([module] + [f"{module}.{alias.name}" for alias in node.names])
    return names


def test_no_store_module_names_ocpp_or_gateway() -> None:
    offenders = {str(path.relative_to(STORE)): sorted(name for name in _imported(path) if name.startswith(FORBIDDEN))
                 for path in sorted(STORE.rglob("*.py"))}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_the_whole_store_loads_neither() -> None:
    script = ("import importlib, pkgutil, sys, chargewatch.store as s\n"
              "for m in pkgutil.iter_modules(s.__path__): importlib.import_module('chargewatch.store.' + m.name)\n"
              f"print(sorted(k for k in sys.modules if k.startswith({FORBIDDEN!r})))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"

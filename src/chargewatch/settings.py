"""Numbers the server reads from its environment, refused with a sentence that names the variable.

``chargewatch`` (``cli_errors.report_errors``) prints a :class:`SettingError` as one line and exits 2, so a typo in
``CHARGEWATCH_LOCAL_LIST_INTERVAL`` says which variable and why instead of ending in a Python traceback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


class SettingError(ValueError):
    """An environment setting is malformed; the message names it."""


def number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0,
           above: bool = False) -> float:
    """``env[name]`` as a finite number ≥ ``minimum`` (> with ``above``); ``default`` when unset or empty."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r}: not a number") from None
    if not math.isfinite(value) or value < minimum or (above and value == minimum):
        raise SettingError(f"{name}={raw!r}: must be {'more than' if above else 'at least'} {minimum:g}")
    return value


def integer(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, above: bool = False) -> int:
    """``env[name]`` as a whole number ≥ ``minimum`` (> with ``above``); ``default`` when unset or empty."""
    value = number(env, name, default, minimum=minimum, above=above)
    if value != int(value):
        raise SettingError(f"{name}={env.get(name, '').strip()!r}: must be a whole number")
    return int(value)

"""OCPP 1.6J adapter (``core``): the charger's messages in, operator commands out.

The gateway picks it for the ``ocpp1.6`` subprotocol (and for a charger that offers none); everything it
returns is the neutral model (``chargewatch.domain.model``), whose names ``v16.ChargerState`` etc. still reach
during the transition.
"""

from __future__ import annotations

from ...domain.model import ChargerBooted  # noqa: F401 - built by the shared accept_boot, still named here
from .core import *  # noqa: F403 - the package is the adapter: every public name of core, as before the move

"""Background parts of the running server that react to live events (invoicing, fault detection, …).

Each domain's shell module exposes ``install(cw)``; it may add API routes to ``cw.app``, listeners to
``cw.bus`` and start/stop hooks with ``cw.on_start`` / ``cw.on_stop``. The runtime calls every installer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime import Chargewatch

Installer = Callable[["Chargewatch"], None]


def installers() -> list[Installer]:
    """The installers of the domains that are built, in start order."""
    from .billing import install as install_billing
    from .dashboard import install as install_dashboard
    from .faults import install as install_faults
    from .feedback import install as install_feedback
    from .firmware import install as install_firmware
    from .local_list import install as install_local_list
    from .pki import install as install_pki
    from .reservations import install as install_reservations
    from .retention import install as install_retention
    from .support import install as install_support

    found: list[Installer] = []
    found.append(install_feedback)
    found.append(install_support)
    found.append(install_billing)
    found.append(install_dashboard)
    found.append(install_faults)
    found.append(install_pki)
    found.append(install_reservations)
    found.append(install_local_list)
    found.append(install_firmware)
    found.append(install_retention)
    return found

"""Support in the running server: the driver/operator conversation routes and the site helplines.

Shares the feedback settings (`cw.app.state.feedback`: its clock), so it is installed after feedback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api.feedback import FeedbackConfig
from ..api.support import support_router

if TYPE_CHECKING:
    from ..runtime import Chargewatch


def install(cw: Chargewatch) -> None:
    config = getattr(cw.app.state, "feedback", None) or FeedbackConfig()
    cw.app.include_router(support_router(cw.engine, cw.bus, cw.services.secret, config))

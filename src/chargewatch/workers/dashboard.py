"""The operator dashboard and the driver page in the running server: pages, static files, login guard.

``CHARGEWATCH_API_LOGIN`` (auto | required | off, see `api.auth`) decides whether the operator JSON API needs a
login too; the live `OperatorAuth` is ``cw.app.state.operator_auth``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fastapi.staticfiles import StaticFiles

from ..api.admin_pages import admin_router
from ..api.auth import INTERNAL_HEADER, OperatorAuth, OperatorGuard, api_login_from_env, is_loopback_only
from ..api.domains import DomainApi
from ..api.history_pages import history_router
from ..api.pages import HERE, pages_router

if TYPE_CHECKING:
    from ..runtime import Chargewatch


def install(cw: Chargewatch) -> None:
    auth = OperatorAuth(cw.engine, cw.services.secret, lambda: cw.gateway.now(),
                        api_login_from_env(os.environ), loopback_only=is_loopback_only(cw.options.host))
    api = DomainApi(cw.app, {INTERNAL_HEADER: auth.internal_key})
    cw.app.state.operator_auth = auth
    cw.app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    cw.app.include_router(pages_router(cw.services, auth, api))
    cw.app.include_router(history_router(cw.services))  # sessions/invoices history, CSV, monthly (issue 15.7)
    cw.app.include_router(admin_router(cw.services))  # the chargers admin pages (api/admin_pages.py)
    cw.app.add_middleware(OperatorGuard, auth=auth)
    cw.on_stop(api.close)

"""Operator accounts and browser sessions: Argon2 passwords, signed session cookies, CSRF tokens, roles.

What needs a login:
- the HTML dashboard (every page but the login form, the driver page ``/s/{token}`` and static files);
- the operator JSON API under ``/api/v1`` according to ``CHARGEWATCH_API_LOGIN``: ``auto`` (default) requires
  a login whenever the server listens beyond loopback, and on loopback as soon as one operator account exists
  (a fresh install is open only to this machine: a request that came through a reverse proxy, one with a
  ``Forwarded``, ``X-Forwarded-For`` or ``X-Real-IP`` header, is not); ``required`` always, ``off`` never
  (e.g. behind an authenticating proxy). A server bound beyond loopback refuses to start while no operator
  account exists (`bind_refusal`). Machine clients authenticate with HTTP Basic (operator name and password);
  browsers with the cookie.
- never: the driver's endpoints (``/api/v1/driver/…``, ``/api/v1/feedback/{token}``: the token is the
  credential), ``/metrics``, ``/healthz``, ``/openapi.json`` and the API documentation.

CSRF: each session has a random token, embedded in every page (``<meta name="csrf-token">`` and hidden form
fields). A state-changing request authenticated by the cookie must echo it (header ``X-CSRF-Token`` or form
field ``csrf_token``); the cookie is also SameSite=Lax and HttpOnly. The login form uses a double-submit token
(cookie + field) because there is no session yet. Basic-authenticated requests need no token: browsers never
attach those credentials on their own, since this server never sends a Basic challenge.

Roles: ``admin`` may change things (acknowledge, resolve, remote actions); ``viewer`` reads only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import math
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from starlette.types import ASGIApp, Receive, Scope, Send

from ..store.operators_tables import login_throttle, operator_sessions, operators
from .errors import PROBLEM_MEDIA_TYPE, problem_body

SESSION_COOKIE = "cw_session"
LOGIN_CSRF_COOKIE = "cw_login_csrf"
CSRF_HEADER = "x-csrf-token"
INTERNAL_HEADER = "x-chargewatch-internal"
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10
DEMO_USERNAME = "admin"
DEMO_PASSWORD = "chargewatch-demo"

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DRIVER_TOKEN = r"\d+-[A-Za-z0-9_-]{22}"
# Paths anyone may use: the driver's (or a charger's upload) token is the credential, the rest is meant for scrapers
# and tools.
_PUBLIC = re.compile(
    r"^/(?:s/|price/|static/|upload/|login$|healthz$|metrics$|openapi\.json$|docs|redoc"
    rf"|api/v1/driver/|api/v1/feedback/{_DRIVER_TOKEN}(?:/|$))"
)
_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class ApiLogin(StrEnum):
    AUTO = "auto"
    REQUIRED = "required"
    OFF = "off"


class AccountError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Operator:
    username: str
    role: Role

    @property
    def may_act(self) -> bool:
        """Only admins change state (acknowledge, resolve, send commands); viewers look."""
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class OperatorSession:
    operator: Operator
    csrf_token: str


# ---------------------------------------------------------------------------------------------- accounts


def put_operator(connection: Connection, username: str, password: str, role: str, now: datetime) -> Operator:
    """Create the account, or set its password and role; a new password ends the account's open sessions."""
    if not _USERNAME.match(username):
        raise AccountError("username", "1-64 letters, digits or . _ @ -, starting with a letter or digit")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("password", f"at least {MIN_PASSWORD_LENGTH} characters")
    try:
        checked = Role(role)
    except ValueError:
        raise AccountError("role", "admin or viewer") from None
    hashed = _hasher.hash(password)
    found = connection.execute(select(operators.c.username).where(operators.c.username == username)).first()
    if found is None:
        connection.execute(insert(operators).values(username=username, password_hash=hashed, role=checked.value,
                                                    created_at=now, password_changed_at=now))
    else:
        connection.execute(update(operators).where(operators.c.username == username).values(
            password_hash=hashed, role=checked.value, password_changed_at=now))
        connection.execute(delete(operator_sessions).where(operator_sessions.c.username == username))
    return Operator(username, checked)


def remove_operator(connection: Connection, username: str) -> bool:
    """Delete the account (its sessions go with it)."""
    connection.execute(delete(operator_sessions).where(operator_sessions.c.username == username))
    return connection.execute(delete(operators).where(operators.c.username == username)).rowcount > 0


def list_operators(connection: Connection) -> list[Operator]:
    rows = connection.execute(select(operators.c.username, operators.c.role).order_by(operators.c.username))
    return [Operator(row.username, Role(row.role)) for row in rows]


def ensure_demo_operator(engine: Engine, now: datetime, password: str = DEMO_PASSWORD) -> tuple[str, str]:
    """The demo's admin account (demo databases only), for the start banner: the well-known password on
    loopback, a fresh random one when the demo listens beyond it (`demo_password`)."""
    with engine.begin() as connection:
        put_operator(connection, DEMO_USERNAME, password, Role.ADMIN, now)
    return DEMO_USERNAME, password


def demo_password(host: str) -> str:
    """The well-known demo password only where nobody else can reach the server."""
    return DEMO_PASSWORD if is_loopback_only(host) else secrets.token_urlsafe(12)


# ---------------------------------------------------------------------------------------------- bind address


def is_loopback_only(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only (every address it resolves to is
    a loopback address; ``0.0.0.0``, ``::`` and the empty host mean every interface)."""
    name = host.strip().strip("[]")
    if not name:
        return False
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(str(address).split("%")[0]).is_loopback for address in found)


def bind_refusal(engine: Engine, host: str) -> str | None:
    """Why a server must not start on ``host`` (None when it may): beyond loopback there must be an operator
    account, or the JSON API and the dashboard would be open to anyone who reaches the port (or to no one)."""
    if is_loopback_only(host):
        return None
    with engine.connect() as connection:
        if connection.execute(select(operators.c.username).limit(1)).first() is not None:
            return None
    return (f"refusing to listen on {host or 'every interface'} without an operator account: the API and the "
            "dashboard need a login beyond loopback. Create an admin first:\n"
            "    chargewatch operators add NAME --role admin [--db URL]\n"
            "or listen on loopback only (--host 127.0.0.1).")


# ---------------------------------------------------------------------------------------------- sessions


FREE_ATTEMPTS = 5  # per account and address before the backoff starts
FREE_ATTEMPTS_PER_ADDRESS = 30  # failures from one address over all accounts (password spraying)
MAX_BACKOFF = timedelta(minutes=5)
THROTTLE_MEMORY = timedelta(hours=1)  # failures older than this are forgotten


def backoff(failures: int, free: int) -> timedelta:
    """0 for the first ``free`` failures, then 1 s, 2 s, 4 s … up to `MAX_BACKOFF`: slows guessing to a few
    tries an hour without ever locking the account (a wait always ends, and only for that address)."""
    if failures <= free:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - free - 1, 20)), MAX_BACKOFF)


@dataclass(frozen=True)
class LoginOutcome:
    operator: Operator | None
    retry_after: int | None = None  # seconds, when the attempt was not even checked


class LoginThrottle:
    """One throttle for HTTP Basic on ``/api`` and the login form, keyed by account and client address, kept in
    the database (`login_throttle`) so every process and node sharing it backs off together.

    An attempt is counted *before* its password is checked (`admit` claims it atomically: an upsert that only
    succeeds while the key is not backing off), so parallel guesses cannot slip through together; a correct
    password then clears the account's count for that address (`settle`).
    """

    def __init__(self, engine: Engine, clock: Callable[[], datetime]):
        self.engine = engine
        self.clock = clock

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return f"{username[:64]}|{client[:100]}", f"*|{client[:100]}"

    def _count(self, connection: Connection, key: str, now: datetime, free: int, *, only_if_open: bool) -> bool:
        t = login_throttle
        module = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = module.insert(t).values(key=key, failures=1, last_failure_at=now, blocked_until=now)
        statement = statement.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"failures": case((t.c.last_failure_at < now - THROTTLE_MEMORY, 1), else_=t.c.failures + 1),
                  "last_failure_at": now},
            where=(t.c.blocked_until <= now) if only_if_open else None,
        ).returning(t.c.failures)
        failures = connection.execute(statement).scalar()
        if failures is None:
            return False
        connection.execute(update(t).where(t.c.key == key).values(blocked_until=now + backoff(failures, free)))
        return True

    def admit(self, username: str, client: str) -> int | None:
        """None if this attempt may check its password (it is counted as a failure until `settle`), else the
        seconds to wait."""
        pair, address = self._keys(username, client)
        now = self.clock()
        t = login_throttle
        with self.engine.connect() as connection:
            if self._count(connection, pair, now, FREE_ATTEMPTS, only_if_open=True):
                blocked = connection.execute(select(t.c.blocked_until).where(
                    t.c.key == address, t.c.blocked_until > now)).scalar()
                if blocked is None:
                    connection.commit()
                    return None
                connection.rollback()  # the address is backing off: this attempt is not made, nor counted
            else:
                blocked = connection.execute(select(t.c.blocked_until).where(t.c.key == pair)).scalar()
                connection.rollback()
        wait = ((blocked or now) - now).total_seconds()
        return max(1, math.ceil(wait))

    def settle(self, username: str, client: str, succeeded: bool) -> None:
        pair, address = self._keys(username, client)
        now = self.clock()
        with self.engine.begin() as connection:
            if succeeded:
                connection.execute(delete(login_throttle).where(login_throttle.c.key == pair))
            else:
                self._count(connection, address, now, FREE_ATTEMPTS_PER_ADDRESS, only_if_open=False)
                connection.execute(delete(login_throttle).where(
                    login_throttle.c.last_failure_at < now - THROTTLE_MEMORY))


# A reverse proxy in front of a loopback-bound server adds one of these: such a request is not from this machine.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


class OperatorAuth:
    """Checks passwords, opens and resolves sessions, and decides what a request may do."""

    def __init__(self, engine: Engine, secret: bytes, clock: Callable[[], datetime],
                 api_login: ApiLogin = ApiLogin.AUTO, *, loopback_only: bool = True):
        self.engine = engine
        self.clock = clock
        self.api_login = api_login
        self.loopback_only = loopback_only
        self.throttle = LoginThrottle(engine, clock)
        self.internal_key = secrets.token_urlsafe(32)  # lets the pages call the domain APIs in-process
        self._key = hmac.new(secret, b"chargewatch operator sessions", hashlib.sha256).digest()
        self._accounts_seen = False

    # -- passwords

    def authenticate(self, username: str, password: str) -> Operator | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(operators).where(operators.c.username == username)).first()
        try:
            _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            with self.engine.begin() as connection:
                connection.execute(update(operators).where(operators.c.username == username).values(
                    password_hash=_hasher.hash(password)))
        return Operator(row.username, Role(row.role))

    def login(self, username: str, password: str, client: str) -> LoginOutcome:
        """A login attempt through the shared throttle (the form and HTTP Basic both come here)."""
        wait = self.throttle.admit(username, client)
        if wait is not None:
            return LoginOutcome(None, wait)
        operator = self.authenticate(username, password)
        self.throttle.settle(username, client, operator is not None)
        return LoginOutcome(operator)

    def basic_login(self, authorization: str, client: str) -> LoginOutcome:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return LoginOutcome(None)
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return LoginOutcome(None)
        return self.login(username, password, client)

    # -- sessions

    def _sign(self, session_id: str) -> str:
        digest = hmac.new(self._key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")  # no "=": cookie values stay unquoted

    @staticmethod
    def _id_hash(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def open_session(self, operator: Operator) -> tuple[str, OperatorSession]:
        """A new session; returns the cookie value (random id + HMAC under the instance secret)."""
        now = self.clock()
        session_id = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            connection.execute(delete(operator_sessions).where(operator_sessions.c.expires_at < now))
            connection.execute(insert(operator_sessions).values(
                id_hash=self._id_hash(session_id), username=operator.username, csrf_token=csrf_token,
                created_at=now, expires_at=now + SESSION_LIFETIME))
            connection.execute(update(operators).where(operators.c.username == operator.username).values(
                last_login_at=now))
        return f"{session_id}.{self._sign(session_id)}", OperatorSession(operator, csrf_token)

    def _session_id(self, cookie: str) -> str | None:
        session_id, _, signature = cookie.partition(".")
        if not session_id or not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        return session_id

    def session_of(self, cookie: str) -> OperatorSession | None:
        session_id = self._session_id(cookie)
        if session_id is None:
            return None
        s, o = operator_sessions, operators
        with self.engine.connect() as connection:
            row = connection.execute(
                select(s.c.csrf_token, s.c.expires_at, o.c.username, o.c.role)
                .join(o, o.c.username == s.c.username)
                .where(s.c.id_hash == self._id_hash(session_id))).first()
        if row is None or row.expires_at <= self.clock():
            return None
        return OperatorSession(Operator(row.username, Role(row.role)), row.csrf_token)

    def close_session(self, cookie: str) -> None:
        session_id = self._session_id(cookie)
        if session_id is not None:
            with self.engine.begin() as connection:
                connection.execute(delete(operator_sessions).where(
                    operator_sessions.c.id_hash == self._id_hash(session_id)))

    # -- policy

    def accounts_exist(self) -> bool:
        """Whether any operator account exists; once seen, remembered (accounts are added from another
        process, the CLI, so a "no" is asked again each time)."""
        if not self._accounts_seen:
            with self.engine.connect() as connection:
                self._accounts_seen = connection.execute(select(operators.c.username).limit(1)).first() is not None
        return self._accounts_seen

    def api_needs_login(self, proxied: bool = False) -> bool:
        """Whether an API request without a login is refused. ``proxied``: it came through a reverse proxy
        (a forwarding header), so from beyond loopback whatever address the server listens on."""
        if self.api_login is ApiLogin.OFF:
            return False
        if self.api_login is ApiLogin.REQUIRED or not self.loopback_only or proxied:
            return True
        return self.accounts_exist()


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def is_public(path: str) -> bool:
    return _PUBLIC.match(path) is not None


def api_login_from_env(env: Mapping[str, str]) -> ApiLogin:
    raw = env.get("CHARGEWATCH_API_LOGIN", "auto").strip().lower() or "auto"
    try:
        return ApiLogin(raw)
    except ValueError:
        raise ValueError(f"CHARGEWATCH_API_LOGIN: {raw!r} is not one of auto, required, off") from None


# ---------------------------------------------------------------------------------------------- middleware


class OperatorGuard:
    """ASGI middleware (not BaseHTTPMiddleware, which would buffer the live event stream).

    Resolves the session cookie into ``request.state.operator_session`` and enforces the rules in the module
    docstring; the page routes check the CSRF field of their own forms, since forms carry it in the body.
    """

    def __init__(self, app: ASGIApp, auth: OperatorAuth):
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        method: str = scope["method"]
        state = scope.setdefault("state", {})
        internal = hmac.compare_digest(headers.get(INTERNAL_HEADER, ""), self.auth.internal_key)
        cookie = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        session = await asyncio.to_thread(self.auth.session_of, cookie) if cookie else None
        state["operator_session"] = session
        if is_public(path) or (internal and method in _SAFE_METHODS):
            await self.app(scope, receive, send)
            return
        if not path.startswith("/api/"):
            if session is None:
                if method in _SAFE_METHODS:
                    await _redirect_to_login(path, scope, send)
                else:
                    await _json(send, 403, "log in first")
                return
            await self.app(scope, receive, send)
            return
        operator = session.operator if session else None
        by_basic = False
        if operator is None and "authorization" in headers:
            client = scope["client"][0] if scope.get("client") else "?"
            outcome = await asyncio.to_thread(self.auth.basic_login, headers["authorization"], client)
            if outcome.retry_after is not None:
                await _json(send, 429, f"too many failed logins; try again in {outcome.retry_after} s",
                            {"Retry-After": str(outcome.retry_after)})
                return
            operator = outcome.operator
            if operator is None:
                await _json(send, 401, "wrong operator name or password")
                return
            by_basic = True
        if operator is None:
            if self.auth.api_needs_login(proxied=any(name in headers for name in FORWARDING_HEADERS)):
                await _json(send, 401, "operator login required (session cookie or HTTP Basic)")
                return
            await self.app(scope, receive, send)
            return
        if method not in _SAFE_METHODS:
            if not by_basic and session is not None and not csrf_matches(session.csrf_token,
                                                                         headers.get(CSRF_HEADER)):
                await _json(send, 403, "CSRF token missing or wrong (send the page's X-CSRF-Token header)")
                return
            if not operator.may_act:
                await _json(send, 403, f"{operator.username} is a viewer: read-only")
                return
        state["operator"] = operator
        await self.app(scope, receive, send)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


async def _json(send: Send, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps(problem_body(status, detail)).encode()
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode()), *extra]})
    await send({"type": "http.response.body", "body": body})


async def _redirect_to_login(path: str, scope: Scope, send: Send) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    target = quote(path + (f"?{query}" if query else ""), safe="")
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", f"/login?next={target}".encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})

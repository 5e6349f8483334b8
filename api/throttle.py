"""Failed authentication is throttled per client address and per tenant.

What counts is a request that fails authentication in :func:`api.auth.current_actor`: no
bearer token, a malformed one, or one that is unknown or revoked. A request with a valid
token is never counted, whatever its answer. Each failure is one hit on its client
address (``request.client.host``: behind a reverse proxy that is the proxy's address)
and, when the path names a tenant (``/tenants/{tenant}/…``), one hit on that tenant.
Once either is over its limit, requests there that fail authentication are answered 429
with ``Retry-After`` until the window ends, and the ones that cannot carry a valid token
(no token, a malformed one, one this process already found bad) are refused before the
token lookup. A well-formed token not yet known to be bad is still looked up: a valid
token passes, so legitimate clients behind the same address keep working.

The counters are the ``limits`` library's fixed windows, kept in the table
``civic_api_throttle`` beside the events (:class:`SideStoreStorage`), so every process of
``civic serve --workers N`` counts into the same windows. A process remembers which
windows it saw full until they end, so refusing costs no database work.

Limits are read from the environment when the application is created, in the ``limits``
rate-string syntax (``20/minute``, ``3/2second``, ``10/second;300/minute``) or ``off``:
``CIVIC_AUTH_FAILURES`` per address (default :data:`DEFAULT_PER_ADDRESS`) and
``CIVIC_AUTH_FAILURES_PER_TENANT`` per tenant (default :data:`DEFAULT_PER_TENANT`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from eventsourcing import persistence
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from psycopg_pool import PoolTimeout

from api.problems import TooManyRequests
from core.errors import ConfigurationError
from core.services.tokens import TENANT_CODE, TOKEN_SHAPE
from core.sidestore import SideStore

log = logging.getLogger("civic.api")

TABLE = "civic_api_throttle"
ENV_PER_ADDRESS = "CIVIC_AUTH_FAILURES"
ENV_PER_TENANT = "CIVIC_AUTH_FAILURES_PER_TENANT"
#: Failed authentications allowed per client address (a few clients' worth of retries
#: with a revoked token; a flood is cut to this).
DEFAULT_PER_ADDRESS = "300/minute"
#: Failed authentications allowed per tenant named in the path, from every address.
DEFAULT_PER_TENANT = "600/minute"
OFF = "off"
#: How often a process deletes the windows that have ended (seconds).
SWEEP_EVERY = 60.0
#: How many tokens found bad a process remembers (refused without a lookup while throttled).
BAD_TOKENS_KEPT = 10_000
#: How many full windows a process remembers (then the ended ones are forgotten first).
FULL_WINDOWS_KEPT = 100_000


class SideStoreStorage(Storage):
    """A ``limits`` storage for the fixed-window strategy over the ledger's side store
    (:class:`core.sidestore.SideStore`): in-memory SQLite for a memory store, the SQLite
    file, or PostgreSQL, shared by every process on the same database.

    One row per window: its key, its count and when it ends (seconds since the epoch).
    An increment is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (a window that has
    ended starts again); ended windows are deleted at most every :data:`SWEEP_EVERY`
    seconds by the process that increments."""

    def __init__(self, side: SideStore, *, clock: Callable[[], float] = time.time,
                 wrap_exceptions: bool = False) -> None:
        super().__init__(None, wrap_exceptions=wrap_exceptions)
        self.side = side
        self.table = side.table(TABLE)
        self.clock = clock
        self._next_sweep = 0.0
        ddl = (f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, hits INTEGER NOT NULL, "
               "expires DOUBLE PRECISION NOT NULL)")
        for attempt in range(2):  # two processes creating it at once: the second finds it made
            try:
                side.create([ddl])  # only if not in place: the application role may not create it
                break
            except self.base_exceptions:
                if attempt:
                    raise

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (sqlite3.Error, psycopg.Error, persistence.PersistenceError, PoolTimeout)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self.clock()
        with self.side.transaction() as c:
            (hits,), = c.query(
                f"INSERT INTO {self.table} AS w (key, hits, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET "
                "hits = CASE WHEN w.expires <= ? THEN excluded.hits ELSE w.hits + excluded.hits END, "
                "expires = CASE WHEN w.expires <= ? THEN excluded.expires ELSE w.expires END "
                "RETURNING hits",
                (key, amount, now + expiry, now, now),
            )
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_EVERY
                c.execute(f"DELETE FROM {self.table} WHERE expires <= ?", (now,))
        return int(hits)

    def get(self, key: str) -> int:
        with self.side.transaction() as c:
            found = c.query(f"SELECT hits FROM {self.table} WHERE key = ? AND expires > ?", (key, self.clock()))
        return int(found[0][0]) if found else 0

    def get_expiry(self, key: str) -> float:
        now = self.clock()
        with self.side.transaction() as c:
            found = c.query(f"SELECT expires FROM {self.table} WHERE key = ? AND expires > ?", (key, now))
        return float(found[0][0]) if found else now

    def check(self) -> bool:
        try:
            with self.side.transaction() as c:
                c.query(f"SELECT COUNT(*) FROM {self.table}")
            return True
        except self.base_exceptions:
            return False

    def reset(self) -> int | None:
        with self.side.transaction() as c:
            return c.execute(f"DELETE FROM {self.table}")

    def clear(self, key: str) -> None:
        with self.side.transaction() as c:
            c.execute(f"DELETE FROM {self.table} WHERE key = ?", (key,))

    def sweep(self) -> int:
        """Delete the windows that have ended; how many were."""
        with self.side.transaction() as c:
            return c.execute(f"DELETE FROM {self.table} WHERE expires <= ?", (self.clock(),))


@dataclass(frozen=True)
class Scope:
    """What one failure is counted against: ``("address", "127.0.0.1")`` or ``("tenant", "tianjin")``."""

    kind: str
    name: str


def parse_limits(variable: str, text: str) -> list[RateLimitItem]:
    """The limits a setting names (``variable`` is named in the error); none for ``off``."""
    text = text.strip()
    if text.lower() == OFF:
        return []
    try:
        return parse_many(text)
    except ValueError:
        raise ConfigurationError(
            f"{variable}={text!r} is not a rate limit; allowed: the limits library's rate strings "
            "such as '20/minute', '3/2second' or '10/second;300/minute', or 'off'") from None


class AuthThrottle:
    """Counts failed authentications and refuses where there were too many (see the
    module docstring). ``clock`` gives the time (seconds since the epoch) to the
    windows and to what this process remembers."""

    def __init__(self, side: SideStore, per_address: str = DEFAULT_PER_ADDRESS,
                 per_tenant: str = DEFAULT_PER_TENANT, *, clock: Callable[[], float] = time.time) -> None:
        self.per_address = parse_limits(ENV_PER_ADDRESS, per_address)
        self.per_tenant = parse_limits(ENV_PER_TENANT, per_tenant)
        self.clock = clock
        self.storage = SideStoreStorage(side, clock=clock)
        self.limiter = FixedWindowRateLimiter(self.storage)
        self._lock = threading.Lock()
        self._full: dict[str, tuple[float, Scope]] = {}  # window key -> (its end, what it counts)
        self._next_purge = 0.0
        self._bad: OrderedDict[bytes, None] = OrderedDict()  # tokens found bad, most recent last

    @classmethod
    def from_environment(cls, side: SideStore, *, clock: Callable[[], float] = time.time) -> AuthThrottle | None:
        """The throttle the environment asks for (an unset or empty variable: its default);
        None when both limits are ``off``. A malformed value is a ConfigurationError."""
        per_address = os.environ.get(ENV_PER_ADDRESS, "").strip() or DEFAULT_PER_ADDRESS
        per_tenant = os.environ.get(ENV_PER_TENANT, "").strip() or DEFAULT_PER_TENANT
        if not parse_limits(ENV_PER_ADDRESS, per_address) and not parse_limits(ENV_PER_TENANT, per_tenant):
            return None
        return cls(side, per_address, per_tenant, clock=clock)

    # -- the two questions api.auth asks ------------------------------------------------

    def before_lookup(self, address: str, tenant: str | None, token: str | None) -> TooManyRequests | None:
        """Before the token is looked up: the refusal of a request from a throttled
        address or tenant that cannot carry a valid token (no token, a malformed one, one
        already found bad); None when the request goes on. No database work."""
        refusal = self._refusal(self._scopes(address, tenant))
        if refusal is None:
            return None
        if token is not None and TOKEN_SHAPE.match(token) and not self._known_bad(token):
            return None  # looked up: a valid token passes, a bad one is refused after all
        return refusal

    def failed(self, address: str, tenant: str | None, token: str | None) -> TooManyRequests | None:
        """After a failed authentication: counts it (unless a window it would count in is
        already full) and returns the refusal if its address or tenant is now over a limit."""
        if token is not None and TOKEN_SHAPE.match(token):
            self._remember_bad(token)
        scopes = self._scopes(address, tenant)
        refusal = self._refusal(scopes)
        if refusal is not None:
            return refusal  # already refused: counting more changes nothing
        try:
            for scope, items in scopes:
                for item in items:
                    if not self.limiter.hit(item, "auth-" + scope.kind, scope.name):
                        key = item.key_for("auth-" + scope.kind, scope.name)
                        self._remember_full(key, self.storage.get_expiry(key), scope)
        except (*self.storage.base_exceptions, StorageError):
            # the throttle must never turn a refusal into a failure of its own
            log.warning("failed authentication from %s not counted: the throttle's table is unreachable",
                        address, exc_info=True)
            return None
        return self._refusal(scopes)

    # -- what a process remembers -------------------------------------------------------

    def _scopes(self, address: str, tenant: str | None) -> list[tuple[Scope, list[RateLimitItem]]]:
        scopes = []
        if self.per_address:
            scopes.append((Scope("address", address), self.per_address))
        if self.per_tenant and tenant is not None and TENANT_CODE.match(tenant):
            scopes.append((Scope("tenant", tenant), self.per_tenant))
        return scopes

    def _refusal(self, scopes: list[tuple[Scope, list[RateLimitItem]]]) -> TooManyRequests | None:
        if not self._full:
            return None  # the usual case: nothing is throttled
        now = self.clock()
        worst: tuple[float, Scope] | None = None
        with self._lock:
            if now >= self._next_purge:  # forget the windows that have ended
                self._next_purge = now + SWEEP_EVERY
                for ended in [k for k, (end, _) in self._full.items() if end <= now]:
                    del self._full[ended]
            for scope, items in scopes:
                for item in items:
                    key = item.key_for("auth-" + scope.kind, scope.name)
                    full = self._full.get(key)
                    if full is None:
                        continue
                    if full[0] <= now:
                        del self._full[key]
                    elif worst is None or full[0] > worst[0]:
                        worst = full
        if worst is None:
            return None
        end, scope = worst
        return TooManyRequests(scope.kind, max(1, math.ceil(end - now)))

    def _remember_full(self, key: str, end: float, scope: Scope) -> None:
        with self._lock:
            if len(self._full) >= FULL_WINDOWS_KEPT:
                now = self.clock()
                for old in [k for k, (until, _) in self._full.items() if until <= now]:
                    del self._full[old]
                while len(self._full) >= FULL_WINDOWS_KEPT:
                    del self._full[next(iter(self._full))]
            self._full[key] = (end, scope)

    @staticmethod
    def _fingerprint(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def _remember_bad(self, token: str) -> None:
        fingerprint = self._fingerprint(token)
        with self._lock:
            self._bad[fingerprint] = None
            self._bad.move_to_end(fingerprint)
            while len(self._bad) > BAD_TOKENS_KEPT:
                self._bad.popitem(last=False)

    def _known_bad(self, token: str) -> bool:
        with self._lock:
            return self._fingerprint(token) in self._bad

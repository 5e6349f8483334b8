"""Safe retries: every POST may carry an ``Idempotency-Key``.

A key belongs to the token that sent it: its scope is the token's identity (the SHA-256
of the token, whatever the spelling of the ``Bearer`` scheme), so two tokens never share
keys and one token always finds its own. A request whose token is unknown or revoked
claims nothing (it is answered 401).

The request log (table ``civic_api_requests``, beside the events, never part of the
ledger's history) holds one row per (scope, key): the request's fingerprint (SHA-256 of
method, path, query and body), the claim's holder and lease, what the request *wrote*,
and its answer. "Recorded" and "answered" are one fact: the row is marked *written* in
the very transaction that records the request's events (:mod:`core.fences`), so after a
crash at any moment the row alone says what happened. A request with a key is answered
as follows:

1. a new key is claimed (one INSERT; of two requests racing for it exactly one wins) and
   the request runs;
2. the same key with a different method, path, query or body: 422;
3. the first request has an answer (any status below 500): that answer again, with
   ``Idempotent-Replayed: true``; nothing more is recorded;
4. the first request wrote its events but its answer was lost (the server was killed in
   between) and its lease has run out: a recovered answer, status 200, ``Idempotent-Replayed: true`` and
   ``Idempotent-Recovered: true``, naming the streams and versions it recorded
   (``{"id", "version", "recorded": [{"id", "version"}], "recovered": true}``, the
   first stream's version in ``ETag``); nothing more is recorded;
5. the first request has no answer yet and is still within its lease
   (``CIVIC_IDEMPOTENCY_LEASE_SECONDS``, default 30): 409 ``request_in_progress`` with
   ``Retry-After`` (the seconds left of the lease, at least 1);
6. the first request wrote nothing and its lease has run out (it crashed, or it is
   still running far too long): the retry takes the key over and runs afresh. The old
   request, if it is still running, can then record nothing (its write fails with 409
   ``request_taken_over``): one key, at most one write.

An answer that says "nothing was recorded, try again" frees the key at once, so that a
retry with the same key runs afresh instead of replaying it: any 5xx, a 429 and a 409
``concurrent_change`` (the request lost a race with another writer on the same stream).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL, Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import ClientGone, header, read_body, replaying, send_problem
from core.errors import CivicError
from core.fences import FENCE, FENCE_LOST, Fence, parse_written, sqlite_mark, written_lines
from core.services.tokens import token_digest
from core.sidestore import SideStore

HEADER = "idempotency-key"
KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")
TABLE = "civic_api_requests"
#: The PostgreSQL function that marks a claim as written (see :mod:`core.fences`).
FUNCTION = "civic_api_request_written"
#: How long a claim stands without an answer before a retry may take the key over.
LEASE_SECONDS = 30.0
#: The columns added to request logs made before claims had holders.
_ADDED = (("holder", "TEXT"), ("lease_until", "DOUBLE PRECISION"), ("written", "TEXT"))


def transient(status: int, headers: Headers, content: bytes) -> bool:
    """Whether an answer says only "nothing was recorded, try again": such an answer is
    not kept under its ``Idempotency-Key``."""
    if status >= 500 or status == 429:
        return True
    if status != 409 or not headers.get("content-type", "").startswith("application/problem+json"):
        return False
    try:
        kind = json.loads(content).get("type", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(kind, str) and kind.endswith("/concurrent_change")


def lease_seconds() -> float:
    """The lease configured by ``CIVIC_IDEMPOTENCY_LEASE_SECONDS`` (default 30)."""
    raw = os.environ.get("CIVIC_IDEMPOTENCY_LEASE_SECONDS")
    try:
        value = float(raw) if raw else LEASE_SECONDS
    except ValueError:
        value = LEASE_SECONDS
    return value if value > 0 else LEASE_SECONDS


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"civic-requests:{schema}".encode()).digest()[:8], "big", signed=True)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case,
    RFC 9110 §11.1), or None."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


class RequestLog:
    """The request log of one store (see the module docstring)."""

    def __init__(self, side: SideStore, lease: float | None = None) -> None:
        self.side = side
        self.table = side.table(TABLE)
        self.lease = lease if lease is not None else lease_seconds()
        self.function = f'"{side.schema}"."{FUNCTION}"' if side.kind == "postgres" else None
        create = (
            f"CREATE TABLE IF NOT EXISTS {self.table} (scope TEXT NOT NULL, key TEXT NOT NULL, "
            "fingerprint TEXT NOT NULL, status INTEGER, media_type TEXT, body TEXT, headers TEXT, "
            "recorded TEXT NOT NULL, holder TEXT, lease_until DOUBLE PRECISION, written TEXT, "
            "PRIMARY KEY (scope, key))"
        )
        if side.kind == "postgres":
            # only what is not in place (the application role may not create it); worker
            # processes creating it together: one at a time
            side.create([
                create,
                *(f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS {column} {kind}" for column, kind in _ADDED),
                f"CREATE OR REPLACE FUNCTION {self.function}(p_scope text, p_key text, p_holder text, p_written text) "
                "RETURNS void LANGUAGE plpgsql AS $BODY$ BEGIN "
                f"UPDATE {self.table} SET written = COALESCE(written, '') || p_written "
                "WHERE scope = p_scope AND key = p_key AND holder = p_holder; "
                f"IF NOT FOUND THEN RAISE EXCEPTION '{FENCE_LOST}: another request took over Idempotency-Key %%', p_key; "
                "END IF; END $BODY$",
            ], lock=_lock_key(side.schema))
            return
        with side.transaction() as c:
            c.execute(create)
            present = {row[1] for row in c.query(f"PRAGMA table_info({self.table})")}
            for column, kind in _ADDED:
                if column not in present:
                    c.execute(f"ALTER TABLE {self.table} ADD COLUMN {column} {'REAL' if kind.startswith('DOUBLE') else kind}")

    def fence(self, scope: str, key: str, holder: str) -> Fence:
        """The write fence of a claim (see :mod:`core.fences`)."""
        mark = None
        if self.side.kind == "memory":  # the side store is an SQLite database of its own
            def mark(stored_events: Any) -> None:
                with self.side.transaction() as c:
                    sqlite_mark(c.raw.cursor(), fence, stored_events)
        fence = Fence(self.table, self.function, scope, key, holder, mark)
        return fence

    def claim(self, scope: str, key: str, fingerprint: str, holder: str) -> tuple[Any, ...] | None:
        """None if this request now holds the key (a new key, or one whose earlier request
        wrote nothing and ran out of lease); else the earlier row (fingerprint, status,
        media type, body, headers, written, lease_until)."""
        now = time.time()
        with self.side.transaction() as c:
            inserted = c.execute(
                f"INSERT INTO {self.table} (scope, key, fingerprint, recorded, holder, lease_until) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
                (scope, key, fingerprint, dt.datetime.now(dt.timezone.utc).isoformat(), holder, now + self.lease),
            )
            if inserted == 1:
                return None
            lock = " FOR UPDATE" if self.side.kind == "postgres" else ""
            found = c.query(f"SELECT fingerprint, status, media_type, body, headers, written, lease_until "
                            f"FROM {self.table} WHERE scope = ? AND key = ?{lock}", (scope, key))
            if not found:  # freed between the two statements: take it
                c.execute(f"INSERT INTO {self.table} (scope, key, fingerprint, recorded, holder, lease_until) "
                          "VALUES (?, ?, ?, ?, ?, ?)",
                          (scope, key, fingerprint, dt.datetime.now(dt.timezone.utc).isoformat(), holder, now + self.lease))
                return None
            row = found[0]
            first_fingerprint, status, written, lease_until = row[0], row[1], row[5], row[6]
            abandoned = status is None and not written and (lease_until is None or float(lease_until) <= now)
            if abandoned and first_fingerprint == fingerprint:
                c.execute(f"UPDATE {self.table} SET holder = ?, lease_until = ? WHERE scope = ? AND key = ?",
                          (holder, now + self.lease, scope, key))
                return None
            return row

    def answer(self, scope: str, key: str, holder: str, status: int, media_type: str, body: str,
               headers: dict[str, str]) -> None:
        with self.side.transaction() as c:
            c.execute(f"UPDATE {self.table} SET status = ?, media_type = ?, body = ?, headers = ? "
                      "WHERE scope = ? AND key = ? AND holder = ?",
                      (status, media_type, body, json.dumps(headers), scope, key, holder))

    def release(self, scope: str, key: str, holder: str) -> bool:
        """Free the key if this request holds it and wrote nothing; whether it was freed."""
        with self.side.transaction() as c:
            return c.execute(f"DELETE FROM {self.table} WHERE scope = ? AND key = ? AND holder = ? "
                      "AND status IS NULL AND written IS NULL", (scope, key, holder))


class IdempotencyMiddleware:
    """Pure ASGI middleware (see :mod:`api.asgi`): only a POST with an ``Idempotency-Key``
    and a valid token is read, claimed and buffered; every other request passes straight
    through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = header(scope, HEADER.encode())
        if key is None:
            await self.app(scope, receive, send)
            return
        if not KEY_SHAPE.match(key):
            await send_problem(scope, receive, send, 422, "invalid_input", "输入无效 Invalid input",
                               f"Idempotency-Key: {key[:60]!r} is not allowed; allowed: 1 to 255 visible ASCII characters",
                               field="Idempotency-Key", allowed="1 to 255 visible ASCII characters")
            return
        token = bearer_token(header(scope, b"authorization"))
        state = scope["app"].state
        if token is None or not await run_in_threadpool(self._known, state.ledger, token):
            await self.app(scope, receive, send)  # answered 401 below; nothing to remember
            return
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        owner = token_digest(token)
        url = URL(scope=scope)
        fingerprint = hashlib.sha256(b"\n".join([b"POST", url.path.encode(), url.query.encode(), body])).hexdigest()
        log: RequestLog = state.request_log
        holder = uuid.uuid4().hex
        earlier = await run_in_threadpool(log.claim, owner, key, fingerprint, holder)
        if earlier is not None:
            await self._earlier(scope, receive, send, earlier, fingerprint, log.lease)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        fence = FENCE.set(log.fence(owner, key, holder))
        try:
            await self.app(scope, replaying(body, receive), keep)
        except BaseException:
            await run_in_threadpool(log.release, owner, key, holder)
            raise
        finally:
            FENCE.reset(fence)
        if start is None:  # the application answered nothing
            await run_in_threadpool(log.release, owner, key, holder)
            return
        content = b"".join(chunks)
        status = start["status"]
        headers = Headers(raw=start.get("headers", []))
        if transient(status, headers, content) and await run_in_threadpool(log.release, owner, key, holder):
            pass  # nothing was recorded: a retry with the same key runs afresh
        elif status < 500:
            kept = {k: v for k, v in headers.items() if k in ("location", "etag")}
            await run_in_threadpool(log.answer, owner, key, holder, status, headers.get("content-type", "application/json"),
                                    content.decode("utf-8", "replace"), kept)
        await send(start)
        await send({"type": "http.response.body", "body": content})

    @staticmethod
    def _known(ledger: Any, token: str) -> bool:
        try:
            ledger.actor_for_token(token)
        except CivicError:
            return False
        return True

    @staticmethod
    async def _earlier(scope: Scope, receive: Receive, send: Send, earlier: tuple[Any, ...], fingerprint: str,
                       lease: float) -> None:
        """The answer to a retry: the first answer again, what it recorded, or why not."""
        first_fingerprint, status, media_type, stored, headers, written, lease_until = earlier
        if first_fingerprint != fingerprint:
            await send_problem(scope, receive, send, 422, "invalid_input", "输入无效 Invalid input",
                               "Idempotency-Key: this key was used with a different request; allowed: "
                               "a new key for a new request, or the same request again",
                               field="Idempotency-Key", allowed="the same method, path and body as its first use")
            return
        if status is not None:
            replay = Response(stored, status_code=status, media_type=media_type, headers=json.loads(headers or "{}"))
            replay.headers["Idempotent-Replayed"] = "true"
            await replay(scope, receive, send)
            return
        running = lease_until is not None and float(lease_until) > time.time()
        if written and not running:
            recorded = [{"id": stream, "version": version} for stream, version in parse_written(written)]
            body = {**recorded[0], "recorded": recorded, "recovered": True,
                    "detail": "请求已记录，原答复未送达 the request was recorded but its first answer was lost; "
                              "these are the streams and versions it recorded"}
            answer = Response(json.dumps(body, ensure_ascii=False), status_code=200, media_type="application/json",
                              headers={"Idempotent-Replayed": "true", "Idempotent-Recovered": "true",
                                       "ETag": f'"{recorded[0]["version"]}"'})
            await answer(scope, receive, send)
            return
        wait = max(1, int((float(lease_until) if lease_until is not None else time.time()) - time.time() + 0.999))
        await send_problem(scope, receive, send, 409, "request_in_progress", "请求处理中 Request in progress",
                           f"a request with this Idempotency-Key is still being processed; retry in {wait} s "
                           f"(a request that stopped without recording anything frees its key within {lease:g} s)",
                           headers={"Retry-After": str(wait)})


__all__ = ["IdempotencyMiddleware", "RequestLog", "bearer_token", "written_lines"]

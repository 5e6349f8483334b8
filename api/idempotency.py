"""Safe retries: every POST may carry an ``Idempotency-Key``.

The first request with a key is recorded with a fingerprint of its method, path, query and
body, scoped to the caller's token. While it runs, a retry gets 409; once it has an
answer (any status below 500), a retry with the same body gets that same answer again
(header ``Idempotent-Replayed: true``) and records nothing more; the same key with a
different body is a 422. An answer of 5xx, or a request that never finished, leaves the
key free to be used again. Records live in the table ``civic_api_requests`` beside the
events (never in the ledger's history).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL, Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import ClientGone, header, read_body, replaying, send_problem
from core.sidestore import SideStore

HEADER = "idempotency-key"
KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")
TABLE = "civic_api_requests"


class RequestLog:
    def __init__(self, side: SideStore) -> None:
        self.side = side
        self.table = side.table(TABLE)
        with side.transaction() as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (scope TEXT NOT NULL, key TEXT NOT NULL, "
                "fingerprint TEXT NOT NULL, status INTEGER, media_type TEXT, body TEXT, headers TEXT, "
                "recorded TEXT NOT NULL, PRIMARY KEY (scope, key))"
            )

    def claim(self, scope: str, key: str, fingerprint: str) -> tuple[str, ...] | None:
        """None if the key was free (now claimed); else the earlier record
        (fingerprint, status, media type, body, headers)."""
        with self.side.transaction() as c:
            found = c.query(f"SELECT fingerprint, status, media_type, body, headers FROM {self.table} WHERE scope = ? AND key = ?", (scope, key))
            if found:
                return found[0]
            c.execute(f"INSERT INTO {self.table} (scope, key, fingerprint, recorded) VALUES (?, ?, ?, ?)",
                      (scope, key, fingerprint, dt.datetime.now(dt.timezone.utc).isoformat()))
            return None

    def answer(self, scope: str, key: str, status: int, media_type: str, body: str, headers: dict[str, str]) -> None:
        with self.side.transaction() as c:
            c.execute(f"UPDATE {self.table} SET status = ?, media_type = ?, body = ?, headers = ? WHERE scope = ? AND key = ?",
                      (status, media_type, body, json.dumps(headers), scope, key))

    def release(self, scope: str, key: str) -> None:
        with self.side.transaction() as c:
            c.execute(f"DELETE FROM {self.table} WHERE scope = ? AND key = ? AND status IS NULL", (scope, key))


class IdempotencyMiddleware:
    """Pure ASGI middleware (see :mod:`api.asgi`): only a POST with an ``Idempotency-Key``
    and a token is read, claimed and buffered; every other request passes straight through."""

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
        authorization = header(scope, b"authorization")
        if not authorization:
            await self.app(scope, receive, send)  # answered 401 below; nothing to remember
            return
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        owner = hashlib.sha256(authorization.encode()).hexdigest()
        url = URL(scope=scope)
        fingerprint = hashlib.sha256(b"\n".join([b"POST", url.path.encode(), url.query.encode(), body])).hexdigest()
        log: RequestLog = scope["app"].state.request_log
        earlier = await run_in_threadpool(log.claim, owner, key, fingerprint)
        if earlier is not None:
            await self._earlier(scope, receive, send, earlier, fingerprint)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, replaying(body, receive), keep)
        except BaseException:
            await run_in_threadpool(log.release, owner, key)
            raise
        if start is None:  # the application answered nothing
            await run_in_threadpool(log.release, owner, key)
            return
        content = b"".join(chunks)
        status = start["status"]
        headers = Headers(raw=start.get("headers", []))
        if status >= 500:
            await run_in_threadpool(log.release, owner, key)
        else:
            kept = {k: v for k, v in headers.items() if k in ("location", "etag")}
            await run_in_threadpool(log.answer, owner, key, status, headers.get("content-type", "application/json"),
                                    content.decode("utf-8", "replace"), kept)
        await send(start)
        await send({"type": "http.response.body", "body": content})

    @staticmethod
    async def _earlier(scope: Scope, receive: Receive, send: Send, earlier: tuple[Any, ...], fingerprint: str) -> None:
        """The answer to a retry: the first answer again, or why not."""
        first_fingerprint, status, media_type, stored, headers = earlier
        if first_fingerprint != fingerprint:
            await send_problem(scope, receive, send, 422, "invalid_input", "输入无效 Invalid input",
                               "Idempotency-Key: this key was used with a different request; allowed: "
                               "a new key for a new request, or the same request again",
                               field="Idempotency-Key", allowed="the same method, path and body as its first use")
            return
        if status is None:
            await send_problem(scope, receive, send, 409, "request_in_progress", "请求处理中 Request in progress",
                               "a request with this Idempotency-Key is still being processed; retry shortly")
            return
        replay = Response(stored, status_code=status, media_type=media_type, headers=json.loads(headers or "{}"))
        replay.headers["Idempotent-Replayed"] = "true"
        await replay(scope, receive, send)

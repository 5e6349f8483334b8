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

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from api.problems import MEDIA_TYPE, TYPE_BASE
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


def _problem(status: int, code: str, title: str, detail: str, path: str, **extra: str) -> Response:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "instance": path, **extra}
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=MEDIA_TYPE)


class IdempotencyMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return await call_next(request)
        path = request.url.path
        if not KEY_SHAPE.match(key):
            return _problem(422, "invalid_input", "输入无效 Invalid input",
                            f"Idempotency-Key: {key[:60]!r} is not allowed; allowed: 1 to 255 visible ASCII characters",
                            path, field="Idempotency-Key", allowed="1 to 255 visible ASCII characters")
        authorization = request.headers.get("authorization")
        if not authorization:
            return await call_next(request)  # answered 401 below; nothing to remember
        body = await request.body()
        scope = hashlib.sha256(authorization.encode()).hexdigest()
        fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), path.encode(), request.url.query.encode(), body])).hexdigest()
        log: RequestLog = request.app.state.request_log
        earlier = await run_in_threadpool(log.claim, scope, key, fingerprint)
        if earlier is not None:
            first_fingerprint, status, media_type, stored, headers = earlier
            if first_fingerprint != fingerprint:
                return _problem(422, "invalid_input", "输入无效 Invalid input",
                                "Idempotency-Key: this key was used with a different request; allowed: "
                                "a new key for a new request, or the same request again",
                                path, field="Idempotency-Key", allowed="the same method, path and body as its first use")
            if status is None:
                return _problem(409, "request_in_progress", "请求处理中 Request in progress",
                                "a request with this Idempotency-Key is still being processed; retry shortly", path)
            replay = Response(stored, status_code=status, media_type=media_type, headers=json.loads(headers or "{}"))
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = await call_next(request)
            chunks = [chunk async for chunk in response.body_iterator]
        except BaseException:
            await run_in_threadpool(log.release, scope, key)
            raise
        content = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        keep = {k: v for k, v in response.headers.items() if k.lower() in ("location", "etag")}
        if response.status_code >= 500:
            await run_in_threadpool(log.release, scope, key)
        else:
            await run_in_threadpool(log.answer, scope, key, response.status_code,
                                    response.media_type or response.headers.get("content-type", "application/json"),
                                    content.decode("utf-8", "replace"), keep)
        return Response(content, status_code=response.status_code, headers=dict(response.headers),
                        media_type=response.media_type)

"""Request size limits: a request body larger than its route's limit is answered 413
before authentication and before it is read.

Every request body may hold at most ``max_body_bytes`` (64 KiB by default); the routes
that take a rubric file or definition (paths under ``/rubrics`` and
``/tenants/{tenant}/rubrics``) at most ``max_rubric_bytes`` (256 KiB by default, the largest
rubric file :mod:`core.rubric_files` reads). ``create_app`` reads both from
``CIVIC_MAX_BODY_BYTES`` and ``CIVIC_MAX_RUBRIC_BYTES``; ``civic serve`` sets them from
``--max-body-bytes`` and ``--max-rubric-bytes``.

* A ``Content-Length`` above the limit is answered 413 at once: the body is never read,
  the token never looked at, and the connection is closed after the answer.
* A malformed ``Content-Length`` (not a whole number of bytes, or two different values)
  is answered 400.
* A body without ``Content-Length`` (chunked) is counted as it arrives; once it passes
  the limit the answer is 413 and the rest is not read. The application then sees the
  client as gone, and nothing it would still answer is sent.

This is the outermost middleware (see :mod:`api.asgi` for why these are pure ASGI).
Nothing is recorded for a refused request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import replaying, send_problem
from core.errors import ConfigurationError
from core.rubric_files import MAX_FILE_BYTES

#: The limit of every request body unless its route takes more, in bytes (64 KiB).
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: The limit of a body that carries a rubric file or definition, in bytes (256 KiB).
DEFAULT_MAX_RUBRIC_BYTES = MAX_FILE_BYTES
#: The environment variables ``create_app`` reads the limits from.
BODY_ENV = "CIVIC_MAX_BODY_BYTES"
RUBRIC_ENV = "CIVIC_MAX_RUBRIC_BYTES"

#: The routes that take a rubric file or definition: /rubrics/…, /tenants/{tenant}/rubrics/…
RUBRIC_PATH = re.compile(r"^(/rubrics|/tenants/[^/]+/rubrics)(/|$)")
_DIGITS = re.compile(r"^[0-9]{1,19}$")


def limit_from_env(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """The limit the environment variable ``name`` sets (a whole number of bytes, at
    least 1), or ``default`` when it is unset or empty; ConfigurationError otherwise."""
    text = (os.environ if environ is None else environ).get(name, "").strip().replace("_", "")
    if not text:
        return default
    if not _DIGITS.match(text) or int(text) < 1:
        raise ConfigurationError(f"{name}={text[:40]!r} is not allowed; allowed: a whole number of bytes, at least 1 "
                                 f"(default {default}) 应为正整数字节数")
    return int(text)


class BodyLimitMiddleware:
    """Pure ASGI middleware: the size of every request body, checked before anything
    else runs (see the module's description)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 max_rubric_bytes: int = DEFAULT_MAX_RUBRIC_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_rubric_bytes = max_rubric_bytes

    def limit_of(self, path: str) -> tuple[str, int]:
        """The route kind of ``path`` ("rubric" or "default") and its limit in bytes."""
        if RUBRIC_PATH.match(path):
            return "rubric", self.max_rubric_bytes
        return "default", self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        kind, limit = self.limit_of(path)
        lengths = {value.strip() for key, value in scope["headers"] if key == b"content-length"}
        if lengths:
            text = next(iter(lengths)).decode("latin-1")
            if len(lengths) > 1 or not text.isascii() or not text.isdigit():
                shown = ", ".join(sorted(v.decode("latin-1")[:40] for v in lengths))
                await send_problem(scope, receive, _closing(send), 400, "bad_request", "请求错误 Bad request",
                                   f"Content-Length: {shown!r} is not allowed; allowed: one whole number of bytes",
                                   field="Content-Length", value=shown, allowed="one whole number of bytes")
                return
            if len(text) > 30 or int(text) > limit:  # more digits than any limit has: too large
                await _too_large(scope, receive, send, kind, limit)
                return
        elif scope["method"] in _NO_BODY and any(key == b"transfer-encoding" for key, _ in scope["headers"]):
            # a route of these methods never reads a body, so the server would read (and
            # drop) all of it: it is read here, up to the limit, before the route runs
            body = []
            received = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                body.append(message.get("body", b""))
                received += len(body[-1])
                if received > limit:
                    await _too_large(scope, receive, send, kind, limit)
                    return
                if not message.get("more_body", False):
                    break
            await self.app(scope, replaying(b"".join(body), receive), send)
            return
        await self._counted(scope, receive, send, kind, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, kind: str, limit: int) -> None:
        """The application, with the body counted as it arrives (for a body without, or
        lying about, its length): past the limit, 413 and the client is reported gone."""
        received = 0
        started = refused = False

        async def counting() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _too_large(scope, receive, send, kind, limit)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return  # answered 413 already: whatever the application still says is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, watched)
        except Exception:
            if not refused:
                raise


def _closing(send: Send) -> Send:
    """``send`` with ``Connection: close`` on the answer: the body left unread is not read."""

    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)

    return closing


#: Methods whose routes take no body.
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


async def _too_large(scope: Scope, receive: Receive, send: Send, kind: str, limit: int) -> None:
    route = "rubric file or definition" if kind == "rubric" else "request"
    await send_problem(
        scope, receive, _closing(send), 413, "payload_too_large", "请求体过大 Payload too large",
        f"body: a {route} body may hold at most {limit} bytes (route kind: {kind}) 请求体超过{limit}字节的上限",
        field="body", allowed=f"at most {limit} bytes", kind=kind,
    )

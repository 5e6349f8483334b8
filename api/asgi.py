"""Small pieces for the pure ASGI middlewares of :mod:`api.idempotency` and
:mod:`api.textcheck`.

They are plain ASGI callables rather than Starlette's ``BaseHTTPMiddleware``: that class
runs every request in a task group of its own, passes the answer through a memory stream
and re-wraps it, which cost more than the trivial endpoint itself. Here a middleware that
needs the request body reads it once and hands the application a ``receive`` that returns
the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import URL
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from api.problems import MEDIA_TYPE, TYPE_BASE


class ClientGone(Exception):
    """The client disconnected before its request body arrived: nothing to answer."""


async def read_body(receive: Receive) -> bytes:
    """The whole request body (ClientGone when the client disconnects first)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` as the request's one message, then defers to
    ``receive`` (which then only reports the client's disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def send_problem(scope: Scope, receive: Receive, send: Send, status: int, code: str, title: str, detail: str,
                       headers: dict[str, str] | None = None, **extra: str) -> None:
    """A problem document (see :mod:`api.problems`) answered straight from a middleware."""
    problem = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail,
               "instance": URL(scope=scope).path, **extra}
    text = json.dumps(problem, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in what is quoted back: escaped, as JSON allows
        text = json.dumps(problem)
    await Response(text, status_code=status, media_type=MEDIA_TYPE, headers=headers)(scope, receive, send)

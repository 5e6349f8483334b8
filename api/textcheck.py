"""Requests whose JSON holds text that is not valid Unicode (lone surrogates such as
"\\ud800") are refused up front with a 422: such text cannot be stored or shown."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api.asgi import ClientGone, read_body, replaying, send_problem


def _bad_text(value: Any, path: str = "", depth: int = 0) -> str | None:
    """The path of the first string (or key) that is not valid Unicode, or None."""
    if depth > 64:
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            found = _bad_text(k, where, depth + 1) or _bad_text(v, where, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for n, v in enumerate(value):
            found = _bad_text(v, f"{path}[{n}]", depth + 1)
            if found:
                return found
    return None


class TextCheckMiddleware:
    """Pure ASGI middleware (see :mod:`api.asgi`): the body of a POST, PUT or PATCH is read
    once, scanned for JSON escapes (``\\u``) and parsed only when it has one; the
    application then gets the same bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        if b"\\u" in body or b"\\U" in body:
            try:
                field = _bad_text(json.loads(body))
            except (ValueError, RecursionError):
                field = None  # not JSON: the route's own validation answers
            if field:
                await send_problem(scope, receive, send, 422, "invalid_input", "输入无效 Invalid input",
                                   f"{field}: text with a lone surrogate is not allowed; allowed: valid Unicode text",
                                   field=field, allowed="valid Unicode text (no lone surrogates)")
                return
        await self.app(scope, replaying(body, receive), send)

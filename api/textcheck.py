"""Text the platform does not store is refused at the door (see :mod:`core.text`).

Every request's path and query parameters, and the JSON body of every POST, PUT or
PATCH, are checked against the platform's text rule before the request reaches a route:
NUL, control characters other than tab and line breaks, lone surrogates (``"\\ud800"``)
and noncharacters are answered with a 422 problem naming the field (a JSON path such as
``items.a1`` or ``query.on``), the value (escaped) and what is allowed. The core checks
every event once more before it is recorded, so no interface can record such text.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from api.asgi import ClientGone, read_body, replaying, send_problem
from core.text import ALLOWED, bad_character, describe, find_bad_text, shown

#: Bytes that may stand for a refused character in a JSON body: a ``\\u`` escape, a raw
#: control byte, the UTF-8 of a C1 control or a noncharacter, or the bytes of an encoded
#: surrogate (not UTF-8, but read as the surrogate by the JSON parser). A body without any
#: of them is passed on unparsed.
_SUSPECT = re.compile(
    rb"\\[uU]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]"
    rb"|[\xf0-\xf4][\x8f\x9f\xaf\xbf]\xbf[\xbe\xbf]|\xed[\xa0-\xbf]"
)


async def _refuse(scope: Scope, receive: Receive, send: Send, field: str, text: str) -> None:
    await send_problem(scope, receive, send, 422, "invalid_input", "输入无效 Invalid input",
                       f"{field}: '{shown(text)}' is not allowed; allowed: {ALLOWED} ({describe(text)} is not)",
                       field=field, value=shown(text), allowed=ALLOWED)


def _bad_in_url(scope: Scope) -> tuple[str, str] | None:
    """The first (field, text) of the path or query that holds a refused character."""
    path = scope.get("path", "")
    if bad_character(path) is not None:
        return "path", path
    raw = scope.get("query_string", b"")
    if raw:
        query = raw.decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="surrogateescape"):
            for text in (name, value):
                if bad_character(text) is not None:
                    return shown(f"query.{name}", 200), text
        if bad_character(unquote(query, errors="surrogateescape")) is not None:
            return "query", unquote(query, errors="surrogateescape")
    return None


class TextCheckMiddleware:
    """Pure ASGI middleware (see :mod:`api.asgi`): the URL of every request is checked;
    the body of a POST, PUT or PATCH is read once, scanned for bytes that may stand for a
    refused character, and parsed only when it has one; the application then gets the
    same bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = _bad_in_url(scope)
        if found is not None:
            await _refuse(scope, receive, send, *found)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        if _SUSPECT.search(body):
            try:
                found = find_bad_text(json.loads(body))
            except (ValueError, RecursionError):
                found = None  # not JSON: the route's own validation answers
            if found is not None:
                await _refuse(scope, receive, send, *found)
                return
        await self.app(scope, replaying(body, receive), send)

"""Requests whose JSON holds text that is not valid Unicode (lone surrogates such as
"\\ud800") are refused up front with a 422: such text cannot be stored or shown."""

from __future__ import annotations

import json
from typing import Any

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from api.problems import MEDIA_TYPE, TYPE_BASE


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


class TextCheckMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()
            if b"\\u" in body or b"\\U" in body:
                try:
                    field = _bad_text(json.loads(body))
                except (ValueError, RecursionError):
                    field = None  # not JSON: the route's own validation answers
                if field:
                    detail = f"{field}: text with a lone surrogate is not allowed; allowed: valid Unicode text"
                    problem = {"type": TYPE_BASE + "invalid_input", "title": "输入无效 Invalid input", "status": 422,
                               "detail": detail, "instance": request.url.path, "field": field,
                               "allowed": "valid Unicode text (no lone surrogates)"}
                    return Response(json.dumps(problem, ensure_ascii=False), status_code=422, media_type=MEDIA_TYPE)
        return await call_next(request)

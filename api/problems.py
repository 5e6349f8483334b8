"""Errors as ``application/problem+json`` (RFC 9457), in Chinese and English.

Every error the platform raises is a :class:`core.errors.CivicError`; each kind has one
HTTP status and one title. The body names the field, the value and what is allowed
whenever the error does. Nothing an API user sends can produce a 500: anything
unexpected is still answered as a problem document (and logged).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import errors

log = logging.getLogger("civic.api")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://civic-ledger.org/problems/"

#: error class -> (HTTP status, title: Chinese + English); the first match in MRO order wins
KINDS: dict[type[errors.CivicError], tuple[int, str]] = {
    errors.InvalidInput: (422, "输入无效 Invalid input"),
    errors.NotFound: (404, "未找到 Not found"),
    errors.PermissionDenied: (403, "无权操作 Forbidden for this role"),
    errors.AlreadyExists: (409, "已存在 Already exists"),
    errors.RuleViolation: (409, "违反规则 Rule violation"),
    errors.RequestTakenOver: (409, "请求已被接管 Request taken over"),
    errors.ConcurrentChange: (409, "并发修改 Concurrent change"),
    errors.VersionConflict: (409, "版本冲突 Version conflict"),
    errors.StoreTampered: (409, "数据被篡改 Store tampered"),
    errors.PluginError: (409, "插件错误 Plugin error"),
    errors.ConfigurationError: (503, "服务配置错误 Service misconfigured"),
}


class Unauthenticated(errors.CivicError):
    """No bearer token, or one that is unknown, malformed or revoked."""

    code = "unauthenticated"


class TooManyRequests(errors.CivicError):
    """Too many failed authentications from the client's address, or for the tenant the
    path names (see :mod:`api.throttle`): answered 429 with ``Retry-After``."""

    code = "too_many_requests"
    title = "请求过多 Too many requests"

    #: what was throttled -> (Chinese, English)
    WHERE = {"address": ("此地址", "from this address"), "tenant": ("此租户", "for this tenant")}

    def __init__(self, scope: str, retry_after: int) -> None:
        zh, en = self.WHERE[scope]
        super().__init__(
            f"{zh}认证失败次数过多，请 {retry_after} 秒后重试（有效令牌的请求照常处理）; "
            f"too many failed authentications {en}: retry after {retry_after} seconds "
            "(requests with a valid token are still answered)",
            scope=scope, retry_after=retry_after,
        )
        self.scope = scope
        self.retry_after = retry_after


def _printable(value: Any, depth: int = 0) -> Any:
    """A value as it can be shown in JSON: text that is not valid Unicode (lone surrogates)
    and numbers JSON cannot hold (NaN, infinities) are shown escaped, as text."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("ascii", "replace")
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if depth > 20:
        return "…"
    if isinstance(value, dict):
        return {str(_printable(k, depth + 1)): _printable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v, depth + 1) for v in value]
    return value


def problem(status: int, code: str, title: str, detail: str, request: Request | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        **({"instance": request.url.path} if request is not None else {}),
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(_printable(jsonable_encoder(body)), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: errors.CivicError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in KINDS:
            return KINDS[cls]
    return 400, "请求错误 Bad request"


async def civic_error(request: Request, exc: errors.CivicError) -> JSONResponse:
    if isinstance(exc, Unauthenticated):
        return problem(401, exc.code, "未认证 Unauthenticated", exc.message, request,
                       headers={"WWW-Authenticate": 'Bearer realm="civic-ledger"'})
    if isinstance(exc, TooManyRequests):
        return problem(429, exc.code, exc.title, exc.message, request,
                       headers={"Retry-After": str(exc.retry_after)}, retry_after=exc.retry_after)
    status, title = status_of(exc)
    if isinstance(exc, errors.ConcurrentChange):
        return problem(status, exc.code, title, exc.message, request, headers={"Retry-After": "1"})
    details = {k: v for k, v in exc.details.items() if k in ("field", "value", "allowed", "allowed_roles", "kind", "expected", "actual")}
    return problem(status, exc.code, title, exc.message, request, **details)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's request validation, reported like every other invalid input: the first
    problem's field, value and what is allowed, and all of them under ``errors``."""
    problems = exc.errors()
    first = problems[0] if problems else {"loc": ("body",), "msg": "invalid request", "input": None}
    if first.get("type") == "json_invalid":
        field, value, allowed = "body", None, f"a JSON document ({first.get('msg', 'invalid JSON')})"
    else:
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
        if loc[:1] == ["path"] and len(loc) > 1:
            loc = loc[1:]  # a path parameter is named as the core names it (``campaign_id``)
        field = ".".join(loc) or "body"
        value = first.get("input")
        allowed = first.get("msg", "a valid value")
        if str(first.get("type", "")).startswith("uuid_"):
            allowed = "a UUID as printed by the platform"
    detail = f"{field}: {_short(value)!r} is not allowed; allowed: {allowed}"
    return problem(422, "invalid_input", KINDS[errors.InvalidInput][1], detail, request,
                   field=field, value=_short(value), allowed=allowed,
                   errors=[{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")} for e in problems[:20]])


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    titles = {404: "未找到 Not found", 405: "方法不允许 Method not allowed", 401: "未认证 Unauthenticated",
              429: TooManyRequests.title}
    title = titles.get(exc.status_code, "请求错误 Bad request")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem(exc.status_code, "http_" + str(exc.status_code), title, detail, request, headers=getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "内部错误 Internal error",
                   "the request could not be completed; nothing was recorded for it (see the server log)", request)


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    if isinstance(value, (dict, list)) and len(repr(value)) > 400:
        return repr(value)[:400] + "…"
    return value

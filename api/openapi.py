"""The OpenAPI document (``GET /openapi.json``, shown at ``/docs``): what the service answers.

FastAPI describes each operation from its route: path and query parameters (stream ids as
UUIDs), the request body and the success answer (the route's ``Answer[...]`` annotation,
see :mod:`api.routes.answers`). :func:`install` completes that description, for every
operation at once, with what the layers around the routes answer:

* errors: ``application/problem+json`` bodies of the shared ``Problem`` schema (see
  :mod:`api.problems`), declared for every status that can answer the operation
  (:data:`ERRORS`): 400 and 422 on every operation (the text check and FastAPI's own reading of the request answer them before any
  route); 401, 403, 404, 409, 429 and 503 on every operation that needs a
  token (the token is looked up in the store, and failed authentication is throttled);
  413 on every operation too: the body limit holds for every method, so a GET that
  carries a body over it is answered 413 as well (:mod:`api.bodylimit`);
* request headers: ``Idempotency-Key`` on every POST (:mod:`api.idempotency`) and
  ``If-Match`` on every write whose route runs under :func:`api.versioning.expect`;
* response headers: ``ETag`` on the success of a route that sets it
  (:func:`api.versioning.etag`), ``Location`` on the success of one that names the
  resource it made (``created``, ``location``), ``WWW-Authenticate`` on 401 and
  ``Retry-After`` on 429;
* what a retry with an ``Idempotency-Key`` gets (:mod:`api.idempotency`): the first answer
  again with ``Idempotent-Replayed`` (a success, or a 403, 404, 409 or 422 of the route),
  409 ``request_in_progress`` with ``Retry-After``, or, when the first request recorded its
  events but its answer was lost, the ``Recovered`` answer (200, ``Idempotent-Recovered``).

What a route sends is read from the route function itself (the helpers it calls), so a
route added later is described the same way without touching this module.
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Callable
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.idempotency import KEY_SHAPE
from api.problems import TYPE_BASE
from api.routes.answers import Described

PROBLEM = "application/problem+json"
REF = "#/components/"

#: The problem document every error answer carries (see api.problems).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "错误 An error, as RFC 9457 problem details in Chinese and English. Invalid input names the "
                   "`field`, the `value` sent and what is `allowed`; a refused role lists the `allowed_roles`.",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": f"错误类型 {TYPE_BASE}<code>, e.g. {TYPE_BASE}invalid_input"},
        "title": {"type": "string", "description": "标题 The kind of error, 中文 English"},
        "status": {"type": "integer", "description": "HTTP status"},
        "detail": {"type": "string", "description": "说明 What happened and what to do"},
        "instance": {"type": "string", "description": "请求路径 The path of the request"},
        "field": {"type": "string", "description": "字段 The field, parameter or header at fault (`scores[38]`, "
                                                   "`campaign_id`, `query.on`, `If-Match`, `body`)"},
        "value": {"description": "值 The value sent (shortened; text that is not valid Unicode is escaped)"},
        "allowed": {"type": "string", "description": "允许 What is allowed instead"},
        "allowed_roles": {"type": "array", "items": {"type": "string"}, "description": "允许的角色 (403)"},
        "kind": {"type": "string", "description": "种类 What was not found (404), or which body limit applied (413)"},
        "expected": {"type": "integer", "description": "期望版本 The version If-Match named (409)"},
        "actual": {"type": "integer", "description": "实际版本 The stream's version (409)"},
        "retry_after": {"type": "integer", "description": "等待秒数 Seconds to wait (429)"},
        "errors": {
            "type": "array", "description": "全部问题 Every problem of a request that failed validation (422)",
            "items": {"type": "object", "required": ["field", "message"],
                      "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
        "problems": {
            "type": "array", "description": "文件问题 Every problem of a rubric file, with its line (422)",
            "items": {"type": "object", "properties": {
                "file": {"type": "string"}, "line": {"type": ["integer", "null"]}, "field": {"type": "string"},
                "message": {"type": "string"}, "message_zh": {"type": "string"}, "text": {"type": "string"},
            }},
        },
    },
}

#: The answer to a retry whose first request recorded its events but lost its answer (api.idempotency).
RECOVERED_SCHEMA: dict[str, Any] = {
    "title": "Recovered",
    "type": "object",
    "description": "恢复的答复 The first request with this `Idempotency-Key` was recorded but its answer was lost: "
                   "the streams and versions it recorded (the first one's version is the `ETag`); nothing more "
                   "was recorded.",
    "required": ["id", "version", "recorded", "recovered", "detail"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "编号 The first stream recorded"},
        "version": {"type": "integer", "description": "版本 Its version"},
        "recorded": {
            "type": "array", "description": "已记录 Every stream recorded, with its version",
            "items": {"type": "object", "required": ["id", "version"],
                      "properties": {"id": {"type": "string", "format": "uuid"}, "version": {"type": "integer"}}},
        },
        "recovered": {"type": "boolean", "enum": [True]},
        "detail": {"type": "string"},
    },
}

#: status -> (description, headers sent with it)
ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("请求错误 Bad request: a malformed `Content-Length`, or a body that cannot be read at all (not UTF-8)", {}),
    401: ("未认证 No bearer token, or one that is unknown, malformed or revoked",
          {"WWW-Authenticate": {"$ref": REF + "headers/WWW-Authenticate"}}),
    403: ("无权操作 The token's role may not do this (`allowed_roles` names the roles that may)", {}),
    404: ("未找到 No such thing, or it belongs to another tenant (the two answers are the same)", {}),
    409: ("冲突 A rule of the lifecycle or rubric is broken (`rule_violation`, `already_exists`), the `If-Match` "
          "version is stale (`version_conflict`), another writer got there first (`concurrent_change`, with "
          "`Retry-After`: send it again), a request with the same `Idempotency-Key` is still running "
          "(`request_in_progress`, with `Retry-After`) or was taken over (`request_taken_over`), or the store's "
          "chain is broken (`store_tampered`)",
          {"Retry-After": {"$ref": REF + "headers/Retry-After-Conflict"}}),
    413: ("请求体过大 The request body is over its limit (64 KiB; 256 KiB for a rubric file)", {}),
    422: ("输入无效 Invalid input: `field`, `value` and `allowed` say what and why (`errors` lists every problem of "
          "a request that failed validation; `problems` every problem of a rubric file)", {}),
    429: ("请求过多 Too many failed authentications from this address or for this tenant; wait `Retry-After` "
          "seconds (requests with a valid token are still answered)",
          {"Retry-After": {"$ref": REF + "headers/Retry-After"}}),
    503: ("服务配置错误 The service is misconfigured, or its store holds events this version cannot read", {}),
}
#: what can answer every operation; what can answer one that needs a token
EVERY_OPERATION = (400, 413, 422)
WITH_TOKEN = (401, 403, 404, 409, 429, 503)
#: the errors of a route a POST's retry with the same Idempotency-Key gets again (a token
#: that is not valid claims no key; 5xx, 429 and 409 concurrent_change are not kept; 400
#: and 413 come before the key)
REPLAYED = (403, 404, 409, 422)

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "版本 The stream's version, quoted (`\"3\"`): send it back as `If-Match` with a write",
        "required": True, "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    },
    "Location": {
        "description": "位置 The path of what the request created or recorded", "required": True,
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "重放 `true`: the answer to an earlier request with this `Idempotency-Key`, given again to "
                       "a retry (nothing more was recorded)",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Idempotent-Recovered": {
        "description": "恢复 `true`: the first request with this `Idempotency-Key` was recorded but its answer was "
                       "lost; this answer names what it recorded",
        "required": True, "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": "认证方式 `Bearer realm=\"civic-ledger\"`", "required": True, "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "等待秒数 Seconds until requests from here are counted afresh", "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "Retry-After-Conflict": {
        "description": "等待秒数 With `concurrent_change` and `request_in_progress` only: seconds to wait before "
                       "sending the same request again",
        "required": False, "schema": {"type": "integer", "minimum": 1},
    },
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "description": "幂等键（可选）：客户端为每个预期操作选定，1–255个可见ASCII字符。同一令牌以同一键重试同一请求，得到首次的应答"
                       "（带 `Idempotent-Replayed: true`），不再记录任何内容；同一键用于不同请求为422；首次请求仍在处理时重试为409"
                       "（带 `Retry-After`）；首次请求已记录但应答丢失时，得到恢复的答复（200，`Recovered`）；5xx、429 与 409 "
                       "`concurrent_change` 应答不保留。 "
                       "Optional, chosen by the client, one per intended action: 1 to 255 visible ASCII characters "
                       "(e.g. a UUID). A retry of the same request (method, path, query and body) with the same key "
                       "and token gets the first answer again, with `Idempotent-Replayed: true`, and records nothing "
                       "more; the same key with a different request is a 422; while the first request is still "
                       "running, a retry gets 409 with `Retry-After`; if the first request was recorded but its "
                       "answer lost, the retry gets the `Recovered` answer (200). Answers that say only \"nothing was "
                       "recorded, try again\" are not kept (5xx, 429 and 409 `concurrent_change`): a retry with "
                       "the key runs afresh.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_SHAPE.pattern},
    },
    "If-Match": {
        "name": "If-Match", "in": "header", "required": False,
        "description": "期望版本（可选）：资源 `ETag` 中的版本；若记录已有更新，写入被拒绝（409），不记录任何内容。 "
                       "Optional: the version from the `ETag` of the stream this write changes (see the operation's "
                       "description), e.g. `\"3\"`; if the stream has moved on, the write is refused with 409 and "
                       "records nothing.",
        "schema": {"type": "string", "pattern": r'^\s*(W/)?"?[0-9]{1,18}"?\s*$'},
    },
}

#: The names of the helpers a route function calls that decide what it sends.
SETS_ETAG = {"etag"}
SETS_LOCATION = {"created", "location"}
HONOURS_IF_MATCH = {"expect"}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) return the completed document."""
    fastapi_openapi: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = fastapi_openapi()  # FastAPI's own description, kept on app.openapi_schema
            try:
                complete(app, document)
            except BaseException:
                app.openapi_schema = None
                raise
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(app: FastAPI, document: dict[str, Any]) -> None:
    """Add the errors, headers and descriptions of the module's description to ``document``."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = copy.deepcopy(PROBLEM_SCHEMA)
    schemas["Recovered"] = copy.deepcopy(RECOVERED_SCHEMA)
    components["headers"] = copy.deepcopy(HEADERS)
    components["parameters"] = copy.deepcopy(PARAMETERS)
    responses = components.setdefault("responses", {})
    for status, (description, headers) in ERRORS.items():
        for post in (False, True):
            extra: dict[str, Any] = {}
            if post and status in REPLAYED:
                extra["Idempotent-Replayed"] = {"$ref": REF + "headers/Idempotent-Replayed"}
            if post and status == 409:
                extra["Retry-After"] = {"description": "等待秒数 With `request_in_progress`: seconds until the first "
                                                       "request's lease ends", "schema": {"type": "integer", "minimum": 1}}
            responses[_problem_name(status, post)] = {
                "description": description,
                **({"headers": {**headers, **extra}} if headers or extra else {}),
                "content": {PROBLEM: {"schema": {"$ref": REF + "schemas/Problem"}}},
            }
    responses["Recovered"] = {
        "description": RECOVERED_SCHEMA["description"],
        "headers": {
            "ETag": {"$ref": REF + "headers/ETag"},
            "Idempotent-Replayed": {**HEADERS["Idempotent-Replayed"], "required": True},
            "Idempotent-Recovered": {"$ref": REF + "headers/Idempotent-Recovered"},
        },
        "content": {"application/json": {"schema": {"$ref": REF + "schemas/Recovered"}}},
    }
    for path, methods, route in _api_routes(app):
        if not route.include_in_schema:
            continue
        for method in sorted(methods):
            operation = document.get("paths", {}).get(path, {}).get(method.lower())
            if operation is not None:
                _complete_operation(route, method, operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _api_routes(app: FastAPI) -> list[tuple[str, set[str], APIRoute]]:
    """(path as documented, methods, route) of every API route, whatever the routers' nesting."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers became lazy
        return [(r.path_format, set(r.methods), r) for r in app.routes if isinstance(r, APIRoute)]
    return [(c.path_format, set(c.methods or ()), c.original_route) for c in iter_route_contexts(app.routes)
            if isinstance(c.original_route, APIRoute)]


def _problem_name(status: int, post: bool) -> str:
    return f"Problem{status}" + ("Post" if post and status in REPLAYED else "")


def _complete_operation(route: APIRoute, method: str, operation: dict[str, Any]) -> None:
    calls = _calls(route.endpoint)
    is_post = method == "POST"
    parameters = operation.setdefault("parameters", [])
    if is_post:
        parameters.append({"$ref": REF + "parameters/Idempotency-Key"})
    if calls & HONOURS_IF_MATCH:
        parameters.append({"$ref": REF + "parameters/If-Match"})
    if not parameters:
        del operation["parameters"]

    responses = operation.setdefault("responses", {})
    for code, answer in responses.items():
        if not code.startswith("2"):
            continue
        headers = answer.setdefault("headers", {})
        if calls & SETS_ETAG:
            headers["ETag"] = {"$ref": REF + "headers/ETag"}
        if calls & SETS_LOCATION:
            headers["Location"] = {"$ref": REF + "headers/Location"}
        if is_post:
            headers["Idempotent-Replayed"] = {"$ref": REF + "headers/Idempotent-Replayed"}
        if not headers:
            del answer["headers"]
        description = _described(route)
        if description and answer.get("description") == route.response_description:
            answer["description"] = description
    if is_post:
        _recovered(responses)

    statuses = list(EVERY_OPERATION)
    if operation.get("security"):
        statuses += WITH_TOKEN
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": REF + "responses/" + _problem_name(status, is_post)}
    operation["responses"] = dict(sorted(responses.items()))


def _recovered(responses: dict[str, Any]) -> None:
    """A POST's retry may get the ``Recovered`` answer (200): the 200 response, or the
    other answer a 200 of this operation may be."""
    answer = responses.get("200")
    if answer is None:
        responses["200"] = {"$ref": REF + "responses/Recovered"}
        return
    answer["description"] += " — or, to a retry whose first request's answer was lost, the `Recovered` answer"
    content = answer.setdefault("content", {}).setdefault("application/json", {})
    content["schema"] = {"anyOf": [content.get("schema", {}), {"$ref": REF + "schemas/Recovered"}]}
    answer.setdefault("headers", {}).update({
        "ETag": {**HEADERS["ETag"], "required": False},
        "Idempotent-Recovered": {**HEADERS["Idempotent-Recovered"], "required": False},
    })


def _calls(endpoint: Callable[..., Any]) -> set[str]:
    """The global names (and attribute names) the route function's code uses."""
    function = inspect.unwrap(endpoint)
    names: set[str] = set()
    pending = [function.__code__] if hasattr(function, "__code__") else []
    while pending:
        code = pending.pop()
        names.update(code.co_names)
        pending.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _described(route: APIRoute) -> str | None:
    """The first line of the docstring of the model the route's answer is described by."""
    for marker in get_args(route.response_model)[1:]:
        if isinstance(marker, Described):
            shape = marker.shape
            model = get_args(shape)[0] if get_args(shape) else shape
            doc = inspect.getdoc(model) or ""
            first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
            if first:
                return ("列表 A list; each: " + first) if shape is not model else first
    return None

"""What the routes answer, as the OpenAPI document describes it, and the ids they take.

A route function returns the plain dict its view builds (``campaign_view``, ``acted`` and
``written`` of :mod:`api.versioning`, …). Its return annotation ``Answer[Model]`` (or
``Answer[list[Model]]``) leaves the answer exactly as it was: FastAPI still checks and
serialises it as a ``dict[str, Any]`` (a list of them), which costs next to nothing on the
event loop and changes no byte of it. Only the OpenAPI document describes it by ``Model``.
The models describe; they never filter, fill in or convert anything. So every key a view
writes must be a field of its model (``required`` when the view always writes it, declared
with :func:`absent` when it may leave it out), and ``tests/test_api_schema.py`` checks the
real answers against these descriptions for every role.

Path parameters naming a stream (campaign, candidacy, community, inspection, selection,
visit plan, any stream) are :data:`Uuid`: a value that is not a UUID is a 422 naming the
parameter, before the route runs; the route gets the id as the platform prints it.
"""

from __future__ import annotations

from typing import Annotated, Any, get_origin
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter
from pydantic_core import core_schema


class Described:
    """An ``Annotated`` marker: checked and serialised as the annotated type, described in
    JSON Schema (the OpenAPI document) as ``shape``."""

    def __init__(self, shape: Any) -> None:
        self.shape = shape
        self._adapter: TypeAdapter[Any] | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return handler(source)  # the annotated type's own checks and serialisation, unchanged

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        if self._adapter is None:
            self._adapter = TypeAdapter(self.shape)
        shape = self._adapter.core_schema
        if shape.get("ref"):  # a model: referenced by name (a component), not inlined
            shape = core_schema.definitions_schema(core_schema.definition_reference_schema(shape["ref"]), [shape])
        return handler(shape)


class Answer:
    """``Answer[Model]``: a JSON object described by ``Model``; ``Answer[list[Model]]``: a
    list of them (see the module's description)."""

    def __class_getitem__(cls, shape: Any) -> Any:
        base = list[dict[str, Any]] if get_origin(shape) is list else dict[str, Any]
        return Annotated[base, Described(shape)]


def absent(description: str = "", **kwargs: Any) -> Any:
    """A field the answer leaves out (rather than sending null) when it does not apply."""
    return Field(default_factory=_nothing, description=description, **kwargs)


def _nothing() -> None:  # pragma: no cover - the models only describe, they are never built
    return None


class Shape(BaseModel):
    """An answer's description (never built: see the module's description)."""


def _as_printed(value: UUID) -> str:
    return str(value)


#: A stream id in a path: a UUID (else 422 naming the parameter), handed to the route as
#: the platform prints it (lower-case, hyphenated text).
Uuid = Annotated[UUID, AfterValidator(_as_printed)]


# -- pieces of many answers --------------------------------------------------------------------


class Acted(Shape):
    """写入结果 The answer to a write: the stream it changed and the stream's new version (its next `If-Match`)."""

    id: UUID = Field(description="编号 The stream written")
    version: int = Field(description="版本 The stream's version after the write", ge=1)


class ActedStatus(Acted):
    """写入结果与状态 The stream written, its new version and its status."""

    status: str = Field(description="状态 Status after the write")


class Registered(Shape):
    """已登记 The new record's id and code (its `Location` is in the header)."""

    id: UUID = Field(description="编号 Id of the new record")
    code: str = Field(description="代码 Its code")


class Who(Shape):
    """记录人 Who acted, as recorded on the event."""

    id: str = Field(description="姓名或编号 The token's name")
    role: str = Field(description="角色 Role")
    org: str = Field(description="机构 Organisation")


class ObjectionCounts(Shape):
    """异议数 Objections by status."""

    open: int
    upheld: int
    dismissed: int


class ObjectionTally(ObjectionCounts):
    """异议数 Objections filed, and by status."""

    filed: int


class Evidence(Shape):
    """证据 A piece of evidence: file name and SHA-256 of its bytes."""

    name: str
    sha256: str


class PinnedRubric(Shape):
    """所用评分标准 The rubric version a campaign pinned."""

    id: str
    version: str
    hash: str = Field(description="内容哈希 sha256:… of the rubric version")


class LevelSummary(Shape):
    """级别 A level of a rubric."""

    id: str
    label: str
    provisional: bool


class Status(Shape):
    """服务状态 The service is up."""

    status: str = Field(examples=["ok"])
    version: str = Field(description="版本 Civic Ledger version")


class Me(Shape):
    """当前身份 Who the token acts as."""

    id: str = Field(description="姓名 The token's name, recorded on every event")
    role: str
    role_label: str = Field(description="角色名称 The role in Chinese")
    organisation: str
    tenant: str = Field(description="租户 Tenant code, or `*` for an auditor of every tenant")


class CheckpointView(Shape):
    """覆盖检查点 The signed checkpoint of the tenant's transparency log that covers this answer:
    taken after the answer was read, so every event it rests on is among the log's first
    `size` leaves. Publish `note` with the notice; auditors check bundles and the store
    against it (`civic audit verify FILE --checkpoint`, `civic audit check-checkpoint`)."""

    origin: str = Field(description="日志 `<log name>/<tenant>`")
    size: int = Field(description="树大小 The tree size (leaves)")
    root: str = Field(description="根 The root, base64")
    note: str = Field(description="检查点 The whole signed checkpoint note (C2SP tlog-checkpoint), as published")


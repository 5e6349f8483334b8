"""Routes: the tenants' transparency logs (透明日志) — signed checkpoints, consistency and
inclusion proofs, the leaves, and the cosignatures witnesses return (:mod:`core.tlog`,
:mod:`core.signing`, :mod:`core.witness`).

The checkpoints are public: a municipality publishes its checkpoint with its notices, and
anyone may fetch it and the cosigned ones without a token. Proofs and leaves need a token
that may read the tenant, as every audit read does (another tenant's log is 404, exactly as
a log that does not exist; residents get 403); the log ``*`` (events naming no tenant) is
read by auditors of every tenant only. A witness submits its cosignature with such a token;
it is kept beside the events (:class:`core.witness.CosignatureStore`), never as an event.

The log's signing key is read as ``civic audit checkpoint`` reads it (``CIVIC_LOG_KEY_FILE``,
generated there on first use by the checkpoint route, as the command does); receiving a
cosignature never writes a key (without one, no checkpoint can be this log's: 422). Hashes
are standard base64.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentActor, Ledger
from api.endpoints import LedgerRoute
from api.routes.answers import Answer, Shape, Uuid
from api.routes.tenants import created, reader_in
from core import notes, signing
from core.actors import Actor, Role
from core.errors import ConfigurationError, InvalidInput, NotFound, PermissionDenied, StoreTampered
from core.services import CivicLedger
from core.services.base import ALL_TENANTS
from core.witness import CosignatureStore, receive

router = APIRouter(tags=["log"], route_class=LedgerRoute)

NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
#: Tree sizes and positions are stored as 64-bit integers.
MAX_SIZE = 2**63 - 1
#: The most leaves one page of ``GET .../log/leaves`` lists.
MAX_PAGE = 1000
LEAF_INDEX_TABLE = "civic_log_leaf_index"
#: Leaves the leaf index reads from the log at a time while it catches up.
INDEX_PAGE = 5000
PUBLIC = " 公开，无需令牌 Public: no token needed."
TOKEN = " 需可读该租户的令牌 Needs a token that may read the tenant (residents get 403; another tenant's log is 404)."
#: The problems a public route can answer besides 400, 413 and 422.
PUBLIC_ERRORS = {"responses": {"404": {"$ref": "#/components/responses/Problem404"},
                               "503": {"$ref": "#/components/responses/Problem503"}}}
NOTE_ANSWER = {"content": {"text/plain": {"schema": {"type": "string"}}}}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- examples (a well-formed note and witness key; the server's own key signs other notes) -------------

_EXAMPLE_LOG = notes.SignerKey("civic-ledger.local", hashlib.sha256(b"civic-ledger example log key").digest())
_EXAMPLE_WITNESS = notes.SignerKey("auditor.example.org", hashlib.sha256(b"civic-ledger example witness key").digest())
EXAMPLE_NOTE = notes.cosign(
    notes.sign(notes.Checkpoint("civic-ledger.local/demo-tianjin", 42, hashlib.sha256(b"example").digest()).body(),
               _EXAMPLE_LOG),
    _EXAMPLE_WITNESS, 1700000000).decode("utf-8")
EXAMPLE_WITNESS_KEY = str(_EXAMPLE_WITNESS.cosignature_verifier())


# -- the signing key, the side tables ----------------------------------------------------------------

_key_lock = threading.Lock()
_stores_lock = threading.Lock()


def log_signer(create: bool) -> notes.SignerKey:
    """The log's signing key from ``CIVIC_LOG_KEY_FILE`` (made there when missing and
    ``create``, as ``civic audit checkpoint`` does)."""
    with _key_lock:
        try:
            return signing.log_key(create=create)
        except FileExistsError:  # another process made it a moment ago
            return signing.log_key(create=False)
        except OSError as exc:
            raise ConfigurationError(f"{signing.KEY_ENV}: no log signing key could be made at {signing.key_file()} "
                                     f"({exc.strerror})") from None


class LeafIndex:
    """Which leaf each event is, per tenant (table ``civic_log_leaf_index`` beside the
    events; never events). It follows the log: a lookup first indexes the leaves added since
    the last one, in pages, up to the leaf it looks for."""

    def __init__(self, side: Any, recorder: Any) -> None:
        self.side = side
        self.recorder = recorder
        self.table = side.table(LEAF_INDEX_TABLE)
        side.create([
            f"CREATE TABLE IF NOT EXISTS {self.table} (tenant TEXT NOT NULL, stream TEXT NOT NULL, "
            "version BIGINT NOT NULL, leaf BIGINT NOT NULL, PRIMARY KEY (tenant, stream, version))",
            f"CREATE INDEX IF NOT EXISTS {LEAF_INDEX_TABLE}_leaf ON {self.table} (tenant, leaf)",
        ], lock=_lock_key(side.schema) if side.kind == "postgres" else None)

    def find(self, tenant: str, stream: UUID, version: int) -> int | None:
        key = (tenant, str(stream), version)
        with self.side.transaction() as c:
            found = c.query(f"SELECT leaf FROM {self.table} WHERE tenant = ? AND stream = ? AND version = ?", key)
            indexed = int(c.query(f"SELECT coalesce(max(leaf) + 1, 0) FROM {self.table} WHERE tenant = ?",
                                  (tenant,))[0][0])
        if found:
            leaf = int(found[0][0])
            if [(i, str(s), v) for i, s, v in self.recorder.log_leaves(tenant, leaf, leaf + 1)] != [(leaf, key[1], version)]:
                raise StoreTampered(f"日志与其索引不符 the log of {tenant!r} no longer has {stream} at position {version} "
                                    f"as leaf {leaf}: the store was altered; run `civic audit verify`")
            return leaf
        size = self.recorder.log_size(tenant)
        while indexed < size:
            page = self.recorder.log_leaves(tenant, indexed, min(indexed + INDEX_PAGE, size))
            if not page:
                break
            rows = [(tenant, str(s), v, i) for i, s, v in page]
            with self.side.transaction() as c:
                c.executemany(f"INSERT INTO {self.table} (tenant, stream, version, leaf) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT DO NOTHING", rows)
            indexed = page[-1][0] + 1
            hit = next((i for _, s, v, i in rows if (s, v) == key[1:]), None)
            if hit is not None:
                return hit
        return None


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"civic-log-leaf-index:{schema}".encode()).digest()[:8], "big", signed=True)


def stores(request: Request) -> tuple[CosignatureStore, LeafIndex]:
    """The application's cosignature store and leaf index (tables made on first use)."""
    state = request.app.state
    made = getattr(state, "log_stores", None)
    if made is None:
        with _stores_lock:
            made = getattr(state, "log_stores", None)
            if made is None:
                ledger: CivicLedger = state.ledger
                made = state.log_stores = (CosignatureStore(ledger.side), LeafIndex(ledger.side, ledger.recorder))
    return made


def readable(app: CivicLedger, actor: Actor, tenant: str) -> None:
    """NotFound unless ``actor`` may read ``tenant`` (the log ``*``: auditors of every tenant)."""
    if tenant == ALL_TENANTS:
        if actor.tenant != ALL_TENANTS:
            raise NotFound("tenant", repr(tenant))
        return
    reader_in(app, actor, tenant)


def logged(app: CivicLedger, tenant: str) -> int:
    """The size of the tenant's log; NotFound when it has none."""
    size = app.recorder.log_size(tenant)
    if size == 0:
        raise NotFound("log", repr(tenant))
    return size


def _within(field: str, value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise InvalidInput(field, value, f"{low} 到 {high} {what[0]} {what[1]} from {low} to {high}")


# -- answers ----------------------------------------------------------------------------------------


class ConsistencyProof(Shape):
    """一致性证明 RFC 9162 consistency proof: the tree of `from` leaves is a prefix of the tree of `to` leaves."""

    tenant: str
    from_: int = Field(alias="from", description="旧树大小 The smaller tree size")
    to: int = Field(description="新树大小 The larger tree size")
    proof: list[str] = Field(description="证明 The proof's hashes, standard base64, leaf side first")


class InclusionProof(Shape):
    """包含证明 RFC 9162 inclusion proof of one event's leaf in the tree of `size` leaves."""

    tenant: str
    stream: UUID
    version: int = Field(description="事件位置 The event's position in its stream")
    size: int = Field(description="树大小 The tree size the proof is for")
    index: int = Field(description="叶序号 The event's leaf index (0 = the tenant's first event)")
    hash: str = Field(description="叶哈希 The leaf hash, SHA-256(0x00 || entry), standard base64")
    proof: list[str] = Field(description="证明 The proof's hashes, standard base64, leaf side first")


class Leaf(Shape):
    """叶 One leaf of the log: which event it is."""

    index: int
    stream: UUID
    version: int
    hash: str = Field(description="叶哈希 The leaf hash, standard base64")


class LeafPage(Shape):
    """日志叶 A page of the log's leaves, in log order (`start` <= index < `stop`)."""

    tenant: str
    size: int = Field(description="日志大小 The log's size now")
    start: int
    stop: int
    leaves: list[Leaf]


class CosignatureReceived(Shape):
    """已收到副署 The witness's cosignature was checked and kept (`Location`: the cosigned checkpoint)."""

    tenant: str
    origin: str
    size: int
    root: str = Field(description="根哈希 standard base64")
    witness: str = Field(description="见证名称 The witness key's name")
    witness_key: str
    timestamp: int = Field(description="副署时间 The cosignature's time, POSIX seconds")
    recorded: bool = Field(description="是否保存 False when a cosignature by this key with this or a later time was already kept")
    cosignatures: int = Field(description="副署数 How many witness keys have cosigned this checkpoint here")


class CosignedCheckpoint(BaseModel):
    """提交副署 A checkpoint of this log, cosigned by the witness key given with it."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(
        max_length=32768, description="检查点 The signed checkpoint note (as `GET .../log/checkpoint` gives it) with the "
                                      "witness's cosignature/v1 line added", examples=[EXAMPLE_NOTE])
    witness_key: str = Field(
        max_length=512, description="见证公钥 The witness's verifier key (type 0x04, `civic audit witness-key` prints it)",
        examples=[EXAMPLE_WITNESS_KEY])


# -- checkpoints (public) ----------------------------------------------------------------------------


@router.get(
    "/tenants/{tenant}/log/checkpoint",
    summary="检查点 The log's signed checkpoint (no token needed)",
    response_class=PlainTextResponse,
    responses={200: {"description": "检查点 The C2SP checkpoint note, signed with the log key", **NOTE_ANSWER}},
    openapi_extra=PUBLIC_ERRORS,
    description="租户日志当前的检查点（C2SP tlog-checkpoint），以日志密钥签署，并附上已收到的对此检查点的见证副署。"
                "The tenant's log as it is now: a C2SP checkpoint note (origin `<log name>/<tenant>`, tree size, "
                "root), signed with the log key, with every witness cosignature received for exactly this "
                "checkpoint. 404 when the tenant has no log." + PUBLIC,
)
def checkpoint(tenant: str, app: Ledger, request: Request) -> Response:
    logged(app, tenant)
    note = signing.checkpoint(app.recorder, tenant, log_signer(create=True))
    cosignatures, _ = stores(request)
    lines = cosignatures.lines(tenant, notes.parse_note(note).text)
    return Response(notes.with_signatures(note, lines) if lines else note, media_type=NOTE_MEDIA_TYPE)


@router.get(
    "/tenants/{tenant}/log/checkpoints/{size}",
    summary="已副署检查点 A cosigned checkpoint (no token needed)",
    response_class=PlainTextResponse,
    responses={200: {"description": "检查点 The stored checkpoint note with every cosignature received", **NOTE_ANSWER}},
    openapi_extra=PUBLIC_ERRORS,
    description="见证提交过副署的该大小的检查点，附上收到的全部副署（每个见证公钥一行，取最新）；没有则 404。"
                "The checkpoint of `size` leaves that witnesses cosigned, as stored when the first cosignature "
                "arrived, with every cosignature received for it (one line per witness key, its latest); 404 when "
                "no witness cosigned a checkpoint of that size." + PUBLIC,
)
def cosigned_checkpoint(
    tenant: str,
    size: Annotated[int, Path(ge=0, le=MAX_SIZE, description="树大小 Tree size", examples=[1])],
    request: Request,
) -> Response:
    cosignatures, _ = stores(request)
    note = cosignatures.stored(tenant, size)
    if note is None:
        raise NotFound("cosigned checkpoint", f"{tenant!r} of {size} leaves")
    return Response(note, media_type=NOTE_MEDIA_TYPE)


# -- proofs and leaves (a token that may read the tenant) ----------------------------------------------


@router.get(
    "/tenants/{tenant}/log/consistency",
    summary="一致性证明 Consistency proof between two tree sizes",
    description="证明 `from` 大小的树是 `to` 大小的树的前缀（RFC 9162 §2.1.4）。The RFC 9162 consistency proof "
                "that the tenant's tree of `from` leaves is a prefix of its tree of `to` leaves "
                "(`from` <= `to` <= the log's size; 422 otherwise). Check it against the roots of two signed "
                "checkpoints, never against roots the server states." + TOKEN,
)
def consistency(
    tenant: str,
    actor: CurrentActor,
    app: Ledger,
    from_: Annotated[int, Query(alias="from", ge=0, le=MAX_SIZE, description="旧树大小 The smaller tree size",
                                examples=[1])],
    to: Annotated[int, Query(ge=0, le=MAX_SIZE, description="新树大小 The larger tree size", examples=[2])],
) -> Answer[ConsistencyProof]:
    readable(app, actor, tenant)
    size = app.recorder.log_size(tenant)
    _within("to", to, 0, size, ("日志已达到的树大小", "a tree size the log has reached,"))
    _within("from", from_, 0, to, ("不大于 to 的树大小", "a tree size no larger than `to`,"))
    proof = app.recorder.consistency_proof(tenant, from_, to)
    return {"tenant": tenant, "from": from_, "to": to, "proof": [_b64(h) for h in proof]}


@router.get(
    "/tenants/{tenant}/log/inclusion",
    summary="包含证明 Inclusion proof of an event",
    description="事件（`stream` 的第 `version` 个事件）的叶序号与其在 `size` 大小的树中的包含证明（RFC 9162 §2.1.3）。"
                "The leaf index of the event at position `version` of `stream` and the RFC 9162 inclusion proof "
                "of its leaf in the tenant's tree of `size` leaves (the event's leaf must be below `size`, and "
                "`size` at most the log's size; 422 otherwise). 404 when the event is not in the tenant's log."
                + TOKEN,
)
def inclusion(
    tenant: str,
    actor: CurrentActor,
    app: Ledger,
    request: Request,
    stream: Annotated[Uuid, Query(description="记录编号 The event's stream", examples=["8245e4da-6b3d-5614-852e-966e22b5f307"])],
    version: Annotated[int, Query(ge=1, le=MAX_SIZE, description="事件位置 The event's position (1 = first)", examples=[1])],
    size: Annotated[int, Query(ge=1, le=MAX_SIZE, description="树大小 The tree size to prove it in", examples=[1])],
) -> Answer[InclusionProof]:
    readable(app, actor, tenant)
    current = app.recorder.log_size(tenant)
    _within("size", size, 1, max(current, 1), ("日志已达到的树大小", "a tree size the log has reached,"))
    _, leaves = stores(request)
    index = leaves.find(tenant, UUID(stream), version)
    if index is None:
        raise NotFound("log leaf", f"{stream} at position {version} in the log of {tenant!r}")
    if index >= size:
        raise InvalidInput("size", size, f"大于叶序号 {index} 的树大小 a tree size above the event's leaf index {index}, "
                                         f"at most {current}")
    proof = app.recorder.inclusion_proof(tenant, index, size)
    (leaf_hash,) = app.recorder.log_nodes(tenant, [(0, index)]).values()
    return {"tenant": tenant, "stream": stream, "version": version, "size": size, "index": index,
            "hash": _b64(leaf_hash), "proof": [_b64(h) for h in proof]}


@router.get(
    "/tenants/{tenant}/log/leaves",
    summary="日志叶 The log's leaves, a page at a time",
    description=f"日志的叶（叶序号、记录编号、事件位置、叶哈希），每页至多 {MAX_PAGE} 个。The tenant's leaves "
                f"`start` <= index < `stop` in log order (`stop` defaults to `start` + {MAX_PAGE} and is cut at the "
                f"log's size; at most {MAX_PAGE} a page): which event each leaf is, and its hash. Every event of the "
                "tenant is a leaf, the access-token records included." + TOKEN,
)
def leaves(
    tenant: str,
    actor: CurrentActor,
    app: Ledger,
    start: Annotated[int, Query(ge=0, le=MAX_SIZE, description="首个叶序号 First leaf index", examples=[0])] = 0,
    stop: Annotated[int | None, Query(ge=0, le=MAX_SIZE, description="止于（不含） Leaf index to stop before",
                                      examples=[100])] = None,
) -> Answer[LeafPage]:
    readable(app, actor, tenant)
    size = app.recorder.log_size(tenant)
    _within("start", start, 0, size, ("日志大小以内的叶序号", "a leaf index within the log,"))
    if stop is None:
        stop = min(start + MAX_PAGE, size)
    else:
        _within("stop", stop, start, start + MAX_PAGE, (f"不小于 start、每页至多 {MAX_PAGE} 个叶",
                                                        f"at most {MAX_PAGE} leaves from `start`:"))
        stop = min(stop, size)
    rows = app.recorder.log_leaves(tenant, start, stop)
    hashes = app.recorder.log_nodes(tenant, [(0, i) for i, _, _ in rows])
    return {"tenant": tenant, "size": size, "start": start, "stop": stop,
            "leaves": [{"index": i, "stream": str(s), "version": v, "hash": _b64(hashes[(0, i)])} for i, s, v in rows]}


# -- witnesses' cosignatures ------------------------------------------------------------------------------


@router.post(
    "/tenants/{tenant}/log/cosignatures", status_code=201,
    summary="提交见证副署 Submit a witness's cosignature",
    description="见证提交其副署的检查点：须由本日志密钥签署、来源为本租户日志、其大小处的根哈希与日志一致，并带有所给见证"
                "公钥的有效副署；副署保存在事件之外的附表中。A witness submits a checkpoint it cosigned: it must be "
                "signed by this log's key, of the origin `<log name>/<tenant>`, with the log's root at its size, "
                "and carry a valid cosignature/v1 by `witness_key`. The cosignature is kept beside the events (not "
                "as an event; one per witness key and checkpoint, its latest), served with the checkpoint from "
                "then on; anything else is 422 and nothing is kept." + TOKEN,
)
def submit_cosignature(
    tenant: str, body: CosignedCheckpoint, actor: CurrentActor, app: Ledger, request: Request, response: Response,
) -> Answer[CosignatureReceived]:
    if actor.role is Role.RESIDENT:
        raise PermissionDenied("submit_cosignature", actor.role.value, sorted(r.value for r in Role if r is not Role.RESIDENT))
    readable(app, actor, tenant)
    if not signing.key_file().exists():
        raise InvalidInput("checkpoint", body.checkpoint[:200], "本日志签署的检查点；本日志尚无签名密钥，未签署过检查点 a "
                                                                "checkpoint signed by this log's key; the log has no key yet "
                                                                f"({signing.KEY_ENV}), so it has signed none")
    signer = log_signer(create=False)
    received = receive(app.recorder, signer, tenant, body.checkpoint, body.witness_key)
    cosignatures, _ = stores(request)
    kept = cosignatures.record(tenant, received, f"{actor.id} ({actor.role.value}, {actor.tenant})")
    cp, cosignature = received.checkpoint, received.cosignature
    return created(response, f"/tenants/{quote(tenant, safe='')}/log/checkpoints/{cp.size}", {
        "tenant": tenant, "origin": cp.origin, "size": cp.size, "root": _b64(cp.root),
        "witness": received.witness.name, "witness_key": str(received.witness), "timestamp": cosignature.timestamp,
        **kept,
    })

"""Witnesses of the tenants' transparency logs (C2SP tlog-cosignature, ``cosignature/v1``).

A witness is someone other than the municipality, an auditor or another municipality, with
an Ed25519 key of its own. It cosigns a log's checkpoint only when the checkpoint is signed
by the log's key and the tree it names *extends* the last tree the witness cosigned for
that origin (an RFC 9162 consistency proof from the old size to the new one verifies). A
checkpoint that a client finds cosigned by ``k`` witnesses it trusts is then one that no
municipality can quietly replace by another history: it would have to show each witness a
fork, and every witness refuses one.

The witness side
================

* **Key**: :func:`new_witness_key` writes ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 ||
  seed)>`` (Go's ``note`` signer form, :mod:`core.notes`) to a new file, mode 0600; its
  verifier key, the one to publish, has type ``0x04`` (``<name>+<key id>+<base64(0x04 ||
  public key)>``).
* **State** (:class:`WitnessState`): a JSON file, per origin the tree last cosigned::

      {"format": "civic-witness-state", "version": 1, "witness": "<witness verifier key>",
       "logs": {"<origin>": {"size": 42, "root": "<base64>", "timestamp": 1700000000,
                             "log_key": "<log verifier key>"}}}

  ``timestamp`` is the cosignature's (POSIX seconds). The file is replaced atomically (a
  temporary file in the same directory, flushed to disk, then renamed over it) while a lock
  on ``<state>.lock`` is held, so two runs never cosign from the same old state. A missing
  file is an empty state; a file that cannot be read as one is refused, never reset.
* **Cosigning** (:func:`witness`): the log's signature must verify with the log key given;
  then, against the state's entry for the checkpoint's origin:

  - no entry: trusted on first use (``Cosigned.first_use``);
  - same size and root: cosigned again, with a new timestamp;
  - larger: a consistency proof from the old size must verify (:class:`Proof`; without one
    nothing is cosigned, :class:`ProofNeeded`);
  - same size with another root, a larger size whose proof fails, or a smaller size not
    shown to be a prefix of the old tree: a **fork** (:class:`Fork`, ``kind == "fork"``);
  - a smaller size that is a prefix of the old tree (its proof verifies): a **rollback**
    (:class:`Fork`, ``kind == "rollback"``), refused as well: a log never shrinks.

  A fork or a rollback writes nothing. Otherwise the state is written first, then the
  cosigned note is returned (with every signature it had, and the witness's line).
* **Online** (:func:`witness_online`): the same against a Civic Ledger server, through
  its routes ``GET /tenants/{tenant}/log/checkpoint``, ``GET .../log/consistency`` and
  ``POST .../log/cosignatures`` (:class:`LogServer`).

The log side
============

:func:`receive` checks a cosigned checkpoint a witness submits: signed by the log's key,
the origin ``<log name>/<tenant>``, a size the log has reached and, at that size, the log's
root; and cosigned by the witness key submitted with it. :class:`CosignatureStore` keeps it
beside the events (tables ``civic_log_checkpoints`` and ``civic_log_cosignatures``, never
events): one line per witness key and checkpoint (its latest), and a witness key is bound
to its name and key ID for the tenant (another key with the same name and ID is refused).

:func:`check_cosignatures` is what ``civic audit check-checkpoint --witness`` asks: which of
the named witnesses cosigned a checkpoint, and whether ``k`` of them did.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import merkle, notes
from core.errors import CivicError, InvalidInput

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

STATE_FORMAT = "civic-witness-state"
STATE_VERSION = 1
#: The exit code of ``civic audit witness`` for a fork or a rollback.
EXIT_FORK = 3
CHECKPOINTS_TABLE = "civic_log_checkpoints"
COSIGNATURES_TABLE = "civic_log_cosignatures"
#: Lines a served note may hold besides the log's own signature.
MAX_COSIGNATURES = notes.MAX_SIGNATURES - 1
#: How much of a refused value a problem repeats.
SHOWN = 200

WITNESS_KEY_SHAPE = ("见证公钥 a witness verifier key <name>+<key id>+<base64 of 0x04 || 32-byte Ed25519 key> "
                     "(printed by `civic audit witness-key`)")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _short(value: Any) -> Any:
    return value[:SHOWN] + "…" if isinstance(value, str) and len(value) > SHOWN else value


def _hash_from(text: Any, what: str) -> bytes:
    """A 32-byte hash from its standard base64 (canonical spelling only)."""
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} {_short(text)!r} is not standard base64") from None
    if len(raw) != merkle.HASH_SIZE or _b64(raw) != text:
        raise ValueError(f"{what} {_short(text)!r} is not the canonical base64 of 32 bytes")
    return raw


def verifier_key(text: str, option: str = "--witness") -> notes.VerifierKey:
    """A witness verifier key (type 0x04), or InvalidInput naming ``option``."""
    try:
        key = notes.VerifierKey.parse(text)
    except (notes.NoteError, TypeError) as exc:
        raise InvalidInput(option, _short(text), f"{WITNESS_KEY_SHAPE}; {exc}") from None
    if key.signature_type != notes.SIGNATURE_COSIGNATURE_V1:
        raise InvalidInput(option, _short(text), f"{WITNESS_KEY_SHAPE}; this is a key of type "
                                                  f"0x{key.signature_type:02x}, not a witness key")
    return key


def log_verifier(text: notes.VerifierKey | str, option: str = "--log-key") -> notes.VerifierKey:
    """The log's verifier key (type 0x01), or InvalidInput naming ``option``."""
    if isinstance(text, notes.VerifierKey):
        key = text
    else:
        try:
            key = notes.VerifierKey.parse(text)
        except (notes.NoteError, TypeError) as exc:
            raise InvalidInput(option, _short(str(text)), "日志公钥 the log's verifier key, as `civic audit log-key` "
                                                         f"prints it; {exc}") from None
    if key.signature_type != notes.SIGNATURE_ED25519:
        raise InvalidInput(option, str(key), "日志公钥 the log's verifier key (type 0x01), not a witness key")
    return key


# -- the witness's key ----------------------------------------------------------------------------


def new_witness_key(name: str, path: Path) -> notes.VerifierKey:
    """Generate a witness key named ``name`` into the new file ``path`` (mode 0600, never
    overwritten) and return its verifier key (type 0x04)."""
    try:
        signer, _ = notes.generate_key(name)
    except (notes.NoteError, TypeError):
        raise InvalidInput("--name", _short(name), "见证名称 a key name: not empty, no '+', no spaces or control "
                                                   "characters (e.g. the witness's domain, auditor.example.org)") from None
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput("--out", str(path), "一个尚不存在的文件 a file that does not exist yet "
                                               "(a key is never overwritten)") from None
    except OSError as exc:
        raise InvalidInput("--out", str(path), f"一个可写的新文件 a new file that can be written ({exc.strerror})") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(notes.format_signer_key(signer) + "\n")
    return signer.cosignature_verifier()


def read_witness_key(path: Path) -> notes.SignerKey:
    try:
        return notes.parse_signer_key(Path(path).read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("--key", str(path), "见证私钥文件 a witness key file written by `civic audit witness-key` "
                                               f"({getattr(exc, 'strerror', None) or exc})") from None


# -- the witness's state ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """The tree a witness last cosigned for an origin."""

    size: int
    root: bytes
    timestamp: int
    log_key: str

    def as_json(self) -> dict[str, Any]:
        return {"size": self.size, "root": _b64(self.root), "timestamp": self.timestamp, "log_key": self.log_key}


class WitnessState:
    """The state file (see the module docstring)."""

    def __init__(self, path: Path, witness: str, logs: dict[str, Seen] | None = None) -> None:
        self.path = Path(path)
        self.witness = witness
        self.logs: dict[str, Seen] = dict(logs or {})

    @classmethod
    def load(cls, path: Path, witness: notes.VerifierKey) -> WitnessState:
        path = Path(path)
        if not path.exists():
            return cls(path, str(witness))

        def refused(why: str) -> InvalidInput:
            return InvalidInput("--state", str(path), f"见证状态文件 a witness state file ({STATE_FORMAT} "
                                                      f"{STATE_VERSION}) of this witness key: {why}")

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise refused(str(getattr(exc, "strerror", None) or exc)) from None
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT or data.get("version") != STATE_VERSION:
            raise refused("the file is not one")
        if data.get("witness") != str(witness):
            raise refused(f"it belongs to the witness key {data.get('witness')!r}, not {witness}")
        logs = data.get("logs")
        if not isinstance(logs, dict):
            raise refused("'logs' is not an object")
        seen: dict[str, Seen] = {}
        for origin, entry in logs.items():
            try:
                size, timestamp, log_key = entry["size"], entry["timestamp"], entry["log_key"]
                if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (size, timestamp)):
                    raise ValueError("size and timestamp are whole numbers")
                if not isinstance(log_key, str):
                    raise ValueError("log_key is a verifier key")
                seen[origin] = Seen(size, _hash_from(entry["root"], "root"), timestamp, log_key)
            except (KeyError, TypeError, ValueError) as exc:
                raise refused(f"the entry of {origin!r} is not {{size, root, timestamp, log_key}} ({exc})") from None
        return cls(path, str(witness), seen)

    def as_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "witness": self.witness,
                "logs": {origin: seen.as_json() for origin, seen in sorted(self.logs.items())}}

    def save(self) -> None:
        """Replace the file atomically (temporary file, fsync, rename, fsync of the directory)."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                json.dump(self.as_json(), out, ensure_ascii=False, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        with contextlib.suppress(OSError):
            handle = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)


@contextlib.contextmanager
def state_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<state>.lock`` (where the platform has ``fcntl``)."""
    path = Path(path)
    if fcntl is None:  # pragma: no cover - not POSIX
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InvalidInput("--state", str(path), f"一个可写目录中的状态文件 a state file in a writable directory "
                                                 f"({exc.strerror})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


# -- proofs, forks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """A consistency proof between two tree sizes: the JSON answer of
    ``GET /tenants/{tenant}/log/consistency`` (``from``, ``to``, ``proof``: base64 hashes)."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]

    @classmethod
    def from_json(cls, data: Any) -> Proof:
        if not isinstance(data, dict):
            raise ValueError("a consistency proof is a JSON object with from, to and proof")
        old, new, hashes = data.get("from"), data.get("to"), data.get("proof")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (old, new)) or old > new:
            raise ValueError("'from' and 'to' are tree sizes, from <= to")
        if not isinstance(hashes, list):
            raise ValueError("'proof' is a list of base64 hashes")
        return cls(old, new, tuple(_hash_from(h, f"proof[{n}]") for n, h in enumerate(hashes)))

    @classmethod
    def read(cls, path: Path) -> Proof:
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput("--proof", str(path), "一致性证明文件 a consistency proof file: the JSON answer of "
                                                     "GET /tenants/{tenant}/log/consistency?from=N&to=M "
                                                     f"({getattr(exc, 'strerror', None) or exc})") from None


class WitnessRefused(CivicError):
    """The witness cannot cosign (nothing is written), though this is no fork."""

    code = "witness_refused"


class ProofNeeded(WitnessRefused):
    """The tree grew since the last cosignature and no consistency proof was given."""

    def __init__(self, origin: str, old_size: int, new_size: int) -> None:
        super().__init__(
            f"需要一致性证明，未副署 a consistency proof from {old_size} to {new_size} leaves is needed for {origin} "
            f"(the last cosigned tree has {old_size}); give --proof FILE, the answer of "
            f"GET /tenants/{{tenant}}/log/consistency?from={old_size}&to={new_size}; nothing was cosigned or written",
            origin=origin, old_size=old_size, new_size=new_size,
        )


class Fork(CivicError):
    """A checkpoint that is not consistent with the last one cosigned for its origin
    (``kind == "fork"``), or a consistent but smaller tree (``kind == "rollback"``)."""

    code = "fork"

    #: why -> (Chinese, English)
    REASONS = {
        "same_size": ("同一大小、不同根哈希：日志的历史被改写",
                      "the same size with another root: the log's history was rewritten"),
        "proof_fails": ("一致性证明不成立：此树不是上次副署之树的延伸",
                        "the consistency proof from {old} to {new} leaves does not verify: this tree does not "
                        "extend the one last cosigned"),
        "smaller": ("树比上次副署的小，且无一致性证明表明它是其前缀",
                    "the tree is smaller than the one last cosigned, and no consistency proof shows it is a "
                    "prefix of it: a fork or a truncated log"),
        "rollback": ("树比上次副署的小（是其前缀）：日志只增不减",
                     "the tree is smaller than the one last cosigned (a prefix of it): a log never shrinks"),
    }

    def __init__(self, why: str, origin: str, last: Seen, checkpoint: notes.Checkpoint, state: Path) -> None:
        self.kind = "rollback" if why == "rollback" else "fork"
        self.why = why
        self.origin = origin
        self.last = last
        self.checkpoint = checkpoint
        zh, en = self.REASONS[why]
        header = "回滚：拒绝副署 ROLLBACK: refusing to cosign" if self.kind == "rollback" else \
            "分叉：拒绝副署 FORK: refusing to cosign"
        lines = [
            header,
            f"  日志 origin: {origin}",
            f"  上次副署 last cosigned: {last.size} leaves, root {_b64(last.root)}",
            f"  本检查点 this checkpoint: {checkpoint.size} leaves, root {_b64(checkpoint.root)}",
            f"  {zh} {en.format(old=last.size, new=checkpoint.size)}",
            f"  未写入状态 nothing was written to {state}",
        ]
        super().__init__("\n".join(lines), kind=self.kind, origin=origin, last_size=last.size,
                         last_root=_b64(last.root), size=checkpoint.size, root=_b64(checkpoint.root))


# -- cosigning ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cosigned:
    """What :func:`witness` cosigned: the note with the witness's line, its checkpoint, the
    cosignature's timestamp and the tree cosigned before (None: trusted on first use)."""

    note: bytes
    checkpoint: notes.Checkpoint
    timestamp: int
    previous: Seen | None

    @property
    def first_use(self) -> bool:
        return self.previous is None


def open_log_checkpoint(note: bytes, log_key: notes.VerifierKey, where: str = "CHECKPOINT_FILE") -> notes.Checkpoint:
    """The checkpoint of ``note`` if the log key signed it, else InvalidInput naming ``where``."""
    try:
        return notes.open_checkpoint(note, log_key).checkpoint
    except (notes.NoteError, ValueError, TypeError) as exc:
        raise InvalidInput(where, _short(note.decode("utf-8", "replace")),
                           f"日志签名的检查点 a checkpoint note signed by the log key {log_key} ({exc})") from None


ProofSource = Callable[[int, int], "Proof | None"]


def _consistent(last: Seen, cp: notes.Checkpoint, proof_for: ProofSource, state: Path) -> None:
    """Raise :class:`Fork` or :class:`ProofNeeded` unless ``cp`` extends (or is) ``last``."""
    if cp.size == last.size:
        if cp.root != last.root:
            raise Fork("same_size", cp.origin, last, cp, state)
        return
    low, high = sorted((last.size, cp.size))
    proof = Proof(low, high, ()) if low == 0 else proof_for(low, high)
    if proof is not None and (proof.old_size, proof.new_size) != (low, high):
        raise InvalidInput("--proof", f"from {proof.old_size} to {proof.new_size}",
                           f"一致性证明 a consistency proof from {low} to {high} leaves of {cp.origin}")
    if cp.size > last.size:
        if proof is None:
            raise ProofNeeded(cp.origin, last.size, cp.size)
        if not merkle.verify_consistency(last.size, cp.size, last.root, cp.root, list(proof.hashes)):
            raise Fork("proof_fails", cp.origin, last, cp, state)
        return
    prefix = proof is not None and merkle.verify_consistency(cp.size, last.size, cp.root, last.root, list(proof.hashes))
    raise Fork("rollback" if prefix else "smaller", cp.origin, last, cp, state)


def witness(note: bytes, signer: notes.SignerKey, log_key: notes.VerifierKey | str, state_path: Path,
            proof_for: ProofSource = lambda old, new: None, *, origin: str | None = None,
            now: int | None = None) -> Cosigned:
    """Cosign the checkpoint ``note`` if it is signed by ``log_key`` and consistent with the
    last tree cosigned for its origin in the state file (see the module docstring).
    ``proof_for(old, new)`` gives the consistency proof between two sizes when one is needed
    (None: none to be had). Raises :class:`Fork`, :class:`ProofNeeded` or InvalidInput; then
    nothing is written."""
    key = log_verifier(log_key)
    witness_key = signer.cosignature_verifier()
    with state_lock(state_path):
        state = WitnessState.load(state_path, witness_key)
        cp = open_log_checkpoint(note, key)
        if origin is not None and cp.origin != origin:
            raise InvalidInput("checkpoint", cp.origin, f"检查点来源 a checkpoint of the origin {origin}")
        last = state.logs.get(cp.origin)
        if last is not None:
            _consistent(last, cp, proof_for, state.path)
        timestamp = int(time.time()) if now is None else now
        cosigned = notes.cosign(note, signer, timestamp)
        state.logs[cp.origin] = Seen(cp.size, cp.root, timestamp, str(key))
        state.save()
    return Cosigned(cosigned, cp, timestamp, last)


# -- online: against a Civic Ledger server ----------------------------------------------------------------


class LogServerError(CivicError):
    """The server could not be reached, or refused a request."""

    code = "log_server_error"


#: (method, path, query, JSON body, with token) -> (status, content type, body)
Transport = Callable[[str, str, "dict[str, Any] | None", "Any", bool], "tuple[int, str, bytes]"]


def urllib_transport(url: str, token: str | None, timeout: float = 30.0) -> Transport:
    """Requests to the server at ``url`` with the standard library (bearer ``token``)."""
    base = url.rstrip("/")

    def send(method: str, path: str, query: dict[str, Any] | None, body: Any, auth: bool) -> tuple[int, str, bytes]:
        target = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "application/json, text/plain"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = str(uuid.uuid4())
        if auth and token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(target, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - the URL is the user's
                return answer.status, answer.headers.get("Content-Type", ""), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LogServerError(f"无法连接日志服务 cannot reach {target}: {reason}") from None

    return send


class LogServer:
    """The log routes of a Civic Ledger server, for one tenant."""

    def __init__(self, transport: Transport, tenant: str) -> None:
        self.transport = transport
        self.tenant = tenant
        self.base = f"/tenants/{urllib.parse.quote(tenant, safe='')}/log"

    def _refused(self, what: str, status: int, content: bytes) -> LogServerError:
        try:
            detail = json.loads(content).get("detail", "")
        except (ValueError, AttributeError):
            detail = content[:200].decode("utf-8", "replace")
        return LogServerError(f"日志服务拒绝 the server answered {what} with {status}: {detail}", status=status)

    def checkpoint(self) -> bytes:
        status, _, content = self.transport("GET", self.base + "/checkpoint", None, None, False)
        if status != 200:
            raise self._refused("GET checkpoint", status, content)
        return content

    def consistency(self, old_size: int, new_size: int) -> Proof | None:
        """The proof between two sizes; None when the server cannot give one (422: a size
        its log has not reached)."""
        status, _, content = self.transport("GET", self.base + "/consistency", {"from": old_size, "to": new_size},
                                            None, True)
        if status == 422:
            return None
        if status != 200:
            raise self._refused("GET consistency", status, content)
        try:
            return Proof.from_json(json.loads(content))
        except ValueError as exc:
            raise LogServerError(f"日志服务的一致性证明无效 the server's consistency proof is not one: {exc}") from None

    def submit(self, note: bytes, witness_key: notes.VerifierKey) -> dict[str, Any]:
        status, _, content = self.transport("POST", self.base + "/cosignatures",
                                            None, {"checkpoint": note.decode("utf-8"), "witness_key": str(witness_key)},
                                            True)
        if status not in (200, 201):
            raise self._refused("POST cosignatures", status, content)
        try:
            answer = json.loads(content)
        except ValueError:
            answer = {}
        return answer if isinstance(answer, dict) else {}


class SubmissionFailed(CivicError):
    """The witness cosigned (and wrote its state) but the server did not take the cosignature."""

    code = "submission_failed"

    def __init__(self, cosigned: Cosigned, why: CivicError) -> None:
        super().__init__(f"已副署并写入状态，但提交失败 cosigned and recorded in the state, but the submission failed: {why}")
        self.cosigned = cosigned


def witness_online(server: LogServer, signer: notes.SignerKey, log_key: notes.VerifierKey | str, state_path: Path,
                   *, now: int | None = None) -> tuple[Cosigned, dict[str, Any]]:
    """Fetch the server's current checkpoint of its tenant, cosign it as :func:`witness`
    does (the consistency proof fetched from the server) and post the cosignature back.
    Returns what was cosigned and the server's answer; :class:`SubmissionFailed` when only
    the posting failed."""
    key = log_verifier(log_key)
    note = server.checkpoint()
    cosigned = witness(note, signer, key, state_path, server.consistency, origin=f"{key.name}/{server.tenant}", now=now)
    try:
        answer = server.submit(cosigned.note, signer.cosignature_verifier())
    except LogServerError as exc:
        raise SubmissionFailed(cosigned, exc) from None
    return cosigned, answer


# -- k of n: which named witnesses cosigned ------------------------------------------------------------------


def check_cosignatures(note: bytes | str, witnesses: Sequence[str], k: int | None = None) -> dict[str, Any]:
    """Which of the ``witnesses`` (verifier keys, type 0x04) cosigned the checkpoint ``note``
    and whether at least ``k`` (default: all of them) did: ``{required, cosigned, witnesses:
    [{name, key, status, timestamp}], ok, problems}``; ``status`` is ``cosigned``,
    ``missing`` or ``invalid`` (a line by that key that does not verify)."""
    keys: dict[tuple[str, int], notes.VerifierKey] = {}
    for text in witnesses:
        key = verifier_key(text)
        held = keys.setdefault((key.name, key.key_id), key)
        if held != key:
            raise InvalidInput("--witness", text, f"不同的见证公钥 keys that differ in name or key id ({held} has the "
                                                  "same name and key id)")
    n = len(keys)
    required = n if k is None else k
    if isinstance(required, bool) or not isinstance(required, int) or not 1 <= required <= n:
        raise InvalidInput("--require", k, f"1 到 {n} 之间 a number from 1 to the number of --witness keys ({n})")
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for key in keys.values():
        row: dict[str, Any] = {"name": key.name, "key": str(key), "status": "missing", "timestamp": None}
        try:
            found = notes.verify_cosignatures(note, [key])
        except notes.InvalidSignature:
            row["status"] = "invalid"
            problems.append(f"副署无效 the cosignature by {key.name} does not verify over this checkpoint")
        else:
            if found:
                row["status"], row["timestamp"] = "cosigned", found[0].timestamp
        rows.append(row)
    cosigned = [r["name"] for r in rows if r["status"] == "cosigned"]
    if len(cosigned) < required:
        problems.append(f"见证副署不足 cosigned by {len(cosigned)} of the {n} named witnesses "
                        f"({', '.join(cosigned) or 'none'}); {required} are required")
    return {"required": required, "cosigned": len(cosigned), "witnesses": rows, "ok": not problems, "problems": problems}


def when(timestamp: int) -> str:
    """A cosignature's timestamp as ISO 8601 UTC."""
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat().replace("+00:00", "Z")


# -- the log side: what witnesses return ----------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """A submitted cosignature that checked out (see :func:`receive`)."""

    checkpoint: notes.Checkpoint
    body: str
    log_note: bytes  # the checkpoint with the log's own signature lines only
    witness: notes.VerifierKey
    cosignature: notes.Cosignature


def receive(recorder: Any, signer: notes.SignerKey, tenant: str, note: str, witness_key: str) -> Received:
    """Check a cosigned checkpoint submitted for ``tenant``'s log: the log key signed it, its
    origin is ``<log name>/<tenant>``, the log has reached its size and has its root there,
    and ``witness_key`` (type 0x04) cosigned it. InvalidInput (field ``checkpoint`` or
    ``witness_key``) otherwise."""
    key = verifier_key(witness_key, "witness_key")
    log_key = signer.verifier()
    expected = f"{signer.name}/{tenant}"

    def refused(allowed: str, value: Any = None) -> InvalidInput:
        return InvalidInput("checkpoint", _short(note if value is None else value), allowed)

    try:
        opened = notes.open(note, [log_key])
        cp = notes.Checkpoint.parse(opened.text)
    except (notes.NoteError, ValueError, TypeError) as exc:
        raise refused(f"本日志签署的检查点 a checkpoint note signed by this log's key {log_key} ({_short(str(exc))})") from None
    if cp.origin != expected:
        raise refused(f"本租户日志的检查点 a checkpoint of the origin {expected}", cp.origin)
    size = recorder.log_size(tenant)
    if cp.size > size:
        raise refused(f"日志已达到的大小 a tree size the log has reached (at most {size})", cp.size)
    _, root = recorder.log_root(tenant, cp.size)
    if cp.root != root:
        raise refused(f"本日志在 {cp.size} 处的根哈希 the log's root at size {cp.size}: {_b64(root)}", _b64(cp.root))
    try:
        found = notes.verify_cosignatures(note, [key])
    except notes.NoteError:
        found = None
    if not found:
        raise refused(f"带有见证公钥 {key} 有效副署的检查点 a checkpoint cosigned (cosignature/v1) by the witness key "
                      f"{key}")
    log_note = (opened.text + "\n" + "".join(sig.line() for sig in opened.verified)).encode("utf-8")
    return Received(cp, opened.text, log_note, key, found[0])


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"civic-log-cosignatures:{schema}".encode()).digest()[:8], "big", signed=True)


class CosignatureStore:
    """The cosigned checkpoints a log received, beside the events (never events)."""

    def __init__(self, side: Any) -> None:
        self.side = side
        self.checkpoints = side.table(CHECKPOINTS_TABLE)
        self.cosignatures = side.table(COSIGNATURES_TABLE)
        # only what is not in place; worker processes creating it together: one at a time
        side.create([
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (tenant TEXT NOT NULL, size BIGINT NOT NULL, "
            "body TEXT NOT NULL, note TEXT NOT NULL, recorded TEXT NOT NULL, PRIMARY KEY (tenant, size, body))",
            f"CREATE TABLE IF NOT EXISTS {self.cosignatures} (tenant TEXT NOT NULL, size BIGINT NOT NULL, "
            "body TEXT NOT NULL, witness TEXT NOT NULL, key_id BIGINT NOT NULL, witness_key TEXT NOT NULL, "
            "stamp BIGINT NOT NULL, line TEXT NOT NULL, submitted_by TEXT NOT NULL, recorded TEXT NOT NULL, "
            "PRIMARY KEY (tenant, size, body, witness, key_id))",
        ], lock=_lock_key(side.schema) if side.kind == "postgres" else None)

    def record(self, tenant: str, received: Received, submitted_by: str) -> dict[str, Any]:
        """Keep a received cosignature (its latest per witness key): ``{recorded, cosignatures}``
        (whether this one was kept, and how many witnesses cosigned the checkpoint)."""
        cp, key, cosignature = received.checkpoint, received.witness, received.cosignature
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        line = cosignature.signature.line().rstrip("\n")
        with self.side.transaction() as c:
            other = c.query(f"SELECT witness_key FROM {self.cosignatures} WHERE tenant = ? AND witness = ? "
                            "AND key_id = ? AND witness_key <> ? LIMIT 1", (tenant, key.name, key.key_id, str(key)))
            if other:
                raise InvalidInput("witness_key", str(key), f"另一见证公钥 a witness key whose name and key id are not "
                                                            f"those of the key already known here ({other[0][0]})")
            witnesses = c.query(f"SELECT witness, key_id FROM {self.cosignatures} WHERE tenant = ? AND size = ? "
                                "AND body = ?", (tenant, cp.size, received.body))
            if (key.name, key.key_id) not in {(w, k) for w, k in witnesses} and len(witnesses) >= MAX_COSIGNATURES:
                raise InvalidInput("checkpoint", f"{cp.origin} {cp.size}", f"最多 {MAX_COSIGNATURES} 个见证 a checkpoint "
                                                                          f"with fewer than {MAX_COSIGNATURES} witnesses")
            c.execute(f"INSERT INTO {self.checkpoints} (tenant, size, body, note, recorded) VALUES (?, ?, ?, ?, ?) "
                      "ON CONFLICT DO NOTHING", (tenant, cp.size, received.body, received.log_note.decode("utf-8"), now))
            kept = c.execute(
                f"INSERT INTO {self.cosignatures} (tenant, size, body, witness, key_id, witness_key, stamp, line, "
                "submitted_by, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (tenant, cp.size, received.body, key.name, key.key_id, str(key), cosignature.timestamp, line,
                 submitted_by, now)) == 1
            if not kept:
                kept = c.execute(
                    f"UPDATE {self.cosignatures} SET stamp = ?, line = ?, submitted_by = ?, recorded = ? "
                    "WHERE tenant = ? AND size = ? AND body = ? AND witness = ? AND key_id = ? AND stamp < ?",
                    (cosignature.timestamp, line, submitted_by, now, tenant, cp.size, received.body, key.name,
                     key.key_id, cosignature.timestamp)) == 1
            count = c.query(f"SELECT count(*) FROM {self.cosignatures} WHERE tenant = ? AND size = ? AND body = ?",
                            (tenant, cp.size, received.body))[0][0]
        return {"recorded": kept, "cosignatures": int(count)}

    def lines(self, tenant: str, body: str) -> list[notes.Signature]:
        """The cosignature lines received for the checkpoint ``body`` of ``tenant``."""
        size = notes.Checkpoint.parse(body).size
        with self.side.transaction() as c:
            rows = c.query(f"SELECT line FROM {self.cosignatures} WHERE tenant = ? AND size = ? AND body = ? "
                           "ORDER BY witness, key_id", (tenant, size, body))
        return [notes.parse_note(body + "\n" + line + "\n").signatures[0] for (line,) in rows]

    def stored(self, tenant: str, size: int) -> bytes | None:
        """The stored checkpoint of ``size`` (the first one received) with every cosignature
        received for it, or None."""
        with self.side.transaction() as c:
            rows = c.query(f"SELECT body, note FROM {self.checkpoints} WHERE tenant = ? AND size = ? "
                           "ORDER BY recorded, body LIMIT 1", (tenant, size))
        if not rows:
            return None
        body, note = rows[0]
        return notes.with_signatures(note, self.lines(tenant, body))

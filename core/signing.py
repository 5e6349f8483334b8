"""Signed checkpoints of the tenants' transparency logs (:mod:`core.tlog`).

A checkpoint is a C2SP ``tlog-checkpoint`` note (:mod:`core.notes`): the log's origin, its
tree size and its root, signed with the platform's Ed25519 log key::

    civic-ledger.local/tianjin
    42
    <base64 of the 32-byte root>

    — civic-ledger.local <base64(key id || signature)>

* **Origin**: ``<log name>/<tenant>``; the log name is ``CIVIC_LOG_NAME`` (default
  ``civic-ledger.local``) and is also the key's name. Set it to a name of your own, such
  as the municipality's domain, before the first checkpoint, and keep it.
* **The key** lives outside the database, in the file named by ``CIVIC_LOG_KEY_FILE``
  (default ``data/log-signing.key`` beside the project, next to the default SQLite store).
  It is generated on first use (mode 0600) in the signer-key form of Go's ``note``
  package: ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte seed)>``. Someone with
  only database access cannot sign. Publish the verifier key (``civic audit log-key``)
  wherever the municipality publishes its notices.

Checking a checkpoint against a store: its signature by the log key, its origin, that the
store's tree at the checkpoint's size has the checkpoint's root and grows from it (the
consistency proof from that size to the current one verifies), and that the log vouches
for every event of the tenant the store holds (each has its leaf, and each leaf is its
event's hash: :func:`core.tlog.unlogged`). A store rewritten after the checkpoint fails
the first; a log truncated below it fails both; a row inserted past the platform (through
the database, with the application role's INSERT) fails the last.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from core import merkle, notes
from core.errors import ConfigurationError, InvalidInput
from core.storage import PROJECT_ROOT

KEY_ENV = "CIVIC_LOG_KEY_FILE"
NAME_ENV = "CIVIC_LOG_NAME"
DEFAULT_NAME = "civic-ledger.local"
DEFAULT_KEY_FILE = PROJECT_ROOT / "data" / "log-signing.key"


def log_name() -> str:
    return os.environ.get(NAME_ENV, "").strip() or DEFAULT_NAME


def key_file() -> Path:
    raw = os.environ.get(KEY_ENV, "").strip()
    return Path(raw) if raw else DEFAULT_KEY_FILE


def log_key(path: Path | None = None, *, create: bool = True) -> notes.SignerKey:
    """The log's signing key, read from ``path`` (default :func:`key_file`); generated
    there when missing and ``create``."""
    path = path or key_file()
    if path.exists():
        try:
            return notes.parse_signer_key(path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{KEY_ENV}: {path} does not hold a log signing key ({exc})") from None
    if not create:
        raise ConfigurationError(f"{KEY_ENV}: no log signing key at {path}")
    signer, _ = notes.generate_key(log_name())
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(notes.format_signer_key(signer) + "\n")
    return signer


def origin(name: str, tenant: str) -> str:
    return f"{name}/{tenant}"


def checkpoint(recorder: Any, tenant: str, signer: notes.SignerKey, size: int | None = None) -> bytes:
    """A signed checkpoint of the tenant's log as the store holds it now (or at ``size``)."""
    size, root = recorder.log_root(tenant, size)
    body = notes.Checkpoint(origin(signer.name, tenant), size, root).body()
    return notes.sign(body, signer)


def check(recorder: Any, note: bytes | str, verifier: notes.VerifierKey | str) -> dict[str, Any]:
    """Check a signed checkpoint against the store (see the module docstring): a verdict
    ``{tenant, size, root, ok, problems}``; a note that is not a checkpoint signed by
    ``verifier`` is InvalidInput."""
    key = notes.parse_verifier_key(verifier) if isinstance(verifier, str) else verifier
    try:
        opened = notes.open(note, [key])
        cp = notes.Checkpoint.parse(opened.text)
    except notes.NoteError as exc:
        raise InvalidInput("checkpoint", str(exc)[:200], f"a checkpoint note signed by {key.name}") from None
    prefix = key.name + "/"
    if not cp.origin.startswith(prefix):
        raise InvalidInput("checkpoint", cp.origin, f"an origin {prefix}<tenant>")
    tenant = cp.origin[len(prefix):]
    problems: list[str] = []
    current = recorder.log_size(tenant)
    if current < cp.size:
        problems.append(f"日志被截短 the log holds {current} leaves, fewer than the checkpoint's {cp.size}: "
                        "events were removed")
    else:
        _, root = recorder.log_root(tenant, cp.size)
        if root != cp.root:
            problems.append(f"根哈希不符 the log's root at size {cp.size} differs from the checkpoint's: "
                            "history up to the checkpoint was rewritten")
        else:
            _, now = recorder.log_root(tenant)
            if not merkle.verify_consistency(cp.size, current, cp.root, now,
                                             recorder.consistency_proof(tenant, cp.size, current)):
                problems.append(f"日志不一致 the log of {current} leaves does not extend the checkpoint")
    from core import tlog

    problems.extend(tlog.unlogged(recorder, tenant))
    return {"tenant": tenant, "size": cp.size, "root": cp.root.hex(), "log_size": current,
            "ok": not problems, "problems": problems}


def covering(recorder: Any, tenant: str, signer: notes.SignerKey | None = None) -> dict[str, Any]:
    """A checkpoint of the tenant's log signed now, for an answer read before it: every
    event the answer rests on is among its leaves. ``{origin, size, root (base64), note}``,
    the note being the whole signed checkpoint as published (C2SP tlog-checkpoint)."""
    signer = signer or log_key()
    size, root = recorder.log_root(tenant)
    note = notes.sign(notes.Checkpoint(origin(signer.name, tenant), size, root).body(), signer)
    return {"origin": origin(signer.name, tenant), "size": size, "root": base64.b64encode(root).decode("ascii"),
            "note": note.decode("utf-8")}


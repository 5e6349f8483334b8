"""What an insider holding an exported bundle can always do: change its lines, then make
everything a file alone can vouch for agree again (every chain link, every leaf and root,
the manifest, the seal) and sign new checkpoints with a key of their own. Verification
must then still refuse the result against what the auditor holds."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from core import bundle, chain, merkle, notes, tlog


def state_of(field: bytes) -> bytes:
    return base64.b64decode(field[4:]) if field[:4] == b"b64:" else field


class Forger:
    def __init__(self, data: bytes) -> None:
        lines = data.split(b"\n")[:-1]
        assert lines[0] == bundle.MAGIC
        self.manifest: dict[str, Any] = json.loads(lines[1][2:])
        self.rubrics = [x for x in lines if x.startswith(b"R\t")]
        self.checkpoints = [notes.parse_note(base64.b64decode(x[2:])) for x in lines if x.startswith(b"C\t")]
        self.gaps = [x.split(b"\t") for x in lines if x.startswith(b"G\t")]
        self.events = [x.split(b"\t") for x in lines if x.startswith(b"E\t")]

    # -- changes ---------------------------------------------------------------------------

    def edit(self, match: Callable[[list[bytes]], bool], change: Callable[[dict], dict]) -> int:
        """Rewrite the state of every event line ``match`` accepts; returns how many."""
        n = 0
        for f in self.events:
            if match(f):
                state = change(json.loads(state_of(f[7])))
                f[7] = bundle._state_field(json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode())
                n += 1
        return n

    def hide(self, stream: str) -> int:
        """Leave a stream out of the bundle, its leaves kept as gap lines."""
        kept, n = [], 0
        for f in self.events:
            if f[1].decode() == stream:
                self.gaps.append([b"G", f[3], f[4], f[1], f[2], tlog.digest(f[6], state_of(f[7])).hex().encode()])
                n += 1
            else:
                kept.append(f)
        self.events = kept
        return n

    def remove(self, match: Callable[[list[bytes]], bool]) -> int:
        """Delete event lines outright (their leaves go too: the log is renumbered)."""
        before = len(self.events)
        self.events = [f for f in self.events if not match(f)]
        return before - len(self.events)

    def append(self, after: list[bytes], topic: bytes, state: dict) -> None:
        """A new event on ``after``'s stream, right after it, as the last leaf of its log."""
        at = self.events.index(after)
        log = after[3]
        last = max([int(f[4]) for f in self.events if f[3] == log] + [int(g[2]) for g in self.gaps if g[1] == log])
        line = [b"E", after[1], str(int(after[2]) + 1).encode(), log, str(last + 1).encode(), b"0" * 64, topic,
                bundle._state_field(json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode())]
        self.events.insert(at + 1, line)

    # -- making it all agree ---------------------------------------------------------------

    def build(self, signer: notes.SignerKey | None = None, *, campaigns: list[str] | None = None) -> bytes:
        """The bundle with every link, leaf, root, count and the seal recomputed; the
        checkpoints signed again with ``signer`` (a key of the forger's own)."""
        prev: dict[bytes, bytes] = {}
        for f in self.events:
            link = chain.link(prev.get(f[1], chain.GENESIS), UUID(f[1].decode()), int(f[2]), f[6], state_of(f[7]))
            f[5] = link.hex().encode()
            prev[f[1]] = link
        by_log: dict[bytes, list[tuple[int, list[bytes], str]]] = {}
        for f in self.events:
            by_log.setdefault(f[3], []).append((int(f[4]), f, "E"))
        for g in self.gaps:
            by_log.setdefault(g[1], []).append((int(g[2]), g, "G"))
        checkpoints = []
        sizes = {}
        origins = {notes.Checkpoint.parse(c.text).origin.rpartition("/")[2]: notes.Checkpoint.parse(c.text).origin
                   for c in self.checkpoints}
        for log, entries in sorted(by_log.items()):
            entries.sort(key=lambda e: e[0])
            leaves = []
            for index, (_, f, kind) in enumerate(entries):  # renumbered: no index is left empty
                if kind == "E":
                    f[4] = str(index).encode()
                    leaves.append(merkle.leaf_hash(tlog.entry(UUID(f[1].decode()), int(f[2]), f[6], state_of(f[7]))))
                else:
                    f[2] = str(index).encode()
                    leaves.append(merkle.leaf_hash(tlog.entry_of(UUID(f[3].decode()), int(f[4]), bytes.fromhex(f[5].decode()))))
            name = log.decode()
            sizes[name] = len(leaves)
            body = notes.Checkpoint(origins[name], len(leaves), merkle.root(leaves)).body()
            checkpoints.append(notes.sign(body, signer) if signer is not None else
                               next(notes._assemble(c.text, c.signatures) for c in self.checkpoints
                                    if notes.Checkpoint.parse(c.text).origin == origins[name]))
        self.gaps.sort(key=lambda g: (g[1], int(g[2])))
        manifest = {**self.manifest, "events": len(self.events), "streams": len({f[1] for f in self.events}),
                    "logs": sizes}
        if campaigns is not None:
            manifest["campaigns"] = campaigns
        if signer is not None:
            manifest["log_key"] = str(signer.verifier())
        head = bundle.MAGIC + b"\n" + bundle.manifest_line(manifest)
        body = head + b"".join(x + b"\n" for x in self.rubrics)
        body += b"".join(bundle.checkpoint_line(c) for c in checkpoints)
        body += b"".join(b"\t".join(g) + b"\n" for g in self.gaps)
        body += b"".join(b"\t".join(f) + b"\n" for f in self.events)
        manifest_line = bundle.manifest_line(manifest)
        return body + f"S\t{hashlib.sha256(manifest_line).hexdigest()}\t{hashlib.sha256(body).hexdigest()}\n".encode()

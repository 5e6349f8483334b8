"""Signed notes, checkpoints and witness cosignatures: C2SP signed-note, tlog-checkpoint and
tlog-cosignature (Ed25519 ``cosignature/v1``), with Ed25519 from the ``cryptography`` library.

Plain Python with no store behind it, so a log, its witnesses and an offline auditor sign
and check with the same code. Conventions: ``||`` is concatenation; *base64* is the
standard alphabet of RFC 4648 section 4 with ``=`` padding, and only its canonical spelling
is read (the unused low bits of the last character must be zero, so every value has one
spelling); ``u32`` / ``u64`` are big-endian unsigned integers; text is UTF-8.

Signed notes (https://c2sp.org/signed-note)
===========================================

A signed note is, byte for byte::

    <text>                 one or more lines, the last ending in 0x0A
    0x0A                   a blank line
    <signature line>+      one or more, each:  U+2014 0x20 <key name> 0x20 <base64 payload> 0x0A

* The whole note is valid UTF-8 and holds no character below U+0020 except 0x0A.
* The text is everything up to and including the newline before the *last* blank line
  (``\\n\\n``) of the note; it may itself hold empty lines. After that blank line there is
  at least one line, every line is a signature line, and the note ends with 0x0A.
* A key name is non-empty and holds no ``+`` (U+002B) and no Unicode White_Space character
  (U+0009..U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
  U+205F, U+3000).
* The payload decodes to ``u32 key ID || signature`` (at least 5 bytes). A note holds at
  most :data:`MAX_SIGNATURES` (100) signature lines.

The key ID of a key is::

    key ID = first 4 bytes of SHA-256( key name || 0x0A || signature type || public key )

Signature types here: ``0x01`` Ed25519 over the note text (RFC 8032; the signature is 64
bytes, the public key 32), and ``0x04`` the timestamped cosignature below. A signature
belongs to the key whose *name and key ID* both match; signatures by any other key are
kept as unverified (they may share a name or an ID with a known key, not both).
:func:`open` refuses a note whose signature by a known key does not verify, and a note with
no signature by a known key.

Keys
====

Verifier key (public)::

    <key name> "+" <key ID: 8 lowercase hex digits> "+" base64( signature type || public key )

e.g. ``PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW``. The key ID must be
the one computed from the name, type and public key. A witness key has type ``0x04`` and
the witness's 32-byte Ed25519 public key (tlog-cosignature).

Signer key (private; the format of Go's ``golang.org/x/mod/sumdb/note``)::

    "PRIVATE+KEY+" <key name> "+" <key ID: 8 lowercase hex digits> "+" base64( 0x01 || 32-byte Ed25519 seed )

whose key ID is that of the type-``0x01`` verifier key of the seed's public key. The same
signer key can make type-``0x04`` cosignatures (then with the type-``0x04`` key ID), but a
witness should have a key of its own.

Checkpoints (https://c2sp.org/tlog-checkpoint)
==============================================

A checkpoint is a note whose text (the *body*) is, line by line, each line ending in 0x0A::

    <origin>           non-empty: the log's identity (e.g. "example.com/log42")
    <tree size>        ASCII decimal, no sign, no leading zero ("0" for the empty tree), < 2**64
    <root hash>        base64 of the 32-byte RFC 9162 Merkle tree root at that size (44 characters)
    <extension line>*  optional, opaque, each non-empty

The log signs the body with its Ed25519 key (type ``0x01``); its key name SHOULD be the origin.

Cosignatures (https://c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``)
============================================================================

A witness that has checked the log's checkpoint adds a signature line to it::

    U+2014 0x20 <witness name> 0x20 base64( u32 key ID || u64 timestamp || 64-byte Ed25519 signature ) 0x0A

* key ID = first 4 bytes of SHA-256( witness name || 0x0A || 0x04 || 32-byte public key );
* timestamp = POSIX seconds at signing, at most 2**63 - 1;
* the Ed25519 signature is over the message::

      "cosignature/v1" 0x0A
      "time " <timestamp: ASCII decimal, no leading zero> 0x0A
      <the whole checkpoint body, extension lines included>

The cosignature states that, as of the timestamp, this is the largest tree the witness has
seen for the origin and that it is consistent with every earlier one; it says nothing about
the extension lines. :func:`require_cosignatures` demands ``k`` distinct witnesses.

In short: a log signs ``Checkpoint(...).body()`` with :func:`sign`; a witness adds its line
with :func:`cosign`, and the log serves the lines it received with :func:`with_signatures`;
a client calls :func:`open_checkpoint` (log signature, checkpoint form, origin, ``k`` of its
witnesses) or, piece by piece, :func:`open`, :meth:`Checkpoint.parse` and
:func:`require_cosignatures`. Every refusal of a note, checkpoint, key or cosignature is
a :class:`NoteError` (a ``ValueError``); a wrong argument is a ``ValueError`` or ``TypeError``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature as _BadEd25519
from cryptography.hazmat.primitives import serialization as _serialization
from cryptography.hazmat.primitives.asymmetric import ed25519 as _ed25519

__all__ = [
    "MAX_SIGNATURES",
    "SIGNATURE_COSIGNATURE_V1",
    "SIGNATURE_ED25519",
    "Checkpoint",
    "Cosignature",
    "InvalidSignature",
    "MalformedNote",
    "Note",
    "NoteError",
    "NotEnoughCosignatures",
    "OpenedNote",
    "Signature",
    "SignerKey",
    "UnverifiedNote",
    "VerifiedCheckpoint",
    "VerifierKey",
    "add_signatures",
    "cosign",
    "cosignature",
    "cosignature_timestamp",
    "format_signer_key",
    "format_verifier_key",
    "generate_key",
    "key_id",
    "open",
    "open_checkpoint",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "require_cosignatures",
    "sign",
    "verify_cosignatures",
    "with_signatures",
]

SIGNATURE_ED25519 = 0x01
SIGNATURE_COSIGNATURE_V1 = 0x04
#: At most this many signature lines in a note (the spec asks for at least 16; Go allows 100).
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**64 - 1
MAX_TIMESTAMP = 2**63 - 1
SIGNATURE_PREFIX = "\u2014 "
COSIGNATURE_HEADER = b"cosignature/v1\n"
PRIVATE_PREFIX = "PRIVATE+KEY+"

_ED25519_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
#: Unicode's White_Space property (PropList.txt), which Go's unicode.IsSpace follows.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HEX_ID = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_ROOT_B64 = re.compile(r"[A-Za-z0-9+/]{43}=")


class NoteError(ValueError):
    """A note, checkpoint, key or cosignature is refused; the message says why."""


class MalformedNote(NoteError):
    """The bytes are not a note (or checkpoint, or key) in the exact form the spec gives."""


class InvalidSignature(NoteError):
    """A signature by a known key does not verify: the note was changed or forged."""

    def __init__(self, name: str, key_id: int, why: str = "") -> None:
        super().__init__(f"invalid signature by key {name}+{key_id:08x}" + (f": {why}" if why else ""))
        self.name = name
        self.key_id = key_id


class UnverifiedNote(NoteError):
    """The note is well formed but no known key signed it. ``note`` holds it, unverified."""

    def __init__(self, note: OpenedNote) -> None:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in note.unverified) or "(none)"
        super().__init__(f"note has no signature by a known key; it is signed by: {names}")
        self.note = note


class NotEnoughCosignatures(NoteError):
    """Fewer than the required number of known witnesses cosigned the checkpoint."""


# --- small helpers ---------------------------------------------------------------------------


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    if not _B64.fullmatch(text):
        raise MalformedNote(f"{what}: {text!r} is not standard padded base64")
    raw = base64.b64decode(text, validate=True)
    if _b64encode(raw) != text:
        raise MalformedNote(f"{what}: {text!r} is not canonical base64 (unused bits are set)")
    return raw


def _check_text(text: str, what: str) -> None:
    """UTF-8-encodable and no character below U+0020 except newline."""
    bad = _CONTROL.search(text)
    if bad:
        raise MalformedNote(f"{what} holds control character {bad.group()!r} at {bad.start()}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNote(f"{what} is not valid UTF-8 (lone surrogate at {exc.start})") from None


def _decode(data: bytes | str, what: str) -> str:
    if isinstance(data, str):
        _check_text(data, what)
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes or str, not {type(data).__name__}")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNote(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    _check_text(text, what)
    return text


def _valid_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(ch in _WHITE_SPACE or ch < " " for ch in name)
        and _encodable(name)
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: object) -> str:
    if not _valid_name(name):
        raise MalformedNote(
            f"key name {name!r} is not allowed: it must be non-empty, with no '+', no space and no control character"
        )
    return name  # type: ignore[return-value]


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """``u32`` of the first 4 bytes of SHA-256(name || 0x0A || signature type || public key)."""
    digest = hashlib.sha256(
        _check_name(name).encode("utf-8") + b"\n" + bytes([signature_type]) + bytes(public_key)
    ).digest()
    return int.from_bytes(digest[:4], "big")


def _cosignature_message(body: bytes, timestamp: int) -> bytes:
    return COSIGNATURE_HEADER + b"time " + str(timestamp).encode("ascii") + b"\n" + body


# --- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifierKey:
    """A public key: ``name``, signature type (``0x01`` note signer, ``0x04`` witness) and
    the 32-byte Ed25519 public key. ``key_id`` is computed; ``str()`` is the vkey string."""

    name: str
    signature_type: int
    public_key: bytes
    key_id: int = field(init=False)
    _key: Any = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.signature_type not in (SIGNATURE_ED25519, SIGNATURE_COSIGNATURE_V1):
            raise MalformedNote(
                f"verifier key {self.name}: signature type 0x{self.signature_type:02x} is not supported "
                "(0x01 Ed25519, 0x04 Ed25519 cosignature/v1)"
            )
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _ED25519_SIZE:
            raise MalformedNote(f"verifier key {self.name}: an Ed25519 public key is {_ED25519_SIZE} bytes")
        object.__setattr__(self, "key_id", key_id(self.name, self.signature_type, self.public_key))
        try:
            key = _ed25519.Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError as exc:
            raise MalformedNote(f"verifier key {self.name}: {exc}") from None
        object.__setattr__(self, "_key", key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read a vkey string (see the module docstring), strictly."""
        if not isinstance(text, str):
            raise TypeError("a verifier key is a str")
        name, _, rest = text.partition("+")
        hex_id, sep, encoded = rest.partition("+")
        if not sep:
            raise MalformedNote(f"verifier key {text!r} is not <name>+<key id>+<base64 key>")
        _check_name(name)
        if not _HEX_ID.fullmatch(hex_id):
            raise MalformedNote(f"verifier key {text!r}: key id {hex_id!r} is not 8 lowercase hex digits")
        raw = _b64decode(encoded, f"verifier key {name}")
        if len(raw) != 1 + _ED25519_SIZE:
            raise MalformedNote(f"verifier key {name}: {len(raw)} bytes of key, not 1 + {_ED25519_SIZE}")
        key = cls(name, raw[0], raw[1:])
        if key.key_id != int(hex_id, 16):
            raise MalformedNote(
                f"verifier key {name}: key id {hex_id} does not match its name and key ({key.key_id:08x})"
            )
        return key

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64encode(bytes([self.signature_type]) + self.public_key)}"

    def for_cosignature(self) -> VerifierKey:
        """The same name and public key as a witness key (type 0x04, its own key id)."""
        return VerifierKey(self.name, SIGNATURE_COSIGNATURE_V1, self.public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the payload after the key id) is this key's over the note
        ``text``. A cosignature key also requires the text to be a checkpoint body."""
        if self.signature_type == SIGNATURE_COSIGNATURE_V1:
            if len(signature) != 8 + _ED25519_SIGNATURE_SIZE:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > MAX_TIMESTAMP:
                return False
            try:
                Checkpoint.parse(text)
            except NoteError:
                return False
            message = _cosignature_message(bytes(text), timestamp)
            raw = signature[8:]
        else:
            if len(signature) != _ED25519_SIGNATURE_SIZE:
                return False
            message, raw = bytes(text), signature
        try:
            self._key.verify(bytes(raw), message)
        except _BadEd25519:
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """A private Ed25519 key with its name. The seed never appears in ``repr``; write the
    key out only with :func:`format_signer_key`."""

    name: str
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    key_id: int = field(init=False)
    _key: Any = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.seed, bytes) or len(self.seed) != _ED25519_SIZE:
            raise MalformedNote(f"signer key {self.name}: an Ed25519 seed is {_ED25519_SIZE} bytes")
        key = _ed25519.Ed25519PrivateKey.from_private_bytes(self.seed)
        public = key.public_key().public_bytes(_serialization.Encoding.Raw, _serialization.PublicFormat.Raw)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "public_key", public)
        object.__setattr__(self, "key_id", key_id(self.name, SIGNATURE_ED25519, public))

    def verifier(self) -> VerifierKey:
        """The type-0x01 verifier key of this signer."""
        return VerifierKey(self.name, SIGNATURE_ED25519, self.public_key)

    def cosignature_verifier(self) -> VerifierKey:
        """The type-0x04 (witness) verifier key of this signer."""
        return VerifierKey(self.name, SIGNATURE_COSIGNATURE_V1, self.public_key)

    def _sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def generate_key(name: str) -> tuple[SignerKey, VerifierKey]:
    """A new random Ed25519 key pair named ``name``."""
    signer = SignerKey(name, os.urandom(_ED25519_SIZE))
    return signer, signer.verifier()


def parse_verifier_key(text: str) -> VerifierKey:
    """Read a vkey string: ``<name>+<key id hex>+<base64(type || public key)>``."""
    return VerifierKey.parse(text)


def format_verifier_key(key: VerifierKey) -> str:
    """The vkey string of ``key``."""
    return str(key)


def parse_signer_key(text: str) -> SignerKey:
    """Read a signer key string: ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``."""
    if not isinstance(text, str):
        raise TypeError("a signer key is a str")
    if not text.startswith(PRIVATE_PREFIX):
        raise MalformedNote("signer key does not start with PRIVATE+KEY+")
    name, _, rest = text[len(PRIVATE_PREFIX):].partition("+")
    hex_id, sep, encoded = rest.partition("+")
    if not sep:
        raise MalformedNote("signer key is not PRIVATE+KEY+<name>+<key id>+<base64 seed>")
    _check_name(name)
    if not _HEX_ID.fullmatch(hex_id):
        raise MalformedNote(f"signer key {name}: key id {hex_id!r} is not 8 lowercase hex digits")
    try:
        raw = _b64decode(encoded, f"signer key {name}")
    except MalformedNote:
        raise MalformedNote(f"signer key {name}: the key is not canonical standard base64") from None
    if len(raw) != 1 + _ED25519_SIZE or raw[0] != SIGNATURE_ED25519:
        raise MalformedNote(f"signer key {name}: not 0x01 followed by a {_ED25519_SIZE}-byte Ed25519 seed")
    key = SignerKey(name, raw[1:])
    if key.key_id != int(hex_id, 16):
        raise MalformedNote(f"signer key {name}: key id {hex_id} does not match its name and key")
    return key


def format_signer_key(key: SignerKey) -> str:
    """The private signer key string of ``key``: keep it secret."""
    return f"{PRIVATE_PREFIX}{key.name}+{key.key_id:08x}+{_b64encode(bytes([SIGNATURE_ED25519]) + key.seed)}"


# --- notes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and id, and the payload after the key id."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """``U+2014 0x20 name 0x20 base64(u32 key id || signature) 0x0A``."""
        payload = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {_b64encode(payload)}\n"


class Note(NamedTuple):
    """A note as written, its signatures not checked."""

    text: str
    signatures: tuple[Signature, ...]


class OpenedNote(NamedTuple):
    """A note whose signatures by known keys all verified: ``verified`` (at least one) and
    ``unverified`` (by keys not known to the caller; nothing is claimed about them)."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def parse_note(note: bytes | str) -> Note:
    """Split a note into its text and signature lines, strictly, without checking any
    signature. Raises :class:`MalformedNote` for anything but the exact form."""
    content = _decode(note, "note")
    split = content.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line before its signatures")
    text, block = content[: split + 1], content[split + 2 :]
    if not block:
        raise MalformedNote("note has no signature lines after its blank line")
    if not block.endswith("\n"):
        raise MalformedNote("note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has {len(lines)} signature lines; at most {MAX_SIGNATURES} are read")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNote(f"signature line {number} does not start with an em dash and a space: {line[:40]!r}")
        name, sep, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not encoded:
            raise MalformedNote(f"signature line {number} is not '— <key name> <base64>'")
        if not _valid_name(name):
            raise MalformedNote(f"signature line {number}: key name {name!r} is not allowed")
        raw = _b64decode(encoded, f"signature line {number}")
        if len(raw) < 5:
            raise MalformedNote(f"signature line {number}: {len(raw)} bytes, less than a key id and a signature")
        signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return Note(text, tuple(signatures))


def _keyring(verifiers: Iterable[VerifierKey | str]) -> dict[tuple[str, int], VerifierKey]:
    ring: dict[tuple[str, int], VerifierKey] = {}
    for key in verifiers:
        if isinstance(key, str):
            key = VerifierKey.parse(key)
        if not isinstance(key, VerifierKey):
            raise TypeError(f"verifiers are VerifierKey or vkey strings, not {type(key).__name__}")
        held = ring.setdefault((key.name, key.key_id), key)
        if held != key:
            raise ValueError(f"two different verifier keys share the name and id {key.name}+{key.key_id:08x}")
    return ring


def _unique(signatures: Iterable[Signature]) -> tuple[Signature, ...]:
    return tuple(dict.fromkeys(signatures))


def open(note: bytes | str, verifiers: Iterable[VerifierKey | str]) -> OpenedNote:  # noqa: A001
    """Check a signed note against the known ``verifiers``.

    Every signature whose name and key id match a known key must verify, or
    :class:`InvalidSignature` is raised; other signatures are kept as unverified. A note
    with no verified signature raises :class:`UnverifiedNote` (carrying the parsed note); a
    note not in the exact form raises :class:`MalformedNote`. Repeated identical signature
    lines count once.
    """
    ring = _keyring(verifiers)
    parsed = parse_note(note)
    body = parsed.text.encode("utf-8")
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for sig in parsed.signatures:
        key = ring.get((sig.name, sig.key_id))
        if key is None:
            unverified.append(sig)
        elif key.verify(body, sig.signature):
            verified.append(sig)
        else:
            raise InvalidSignature(sig.name, sig.key_id)
    opened = OpenedNote(parsed.text, _unique(verified), _unique(unverified))
    if not opened.verified:
        raise UnverifiedNote(opened)
    return opened


def _note_text(text: bytes | str) -> str:
    content = _decode(text, "note text")
    if not content.endswith("\n"):
        raise MalformedNote("note text must end with a newline")
    return content


def _assemble(text: str, signatures: Sequence[Signature]) -> bytes:
    return (text + "\n" + "".join(sig.line() for sig in signatures)).encode("utf-8")


def _ed25519_signature(signer: SignerKey, text: str) -> Signature:
    if not isinstance(signer, SignerKey):
        raise TypeError(f"signers are SignerKey, not {type(signer).__name__}")
    return Signature(signer.name, signer.key_id, signer._sign(text.encode("utf-8")))


def _merge(existing: Sequence[Signature], new: Sequence[Signature]) -> list[Signature]:
    """Existing signatures, except those by a key that signs anew, then the new ones."""
    replaced = {(sig.name, sig.key_id) for sig in new}
    if len(replaced) != len(new):
        raise ValueError("the same key signs twice")
    return [sig for sig in existing if (sig.name, sig.key_id) not in replaced] + list(new)


def sign(text: bytes | str, *signers: SignerKey) -> bytes:
    """The signed note of ``text`` (which must end with a newline) by ``signers`` (type
    0x01 Ed25519 signatures, in the order given)."""
    if not signers:
        raise ValueError("sign needs at least one signer")
    content = _note_text(text)
    return _assemble(content, _merge([], [_ed25519_signature(s, content) for s in signers]))


def add_signatures(note: bytes | str, *signers: SignerKey) -> bytes:
    """``note`` with Ed25519 signatures by ``signers`` added after its own (a signature
    already there by the same key is replaced). Existing signatures are not checked."""
    if not signers:
        raise ValueError("add_signatures needs at least one signer")
    parsed = parse_note(note)
    new = [_ed25519_signature(s, parsed.text) for s in signers]
    return _assemble(parsed.text, _merge(parsed.signatures, new))


def with_signatures(note: bytes | str, signatures: Iterable[Signature]) -> bytes:
    """``note`` with the signature lines ``signatures`` added after its own (a line by a key
    already there replaces it; repeated lines count once), e.g. the cosignatures a log
    received for this very checkpoint. Nothing is verified here; the note may hold at most
    :data:`MAX_SIGNATURES` lines."""
    parsed = parse_note(note)
    new = list(dict.fromkeys(signatures))
    for sig in new:
        if not isinstance(sig, Signature):
            raise TypeError(f"signatures are Signature, not {type(sig).__name__}")
    merged = _merge(parsed.signatures, new)
    if len(merged) > MAX_SIGNATURES:
        raise ValueError(f"a note holds at most {MAX_SIGNATURES} signature lines, not {len(merged)}")
    return _assemble(parsed.text, merged)


# --- checkpoints -----------------------------------------------------------------------------


def _check_line(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"checkpoint {what} is a str, not {type(value).__name__}")
    if value == "":
        raise MalformedNote(f"checkpoint {what} is empty")
    if "\n" in value:
        raise MalformedNote(f"checkpoint {what} holds a newline")
    _check_text(value, f"checkpoint {what}")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise TypeError(f"checkpoint size is an int, not {type(self.size).__name__}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedNote(f"checkpoint size {self.size} is not in 0 .. 2**64 - 1")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise MalformedNote("checkpoint root hash is 32 bytes")
        extensions = tuple(self.extensions)
        for number, line in enumerate(extensions, 1):
            _check_line(line, f"extension line {number}")
        object.__setattr__(self, "extensions", extensions)

    def body(self) -> str:
        """The note text: origin, size, base64 root, extension lines, each ending in 0x0A."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: bytes | str) -> Checkpoint:
        """Read a checkpoint body (the note text, not the signed note), strictly."""
        content = _decode(text, "checkpoint")
        if not content.endswith("\n"):
            raise MalformedNote("checkpoint does not end with a newline")
        lines = content[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedNote(f"checkpoint has {len(lines)} lines; it needs origin, size and root hash")
        for number, line in enumerate(lines, 1):
            if line == "":
                raise MalformedNote(f"checkpoint line {number} is empty")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise MalformedNote(f"checkpoint size {size!r} is not a decimal number without leading zeros")
        if int(size) > MAX_TREE_SIZE:
            raise MalformedNote(f"checkpoint size {size} is larger than 2**64 - 1")
        if not _ROOT_B64.fullmatch(root):
            raise MalformedNote(f"checkpoint root hash {root!r} is not the base64 of 32 bytes")
        return cls(origin, int(size), _b64decode(root, "checkpoint root hash"), tuple(extensions))


# --- cosignatures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which witness, when (POSIX seconds), and its signature line."""

    witness: VerifierKey
    timestamp: int
    signature: Signature


def cosignature_timestamp(signature: Signature) -> int:
    """The timestamp of a cosignature/v1 signature (its payload is u64 timestamp || 64 bytes)."""
    if len(signature.signature) != 8 + _ED25519_SIGNATURE_SIZE:
        raise MalformedNote(
            f"signature by {signature.name} is {len(signature.signature)} bytes, not a cosignature/v1 (72)"
        )
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise MalformedNote(f"cosignature by {signature.name}: timestamp {timestamp} exceeds 2**63 - 1")
    return timestamp


def _body_of(checkpoint: Checkpoint | bytes | str) -> str:
    if isinstance(checkpoint, Checkpoint):
        return checkpoint.body()
    content = _decode(checkpoint, "checkpoint")
    Checkpoint.parse(content)
    return content


def cosignature(checkpoint: Checkpoint | bytes | str, signer: SignerKey, timestamp: int | None = None) -> Signature:
    """The cosignature/v1 of ``signer`` over a checkpoint body, at ``timestamp`` (POSIX
    seconds; now if omitted). Its ``line()`` is what a witness returns."""
    if not isinstance(signer, SignerKey):
        raise TypeError(f"a cosigner is a SignerKey, not {type(signer).__name__}")
    if timestamp is None:
        timestamp = int(time.time())
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp {timestamp!r} is not an int in 0 .. 2**63 - 1")
    body = _body_of(checkpoint).encode("utf-8")
    raw = signer._sign(_cosignature_message(body, timestamp))
    witness = signer.cosignature_verifier()
    return Signature(witness.name, witness.key_id, timestamp.to_bytes(8, "big") + raw)


def cosign(note: bytes | str, signer: SignerKey, timestamp: int | None = None) -> bytes:
    """``note`` (a signed checkpoint) with ``signer``'s cosignature line added (replacing an
    earlier one by the same witness key). The log's signature is not checked here: a
    witness checks it, and consistency with what it saw before, first."""
    parsed = parse_note(note)
    line = cosignature(parsed.text, signer, timestamp)
    return _assemble(parsed.text, _merge(parsed.signatures, [line]))


def _witnesses(witnesses: Iterable[VerifierKey | str]) -> dict[tuple[str, int], VerifierKey]:
    ring = _keyring(witnesses)
    for key in ring.values():
        if key.signature_type != SIGNATURE_COSIGNATURE_V1:
            raise ValueError(
                f"witness key {key} has signature type 0x{key.signature_type:02x}, not 0x04; "
                "use VerifierKey.for_cosignature() if the witness uses that key"
            )
    return ring


def verify_cosignatures(
    note: bytes | str, witnesses: Iterable[VerifierKey | str], *, now: int | None = None
) -> list[Cosignature]:
    """The cosignatures on a checkpoint note by the known ``witnesses``, each verified, at
    most one per witness (its latest). A cosignature by a known witness that does not verify
    raises :class:`InvalidSignature`; with ``now``, cosignatures timestamped later do not
    count. The log's own signature is not checked here (see :func:`open_checkpoint`)."""
    ring = _witnesses(witnesses)
    parsed = parse_note(note)
    Checkpoint.parse(parsed.text)
    body = parsed.text.encode("utf-8")
    best: dict[tuple[str, int], Cosignature] = {}
    for sig in parsed.signatures:
        key = ring.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(body, sig.signature):
            raise InvalidSignature(sig.name, sig.key_id, "the cosignature does not verify over this checkpoint")
        stamp = cosignature_timestamp(sig)
        if now is not None and stamp > now:
            continue
        held = best.get((sig.name, sig.key_id))
        if held is None or stamp > held.timestamp:
            best[(sig.name, sig.key_id)] = Cosignature(key, stamp, sig)
    return list(best.values())


def require_cosignatures(
    note: bytes | str, witnesses: Sequence[VerifierKey | str], k: int, *, now: int | None = None
) -> list[Cosignature]:
    """The verified cosignatures if at least ``k`` distinct ``witnesses`` cosigned the
    checkpoint, else :class:`NotEnoughCosignatures`. ``1 <= k <= len(witnesses)``."""
    ring = _witnesses(witnesses)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(ring):
        raise ValueError(f"k must be between 1 and the number of distinct witnesses ({len(ring)}), not {k!r}")
    found = verify_cosignatures(note, ring.values(), now=now)
    if len(found) < k:
        names = ", ".join(c.witness.name for c in found) or "none"
        raise NotEnoughCosignatures(
            f"checkpoint is cosigned by {len(found)} of the {len(ring)} known witnesses ({names}); {k} are required"
        )
    return found


class VerifiedCheckpoint(NamedTuple):
    checkpoint: Checkpoint
    note: OpenedNote
    cosignatures: list[Cosignature]


def open_checkpoint(
    note: bytes | str,
    log_key: VerifierKey | str,
    *,
    origin: str | None = None,
    witnesses: Sequence[VerifierKey | str] = (),
    k: int = 0,
    now: int | None = None,
) -> VerifiedCheckpoint:
    """Open a checkpoint note signed by the log's ``log_key`` (type 0x01): the signature
    must verify, the text must be a checkpoint (with ``origin``, if given), and with ``k``
    at least ``k`` of ``witnesses`` must have cosigned it (with ``k = 0`` the cosignatures of
    ``witnesses`` are verified and returned, however many there are)."""
    if isinstance(log_key, str):
        log_key = VerifierKey.parse(log_key)
    if log_key.signature_type != SIGNATURE_ED25519:
        raise ValueError(f"log key {log_key} is not an Ed25519 note key (type 0x01)")
    opened = open(note, [log_key])
    checkpoint = Checkpoint.parse(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    if k:
        cosignatures = require_cosignatures(note, witnesses, k, now=now)
    else:
        cosignatures = verify_cosignatures(note, witnesses, now=now) if witnesses else []
    return VerifiedCheckpoint(checkpoint, opened, cosignatures)

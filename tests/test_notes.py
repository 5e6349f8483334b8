"""Signed notes, checkpoints and cosignatures (core.notes): the published vectors of the
specs and of Go's note package, real checkpoints cosigned by real witnesses, strict
refusal of malformed input, and round-trip properties."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import notes
from core.notes import (
    Checkpoint,
    InvalidSignature,
    MalformedNote,
    NotEnoughCosignatures,
    SignerKey,
    UnverifiedNote,
    VerifierKey,
)

# --- vectors ----------------------------------------------------------------------------------
#
# Go's golang.org/x/mod/sumdb/note, note_test.go (TestNewVerifier, TestNewSigner, TestSign,
# TestOpen) and example_test.go (ExampleSign_add_signatures, where EnochRoot's key is made
# from a reader of zero bytes, i.e. the all-zero seed).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

# c2sp.org/signed-note, "Verifier keys: Example" (C2SP/C2SP signed-note.md).
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# A real checkpoint of the arche2025h1.staging.ct.transparency.dev log, signed by the log
# (Ed25519, and an RFC 6962 tree head signature, type 0x05, under the same name) and
# cosigned by four witnesses, as kept in florolf/tlog-scales tests/test_signing.py. The
# log's vkey is from the same test; the witness remora.n621.de's type-0x04 vkey is also in
# transparency-dev/formats note/note_cosigv1_test.go (TestCoSigV1NewVerifier).
ARCHE_NOTE = (
    "arche2025h1.staging.ct.transparency.dev\n"
    "1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
    "\n"
    "— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    "— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"
    "— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"
    "— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"
    "— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n"
)
ARCHE_LOG_VKEY = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
REMORA_TIME = 1779573024  # the u64 after the key id in its signature line

# transparency-dev/formats note/note_cosigv1_test.go: a type-0x01 vkey that also serves as a
# cosigner key (TestCoSigV1NewVerifier) and a cosignature/v1 payload with its timestamp
# (TestCoSigV1Timestamp).
TEST_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
TIMESTAMPED = "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
UNTIMESTAMPED = "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="


def payload(encoded: str) -> notes.Signature:
    raw = base64.b64decode(encoded)
    return notes.Signature("x", int.from_bytes(raw[:4], "big"), raw[4:])


# --- keys -------------------------------------------------------------------------------------


def test_go_keys_parse_and_format_back():
    signer = notes.parse_signer_key(PETER_SKEY)
    verifier = notes.parse_verifier_key(PETER_VKEY)
    assert signer.name == verifier.name == "PeterNeumann"
    assert signer.key_id == verifier.key_id == 0xC74F20A3
    assert signer.verifier() == verifier
    assert notes.format_signer_key(signer) == PETER_SKEY
    assert notes.format_verifier_key(verifier) == str(verifier) == PETER_VKEY
    assert "AYEKF" not in repr(signer) and signer.seed.hex() not in repr(signer)


def test_key_id_is_the_truncated_hash_of_name_type_and_key():
    key = notes.parse_verifier_key(FOO_VKEY)
    digest = hashlib.sha256(b"example.com/foo\n\x01" + key.public_key).digest()
    assert key.key_id == int.from_bytes(digest[:4], "big") == 0x530D903A
    assert key.public_key.hex() == "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"


def test_witness_keys():
    remora = notes.parse_verifier_key(REMORA_VKEY)
    assert remora.signature_type == notes.SIGNATURE_COSIGNATURE_V1
    assert remora.key_id == int.from_bytes(
        hashlib.sha256(b"remora.n621.de\n\x04" + remora.public_key).digest()[:4], "big"
    )
    test = notes.parse_verifier_key(TEST_VKEY)  # its base64 holds a '+'
    assert test.signature_type == notes.SIGNATURE_ED25519
    as_witness = test.for_cosignature()
    assert as_witness.signature_type == 4 and as_witness.key_id != test.key_id
    assert notes.parse_verifier_key(str(as_witness)) == as_witness


def test_mangled_verifier_keys_are_refused():
    # Go's TestNewVerifier: every proper substring and every single-byte change is refused
    b = PETER_VKEY
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(notes.NoteError):
                    notes.parse_verifier_key(b[i:j])
    for i in range(len(b)):
        with pytest.raises(notes.NoteError):
            notes.parse_verifier_key(b[:i] + chr(ord(b[i]) + 1) + b[i + 1 :])
    # wrong length key / unknown algorithm, each with a matching key id (Go's test)
    for bad in (
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        # transparency-dev/formats TestCoSigV1NewVerifier
        "bananas.sigstore.dev+12344556",
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB",
        "rekor.sigstore.dev+NOT_A_NUMBER+" + PETER_VKEY.split("+", 2)[2],
        # key id in upper case, name with a space
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ):
        with pytest.raises(notes.NoteError):
            notes.parse_verifier_key(bad)


def test_mangled_signer_keys_are_refused():
    # Go's TestNewSigner
    b = PETER_SKEY
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(notes.NoteError) as refused:
                    notes.parse_signer_key(b[i:j])
                assert "AYEKFALV" not in str(refused.value)  # the private key is never echoed
    for i in range(len(b)):
        with pytest.raises(notes.NoteError):
            notes.parse_signer_key(b[:i] + chr(ord(b[i]) + 1) + b[i + 1 :])


def test_generated_keys_round_trip():
    signer, verifier = notes.generate_key("example.org/log")
    assert notes.parse_signer_key(notes.format_signer_key(signer)) == signer
    assert notes.parse_verifier_key(str(verifier)) == verifier == signer.verifier()
    other, _ = notes.generate_key("example.org/log")
    assert other.seed != signer.seed and other.key_id != signer.key_id


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\tb", "a\u00a0b", "a\u2028b", "a\u3000b", "a\x01b", "a\ud800b"])
def test_bad_key_names_are_refused(name):
    with pytest.raises(notes.NoteError):
        SignerKey(name, bytes(32))


# --- signing and opening ------------------------------------------------------------------------


def test_sign_reproduces_go_byte_for_byte():
    signer = notes.parse_signer_key(PETER_SKEY)
    assert notes.sign(TEXT, signer) == (TEXT + "\n" + PETER_SIG).encode("utf-8")
    assert notes.sign(TEXT.encode("utf-8"), signer) == (TEXT + "\n" + PETER_SIG).encode("utf-8")


def test_add_signatures_reproduces_go_example():
    enoch = SignerKey("EnochRoot", bytes(32))  # Go's example: GenerateKey from zero bytes
    assert str(enoch.verifier()) == ENOCH_VKEY
    signed = notes.add_signatures((TEXT + "\n" + PETER_SIG).encode(), enoch)
    assert signed == (TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode("utf-8")
    # signing again with a key already there replaces its line (Go: "existing signature is replaced")
    assert notes.add_signatures(signed, enoch) == signed
    peter = notes.parse_signer_key(PETER_SKEY)
    assert notes.add_signatures(signed, peter) == (TEXT + "\n" + ENOCH_SIG + PETER_SIG).encode()


def test_open_go_vectors():
    peter, enoch = PETER_VKEY, ENOCH_VKEY
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    opened = notes.open(both, [peter])
    assert opened.text == TEXT
    assert [(s.name, s.key_id) for s in opened.verified] == [("PeterNeumann", 0xC74F20A3)]
    assert [(s.name, s.key_id) for s in opened.unverified] == [("EnochRoot", 0xAF0CFE78)]
    assert opened.verified[0].line() == PETER_SIG
    opened = notes.open(both.encode(), [peter, enoch])
    assert len(opened.verified) == 2 and not opened.unverified
    with pytest.raises(UnverifiedNote) as refused:
        notes.open(both, [])
    assert [s.name for s in refused.value.note.unverified] == ["PeterNeumann", "EnochRoot"]
    # the same key listed twice is one key; repeated identical lines count once
    opened = notes.open(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG, [peter, peter])
    assert len(opened.verified) == 1 and len(opened.unverified) == 1


def test_spec_example_note_verifies():
    opened = notes.open(FOO_NOTE, [FOO_VKEY])
    assert opened.text == "This is an example message.\n"


def test_bad_signatures_by_known_keys_are_refused():
    # Go's "Invalid signature": base64 altered inside Peter's line
    broken = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignature, match="PeterNeumann\\+c74f20a3"):
        notes.open(broken, [PETER_VKEY])
    # a bad line by an unknown key is merely unverified
    assert notes.open(broken.replace("PeterNeumann", "Other") + PETER_SIG, [PETER_VKEY]).unverified
    # tampered text
    tampered = TEXT.replace("answer", "answers") + "\n" + PETER_SIG
    with pytest.raises(InvalidSignature):
        notes.open(tampered, [PETER_VKEY])
    # a key with the same name but another key id is unknown, not wrong
    impostor, impostor_vkey = notes.generate_key("PeterNeumann")
    with pytest.raises(UnverifiedNote):
        notes.open(notes.sign(TEXT, impostor), [PETER_VKEY])
    with pytest.raises(UnverifiedNote):
        notes.open(TEXT + "\n" + PETER_SIG, [impostor_vkey])


def test_ambiguous_verifiers_are_refused():
    a = notes.parse_verifier_key(PETER_VKEY)
    forged = VerifierKey.__new__(VerifierKey)
    object.__setattr__(forged, "name", a.name)
    object.__setattr__(forged, "signature_type", a.signature_type)
    object.__setattr__(forged, "public_key", bytes(32))
    object.__setattr__(forged, "key_id", a.key_id)
    object.__setattr__(forged, "_key", a._key)
    with pytest.raises(ValueError, match="share the name and id"):
        notes.open(TEXT + "\n" + PETER_SIG, [a, forged])


MALFORMED = {
    # Go's TestOpen "Invalid encoded message syntax"
    "no blank line": TEXT,
    "no signatures": TEXT + "\n",
    "no final newline": TEXT + "\n" + PETER_SIG[:-1],
    "control character": "\x01" + TEXT + "\n" + PETER_SIG,
    "invalid UTF-8": b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
    "space in key name": TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
    "line after signatures": TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    # and more
    "too many signatures": TEXT + "\n" + PETER_SIG * 101,
    "hyphen for em dash": TEXT + "\n" + "-" + PETER_SIG[1:],
    "no space after dash": TEXT + "\n" + "—" + PETER_SIG[2:],
    "no base64": TEXT + "\n" + "— PeterNeumann\n",
    "empty base64": TEXT + "\n" + "— PeterNeumann \n",
    "bad base64": TEXT + "\n" + PETER_SIG.replace("x08go", "x08g!"),
    "unpadded base64": TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),
    "non-canonical base64": TEXT + "\n" + "— PeterNeumann AAAAAAB=\n",
    "too short": TEXT + "\n" + "— PeterNeumann AAAAAA==\n",
    "two spaces": TEXT + "\n" + PETER_SIG.replace(" x08go", "  x08go"),
    "carriage return": TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"),
    "plus in name": TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
}


@pytest.mark.parametrize("what", sorted(MALFORMED))
def test_malformed_notes_are_refused(what):
    with pytest.raises(MalformedNote):
        notes.open(MALFORMED[what], [PETER_VKEY])


def test_the_last_blank_line_separates_the_signatures():
    # with a blank line between two signature lines, the first belongs to the text
    note = TEXT + "\n" + PETER_SIG + "\n" + ENOCH_SIG
    with pytest.raises(UnverifiedNote) as refused:
        notes.open(note, [PETER_VKEY])
    assert refused.value.note.text == TEXT + "\n" + PETER_SIG
    with pytest.raises(InvalidSignature):
        notes.open(note, [ENOCH_VKEY])


def test_note_text_rules_when_signing():
    signer = notes.parse_signer_key(PETER_SKEY)
    for bad in ("abc", "tab\there\n", "cr\r\n", "nul\x00\n", "lone \ud800 surrogate\n"):
        with pytest.raises(MalformedNote):
            notes.sign(bad, signer)
    with pytest.raises(MalformedNote):
        notes.sign(b"\xc0\xaf overlong\n", signer)
    with pytest.raises(ValueError):
        notes.sign(TEXT)
    with pytest.raises(ValueError, match="twice"):
        notes.sign(TEXT, signer, signer)
    # texts may hold empty lines, even end with one; the last blank line separates
    for text in ("a\n\nb\n", "Note\n\n", "\n", "ünïcödé — 测试\n"):
        opened = notes.open(notes.sign(text, signer), [PETER_VKEY])
        assert opened.text == text


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(
        st.text(st.characters(blacklist_categories=["Cs"], min_codepoint=0x20), max_size=30), min_size=1, max_size=6
    )
)
def test_any_valid_text_round_trips(lines):
    text = "\n".join(lines) + "\n"
    signer = notes.parse_signer_key(PETER_SKEY)
    note = notes.sign(text, signer, SignerKey("EnochRoot", bytes(32)))
    opened = notes.open(note, [PETER_VKEY, ENOCH_VKEY])
    assert opened.text == text and len(opened.verified) == 2
    assert notes.parse_note(note).text == text


# --- checkpoints ------------------------------------------------------------------------------


ROOT = bytes(range(32))


def test_checkpoint_body_is_exact():
    cp = Checkpoint("example.com/log", 20852163, ROOT)
    assert cp.body() == "example.com/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    assert Checkpoint.parse(cp.body()) == cp
    with_ext = Checkpoint("o", 0, ROOT, ["ext one", "ext two"])
    assert with_ext.extensions == ("ext one", "ext two")
    assert with_ext.body().endswith("=\next one\next two\n")
    assert Checkpoint.parse(with_ext.body().encode()) == with_ext


def test_spec_example_checkpoint_parses():
    # c2sp.org/tlog-checkpoint
    cp = Checkpoint.parse("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


GOOD_ROOT = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
BAD_CHECKPOINTS = {
    "no final newline": f"o\n1\n{GOOD_ROOT}",
    "two lines": "o\n1\n",
    "empty origin": f"\n1\n{GOOD_ROOT}\n",
    "leading zero": f"o\n01\n{GOOD_ROOT}\n",
    "plus sign": f"o\n+1\n{GOOD_ROOT}\n",
    "minus sign": f"o\n-1\n{GOOD_ROOT}\n",
    "spaces": f"o\n 1\n{GOOD_ROOT}\n",
    "underscore": f"o\n1_000\n{GOOD_ROOT}\n",
    "arabic digits": f"o\n\u0661\n{GOOD_ROOT}\n",
    "2**64": f"o\n{2**64}\n{GOOD_ROOT}\n",
    "empty size": f"o\n\n{GOOD_ROOT}\n",
    "hex root": f"o\n1\n{ROOT.hex()}\n",
    "unpadded root": f"o\n1\n{GOOD_ROOT[:-1]}\n",
    "non-canonical root": f"o\n1\n{GOOD_ROOT[:-2]}9=\n",
    "short root": f"o\n1\n{base64.b64encode(bytes(31)).decode()}\n",
    "long root": f"o\n1\n{base64.b64encode(bytes(33)).decode()}\n",
    "url-safe root": f"o\n1\n{base64.urlsafe_b64encode(bytes([0xfb] * 32)).decode()}\n",
    "empty extension": f"o\n1\n{GOOD_ROOT}\n\n",
    "empty extension between": f"o\n1\n{GOOD_ROOT}\na\n\nb\n",
    "tab": f"o\t\n1\n{GOOD_ROOT}\n",
    "carriage return": f"o\r\n1\r\n{GOOD_ROOT}\r\n",
}


@pytest.mark.parametrize("what", sorted(BAD_CHECKPOINTS))
def test_malformed_checkpoints_are_refused(what):
    with pytest.raises(MalformedNote):
        Checkpoint.parse(BAD_CHECKPOINTS[what])


def test_checkpoint_fields_are_checked():
    assert Checkpoint.parse(f"o\n{2**64 - 1}\n{GOOD_ROOT}\n").size == 2**64 - 1
    for args in (("", 1, ROOT), ("a\nb", 1, ROOT), ("o", -1, ROOT), ("o", 2**64, ROOT), ("o", 1, ROOT[:31])):
        with pytest.raises(MalformedNote):
            Checkpoint(*args)
    with pytest.raises(MalformedNote):
        Checkpoint("o", 1, ROOT, ("",))
    with pytest.raises(TypeError):
        Checkpoint("o", True, ROOT)


@settings(max_examples=200, deadline=None)
@given(
    origin=st.text(st.characters(blacklist_categories=["Cs"], min_codepoint=0x20), min_size=1, max_size=40),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(blacklist_categories=["Cs"], min_codepoint=0x20), min_size=1, max_size=20), max_size=3
    ),
)
def test_checkpoint_round_trip(origin, size, root, extensions):
    cp = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(cp.body()) == cp
    assert Checkpoint.parse(cp.body()).body() == cp.body()


# --- cosignatures ------------------------------------------------------------------------------


def test_real_checkpoint_and_cosignature_verify():
    checked = notes.open_checkpoint(ARCHE_NOTE, ARCHE_LOG_VKEY, origin="arche2025h1.staging.ct.transparency.dev",
                                    witnesses=[REMORA_VKEY], k=1)
    assert checked.checkpoint.size == 1432088532
    assert checked.checkpoint.body() == checked.note.text
    # the RFC 6962 signature (type 0x05) under the log's name has another key id: unknown
    assert len(checked.note.verified) == 1 and len(checked.note.unverified) == 5
    [cosig] = checked.cosignatures
    assert cosig.witness == notes.parse_verifier_key(REMORA_VKEY)
    assert cosig.timestamp == REMORA_TIME
    # open() verifies witness keys too, as cosignatures
    assert len(notes.open(ARCHE_NOTE, [ARCHE_LOG_VKEY, REMORA_VKEY]).verified) == 2
    assert notes.open(ARCHE_NOTE, [REMORA_VKEY]).verified[0].name == "remora.n621.de"


def test_real_checkpoint_tampered_is_refused():
    tampered = ARCHE_NOTE.replace("1432088532", "1432088533")
    with pytest.raises(InvalidSignature, match="remora"):
        notes.require_cosignatures(tampered, [REMORA_VKEY], 1)
    with pytest.raises(InvalidSignature, match="arche2025h1"):
        notes.open_checkpoint(tampered, ARCHE_LOG_VKEY)
    # the cosignature is not an Ed25519 note signature: a type-0x01 key of that witness would
    # have another key id, so it is simply unknown
    remora = notes.parse_verifier_key(REMORA_VKEY)
    plain = VerifierKey(remora.name, notes.SIGNATURE_ED25519, remora.public_key)
    with pytest.raises(UnverifiedNote):
        notes.open(ARCHE_NOTE, [plain])
    with pytest.raises(ValueError, match="not 0x04"):
        notes.require_cosignatures(ARCHE_NOTE, [plain], 1)
    with pytest.raises(NotEnoughCosignatures):
        notes.require_cosignatures(ARCHE_NOTE, [plain.for_cosignature(), notes.generate_key("w")[1].for_cosignature()], 2)


def test_cosignature_timestamps():
    assert notes.cosignature_timestamp(payload(TIMESTAMPED)) == 1727964367
    with pytest.raises(MalformedNote):
        notes.cosignature_timestamp(payload(UNTIMESTAMPED))  # an Ed25519 note signature: 64 bytes
    with pytest.raises(MalformedNote):
        notes.cosignature_timestamp(notes.Signature("x", 1, (2**63).to_bytes(8, "big") + bytes(64)))


def log_note(*extensions: str) -> tuple[bytes, SignerKey, Checkpoint]:
    log = SignerKey("example.org/log", bytes([7]) * 32)
    cp = Checkpoint("example.org/log", 42, hashlib.sha256(b"root").digest(), extensions)
    return notes.sign(cp.body(), log), log, cp


WITNESSES = [SignerKey(f"witness{i}.example", bytes([i + 1]) * 32) for i in range(3)]
WITNESS_KEYS = [w.cosignature_verifier() for w in WITNESSES]


def test_cosign_and_verify():
    note, log, cp = log_note()
    cosigned = notes.cosign(note, WITNESSES[0], 1700000000)
    line = notes.cosignature(cp, WITNESSES[0], 1700000000).line()
    assert cosigned == note + line.encode()
    raw = base64.b64decode(line.split(" ")[2])
    assert len(raw) == 4 + 8 + 64 and int.from_bytes(raw[4:12], "big") == 1700000000
    # the signed message, byte for byte
    message = b"cosignature/v1\ntime 1700000000\n" + cp.body().encode()
    WITNESS_KEYS[0]._key.verify(raw[12:], message)
    [found] = notes.require_cosignatures(cosigned, WITNESS_KEYS, 1)
    assert (found.witness, found.timestamp) == (WITNESS_KEYS[0], 1700000000)
    checked = notes.open_checkpoint(cosigned, log.verifier(), witnesses=WITNESS_KEYS, k=1)
    assert checked.checkpoint == cp and len(checked.cosignatures) == 1
    # cosigning again replaces the witness's earlier line
    again = notes.cosign(cosigned, WITNESSES[0], 1700000100)
    assert again.count(b"witness0.example") == 1
    assert notes.verify_cosignatures(again, WITNESS_KEYS)[0].timestamp == 1700000100


def test_k_of_n():
    note, log, _ = log_note()
    two = notes.cosign(notes.cosign(note, WITNESSES[0], 100), WITNESSES[2], 200)
    assert len(notes.require_cosignatures(two, WITNESS_KEYS, 2)) == 2
    assert len(notes.require_cosignatures(two, [str(k) for k in WITNESS_KEYS], 1)) == 2
    with pytest.raises(NotEnoughCosignatures, match="2 of the 3"):
        notes.require_cosignatures(two, WITNESS_KEYS, 3)
    # a witness listed twice is one witness; a witness's repeated line is one cosignature
    doubled = two + notes.cosignature(log_note()[2], WITNESSES[0], 100).line().encode()
    with pytest.raises(ValueError, match="between 1 and the number of distinct witnesses \\(1\\)"):
        notes.require_cosignatures(doubled, [WITNESS_KEYS[0], WITNESS_KEYS[0]], 2)
    assert len(notes.require_cosignatures(doubled, WITNESS_KEYS, 2)) == 2
    for k in (0, 4, True):
        with pytest.raises(ValueError):
            notes.require_cosignatures(two, WITNESS_KEYS, k)
    # cosignatures dated after `now` do not count
    assert len(notes.verify_cosignatures(two, WITNESS_KEYS, now=150)) == 1
    with pytest.raises(NotEnoughCosignatures):
        notes.require_cosignatures(two, WITNESS_KEYS, 2, now=150)
    with pytest.raises(NotEnoughCosignatures):
        notes.open_checkpoint(two, log.verifier(), witnesses=WITNESS_KEYS, k=3)


def test_tampered_cosignatures_are_refused():
    note, _, cp = log_note("an extension")
    cosigned = notes.cosign(note, WITNESSES[1], 1700000000)
    text, sigs = notes.parse_note(cosigned)
    # a flipped bit in the signature
    bad = notes.Signature(sigs[1].name, sigs[1].key_id, sigs[1].signature[:-1] + bytes([sigs[1].signature[-1] ^ 1]))
    forged = (text + "\n" + sigs[0].line() + bad.line()).encode()
    with pytest.raises(InvalidSignature):
        notes.require_cosignatures(forged, WITNESS_KEYS, 1)
    # another timestamp than the one signed
    moved = notes.Signature(sigs[1].name, sigs[1].key_id, (1700000001).to_bytes(8, "big") + sigs[1].signature[8:])
    with pytest.raises(InvalidSignature):
        notes.require_cosignatures((text + "\n" + moved.line()).encode(), WITNESS_KEYS, 1)
    # the extension lines are covered
    changed = cosigned.replace(b"an extension", b"an extensioN")
    with pytest.raises(InvalidSignature):
        notes.require_cosignatures(changed, WITNESS_KEYS, 1)
    # a cosignature over a note that is not a checkpoint
    with pytest.raises(MalformedNote):
        notes.cosign(notes.sign("not a checkpoint\n", WITNESSES[0]), WITNESSES[1], 1)
    with pytest.raises(MalformedNote):
        notes.verify_cosignatures(notes.sign("not a checkpoint\n", WITNESSES[0]), WITNESS_KEYS)
    with pytest.raises(ValueError):
        notes.cosignature(cp, WITNESSES[0], 2**63)


def test_open_checkpoint_checks_origin_and_key():
    note, log, _ = log_note()
    with pytest.raises(notes.NoteError, match="origin"):
        notes.open_checkpoint(note, log.verifier(), origin="example.org/other")
    with pytest.raises(ValueError, match="type 0x01"):
        notes.open_checkpoint(note, log.cosignature_verifier())
    with pytest.raises(UnverifiedNote):
        notes.open_checkpoint(note, WITNESSES[0].verifier())

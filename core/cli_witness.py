"""``civic audit witness-key`` and ``civic audit witness``: cosigning a log's checkpoints as
a witness (见证), after checking that the log only grew (:mod:`core.witness`)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Optional

import typer

from core import witness as witnessing
from core.cli import err, fail
from core.errors import CivicError, InvalidInput

TOKEN_ENV = "CIVIC_WITNESS_TOKEN"


def witness_key_command(
    name: Annotated[str, typer.Option("--name", help="The witness's key name, e.g. its domain (auditor.example.org)")],
    out_file: Annotated[Path, typer.Option("--out", help="New file for the private key (mode 0600; never overwritten)")],
) -> None:
    """Generate a witness's signing key (见证密钥) into a new file and print its verifier key
    (type 0x04), the one to publish and to give to `check-checkpoint --witness`."""
    try:
        verifier = witnessing.new_witness_key(name, out_file)
    except CivicError as exc:
        fail(exc)
    typer.echo(str(verifier))
    err.print(f"私钥已写入 private key written to {out_file} (mode 0600); keep it secret", soft_wrap=True,
              markup=False, highlight=False)


def _root(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def witness_command(
    key: Annotated[Path, typer.Option("--key", help="The witness key file (from `civic audit witness-key`)")],
    log_key: Annotated[str, typer.Option("--log-key", help="The log's verifier key (`civic audit log-key`)")],
    state: Annotated[Path, typer.Option("--state", help="The witness's state file: the last tree cosigned per origin "
                                                        "(created if missing, replaced atomically)")],
    checkpoint_file: Annotated[Optional[Path], typer.Argument(
        metavar="CHECKPOINT_FILE", help="A checkpoint note of the log to cosign (or use --url)", show_default=False)] = None,
    proof: Annotated[Optional[Path], typer.Option(
        "--proof", help="With CHECKPOINT_FILE: the consistency proof from the last cosigned size (the JSON answer of "
                        "GET /tenants/{tenant}/log/consistency)")] = None,
    out_file: Annotated[Optional[Path], typer.Option(
        "--out", help="Write the cosigned checkpoint here instead of printing it")] = None,
    url: Annotated[Optional[str], typer.Option(
        "--url", help="Online: the server's address; its current checkpoint and the proof are fetched and the "
                      "cosignature is posted back")] = None,
    tenant: Annotated[Optional[str], typer.Option("--tenant", help="With --url: the tenant whose log to witness")] = None,
    token: Annotated[Optional[str], typer.Option(
        "--token", envvar=TOKEN_ENV, help="With --url: a bearer token that may read the tenant")] = None,
) -> None:
    """Cosign a log's checkpoint as a witness (见证副署, C2SP cosignature/v1), only if the
    log's key signed it and its tree extends the last one cosigned for its origin.

    The first checkpoint of an origin is trusted on first use. A checkpoint of the same
    size with another root, a larger one whose consistency proof fails, or a smaller one is
    refused as a FORK or ROLLBACK with exit code 3, and nothing is written. Exit 1 for any
    other refusal (unreadable files, a bad signature, a missing proof)."""
    try:
        if (checkpoint_file is None) == (url is None):
            raise InvalidInput("CHECKPOINT_FILE/--url", str(checkpoint_file or url or ""),
                               "二者取其一 exactly one: a checkpoint file, or --url with --tenant and --token")
        if url is not None:
            if proof is not None:
                raise InvalidInput("--proof", str(proof), "不与 --url 同用 nothing with --url: the proof is fetched")
            if not tenant or not token:
                raise InvalidInput("--tenant/--token", tenant or "", f"与 --url 同用 both with --url (the token also from "
                                                                    f"{TOKEN_ENV})")
        elif tenant or token:
            raise InvalidInput("--tenant/--token", tenant or "(token)", "仅与 --url 同用 only with --url")
        signer = witnessing.read_witness_key(key)
        submitted = None
        if url is not None:
            server = witnessing.LogServer(witnessing.urllib_transport(url, token), tenant or "")
            try:
                cosigned, submitted = witnessing.witness_online(server, signer, log_key, state)
            except witnessing.SubmissionFailed as exc:
                _emit(exc.cosigned, out_file, state)
                raise
        else:
            try:
                note = checkpoint_file.read_bytes()  # type: ignore[union-attr]
            except OSError as exc:
                raise InvalidInput("CHECKPOINT_FILE", str(checkpoint_file),
                                   f"可读的检查点文件 a readable checkpoint file ({exc.strerror})") from None
            given = witnessing.Proof.read(proof) if proof is not None else None
            cosigned = witnessing.witness(note, signer, log_key, state, lambda old, new: given)
        _emit(cosigned, out_file, state)
    except witnessing.Fork as exc:
        err.print(str(exc), style="bold red", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(code=witnessing.EXIT_FORK) from None
    except CivicError as exc:
        fail(exc)
    if submitted is not None:
        err.print(f"已提交 submitted to {url}: {submitted.get('cosignatures', '?')} witness(es) have cosigned this "
                  "checkpoint there", soft_wrap=True, markup=False, highlight=False)


def _emit(cosigned: witnessing.Cosigned, out_file: Optional[Path], state: Path) -> None:
    cp, previous = cosigned.checkpoint, cosigned.previous
    if previous is None:
        said = (f"首次见到此日志，按首次信任副署 first checkpoint of {cp.origin}: trusted on first use (TOFU), "
                f"{cp.size} leaves, root {_root(cp.root)}")
    elif previous.size == cp.size:
        said = f"再次副署 cosigned again: {cp.origin} is still at {cp.size} leaves, root {_root(cp.root)}"
    else:
        said = (f"已副署 cosigned {cp.origin} at {cp.size} leaves, root {_root(cp.root)}: consistent with the "
                f"{previous.size} leaves cosigned before (root {_root(previous.root)})")
    err.print(said, soft_wrap=True, markup=False, highlight=False)
    err.print(f"副署时间 cosignature time: {witnessing.when(cosigned.timestamp)} ({cosigned.timestamp}); "
              f"状态 state: {state}", soft_wrap=True, markup=False, highlight=False)
    if out_file is None:
        typer.echo(cosigned.note.decode("utf-8"), nl=False)
        return
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_bytes(cosigned.note)
    except OSError as exc:
        raise InvalidInput("--out", str(out_file), f"可写的文件 a file that can be written ({exc.strerror})") from None
    err.print(f"已写入 written to {out_file}", soft_wrap=True, markup=False, highlight=False)

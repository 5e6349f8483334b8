"""``civic audit``: verification, export bundles, anchors, titles on a date and what-if (read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from core.cli import AUDITOR, dump, err, fail, ledger, out, titled_table
from core.cli_integrity import anchor, export, progress_bar, verify_file, verify_store
from core.cli_witness import witness_command, witness_key_command
from core.errors import CivicError, InvalidInput

audit_app = typer.Typer(
    help="Auditing (审计, read-only): verify chains and decisions on the store or in an exported bundle, "
    "export bundles, anchor chain heads, titles on a date, what-if under another rubric version.",
    no_args_is_help=True,
)
audit_app.command("export")(export)
audit_app.command("anchor")(anchor)
audit_app.command("witness-key")(witness_key_command)
audit_app.command("witness")(witness_command)


@audit_app.command("verify")
def verify(
    bundle: Annotated[Optional[Path], typer.Argument(
        help="An exported bundle to check offline: no store is opened and no plugin is used (unless --with-plugins)",
    )] = None,
    campaign: Annotated[Optional[str], typer.Option(help="Only this campaign's record (its streams and decisions)")] = None,
    tenant: Annotated[Optional[str], typer.Option(help="Only this tenant's record")] = None,
    anchor_file: Annotated[Optional[Path], typer.Option(
        "--anchor", help="An anchor written earlier by `civic audit anchor`: every head in it must still be there, unchanged",
    )] = None,
    chains_only: Annotated[bool, typer.Option(
        "--chains-only", help="With BUNDLE: only its integrity (every byte, link, hash and the seal), in seconds; "
                              "decisions are not recomputed",
    )] = False,
    workers: Annotated[Optional[int], typer.Option(
        min=1, help="With BUNDLE: processes sharing the work (default: one per processor)",
    )] = None,
    with_plugins: Annotated[bool, typer.Option(
        "--with-plugins", help="With BUNDLE: recompute decisions whose style or aggregation a plugin supplies with the "
                               "installed plugins' code (opt in; each such verdict names the plugin)",
    )] = False,
    checkpoint_files: Annotated[Optional[list[Path]], typer.Option(
        "--checkpoint", help="With BUNDLE: a signed checkpoint obtained independently (a 公示, a witness; repeatable, "
                             "one per log): the bundle must agree with it",
    )] = None,
    log_key: Annotated[str, typer.Option(
        "--log-key", help="With BUNDLE: the log's verifier key (as `civic audit log-key` prints it; default with "
                          "--checkpoint: the one of CIVIC_LOG_KEY_FILE)",
    )] = "",
    witness: Annotated[Optional[list[str]], typer.Option(
        "--witness", help="With --checkpoint: a witness's verifier key (repeatable); the checkpoint must be cosigned",
    )] = None,
    require: Annotated[Optional[int], typer.Option(
        "--require", metavar="K", help="With --witness: how many of the named witnesses must have cosigned (default: all)",
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check hash chains and recompute recorded decisions (核验), on the store or in a bundle.

    The chains: every event is checked against its link; the first broken event of each
    stream is named. The decisions: each is recomputed from the recorded events with the
    rubric version it names and reported as confirmed or mismatched, with the differing
    lines. Without options: the whole configured store. With BUNDLE: that file alone,
    offline. Exits 1 when anything does not verify."""
    if bundle is not None:
        if campaign or tenant or anchor_file:
            fail(InvalidInput("--campaign/--tenant/--anchor", campaign or tenant or str(anchor_file),
                              "none of them with a bundle file: a bundle is checked as a whole"))
        held = []
        for path in checkpoint_files or []:
            try:
                held.append(path.read_bytes())
            except OSError as exc:
                fail(InvalidInput("--checkpoint", str(path), f"a readable checkpoint file ({exc.strerror})"))
        if held and not log_key:
            from core import signing

            try:
                log_key = str(signing.log_key(create=False).verifier())
            except CivicError:
                fail(InvalidInput("--log-key", "", "the log's verifier key (published with the notices): a checkpoint "
                                                   "is checked against the key that signed it"))
        verify_file(bundle, as_json, workers, decisions=not chains_only, with_plugins=with_plugins,
                    held=held, log_key=log_key or None, witnesses=witness or [], require=require)
    else:
        if workers is not None or chains_only or with_plugins:
            option, value = (("--workers", workers) if workers is not None else
                             ("--chains-only", True) if chains_only else ("--with-plugins", True))
            fail(InvalidInput(option, value, "only with a bundle file: the store's check runs in this process"))
        if checkpoint_files or log_key or witness or require is not None:
            option, value = (("--checkpoint", str(checkpoint_files[0])) if checkpoint_files else ("--log-key", log_key) if log_key
                             else ("--witness", (witness or [""])[0]) if witness else ("--require", require))
            fail(InvalidInput(option, value, "only with a bundle file; the store is checked against a checkpoint with "
                                             "`civic audit check-checkpoint FILE`"))
        verify_store(campaign, tenant, anchor_file, as_json)


@audit_app.command("titles")
def titles(
    community_id: Annotated[str, typer.Argument(help="Community id")],
    on: Annotated[str, typer.Option(help="Date YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The titles a community held on a date, and the decision (candidacy) behind each.

    Only titles a verified decision backs are listed; the recorded titles left out are
    counted, each with why (on stderr with --json, which prints the list as before)."""
    try:
        rows = ledger().titles_on(AUDITOR, community_id, on)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
        _print_left_out(rows.left_out, err)
        return
    table = titled_table(f"称号 titles on {on}", ("title", "level", "awarded", "revoked", "decision (candidacy)"))
    for row in rows:
        table.add_row(row["label"], row["level"], row["awarded"], row["revoked"] or "-", row["candidacy_id"])
    out.print(table)
    if not rows:
        out.print("无 none")
    _print_left_out(rows.left_out, out)


def _print_left_out(left_out: list[dict[str, Any]], console: Console) -> None:
    if not left_out:
        return
    console.print(f"未采信 left out {len(left_out)} recorded title(s) that no verified decision backs "
                  "(run `civic audit verify`):", markup=False, highlight=False)
    for t in left_out:
        console.print(f"  {t['label']} {t['level']} awarded {t['awarded']} ({t['candidacy_id']}, "
                      f"community position {t['version']}): {'; '.join(t['reasons'])}", markup=False, highlight=False)


NAMED_LABELS = {True: "命名 named", False: "不命名 not named", None: "无法评分 unscorable"}


@audit_app.command("whatif")
def whatif(
    campaign: Annotated[str, typer.Option(help="Campaign id (a decided campaign)")],
    rubric: Annotated[str, typer.Option(
        metavar="RUBRIC@VERSION",
        help="Rubric version to recompute with, one the campaign's tenant can use "
        "(a plugin's or the tenant's imported one), e.g. tianjin-meili@2017",
    )],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute a campaign's decisions under another rubric version (推演); records nothing.

    What if the campaign had used another rubric version? Recompute every recorded
    decision from the same evidence (the events at the stream positions each decision
    recorded) under RUBRIC@VERSION and its decision style, and list the decisions that would
    change, with the reasons and the differing checks and figures, then how many would not.
    Records nothing."""
    try:
        ledger_app = ledger()
        with progress_bar() as update:

            def step(done: int, total: int) -> None:
                update(f"推演 recomputing under {rubric}", done, total)

            result = ledger_app.whatif(AUDITOR, campaign, rubric, progress=step)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(result.as_dict())
        return
    out.print(
        f"[bold]推演 what-if[/] · campaign {result.campaign} ({result.campaign_id}) · tenant {result.tenant}\n"
        f"记录 recorded: {result.recorded_rubric}  ->  推演 what-if: [bold]{result.rubric}[/] "
        f"({result.provided_by}, style {result.style})",
        soft_wrap=True,
    )
    for note in result.notes:
        out.print(f"[yellow]注意 NOTE[/] {note}", soft_wrap=True)
    changed = result.changed
    table = titled_table(
        f"将改变的决定 decisions that would change ({len(changed)})",
        ("候选 candidacy", "社区 community", "级别 level", "记录 recorded", "推演 what-if", "原因 reasons"),
    )
    for row in changed:
        table.add_row(
            row.candidacy_id, row.community, row.level, NAMED_LABELS[row.recorded_named],
            NAMED_LABELS[row.whatif_named], "; ".join(row.reasons),
        )
    out.print(table)
    for row in changed:
        out.print(f"[bold]{row.community} {row.level}[/] ({row.candidacy_id}):")
        for note in row.notes:
            out.print(f"  注意 note: {note}", markup=False, highlight=False)
        for line in row.differences:
            out.print(f"  {line}", markup=False, highlight=False)
    unscorable = result.unscorable
    if unscorable:
        table = titled_table(
            f"无法评分 cannot be scored under {result.rubric} ({len(unscorable)})",
            ("候选 candidacy", "社区 community", "级别 level", "记录 recorded", "原因 why"),
        )
        for row in unscorable:
            table.add_row(row.candidacy_id, row.community, row.level, NAMED_LABELS[row.recorded_named], "; ".join(row.reasons))
        out.print(table)
    out.print(
        f"{len(changed)} 项改变 would change, {len(result.unchanged)} 项不变 unchanged"
        + (f", {len(unscorable)} 项无法评分 cannot be scored" if unscorable else "")
        + f" (of {len(result.decisions)} decisions); 未记录任何内容 nothing was recorded"
    )


# -- the transparency log: signed checkpoints --------------------------------------------------


@audit_app.command("log-key")
def log_key_command() -> None:
    """Print the verifier key of the log's signing key (公钥), generating the key on first
    use in CIVIC_LOG_KEY_FILE (default data/log-signing.key). Publish it with the notices."""
    from core import signing

    try:
        out.print(str(signing.log_key().verifier()), soft_wrap=True, markup=False, highlight=False)
    except CivicError as exc:
        fail(exc)


@audit_app.command("checkpoint")
def checkpoint_command(
    tenant: Annotated[Optional[list[str]], typer.Option(
        "--tenant", help="Tenant whose log to sign (repeatable; default: every tenant with a log)")] = None,
    out_dir: Annotated[Optional[Path], typer.Option(
        "--out", help="Write each checkpoint to DIR/<tenant>.checkpoint instead of printing it")] = None,
) -> None:
    """Sign a checkpoint (C2SP tlog-checkpoint) of each tenant's transparency log with the
    log key (签署检查点): origin <log name>/<tenant>, tree size, root."""
    from core import signing

    try:
        signer = signing.log_key()
        app = ledger()
        try:
            tenants = tenant or app.recorder.log_tenants()
            known = set(app.recorder.log_tenants())
            for name in tenants:
                if name not in known:
                    raise InvalidInput("--tenant", name, ", ".join(sorted(known)) or "(no tenant has a log yet)")
            notes_made = {name: signing.checkpoint(app.recorder, name, signer) for name in tenants}
        finally:
            app.close()
    except CivicError as exc:
        fail(exc)
    for name, note in notes_made.items():
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / f"{name.replace('*', '_all')}.checkpoint"
            target.write_bytes(note)
            out.print(f"{name}: {target}")
        else:
            typer.echo(note.decode("utf-8"), nl=False)


@audit_app.command("check-checkpoint")
def check_checkpoint_command(
    file: Annotated[Path, typer.Argument(help="A checkpoint note obtained independently (e.g. from a 公示)")],
    log_key: Annotated[str, typer.Option(
        "--log-key", help="The log's verifier key (default: the one of CIVIC_LOG_KEY_FILE)")] = "",
    witness: Annotated[Optional[list[str]], typer.Option(
        "--witness", help="A witness's verifier key (repeatable): report whether it cosigned the checkpoint")] = None,
    require: Annotated[Optional[int], typer.Option(
        "--require", metavar="K", help="How many of the --witness keys must have cosigned (default: all of them)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the store against a signed checkpoint (核对检查点): the signature, and that the
    tenant's log at that size has that root and has only grown since; with --witness, that
    K of the named witnesses cosigned it. Exit 1 if not."""
    from core import signing
    from core.witness import check_cosignatures, when

    try:
        verifier = log_key or signing.log_key(create=False).verifier()
        try:
            note = file.read_bytes()
        except OSError as exc:
            raise InvalidInput("FILE", str(file), f"a readable checkpoint file ({exc.strerror})") from None
        if require is not None and not witness:
            raise InvalidInput("--require", require, "仅与 --witness 同用 only with --witness keys (at most their number)")
        app = ledger()
        try:
            verdict = signing.check(app.recorder, note, verifier)
        finally:
            app.close()
        if witness:
            witnessed = check_cosignatures(note, witness, require)
            verdict.update(required=witnessed["required"], witnesses=witnessed["witnesses"],
                           ok=verdict["ok"] and witnessed["ok"], problems=verdict["problems"] + witnessed["problems"])
    except (CivicError, ValueError) as exc:
        fail(exc)
    if as_json:
        dump(verdict)
    else:
        state = "一致 consistent" if verdict["ok"] else "不一致 NOT consistent"
        out.print(f"{verdict['tenant']}: checkpoint of {verdict['size']} leaves, log of {verdict['log_size']}: {state}")
        if witness:
            cosigned = [w for w in verdict["witnesses"] if w["status"] == "cosigned"]
            out.print(f"见证 witnesses: {len(cosigned)} of {len(verdict['witnesses'])} cosigned, "
                      f"{verdict['required']} required", markup=False)
            labels = {"cosigned": "已副署 cosigned", "missing": "未副署 did not cosign", "invalid": "副署无效 INVALID"}
            for row in verdict["witnesses"]:
                stamp = f" at {when(row['timestamp'])}" if row["timestamp"] is not None else ""
                out.print(f"  {labels[row['status']]}: {row['name']}{stamp}", markup=False, highlight=False)
        for problem in verdict["problems"]:
            out.print(f"  {problem}", markup=False)
    if not verdict["ok"]:
        raise typer.Exit(code=1)

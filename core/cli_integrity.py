"""``civic audit verify`` / ``export`` / ``anchor``: tamper evidence on the live store and
in exported bundles (read-only: nothing is ever recorded)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.bundle import BundleReport, export_bundle, verify_bundle
from core.chain import ChainReport
from core.cli import AUDITOR, dump, err, fail, ledger, out, titled_table
from core.errors import CivicError, InvalidInput, NotFound
from core.meaning import MeaningReport

VERDICT_LABELS = {
    "confirmed": "一致 confirmed",
    "mismatched": "不一致 mismatched",
    "unverifiable": "无法验证 unverifiable",
    "needs_plugin": "需插件复核 needs plugin code",
}


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress bar on stderr (only on a terminal), one task per stage label."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int | None = None) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield update


def _read_anchor(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("--anchor", str(path), f"an anchor file written by `civic audit anchor` ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput("--anchor", str(path), "an anchor file written by `civic audit anchor` (a JSON object)")
    return data


def verify_store(campaign: str | None, tenant: str | None, anchor: Path | None, as_json: bool) -> None:
    """Chains and decisions on the configured store: one campaign, a tenant, or everything."""
    try:
        if campaign is not None and tenant is not None:
            raise InvalidInput("--campaign/--tenant", f"{campaign} / {tenant}", "at most one of --campaign ID or --tenant CODE")
        anchor_data = _read_anchor(anchor)
        app = ledger()
        with progress_bar() as update:
            try:
                if campaign is not None:
                    streams = app.campaign_streams(AUDITOR, campaign)
                elif tenant is not None:
                    streams = app.tenant_streams(AUDITOR, tenant)
                else:
                    streams = None
            except CivicError:
                raise
            except Exception as exc:  # records that no longer replay: check every chain instead
                err.print(f"the scope cannot be read from the store ({type(exc).__name__}); checking every chain")
                streams = None
            report = app.verify_chains(AUDITOR, streams, anchor=anchor_data, progress=lambda n: update("链条 chains", n, None))
            if campaign is not None:
                campaigns = [campaign]
            elif tenant is not None:
                campaigns = [str(c) for c in app.tenant(AUDITOR, tenant).campaigns]
            else:
                campaigns = app.campaigns_in_store(report)
            verdicts = []
            for n, campaign_id in enumerate(campaigns, start=1):
                verdicts += _campaign_verdicts(app, campaign_id)
                update("决定 decisions", n, len(campaigns))
            update("含义 meaning", 0, 1)
            meaning = app.verify_meaning(AUDITOR, streams)
            update("含义 meaning", 1, 1)
    except CivicError as exc:
        fail(exc)
    _print_chains(report, as_json, verdicts, scope={"campaign": campaign, "tenant": tenant, "anchor": str(anchor) if anchor else None},
                  meaning=meaning)


def _campaign_verdicts(app: Any, campaign_id: str) -> list[dict[str, Any]]:
    """A campaign's decisions, recomputed; a campaign whose records no longer replay is
    reported as unverifiable (its chains say why)."""
    try:
        if not app.campaign(AUDITOR, campaign_id).decided:
            return []
        return [{"campaign_id": campaign_id, **v.__dict__} for v in app.verify_decisions(AUDITOR, campaign_id)]
    except CivicError as exc:
        if isinstance(exc, NotFound):
            raise
        why = str(exc)
    except Exception as exc:
        why = f"its records cannot be replayed ({type(exc).__name__}: {exc})"
    return [{"campaign_id": campaign_id, "candidacy_id": None, "community": None, "level": None,
             "status": "unverifiable", "differences": [why]}]


def _print_chains(report: ChainReport, as_json: bool, verdicts: list[dict[str, Any]], scope: dict[str, Any],
                  meaning: MeaningReport | None = None) -> None:
    ok = report.intact and all(v["status"] == "confirmed" for v in verdicts) and (meaning is None or meaning.ok)
    if as_json:
        dump({
            "scope": scope, "intact": report.intact, "streams": report.streams, "events": report.events,
            "root": report.root, "breaks": [b.as_dict() for b in report.breaks], "decisions": verdicts,
            **({"meaning": meaning.as_dict()} if meaning is not None else {}), "verified": ok,
        })
    else:
        out.print(f"链条 chains: {report.streams} streams, {report.events} events, root {report.root}")
        if report.breaks:
            table = titled_table("链条断点 chain breaks (first of each stream)", ("stream", "position", "problem", "detail"))
            for b in report.breaks:
                table.add_row(b.stream, str(b.version), b.explanation, b.detail)
            out.print(table)
        else:
            out.print("链条完整 every chain is intact")
        _print_verdicts(verdicts)
        if meaning is not None:
            _print_meaning(meaning)
    if not ok:
        err.print("verification failed (核验未通过)")
        raise typer.Exit(code=1)


def _print_meaning(meaning: MeaningReport) -> None:
    """The cross-stream meaning checks (core.meaning) of a store verification."""
    if meaning.problems:
        table = titled_table("含义问题 meaning problems (what the events say about each other)",
                             ("stream", "position", "problem", "detail"))
        for p in meaning.problems:
            table.add_row(p.stream, str(p.version or "-"), p.explanation, p.message)
        out.print(table)
    else:
        out.print(f"含义一致 the events agree with each other: {meaning.events} events, "
                  f"{len(meaning.campaigns)} campaigns, {len(meaning.titles)} titles backed by a verified decision")
    if meaning.left_out:
        out.print(f"未采信的称号 {len(meaning.left_out)} recorded title(s) no verified decision backs:", markup=False)
        for t in meaning.left_out:
            out.print(f"  {t.community_id}@{t.version} {t.label} ({t.candidacy_id}): {'; '.join(t.reasons)}",
                      markup=False, highlight=False)


def _print_verdicts(verdicts: list[dict[str, Any]]) -> None:
    if not verdicts:
        out.print("无已作出的决定 no recorded decisions")
        return
    table = titled_table("决定复核 decision verification", ("campaign", "candidacy", "community", "level", "result"))
    for row in verdicts:
        table.add_row(row["campaign_id"][:8], row["candidacy_id"] or "-", row["community"] or "-", row["level"] or "-",
                      VERDICT_LABELS[row["status"]])
    out.print(table)
    for row in verdicts:
        if row["differences"] and row["status"] != "needs_plugin":
            out.print(f"[bold]{row['community']} {row['level']}[/] ({row['candidacy_id']}):")
            for line in row["differences"]:
                out.print(line, markup=False, highlight=False)
    plugin_only = [r for r in verdicts if r["status"] == "needs_plugin"]
    if plugin_only:
        out.print(plugin_only[0]["differences"][0], markup=False)
    with_code = sorted({what for r in verdicts for what in r.get("recomputed_with", [])})
    if with_code:
        out.print(f"以已安装插件代码复核 recomputed with installed plugin code: {'; '.join(with_code)} "
                  f"({sum(1 for r in verdicts if r.get('recomputed_with'))} decisions)", markup=False)
    confirmed = sum(r["status"] == "confirmed" for r in verdicts)
    out.print(f"{confirmed}/{len(verdicts)} decisions confirmed")


def verify_file(
    bundle: Path, as_json: bool, workers: int | None = None, decisions: bool = True, with_plugins: bool = False,
    held: list[bytes] | None = None, log_key: str | None = None, witnesses: list[str] | None = None,
    require: int | None = None,
) -> None:
    """Offline: the bundle alone, no store and no plugin (``with_plugins``: the installed
    plugins' code for the decisions that need it), against the checkpoints ``held``."""
    try:
        with progress_bar() as update:
            report = verify_bundle(bundle, decisions=decisions, workers=workers, with_plugins=with_plugins,
                                   progress=lambda stage, n, total: update(_STAGES.get(stage, stage), n, total),
                                   held=held or [], log_key=log_key, witnesses=witnesses or [], require=require)
    except CivicError as exc:
        fail(exc)
    _print_bundle(bundle, report, as_json, decisions)


_STAGES = {"chain": "链条 chains", "decisions": "决定 decisions"}


def _print_bundle(bundle: Path, report: BundleReport, as_json: bool, decisions: bool = True) -> None:
    manifest = report.manifest or {}
    if as_json:
        dump({
            "bundle": str(bundle), "intact": report.intact, "verified": report.verified if decisions else None,
            "streams": report.streams, "events": report.events, "rubrics": report.rubrics,
            "root": manifest.get("root"), "scope": manifest.get("scope"), "logs": report.logs,
            "campaigns": report.campaigns,
            "problems": [p.as_dict() for p in report.problems], "decisions": report.verdicts if decisions else None,
            "with_plugins": report.with_plugins,
        })
    else:
        out.print(f"导出包 bundle {bundle}: {report.streams} streams, {report.events} events, {report.rubrics} rubric versions")
        if manifest:
            out.print(f"exported {manifest.get('exported_at')} from {manifest.get('store')}"
                      + (f", root {manifest['root']}" if manifest.get("root") else ""))
        for log in report.logs:
            signed = {True: "签名有效 signed by the log key", False: "签名无效 NOT signed by the log key", None: "签名未核 signature not checked"}
            held = {True: f"与所持检查点一致 agrees with the checkpoint you hold ({log.get('held_size')} leaves)",
                    False: "与所持检查点不符 does NOT agree with the checkpoint you hold", None: "未对照检查点 no checkpoint held"}
            cosigned = f", cosigned by {', '.join(log['witnesses'])}" if log.get("witnesses") else ""
            out.print(f"日志 log {log['log']}: {log['size']} leaves, root {log['root']}; {signed[log['signed']]}; "
                      f"{held[log['held']]}{cosigned}", markup=False, highlight=False)
        if report.problems:
            table = titled_table("问题 problems (the first names the changed line)", ("line", "record", "problem"))
            for p in report.problems:
                where = f"{p.what}" + (f" {p.stream} @{p.version}" if p.stream and p.version else "")
                table.add_row(str(p.line), where, p.message)
            out.print(table)
        else:
            out.print("导出包完整 the bundle is intact: every byte matches its chain, hashes and seal")
        if decisions:
            _print_verdicts(report.verdicts)
        else:
            out.print("决定未复核 decisions not recomputed (--chains-only)")
    if not report.verified:
        err.print("verification failed (核验未通过)")
        raise typer.Exit(code=1)


def export(
    out_file: Annotated[Path, typer.Option("--out", help="File to write (refused if it exists, unless --force)")],
    campaign: Annotated[Optional[str], typer.Option(help="Campaign id")] = None,
    tenant: Annotated[Optional[str], typer.Option(help="Every campaign of this tenant")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Export a campaign's record to one self-contained file (导出).

    The file holds the events in order, the rubric versions they name, a manifest and a
    signed checkpoint of each log its events belong to; `civic audit verify FILE` checks it
    offline (docs/bundle-format.md). A store whose chain is broken is not exported."""
    try:
        if out_file.exists() and not force:
            raise InvalidInput("--out", str(out_file), "a file that does not exist yet (or add --force)")
        if out_file.is_dir():
            raise InvalidInput("--out", str(out_file), "a file name, not a folder")
        app = ledger()
        with progress_bar() as update:
            manifest = export_bundle(
                app, AUDITOR, out_file, campaign_id=campaign, tenant=tenant,
                progress=lambda n, total: update("导出 exporting", n, total),
            )
    except CivicError as exc:
        fail(exc)
    except OSError as exc:
        fail(InvalidInput("--out", str(out_file), f"a writable file ({exc.strerror})"))
    out.print(f"wrote {out_file}: {manifest['streams']} streams, {manifest['events']} events, "
              f"{len(manifest['rubrics'])} rubric versions; checkpoints of "
              + ", ".join(f"{log} ({size} leaves)" for log, size in manifest["logs"].items()))


def anchor(
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Write the anchor here instead of printing it")] = None,
) -> None:
    """Write down the head of every chain in the store (锚定).

    Keep the anchor where the store's operators cannot change it: `civic audit verify
    --anchor FILE` later proves that no event up to these heads was changed, even by someone
    who recomputed the links."""
    try:
        app = ledger()
        with progress_bar() as update:
            data = app.anchor(AUDITOR, progress=lambda n: update("链条 chains", n, None))
        text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        if out_file is None:
            out.file.write(text)
        else:
            out_file.write_text(text, encoding="utf-8")
            out.print(f"wrote {out_file}: {data['streams']} streams, {data['events']} events, root {data['root']}")
    except CivicError as exc:
        fail(exc)
    except OSError as exc:
        fail(InvalidInput("--out", str(out_file), f"a writable file ({exc.strerror})"))
    if not data["intact"]:
        err.print("the store's chains are broken: run `civic audit verify` (链条断裂)")
        raise typer.Exit(code=1)

"""The ``civic`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.actors import Actor, Role
from core.errors import CivicError, NotFound
from core.text import ALLOWED, bad_character, describe, shown
from core.services import CivicLedger

app = typer.Typer(
    help="Civic Ledger: event-sourced community evaluation campaigns (社区创建评估台账).",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
rubric_app = typer.Typer(help="Rubrics provided by plugins (评分标准).", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")

out = Console()
if not out.is_terminal:
    out = Console(width=160)
err = Console(stderr=True)

STATUS_LABELS = {
    "applied": "已申报",
    "returned": "退回修改",
    "approved": "初审通过",
    "rejected": "初审未通过",
    "withdrawn": "已撤回",
    "named": "已命名",
    "not_named": "未命名",
    "revoked": "已摘牌",
}
AUDITOR = Actor(id="civic-cli", role=Role.AUDITOR, organisation="command line (read-only)", tenant="*")


def ledger() -> CivicLedger:
    return CivicLedger()


def fail(exc: Exception) -> None:
    err.print("[bold red]error:[/] ", end="")
    err.print(str(exc), soft_wrap=True, markup=False, highlight=False)
    raise typer.Exit(code=1)


def titled_table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    return table


def dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command()
def demo(
    name: Annotated[Optional[str], typer.Argument(help="Demo to build (default: every installed demo)")] = None,
) -> None:
    """Build the plugins' demonstration campaigns on the configured store through the same
    commands a user would issue, and print each outcome. Running it again shows the stored
    result and records nothing new."""
    try:
        ledger_app = ledger()
        demos = ledger_app.plugins.demos()
        if name is not None and name not in demos:
            raise NotFound("demo", name, known=sorted(demos))
        chosen = [demos[name]] if name else [demos[n] for n in sorted(demos)]
        if not chosen:
            raise NotFound("demo", "(any)", known=[])
        out.print(f"存储 store: [cyan]{ledger_app.store.display}[/]")
        for record, plugin in chosen:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(), console=err, transient=True,
            ) as progress:
                task = progress.add_task(record.title, total=record.stages)

                def step(label: str) -> None:
                    progress.update(task, description=label, advance=1)

                campaign_id = record.build(ledger_app, step)
            out.print(f"\n[bold]{record.title}[/] ({record.name}, plugin {plugin})")
            print_outcome(ledger_app, record.reader, campaign_id)
            program = sys.argv[0] if sys.argv and sys.argv[0].endswith("civic") else "civic"
            out.print(f"活动 campaign id: {campaign_id}")
            out.print(f"历史 history: {program} history {campaign_id}")
    except CivicError as exc:
        fail(exc)


def print_outcome(ledger_app: CivicLedger, actor: Actor, campaign_id: str) -> None:
    campaign = ledger_app.campaign(actor, campaign_id)
    rubric = ledger_app.rubric_of(campaign)
    overdue: dict[str, int] = {}
    for row in ledger_app.findings(actor, campaign_id, on=campaign.schedule[-1]["start"]):
        if row["overdue"] and row["purpose"] == "campaign":
            overdue[row["candidacy_id"]] = overdue.get(row["candidacy_id"], 0) + 1
    table = Table(title=f"{campaign.title} · {rubric.title} ({campaign.rubric['id']}@{campaign.rubric['version']})")
    for column in ("社区 community", "街道 street", "级别 level"):
        table.add_column(column, no_wrap=True)
    for column in ("综合得分 total", "满意率 satisfaction", "异议 objections", "逾期整改 overdue", "结果 outcome", "说明 reasons"):
        table.add_column(column)
    for row in ledger_app.outcome_table(actor, campaign_id):
        level = rubric.level(row["level"])
        objections = row["objections"]
        reasons = "" if row["status"] == "named" else "; ".join(
            r for r in row["reasons"] if not r.startswith("暂行标准")
        )
        if row["revocation"]:
            reasons = f"摘牌 revoked {row['revocation']['effective']}: {row['revocation']['reason']}"
        table.add_row(
            row["community"],
            row["street"],
            level.label,
            row["total"] or "-",
            row["satisfaction_rate"] or "-",
            f"{objections['upheld']} 成立 / {objections['dismissed']} 不成立" if any(objections.values()) else "-",
            str(overdue.get(row["candidacy_id"], 0) or "-"),
            STATUS_LABELS.get(row["status"], row["status"]),
            reasons,
        )
    out.print(table)
    provisional = [lv for lv in rubric.levels if lv.provisional]
    for level in provisional:
        out.print(f"[yellow]注意 NOTE[/] {level.label}: {level.note}")
    from core import signing

    covering = signing.covering(ledger_app.recorder, campaign.tenant)
    out.print(f"覆盖检查点 covered by the checkpoint {covering['origin']} of {covering['size']} leaves, root "
              f"{covering['root']} (publish it with the table: `civic audit checkpoint --tenant {campaign.tenant}`)",
              markup=False, highlight=False)


@app.command()
def plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the installed plugins (and the core's built-ins, as the plugin "core") with their
    version, origin, hooks, rubrics, decision styles and aggregations."""
    from core.plugins import PluginHost

    try:
        summary = PluginHost.discover().summary()
    except CivicError as exc:
        fail(exc)
    rows, failures = summary["plugins"], summary["failures"]
    if as_json:
        dump(summary)
        return
    columns = ("hooks", "rubrics", "styles", "aggregations")
    table = titled_table("插件 plugins", ("name", "version", "source", *columns))
    for row in rows:
        table.add_row(row["name"], row["version"], row["source"], *("\n".join(row[c]) for c in columns))
    out.print(table)
    for failure in failures:
        err.print(f"[red]refused[/] {failure['name']}: {failure['error']}")


@rubric_app.command("list")
def rubric_list() -> None:
    """List every rubric the installed plugins provide."""
    from core.plugins import PluginHost

    try:
        provided = PluginHost.discover().rubrics()
    except CivicError as exc:
        fail(exc)
    table = titled_table("评分标准 rubrics", ("id@version", "title", "items", "points", "levels", "plugin"))
    for p in provided:
        r = p.rubric
        levels = ", ".join(lv.label for lv in r.levels)
        table.add_row(r.ref, r.title, str(len(r.items())), str(r.max_total), levels, p.plugin)
    out.print(table)


@rubric_app.command("show")
def rubric_show(
    rubric_id: Annotated[str, typer.Argument(help="Rubric id, e.g. tianjin-meili")],
    version: Annotated[Optional[str], typer.Option(help="Version (default: the highest)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: id, version, hash, title, rules, categories[].items[].")] = False,
) -> None:
    """Show a rubric: categories, items with maximum points, levels and rules."""
    from core.plugins import PluginHost

    try:
        rubric = PluginHost.discover().rubric(rubric_id, version).rubric
    except CivicError as exc:
        fail(exc)
    data = rubric.model_dump(mode="json")
    if as_json:
        dump({"hash": rubric.content_hash, **data})
        return
    out.print(f"[bold]{rubric.title}[/]  {rubric.ref}  {rubric.content_hash}")
    out.print(f"来源 source: {rubric.source}")
    out.print(f"style: {rubric.style} · aggregation: {rubric.aggregation_label} · step: {rubric.step} · total: {rubric.max_total}")
    for level in rubric.levels:
        flag = " [yellow](暂行 provisional)[/]" if level.provisional else ""
        out.print(f"级别 level [bold]{level.id}[/] {level.label}{flag}: {json.dumps(level.rules, ensure_ascii=False)}")
        if level.note:
            out.print(f"    {level.note}")
    veto = ", ".join(f"{v.id} {v.text}" for v in rubric.veto_items) or "无 none"
    out.print(f"一票否决 veto items: {veto}")
    table = Table()
    for column in ("类别 category", "#", "内容 item", "分值 max"):
        table.add_column(column)
    for cat in rubric.categories:
        for n, item in enumerate(cat.items):
            table.add_row(f"{cat.title} ({cat.max_points})" if n == 0 else "", item.id, item.text, str(item.max_points))
    out.print(table)


def checked_rubric_file(file: Path, host: Any) -> Any:
    """The rubric file read, validated and checked against the installed plugins; on any
    problem, print every one (located) and exit 1."""
    from core.rubric_files import read_rubric_file
    from core.services.registry import usage_problems

    loaded = read_rubric_file(file)
    if loaded.rubric is not None:
        loaded.problems.extend(loaded.problem(*p) for p in usage_problems(host, loaded.rubric))
    if loaded.problems:
        for problem in loaded.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        err.print(f"[bold red]{len(loaded.problems)} problem(s)[/] 个问题: {file}")
        raise typer.Exit(code=1)
    return loaded


@rubric_app.command("validate")
def rubric_validate(
    file: Annotated[Path, typer.Argument(help="Rubric file (.yaml, .yml or .json), see docs/rubric-files.md")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check a rubric file and record nothing: a summary and exit 0, or every problem
    (file, line, field, in English and Chinese) and exit 1."""
    from core.plugins import PluginHost

    loaded = checked_rubric_file(file, PluginHost.discover())
    r = loaded.rubric
    summary = {
        "file": str(file), "id": r.id, "version": r.version, "hash": r.content_hash, "title": r.title,
        "style": r.style, "aggregation": r.model_dump(mode="json")["aggregation"], "categories": len(r.categories), "items": len(r.items()),
        "points": float(r.max_total) if r.max_total % 1 else int(r.max_total), "veto_items": len(r.veto_items),
        "levels": [{"id": lv.id, "label": lv.label, "provisional": lv.provisional} for lv in r.levels],
        "provisional": r.is_provisional, "derived_from": loaded.derived_from,
    }
    if as_json:
        dump(summary)
        return
    out.print(f"[green]OK[/] {file}: [bold]{r.ref}[/]  {r.content_hash}")
    out.print(f"标题 title: {r.title}")
    out.print(f"style: {r.style} · aggregation: {r.aggregation_label} · step: {r.step}")
    out.print(f"类别 categories: {len(r.categories)} · 小项 items: {len(r.items())} · 总分 points: {r.max_total}"
              f" · 一票否决 veto items: {len(r.veto_items)}")
    for level in r.levels:
        flag = " [yellow](暂行 provisional)[/]" if level.provisional else ""
        out.print(f"级别 level {level.id} {level.label}{flag}")
    if r.provisional:
        out.print("[yellow]整个标准为暂行 the whole rubric is provisional[/]")
    if loaded.derived_from:
        out.print(f"派生自 derived from: {loaded.derived_from} (checked against the tenant on import)")


@rubric_app.command("import")
def rubric_import(
    file: Annotated[Path, typer.Argument(help="Rubric file (.yaml, .yml or .json), see docs/rubric-files.md")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant (municipality) code that gets the version")],
    actor_id: Annotated[str, typer.Option("--as", help="Id of the city owner recording it")] = "cli",
    reason: Annotated[Optional[str], typer.Option(help="Why (default: imported from FILE)")] = None,
) -> None:
    """Record a rubric file as a new version for one tenant only (as a city owner of it)."""
    try:
        ledger_app = ledger()
        loaded = checked_rubric_file(file, ledger_app.plugins)
        owner = Actor(id=actor_id, role=Role.CITY_OWNER, organisation=f"{tenant} (command line)", tenant=tenant)
        why = reason or f"导入评分标准文件 imported from rubric file {file.name}"
        content_hash = ledger_app.import_rubric(owner, loaded.rubric, loaded.derived_from, reason=why)
    except CivicError as exc:
        fail(exc)
    out.print(f"已导入 imported for tenant {tenant}: [bold]{loaded.rubric.ref}[/]  {content_hash}")


@rubric_app.command("versions")
def rubric_versions(
    rubric_id: Annotated[str, typer.Argument(help="Rubric id, e.g. tianjin-meili")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant (municipality) code")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every version of a rubric the tenant can use (its own and the plugins'): hash, who
    provided it and its lineage (derived_from chain)."""
    reader = Actor(id="civic-cli", role=Role.AUDITOR, organisation="command line (read-only)", tenant=tenant)
    try:
        rows = ledger().rubric_versions(reader, rubric_id)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
        return
    out.print(f"[bold]评分标准版本 rubric versions · {rubric_id} · tenant {tenant}[/]")
    for row in rows:
        flag = " [yellow](暂行 provisional)[/]" if row["provisional"] else ""
        out.print(f"[bold]{row['ref']}[/]{flag}  {row['hash']}  提供 provided by: {row['provided_by']}", soft_wrap=True)
        if row["derived_from"]:
            out.print(f"    派生自 derived from: {' <- '.join(row['derived_from'])}", soft_wrap=True)
        if row["recorded_by"]:
            who = row["recorded_by"]
            out.print(f"    记录 recorded {row['effective']} by {who['id']} ({who['org']}): {row['reason']}", soft_wrap=True)


@app.command()
def campaigns(
    tenant: Annotated[str, typer.Argument(help="Tenant (municipality) code, e.g. demo-tianjin")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a tenant's campaigns with their ids, pinned rubric, status and candidacies."""
    try:
        rows = ledger().campaigns_of(AUDITOR, tenant)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
        return
    table = titled_table(f"活动 campaigns · {tenant}", ("id", "code", "title", "year", "rubric", "status", "candidacies"))
    for row in rows:
        status = f"{row['status']}{' · decided' if row['decided'] else ''}"
        rubric = f"{row['rubric']['id']}@{row['rubric']['version']}"
        table.add_row(row["id"], row["code"], row["title"], str(row["year"]), rubric, status, str(row["candidacies"]))
    out.print(table)


@app.command()
def history(
    stream_id: Annotated[str, typer.Argument(help="Id of a campaign, candidacy, community or inspection")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the events of a candidacy or campaign in order: who, when, what and why."""
    try:
        rows = ledger().history(AUDITOR, stream_id)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
        return
    table = titled_table(f"历史 history {stream_id}", ("#", "recorded", "effective", "event", "who", "why", "what"))
    for n, row in enumerate(rows, start=1):
        actor = row["actor"] or {}
        who = f"{actor.get('id')} ({Role(actor['role']).label if actor.get('role') else '?'}, {actor.get('org')})"
        what = json.dumps(row["data"], ensure_ascii=False, sort_keys=True)
        table.add_row(
            str(n), row["recorded"][:19], row["effective"] or "", row["event"], who, row["reason"] or "",
            what if len(what) <= 160 else what[:157] + "…",
        )
    out.print(table)


plugin_app = typer.Typer(help="Plugin development kit (插件开发).", no_args_is_help=True)
app.add_typer(plugin_app, name="plugin")


@plugin_app.command("new")
def plugin_new(
    name: Annotated[str, typer.Argument(help="Plugin name: a lowercase slug such as hexi_district")],
    directory: Annotated[Optional[Path], typer.Option("--dir", help="Project directory to create (default: ./NAME); must not exist or be empty")] = None,
) -> None:
    """Scaffold an installable plugin package: pyproject.toml with the civic.plugins entry
    point, an example rubric, a pass-mark decision style, a schedule, a demo, a README and
    tests that subclass core.testing.PluginContract."""
    from core.scaffold import new_plugin

    try:
        written = new_plugin(name, directory)
    except CivicError as exc:
        fail(exc)
    root = next(path.parent for path in written if path.name == "pyproject.toml")
    out.print(f"[green]created[/] plugin [bold]{name}[/] in {root} ({len(written)} files)")
    for path in written:
        out.print(f"  {path.relative_to(root)}")
    out.print(f"next: pip install -e {root} && civic plugins && python -m pytest {root}", soft_wrap=True)


def check_arguments(arguments: list[str]) -> None:
    """Refuse (exit code 2, nothing done) an argument with text the platform does not store
    (:mod:`core.text`); bytes that are not UTF-8 arrive as lone surrogates and are refused too."""
    for n, argument in enumerate(arguments, start=1):
        if bad_character(argument) is not None:
            err.print("[bold red]error:[/] ", end="")
            err.print(f"argument {n}: {shown(argument)!r} is not allowed; allowed: {ALLOWED} ({describe(argument)} is not) "
                      f"第{n}个参数无效", soft_wrap=True, markup=False, highlight=False)
            raise SystemExit(2)


def main() -> None:
    check_arguments(sys.argv[1:])
    app()


# sub-commands kept in modules of their own (they import the helpers above)
from core.cli_audit import audit_app  # noqa: E402
from core.cli_readmodels import readmodels_app  # noqa: E402
from core.cli_server import serve, token_app  # noqa: E402
from core.cli_store import store_app  # noqa: E402

app.add_typer(audit_app, name="audit")
app.add_typer(readmodels_app, name="readmodels")
app.add_typer(token_app, name="token")
app.add_typer(store_app, name="store")
app.command("serve")(serve)

if __name__ == "__main__":
    main()

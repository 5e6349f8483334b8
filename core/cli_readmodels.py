"""``civic readmodels``: the read models behind the HTTP lists (status, catch-up, rebuild).

The HTTP interface catches its read models up on every list request, so these commands
are for operators: to see how far each model is, to bring them up to date ahead of the
first requests after a large import, and to rebuild one from the event log (the rows a
rebuild gives are exactly those the incremental catch-ups gave).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Optional

import typer

from core.cli import dump, fail, ledger, out, titled_table
from core.cli_integrity import progress_bar
from core.errors import CivicError, InvalidInput
from core.readmodels import Progress, ReadModels, models, read_models

readmodels_app = typer.Typer(
    help="Read models behind the HTTP lists (读模型): status, catch-up, rebuild.", no_args_is_help=True,
)

LABELS = {
    "communities": "社区 communities",
    "candidacies": "申报与得分 candidacies and scores",
    "findings": "检查发现问题 inspections and findings",
    "notice": "公示名单 public notices",
}


def _chosen(names: list[str] | None, every: bool) -> list[str]:
    known = list(models())
    if every and names:
        raise InvalidInput("MODEL/--all", ", ".join(names), "either model names or --all, not both")
    if every:
        return known
    if not names:
        raise InvalidInput("MODEL", "(none)", f"one or more of {', '.join(known)}, or --all")
    for name in names:
        if name not in known:
            raise InvalidInput("MODEL", name, ", ".join(known))
    return list(dict.fromkeys(names))


def _with_progress(
    names: list[str] | None, every: bool, work: Callable[[ReadModels, list[str], Progress], dict[str, int]],
) -> tuple[list[str], dict[str, int]]:
    """Run ``work`` on the chosen models of the configured store with a progress bar;
    returns the models and the notifications each applied."""
    try:
        chosen = _chosen(names, every)
        app = ledger()
        try:
            with progress_bar() as update:
                return chosen, work(read_models(app), chosen,
                                    lambda model, done, total: update(LABELS.get(model, model), done, total))
        finally:
            app.close()
    except CivicError as exc:
        fail(exc)
        raise  # fail() exits


@readmodels_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each read model's position in the event log, its rows, and the events it could not
    apply, with their positions (状态)."""
    try:
        app = ledger()
        try:
            rows = read_models(app).status()
        finally:
            app.close()
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
        return
    table = titled_table("读模型 read models", ("model", "position / log", "state", "rows", "problems"))
    for row in rows:
        state = "最新 up to date" if row["up_to_date"] else f"落后 behind by {row['log'] - row['position']} notifications"
        table.add_row(LABELS.get(row["model"], row["model"]), f"{row['position']} / {row['log']}", state,
                      ", ".join(f"{t} {n}" for t, n in row["rows"].items()), str(len(row["problems"])))
    out.print(table)
    for row in rows:
        if row["problems"]:
            listed = titled_table(f"{LABELS.get(row['model'], row['model'])}: 未能应用的事件 events not applied",
                                  ("position", "stream", "version", "topic", "error"))
            for p in row["problems"]:
                listed.add_row(str(p["position"]), p["stream"], str(p["version"]), p["topic"], p["error"])
            out.print(listed)


@readmodels_app.command("catch-up")
def catch_up(
    names: Annotated[Optional[list[str]], typer.Argument(help="Models to bring up to date (default: every one)",
                                                          show_default=False)] = None,
) -> None:
    """Apply every event recorded since each model's position (追平)."""
    chosen, applied = _with_progress(names, not names, lambda rm, chosen, progress: rm.catch_up(*chosen, progress=progress))
    for name in chosen:
        out.print(f"{LABELS.get(name, name)}: {applied[name]} notifications applied")


@readmodels_app.command("rebuild")
def rebuild(
    names: Annotated[Optional[list[str]], typer.Argument(help="Models to rebuild", show_default=False)] = None,
    every: Annotated[bool, typer.Option("--all", help="Rebuild every model.")] = False,
) -> None:
    """Drop a model's rows and rebuild them from the whole event log (重建).

    A server running meanwhile keeps answering: each list request catches the model up
    before it answers. The rebuilt rows are those the incremental catch-ups gave."""
    chosen, applied = _with_progress(
        names, every, lambda rm, chosen, progress: {name: rm.rebuild(name, progress=progress) for name in chosen})
    for name in chosen:
        out.print(f"{LABELS.get(name, name)}: rebuilt from {applied[name]} notifications")

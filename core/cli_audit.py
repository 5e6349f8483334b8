"""``civic audit``: recompute recorded decisions and look up titles on a date (read-only)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from core.cli import AUDITOR, dump, err, fail, ledger, out, titled_table
from core.errors import CivicError, InvalidInput

audit_app = typer.Typer(help="Auditing: verify decisions, titles on a date (审计, read-only).", no_args_is_help=True)

STATUS_LABELS = {"confirmed": "一致 confirmed", "mismatched": "不一致 mismatched", "unverifiable": "无法验证 unverifiable"}


@audit_app.command("verify")
def verify(
    campaign: Annotated[Optional[str], typer.Option(help="Campaign id")] = None,
    tenant: Annotated[Optional[str], typer.Option(help="Every campaign of this tenant")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute every recorded decision from the recorded events with the rubric version it
    names, and report each as confirmed or mismatched (with the differing lines).
    Exits 1 when any decision does not verify."""
    try:
        if (campaign is None) == (tenant is None):
            raise InvalidInput("--campaign/--tenant", campaign or tenant, "exactly one of --campaign ID or --tenant CODE")
        ledger_app = ledger()
        ids = [campaign] if campaign else [c["id"] for c in ledger_app.campaigns_of(AUDITOR, tenant) if c["decided"]]
        rows = []
        for campaign_id in ids:
            for verdict in ledger_app.verify_decisions(AUDITOR, campaign_id):
                rows.append({"campaign_id": campaign_id, **verdict.__dict__})
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
    else:
        table = titled_table("决定复核 decision verification", ("campaign", "candidacy", "community", "level", "result"))
        for row in rows:
            table.add_row(row["campaign_id"][:8], row["candidacy_id"], row["community"], row["level"], STATUS_LABELS[row["status"]])
        out.print(table)
        for row in rows:
            if row["differences"]:
                out.print(f"[bold]{row['community']} {row['level']}[/] ({row['candidacy_id']}):")
                for line in row["differences"]:
                    out.print(line, markup=False, highlight=False)
        confirmed = sum(r["status"] == "confirmed" for r in rows)
        out.print(f"{confirmed}/{len(rows)} decisions confirmed")
    if any(r["status"] != "confirmed" for r in rows):
        err.print("some decisions do not verify")
        raise typer.Exit(code=1)


@audit_app.command("titles")
def titles(
    community_id: Annotated[str, typer.Argument(help="Community id")],
    on: Annotated[str, typer.Option(help="Date YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The titles a community held on a date, and the decision (candidacy) behind each."""
    try:
        rows = ledger().titles_on(AUDITOR, community_id, on)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
        return
    table = titled_table(f"称号 titles on {on}", ("title", "level", "awarded", "revoked", "decision (candidacy)"))
    for row in rows:
        table.add_row(row["label"], row["level"], row["awarded"], row["revoked"] or "-", row["candidacy_id"])
    out.print(table)
    if not rows:
        out.print("无 none")

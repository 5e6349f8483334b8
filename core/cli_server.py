"""``civic serve`` and ``civic token``: the HTTP interface and its bearer tokens."""

from __future__ import annotations

import getpass
import os
from typing import Annotated, Optional

import typer

from core.actors import ROLE_LABELS, Role
from core.cli import dump, err, fail, ledger, out, titled_table
from core.errors import CivicError, InvalidInput

token_app = typer.Typer(help="Bearer tokens for the HTTP interface (访问令牌): create, list, revoke.", no_args_is_help=True)

def _operator() -> str:
    try:
        return f"{getpass.getuser()} (command line)"
    except Exception:  # no user name in some containers
        return "operator (command line)"


@token_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant code; '*' for an auditor of every tenant")],
    role: Annotated[str, typer.Option(help="Role: " + ", ".join(f"{r.value} ({ROLE_LABELS[r]})" for r in Role))],
    name: Annotated[str, typer.Option(help="The person or body acting with it (recorded on every event)")],
    organisation: Annotated[Optional[str], typer.Option(help="Organisation; for a street officer: the street (街道) of a registered community of the tenant; for a community: the registered community's name (社区名称)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Issue a new token and print it once (只显示一次); only its SHA-256 is stored."""
    try:
        token_id, token = ledger().issue_token(_operator(), tenant, role, name, organisation)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump({"id": token_id, "token": token, "tenant": tenant, "role": role, "name": name})
        return
    out.print(f"令牌 token (shown once): {token}", soft_wrap=True)
    out.print(f"id {token_id} · {name} · {role} · tenant {tenant}", soft_wrap=True)


@token_app.command("list")
def list_tokens(
    tenant: Annotated[str, typer.Option(help="Tenant code ('*' for all-tenant auditors)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The tokens issued for a tenant: id, name, role, issued, revoked (never the tokens)."""
    try:
        rows = ledger().tokens_of(tenant)
    except CivicError as exc:
        fail(exc)
    if as_json:
        dump(rows)
        return
    table = titled_table(f"令牌 tokens of {tenant}", ("id", "name", "role", "organisation", "issued", "revoked"))
    for row in rows:
        table.add_row(row["id"], row["name"], row["role"], row["organisation"], row["issued_on"],
                      row["revoked"]["on"] if row["revoked"] else "-")
    out.print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (from `civic token create` or `civic token list`)")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
) -> None:
    """Revoke a token: requests made with it are refused from now on (401)."""
    try:
        ledger().revoke_token(_operator(), token_id, reason)
    except CivicError as exc:
        fail(exc)
    out.print(f"revoked {token_id}")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes", min=1, max=64)] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Build the demo campaigns if the store has none, and print a demo token for every role")] = False,
    max_body_bytes: Annotated[Optional[int], typer.Option(
        help="Largest request body in bytes (请求体上限; default 65536, or CIVIC_MAX_BODY_BYTES)", min=1)] = None,
    max_rubric_bytes: Annotated[Optional[int], typer.Option(
        help="Largest rubric file sent over HTTP in bytes (评分标准文件上限; default 262144, or CIVIC_MAX_RUBRIC_BYTES)", min=1)] = None,
) -> None:
    """Run the HTTP interface (FastAPI under uvicorn) on the configured store.

    Interactive documentation at /docs, the OpenAPI description at /openapi.json."""
    import uvicorn

    from api.bodylimit import BODY_ENV, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RUBRIC_BYTES, RUBRIC_ENV, limit_from_env
    from api.server import http_protocol

    for name, limit in ((BODY_ENV, max_body_bytes), (RUBRIC_ENV, max_rubric_bytes)):
        if limit is not None:  # read by create_app in every worker
            os.environ[name] = str(limit)
    try:
        limit_from_env(BODY_ENV, DEFAULT_MAX_BODY_BYTES)
        limit_from_env(RUBRIC_ENV, DEFAULT_MAX_RUBRIC_BYTES)
        ledger_app = ledger()
        if demo:
            if not ledger_app.recorder.max_notification_id():
                out.print("building the demo campaigns (演示数据)…")
                for name, (record, _) in sorted(ledger_app.plugins.demos().items()):
                    record.build(ledger_app, lambda _: None)
            tokens = ledger_app.issue_demo_tokens("civic serve --demo")
            if not tokens:
                err.print("the store holds data but none of the demo tenants: no demo tokens "
                          "(use `civic token create` for your own tenants)")
        store = ledger_app.store.url
        ledger_app.close()
    except CivicError as exc:
        fail(exc)
    out.print(f"Civic Ledger on http://{host}:{port}  ·  docs http://{host}:{port}/docs  ·  store {ledger_app.store.display}",
              soft_wrap=True)
    if demo and tokens:
        out.print("演示令牌 demo tokens (send as 'Authorization: Bearer <token>'; each acts in its demo tenant):")
        for tenant, by_role in tokens.items():
            out.print(f" {tenant}:")
            for role, token in by_role.items():
                out.print(f"  {role.value:<17} {ROLE_LABELS[role]:<12} {token}", soft_wrap=True, highlight=False)
    os.environ["CIVIC_DATABASE_URL"] = store
    try:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                    http=http_protocol(), loop="auto")
    except (OSError, SystemExit) as exc:
        if isinstance(exc, SystemExit) and not exc.code:
            return
        fail(InvalidInput("--port", port, f"a free port to listen on ({exc})"))

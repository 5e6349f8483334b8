"""``civic store``: a PostgreSQL store set up by its owner, used by a role of least privilege.

``civic store init`` (with ``CIVIC_DATABASE_URL`` naming the owner) creates everything the
platform keeps; ``civic store grants`` prints what the owner grants the application role.
The application, connected as that role, then creates nothing (see :mod:`core.pgschema`).
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from core.cli import fail, out
from core.errors import CivicError

store_app = typer.Typer(
    help="PostgreSQL store (数据库): set it up as its owner; grant the application role least privilege.",
    no_args_is_help=True,
)


@store_app.command("init")
def init() -> None:
    """Create everything the platform keeps in the PostgreSQL store CIVIC_DATABASE_URL names
    (建库): the schema, the history's tables, type, functions and trigger, the request log,
    the throttle's table and the read models' tables. Run it as the store's owner, before
    the application's first start and after every upgrade; what is in place is left as it is."""
    from core import pgschema
    from core.storage import configured_url, parse_url

    try:
        config = parse_url(configured_url())
        created = pgschema.init_store(config)
    except CivicError as exc:
        fail(exc)
    out.print(f"存储 store: {config.display}", soft_wrap=True, markup=False, highlight=False)
    for label in created:
        out.print(f"已创建 created: {label}", soft_wrap=True, markup=False, highlight=False)
    if not created:
        out.print("已就绪 everything was in place; nothing created", soft_wrap=True)
    schema = config.env.get("POSTGRES_SCHEMA", "public")
    out.print(f"next: civic store grants --role ROLE --schema {schema} (run its output as the owner)",
              soft_wrap=True, markup=False, highlight=False)


@store_app.command("grants")
def grants(
    role: Annotated[str, typer.Option("--role", help="The application role (a PostgreSQL login role)")],
    schema: Annotated[str, typer.Option("--schema", help="The schema of the store (the URL's ?schema=)")] = "public",
    database: Annotated[Optional[str], typer.Option("--database", help="Also grant CONNECT on this database")] = None,
) -> None:
    """Print the SQL the owner runs to give the application role exactly what the platform
    needs (授权): read and append only on the history (events, snapshots, links,
    transparency log), and the rows of the request log, throttle and read models. Reads no
    database; pipe it to psql as the owner."""
    from core import pgschema

    try:
        statements = pgschema.grants(role, schema, database)
    except CivicError as exc:
        fail(exc)
    sys.stdout.write("".join(f"{s}\n" for s in statements))

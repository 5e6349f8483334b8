"""Benchmarks of the core on PostgreSQL: ``python -m bench.run`` (or ``make bench``).

Measures, in one run and in a schema of its own that is dropped at the end:

a) recording official assessments: N full 60-item score sheets through
   ``CivicLedger.submit_score_sheet`` (each one command: load the candidacy, check every
   point against the rubric, record one ``ScoreSheetSubmitted`` event), against plain
   psycopg recording the same assessments the relational way: the same number of rows,
   one per item score (60 rows per transaction, N transactions, ``executemany``) into a
   scratch table. For transparency it also times psycopg inserting the core's own event
   rows (one row per sheet);
b) loading one candidacy whose stream holds 10,000 events from the store (cold: no
   aggregate cache), with the application's snapshots and, for context, by replaying
   every event;
c) verifying a generated 1,000,000-event export bundle offline (bench/bundle_gen.py);
d) the HTTP interface under `civic serve --workers 2` (bench/api_bench.py).

Result lines go to stdout, one per figure, exactly ``<name>: <figure> <unit> (target <t>)``;
progress goes to stderr. See bench/README.md for how to read them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Repository
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.actors import Actor, Role
from core.domain import Candidacy
from core.errors import ConfigurationError
from core.plugins import PluginHost
from core.rubric import sheet_for_total as sheet
from core.services import CivicLedger

ENV_VAR = "CIVIC_BENCH_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
RUBRIC_ID = "tianjin-meili"
TENANT = "bench"
STREET = "基准街道"
SCORED_ON = "2020-10-15"

stderr = Console(stderr=True)


def person(role: Role, name: str, org: str) -> Actor:
    return Actor(id=name, role=role, organisation=org, tenant=TENANT)


OWNER = person(Role.CITY_OWNER, "owner", "基准市民政局")
DISTRICT = person(Role.DISTRICT_OFFICER, "district", "基准区民政局")
STREET_OFFICER = person(Role.STREET_OFFICER, "street", STREET)


def assessor(n: int) -> Actor:
    return person(Role.ASSESSOR, f"assessor-{n:03d}", "市评估组")


def result(name: str, figure: float, unit: str, target: str, digits: int = 1) -> None:
    print(f"{name}: {figure:.{digits}f} {unit} (target {target})", flush=True)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    )


# ---------------------------------------------------------------------------------------
# Set-up through the core's own commands
# ---------------------------------------------------------------------------------------


class Bench:
    def __init__(self, base_url: str, schema: str) -> None:
        self.base_url = base_url
        self.schema = schema
        sep = "&" if "?" in base_url else "?"
        self.app = CivicLedger(f"{base_url}{sep}schema={schema}", plugins=PluginHost.discover())
        self.rubric = self.app.plugins.rubric(RUBRIC_ID).rubric
        assert len(self.rubric.items()) == 60, "the benchmark records full 60-item sheets"
        self.table = self.app.recorder.events_table_name
        self.campaign = ""
        self.communities: list[str] = []

    def setup(self, communities: int) -> None:
        app = self.app
        app.register_tenant(OWNER, TENANT, "基准市")
        for n in range(communities):
            self.communities.append(
                app.register_community(DISTRICT, f"c{n}", f"基准社区{n}", "基准区", STREET, 1000, 3000, on="2020-03-01")
            )
        self.campaign = app.create_campaign(OWNER, "bench-2020", "基准测试", 2020, RUBRIC_ID, on="2020-03-09")
        app.open_campaign(OWNER, self.campaign, on="2020-03-09")

    def candidacy(self, community: str, level: str) -> str:
        """An approved candidacy: its stream starts with Applied and Reviewed (2 events)."""
        cid = self.app.apply(STREET_OFFICER, self.campaign, community, level, sheet(self.rubric, 95), on="2020-03-10")
        self.app.review(DISTRICT, cid, "approve", on="2020-03-11")
        return cid

    def score(self, who: Actor, cid: str, total: int) -> None:
        recorded = self.app.submit_score_sheet(who, cid, "official", sheet(self.rubric, total), on=SCORED_ON)
        assert recorded == 60

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.base_url.split("?", 1)[0], autocommit=True)

    def close(self) -> None:
        self.app.close()
        with self.connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


# ---------------------------------------------------------------------------------------
# a) recording full assessments: core vs plain psycopg
# ---------------------------------------------------------------------------------------


def bench_recording(bench: Bench, sheets: int, candidacies: int, rounds: int = 4) -> None:
    with progress() as bar:
        task = bar.add_task("set-up: candidacies", total=candidacies)
        targets = []
        for n in range(candidacies):
            community = bench.communities[n // 2]
            targets.append(bench.candidacy(community, ("meili", "jingpin")[n % 2]))
            bar.advance(task)
    # one warm-up sheet (connections, prepared statements, caches), also the payload source
    warm = bench.candidacy(bench.communities[-1], "meili")
    bench.score(assessor(999), warm, 90)

    # the same N transactions of 60 rows for both: sheet k goes to candidacy k % C by assessor k // C
    plan = [(assessor(k // candidacies), targets[k % candidacies], 80 + (k % 20)) for k in range(sheets)]

    with bench.connect() as conn:
        (topic, event_state), = conn.execute(
            f'SELECT topic, state FROM "{bench.schema}"."{bench.table}" '
            "WHERE originator_id = %s AND topic LIKE %s ORDER BY originator_version",
            (UUID(warm), "%ScoreSheetSubmitted"),
        ).fetchall()
        scores = f'"{bench.schema}".scratch_item_scores'
        conn.execute(
            f"CREATE TABLE {scores} (id bigserial PRIMARY KEY, candidacy_id uuid NOT NULL, kind text NOT NULL, "
            "assessor text NOT NULL, item text NOT NULL, points numeric NOT NULL, effective date NOT NULL, "
            "recorded timestamptz NOT NULL DEFAULT now(), UNIQUE (candidacy_id, kind, assessor, item))"
        )
        events = f'"{bench.schema}".scratch_events'
        conn.execute(
            f"CREATE TABLE {events} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
            "topic text, state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute(f"CREATE UNIQUE INDEX ON {events} (notification_id)")
        insert_score = (
            f"INSERT INTO {scores} (candidacy_id, kind, assessor, item, points, effective) "
            "VALUES (%s, 'official', %s, %s, %s, %s)"
        )
        insert_event = f"INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
        stderr.print(f"one ScoreSheetSubmitted event: {len(event_state)} bytes of state")

        core_time = rows_time = event_rows_time = 0.0
        chunk = -(-sheets // rounds)
        with progress() as bar:
            core_task = bar.add_task("a) core: submit_score_sheet", total=sheets)
            rows_task = bar.add_task("a) psycopg: 60 item rows per sheet", total=sheets)
            event_task = bar.add_task("a) psycopg: the core's event row", total=sheets)
            for start in range(0, sheets, chunk):  # alternate, so drift in the server hits all
                part = plan[start:start + chunk]
                began = time.perf_counter()
                for who, cid, total in part:
                    bench.score(who, cid, total)
                    bar.advance(core_task)
                core_time += time.perf_counter() - began

                began = time.perf_counter()
                with conn.cursor() as cur:
                    for who, cid, total in part:
                        rows = [(UUID(cid), who.id, item, points, SCORED_ON)
                                for item, points in sheet(bench.rubric, total).items()]
                        with conn.transaction():
                            cur.executemany(insert_score, rows)
                        bar.advance(rows_task)
                rows_time += time.perf_counter() - began

                began = time.perf_counter()
                with conn.cursor() as cur:
                    for n, _ in enumerate(part, start=start):
                        with conn.transaction():
                            cur.execute(insert_event, (uuid.uuid4(), n, topic, event_state))
                        bar.advance(event_task)
                event_rows_time += time.perf_counter() - began
        assert conn.execute(f"SELECT COUNT(*) FROM {scores}").fetchone()[0] == sheets * 60

    item_scores = sheets * 60
    recorded = bench.app.recorder.max_notification_id()  # sanity: the core really wrote
    assert recorded and recorded >= sheets
    core_rate, rows_rate = item_scores / core_time, item_scores / rows_time
    result("assessment_record_core", core_rate, "item scores/s", "n/a", 0)
    result("assessment_record_psycopg", rows_rate, "item scores/s", "n/a", 0)
    result("assessment_record_ratio", core_rate / rows_rate, "ratio", ">= 0.5", 2)
    result("assessment_record_vs_raw_event_insert", event_rows_time / core_time, "ratio", "n/a", 2)
    stderr.print(
        f"{sheets} sheets x 60 items: core {core_time:.2f} s ({1000 * core_time / sheets:.2f} ms per sheet), "
        f"psycopg item rows {rows_time:.2f} s ({1000 * rows_time / sheets:.2f} ms per sheet), "
        f"psycopg one event row {event_rows_time:.2f} s ({1000 * event_rows_time / sheets:.2f} ms per sheet)"
    )


# ---------------------------------------------------------------------------------------
# b) loading a 10,000-event candidacy
# ---------------------------------------------------------------------------------------


def median_ms(load: Callable[[], Any], times: int) -> float:
    load()  # warm-up
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        load()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def add_corrections(bench: Bench, cid: str, count: int, assessors: int, advance: Callable[[int], None]) -> None:
    """``count`` score corrections (each a real ItemScoreCorrected event with its reason),
    triggered on the aggregate and saved 500 at a time: set-up only, not timed."""
    app = bench.app
    campaign = app.campaign(OWNER, bench.campaign)
    items = bench.rubric.items()
    done = 0
    while done < count:
        candidacy = app.candidacy(OWNER, cid)
        batch = min(500, count - done)
        for n in range(done, done + batch):
            who = assessor(n % assessors)
            item = items[n % len(items)]
            meta = app.campaign_meta(who, campaign, on=SCORED_ON, reason="复核更正")
            candidacy.correct_item_score(meta=meta, kind="official", assessor=who.id, item=item.id,
                                         points=str(item.max_points - Decimal("0.5") * (n % 2)))
        app.save_all(candidacy)
        done += batch
        advance(batch)


def bench_loading(bench: Bench, events: int, loads: int, assessors: int) -> None:
    community = bench.app.register_community(DISTRICT, "big", "万事件社区", "基准区", STREET, 1000, 3000, on="2020-03-01")
    cid = bench.candidacy(community, "meili")
    uid = UUID(cid)
    start_version = bench.app.repository.get(uid).version
    corrections = events - start_version - assessors
    with progress() as bar:
        task = bar.add_task(f"b) building a {events:,}-event stream", total=events - start_version)
        for n in range(assessors):
            bench.score(assessor(n), cid, 70 + n % 30)
            bar.advance(task)
        add_corrections(bench, cid, corrections, assessors, lambda k: bar.advance(task, k))

    app = bench.app
    # every timed load must read the store: the application caches aggregates, so time a
    # repository over the same event and snapshot stores without the cache
    repository = Repository(app.events, snapshot_store=app.snapshots)
    loaded = repository.get(uid)
    assert isinstance(loaded, Candidacy) and loaded.version == events, loaded.version
    with bench.connect() as conn:
        snapshot = conn.execute(
            f'SELECT originator_version, length(state) FROM "{bench.schema}"."{app.snapshots.recorder.events_table_name}" '
            "WHERE originator_id = %s ORDER BY originator_version DESC LIMIT 1",
            (uid,),
        ).fetchone() if app.snapshots else None
    stderr.print(
        f"stream {cid}: {loaded.version} events ({assessors} full sheets, {corrections} corrections); latest snapshot: "
        + (f"version {snapshot[0]}, {snapshot[1]:,} bytes" if snapshot else "none")
    )
    no_snapshots = Repository(app.events)  # the same event store, without the snapshot store

    with progress() as bar:
        task = bar.add_task("b) loading", total=3)
        at_snapshot = median_ms(lambda: repository.get(uid), loads)
        bar.advance(task)
        full = median_ms(lambda: no_snapshots.get(uid), max(3, loads // 4))
        assert no_snapshots.get(uid).scores == loaded.scores
        bar.advance(task)
        # 99 more events: the latest snapshot is now as far behind as it can be (interval 100)
        add_corrections(bench, cid, 99, assessors, lambda k: None)
        behind = repository.get(uid)
        latest = max((s.originator_version for s in app.snapshots.get(uid, desc=True, limit=1)), default=0) if app.snapshots else 0
        past_snapshot = median_ms(lambda: repository.get(uid), loads)
        bar.advance(task)
    name = f"candidacy_load_{events // 1000}k_events" if events % 1000 == 0 else f"candidacy_load_{events}_events"
    result(name, at_snapshot, "ms", "<= 20")
    result(f"{name}_past_snapshot", past_snapshot, "ms", "<= 20")
    result(f"{name}_no_snapshot", full, "ms", "n/a")
    stderr.print(f"past_snapshot: stream at version {behind.version}, replaying {behind.version - latest} events after the snapshot")


# ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sheets", type=int, default=200, help="score sheets (transactions) to record in a)")
    parser.add_argument("--candidacies", type=int, default=20, help="candidacies the sheets of a) are spread over")
    parser.add_argument("--events", type=int, default=10_000, help="events in the candidacy loaded in b)")
    parser.add_argument("--loads", type=int, default=20, help="timed loads in b)")
    parser.add_argument("--assessors", type=int, default=10,
                        help="full official sheets in the candidacy of b); the other events are corrections")
    parser.add_argument("--bundle-events", type=int, default=1_000_000,
                        help="events in the generated bundle verified offline in c); 0 skips c)")
    parser.add_argument("--api", action=argparse.BooleanOptionalAction, default=True,
                        help="d) the HTTP interface: civic serve --workers 2 under load (--no-api skips d)")
    parser.add_argument("--api-sheets", type=int, default=400, help="score sheets submitted over HTTP in d)")
    parser.add_argument("--api-candidacies", type=int, default=2000,
                        help="approved candidacies of the campaign of d) (sheets spread over them; listed)")
    parser.add_argument("--api-clients", type=int, default=8, help="concurrent client connections in d)")
    parser.add_argument("--api-health", type=int, default=2000, help="GET /health requests in d)")
    parser.add_argument("--api-lists", type=int, default=100, help="timed candidacy list requests in d)")
    args = parser.parse_args(argv)

    base_url = os.environ.get(ENV_VAR, "").strip() or DEFAULT_URL
    if "schema=" in base_url:
        raise SystemExit(f"{ENV_VAR} must not name a schema; the benchmark makes (and drops) its own")
    schema = f"civic_bench_{uuid.uuid4().hex[:10]}"
    began = time.perf_counter()
    try:
        bench = Bench(base_url, schema)
    except ConfigurationError as exc:
        stderr.print(f"[red]{exc}[/red]  (set {ENV_VAR})")
        return 2
    stderr.print(f"PostgreSQL {bench.app.store.display} — schema {schema} (dropped at the end)")
    try:
        bench.setup(communities=max(1, -(-args.candidacies // 2)) + 1)
        bench_recording(bench, args.sheets, args.candidacies)
        bench_loading(bench, args.events, args.loads, args.assessors)
    finally:
        bench.close()
        stderr.print(f"schema {schema} dropped")
    if args.api:
        from bench.api_bench import bench_api

        bench_api(base_url, result, stderr.print, sheets=args.api_sheets, candidacies=args.api_candidacies,
                  clients=args.api_clients, health=args.api_health, lists=args.api_lists)
    if args.bundle_events:
        from bench.bundle_gen import bench_offline_verification

        bench_offline_verification(args.bundle_events, result, stderr.print)
    stderr.print(f"done in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

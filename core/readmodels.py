"""Read models: lists and rankings served from tables kept up to date from the event log.

A list request never replays every aggregate of a campaign. Each read model keeps rows in
tables beside the events (:mod:`core.sidestore`) and, in ``civic_read_positions``, the id
of the last notification of the event log it has applied. Every query first *catches up*:
it pulls the notifications after that position (``select_notifications``, filtered by the
model's event topics; the SQLite recorder has no subscriptions, so nothing is pushed),
turns them into row changes and writes the changes and the new position in ONE side-store
transaction. A crash therefore never leaves rows ahead of or behind the position, a
restart resumes where it stopped, and when nothing is new a catch-up costs two small
queries (the position and the log's highest id) and loads no aggregate.

Models (the position is tracked per model, under ``NAME@LAYOUT``; a change of a model's
table layout bumps ``LAYOUT`` and so starts new tables from the beginning of the log):

``communities``
    name, district and street of every registered community (``Registered``,
    ``DetailsCorrected``), joined into the other lists at read time.
``candidacies``
    one row per candidacy: campaign, community, level, status, version, self / mock /
    official totals, number of official assessors, satisfaction rate, objections (open /
    upheld / dismissed), vetoes, named, revoked. The derived figures need the rubric's
    aggregation over assessors, so a row is recomputed from the ONE candidacy an event
    belongs to, loaded at the version of the last applied event (so the row is exactly
    what the events up to the position say): the cost is per new event, never per request.
``findings``
    inspections (kind, purpose, visit date) and their findings (item, severity, deadline,
    rectification status), straight from the events; whether a finding is overdue is
    computed at read time from its deadline and the day asked about (default today).
``notice``
    the public notice of each campaign (window, closed, decided) and its entries: every
    candidate the decision style ranked, listed or not, with the preliminary reasons.

A street's progress for the mid-term meeting is a query over the candidacies, findings
and communities tables.

Concurrency: a catch-up reads the position, fetches and prepares the changes without any
lock, then opens the side-store transaction, locks the model's tracking row (SQLite: the
side store's ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT … FOR UPDATE``) and re-reads the
position: if another request or worker process moved it meanwhile, the prepared changes
are dropped and the catch-up starts again from the new position. An event is never
applied twice. Notification ids only grow in commit order (PostgreSQL: the recorder
serialises inserts), so once the log's highest id has been seen, no lower id appears later.

:meth:`ReadModels.rebuild` drops a model's rows, resets its position and catches up from
the start; it gives exactly the rows incremental catch-ups gave.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import TopicError, get_topic

from core.actors import Actor, Role
from core.domain import Campaign, Candidacy, Community, Inspection
from core.domain.inspection import ACCEPTED, COMPLETED, PLANNED, REJECTED
from core.errors import ConfigurationError, InvalidInput, NotFound
from core.rubric import Rubric, subtotals
from core.services.base import ALL_TENANTS, unreadable
from core.services.decisions import combined, incomplete
from core.exact import canonical, exact, mean, published, rate_figure
from core.sidestore import SideCursor, SideStore, transient
from core.text import shown

POSITIONS = "civic_read_positions"
#: Events a model could not apply, per model (see :meth:`ReadModels._apply`).
PROBLEMS = "civic_read_problems"
#: Notifications pulled and applied per transaction.
BATCH = 500
#: Orders of the candidacy list.
ORDERS = ("applied", "ranking")

Op = tuple[str, Sequence[Any]]  # one SQL statement (with "{table}" names filled in) and its parameters


def _topics(cls: type, *names: str) -> tuple[str, ...]:
    return tuple(get_topic(getattr(cls, name)) for name in names)


def _flag(value: bool | None) -> int | None:
    """Booleans are stored as 0/1 (PostgreSQL refuses a boolean in an INTEGER column)."""
    return None if value is None else int(bool(value))


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


#: ``progress(model, position, highest notification id)``
Progress = Callable[[str, int, int], None]

# -- the models ------------------------------------------------------------------------------------


@dataclass
class Model:
    """One read model: its tables, the event topics it follows and how events become rows."""

    name: str
    layout: int
    tables: dict[str, str]  # logical name -> column definitions (CREATE TABLE body)
    indexes: tuple[tuple[str, str], ...]  # (logical table name, "(columns)")
    topics: tuple[str, ...]
    prepare: Callable[[ReadModels, Sequence[Any]], list[Op]] = field(repr=False)

    @property
    def key(self) -> str:
        """Its row in the tracking table."""
        return f"{self.name}@{self.layout}"

    def table(self, logical: str) -> str:
        return f"civic_rm_{logical}_v{self.layout}"


def _prepare_communities(rm: ReadModels, notifications: Sequence[Any]) -> list[Op]:
    t = rm.table("communities", "communities")
    ops: list[Op] = []
    for n in notifications:
        event = rm.decode(n)
        cid = str(n.originator_id)
        if isinstance(event, Community.Registered):
            ops.append((
                f"INSERT INTO {t} (community_id, tenant, code, name, district, street) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (community_id) DO UPDATE SET tenant = excluded.tenant, code = excluded.code, "
                "name = excluded.name, district = excluded.district, street = excluded.street",
                (cid, event.tenant, event.code, event.name, event.district, event.street),
            ))
        elif isinstance(event, Community.DetailsCorrected):
            changes = {k: str(v) for k, v in event.changes.items() if k in ("name", "district", "street")}
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                ops.append((f"UPDATE {t} SET {assignments} WHERE community_id = ?", (*changes.values(), cid)))
    return ops


CANDIDACY_COLUMNS = (
    "candidacy_id", "tenant", "campaign_id", "community_id", "level", "status", "version", "seq",
    "self_total", "mock_total", "official_total", "assessors", "satisfaction_rate",
    "objections_open", "objections_upheld", "objections_dismissed", "vetoes", "named", "decided_on", "revoked_on",
)


def _prepare_candidacies(rm: ReadModels, notifications: Sequence[Any]) -> list[Op]:
    t = rm.table("candidacies", "candidacies")
    # every candidacy touched by the batch, at the version of its last event in the batch,
    # and the notification id of its first event (its place in the application order)
    touched: dict[UUID, list[Any]] = {}
    for n in notifications:
        entry = touched.setdefault(n.originator_id, [0, None])
        entry[0] = max(entry[0], n.originator_version)
        if n.originator_version == 1:
            entry[1] = n.id
    updated = [c for c in CANDIDACY_COLUMNS if c not in ("candidacy_id", "seq")]
    sql = (
        f"INSERT INTO {t} ({', '.join(CANDIDACY_COLUMNS)}) VALUES ({', '.join('?' for _ in CANDIDACY_COLUMNS)}) "
        f"ON CONFLICT (candidacy_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in updated)}"
    )
    ops: list[Op] = []
    for uid, (version, seq) in touched.items():
        candidacy = rm.aggregate_at(uid, version)
        assert isinstance(candidacy, Candidacy), uid
        row = rm.candidacy_figures(candidacy)
        row.update(candidacy_id=str(uid), version=version, seq=seq)
        ops.append((sql, tuple(row[c] for c in CANDIDACY_COLUMNS)))
    return ops


def _prepare_findings(rm: ReadModels, notifications: Sequence[Any]) -> list[Op]:
    inspections = rm.table("findings", "inspections")
    findings = rm.table("findings", "findings")
    ops: list[Op] = []
    for n in notifications:
        event = rm.decode(n)
        iid = str(n.originator_id)
        effective = (getattr(event, "meta", None) or {}).get("effective")
        if isinstance(event, Inspection.Conducted):
            ops.append((
                f"INSERT INTO {inspections} (inspection_id, tenant, campaign_id, candidacy_id, community_id, kind, "
                "purpose, visit_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (inspection_id) DO NOTHING",
                (iid, event.tenant, event.campaign_id, event.candidacy_id, event.community_id, event.kind,
                 event.purpose, event.visit_date),
            ))
        elif isinstance(event, Inspection.FindingRecorded):
            ops.append((
                f"INSERT INTO {findings} (inspection_id, finding_id, seq, tenant, campaign_id, candidacy_id, "
                "community_id, kind, purpose, visit_date, item, severity, deadline, status) "
                f"SELECT inspection_id, ?, ?, tenant, campaign_id, candidacy_id, community_id, kind, purpose, "
                f"visit_date, ?, ?, ?, 'open' FROM {inspections} WHERE inspection_id = ? "
                "ON CONFLICT (inspection_id, finding_id) DO NOTHING",
                (event.finding_id, n.originator_version, event.item, event.severity, event.deadline, iid),
            ))
        elif isinstance(event, Inspection.RectificationPlanned):
            ops.append((f"UPDATE {findings} SET status = ? WHERE inspection_id = ? AND finding_id = ?",
                        (PLANNED, iid, event.finding_id)))
        elif isinstance(event, Inspection.RectificationCompleted):
            ops.append((f"UPDATE {findings} SET status = ?, completed_on = ? WHERE inspection_id = ? AND finding_id = ?",
                        (COMPLETED, effective, iid, event.finding_id)))
        elif isinstance(event, Inspection.RectificationVerified):
            ops.append((f"UPDATE {findings} SET status = ?, verified_on = ? WHERE inspection_id = ? AND finding_id = ?",
                        (ACCEPTED if event.accepted else REJECTED, effective, iid, event.finding_id)))
    return ops


def _prepare_notice(rm: ReadModels, notifications: Sequence[Any]) -> list[Op]:
    notices = rm.table("notice", "notices")
    entries = rm.table("notice", "notice_entries")
    ops: list[Op] = []
    for n in notifications:
        event = rm.decode(n)
        campaign_id = str(n.originator_id)
        if isinstance(event, Campaign.PublicNoticeOpened):
            tenant = event.meta["tenant"]
            ops.append((
                f"INSERT INTO {notices} (campaign_id, tenant, start_on, end_on, closed, decided) VALUES (?, ?, ?, ?, 0, 0) "
                "ON CONFLICT (campaign_id) DO NOTHING",
                (campaign_id, tenant, event.start, event.end),
            ))
            listed = list(event.candidacy_ids)
            others = [cid for cid in event.preliminary if cid not in listed]
            for seq, cid in enumerate(listed + others):
                reasons = list((event.preliminary.get(cid) or {}).get("reasons", []))
                ops.append((
                    f"INSERT INTO {entries} (campaign_id, candidacy_id, tenant, listed, seq, reasons) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (campaign_id, candidacy_id) DO NOTHING",
                    (campaign_id, cid, tenant, _flag(cid in listed), seq, json.dumps(reasons, ensure_ascii=False)),
                ))
        elif isinstance(event, Campaign.PublicNoticeClosed):
            ops.append((f"UPDATE {notices} SET closed = 1 WHERE campaign_id = ?", (campaign_id,)))
        elif isinstance(event, Campaign.DecisionsRecorded):
            ops.append((f"UPDATE {notices} SET decided = 1 WHERE campaign_id = ?", (campaign_id,)))
    return ops


def models() -> dict[str, Model]:
    return {
        m.name: m
        for m in (
            Model(
                "communities", 1,
                {"communities": "community_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, code TEXT, name TEXT NOT NULL, "
                                "district TEXT, street TEXT"},
                (),
                _topics(Community, "Registered", "DetailsCorrected"),
                _prepare_communities,
            ),
            Model(
                "candidacies", 1,
                {"candidacies": "candidacy_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, campaign_id TEXT NOT NULL, "
                                "community_id TEXT NOT NULL, level TEXT NOT NULL, status TEXT NOT NULL, "
                                "version INTEGER NOT NULL, seq BIGINT, self_total TEXT, mock_total TEXT, "
                                "official_total TEXT, assessors INTEGER NOT NULL, satisfaction_rate TEXT, "
                                "objections_open INTEGER NOT NULL, objections_upheld INTEGER NOT NULL, "
                                "objections_dismissed INTEGER NOT NULL, vetoes INTEGER NOT NULL, named INTEGER, "
                                "decided_on TEXT, revoked_on TEXT"},
                (("candidacies", "(campaign_id, seq)"),),
                _topics(Candidacy, "Applied", "Resubmitted", "Reviewed", "Withdrawn", "InspectionLinked",
                        "ScoreSheetSubmitted", "ItemScoreCorrected", "VetoRecorded", "VetoWithdrawn", "SurveyRecorded",
                        "ObjectionFiled", "ObjectionResolved", "Decided", "PutForward", "Revoked"),
                _prepare_candidacies,
            ),
            Model(
                "findings", 1,
                {"inspections": "inspection_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, campaign_id TEXT NOT NULL, "
                                "candidacy_id TEXT, community_id TEXT NOT NULL, kind TEXT NOT NULL, "
                                "purpose TEXT NOT NULL, visit_date TEXT NOT NULL",
                 "findings": "inspection_id TEXT NOT NULL, finding_id TEXT NOT NULL, seq INTEGER NOT NULL, "
                             "tenant TEXT NOT NULL, campaign_id TEXT NOT NULL, candidacy_id TEXT, "
                             "community_id TEXT NOT NULL, kind TEXT NOT NULL, purpose TEXT NOT NULL, "
                             "visit_date TEXT NOT NULL, item TEXT NOT NULL, severity TEXT NOT NULL, "
                             "deadline TEXT NOT NULL, status TEXT NOT NULL, completed_on TEXT, verified_on TEXT, "
                             "PRIMARY KEY (inspection_id, finding_id)"},
                (("inspections", "(campaign_id)"), ("findings", "(campaign_id, deadline)")),
                _topics(Inspection, "Conducted", "FindingRecorded", "RectificationPlanned", "RectificationCompleted",
                        "RectificationVerified"),
                _prepare_findings,
            ),
            Model(
                "notice", 1,
                {"notices": "campaign_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, start_on TEXT NOT NULL, "
                            "end_on TEXT NOT NULL, closed INTEGER NOT NULL, decided INTEGER NOT NULL",
                 "notice_entries": "campaign_id TEXT NOT NULL, candidacy_id TEXT NOT NULL, tenant TEXT NOT NULL, "
                            "listed INTEGER NOT NULL, seq INTEGER NOT NULL, reasons TEXT NOT NULL, "
                            "PRIMARY KEY (campaign_id, candidacy_id)"},
                (),
                _topics(Campaign, "PublicNoticeOpened", "PublicNoticeClosed", "DecisionsRecorded"),
                _prepare_notice,
            ),
        )
    }


# -- the read models of one ledger --------------------------------------------------------------------


class ReadModels:
    """The read models of one ledger (see the module docstring). Thread-safe; any number of
    instances and processes may work on the same store."""

    def __init__(self, ledger: Any, batch: int = BATCH) -> None:
        self.ledger = ledger
        self.side: SideStore = ledger.side
        self.batch = batch
        self.models = models()
        self.positions = self.side.table(POSITIONS)
        self.problems_table = self.side.table(PROBLEMS)
        #: notifications applied by this instance, per model (for tests and monitoring)
        self.applied: Counter[str] = Counter()
        self._counting = threading.Lock()
        self._locks = {name: threading.Lock() for name in self.models}
        self._rubric_hashes: dict[str, str] = {}
        self._create_tables()

    # -- tables -------------------------------------------------------------------------------

    def table(self, model: str, logical: str) -> str:
        return self.side.table(self.models[model].table(logical))

    def _create_tables(self) -> None:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.positions} (model TEXT PRIMARY KEY, position BIGINT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.problems_table} (model TEXT NOT NULL, position BIGINT NOT NULL, "
            "stream TEXT NOT NULL, version BIGINT NOT NULL, topic TEXT NOT NULL, error TEXT NOT NULL, "
            "PRIMARY KEY (model, position))",
        ]
        for m in self.models.values():
            for logical, columns in m.tables.items():
                statements.append(f"CREATE TABLE IF NOT EXISTS {self.side.table(m.table(logical))} ({columns})")
            for n, (logical, columns) in enumerate(m.indexes, start=1):
                index = f"{m.table(logical)}_i{n}"
                statements.append(f"CREATE INDEX IF NOT EXISTS {index} ON {self.side.table(m.table(logical))} {columns}")
        for attempt in range(3):
            try:
                self.side.create(statements)  # only what is not in place: the application role may not create it
                with self.side.transaction() as c:
                    for m in self.models.values():
                        c.execute(f"INSERT INTO {self.positions} (model, position) VALUES (?, 0) "
                                  "ON CONFLICT (model) DO NOTHING", (m.key,))
                return
            except ConfigurationError:
                raise  # not in place and not this role's to create: trying again changes nothing
            except Exception:
                # two processes creating the same PostgreSQL table at once: one of them is
                # refused (unique violation on the catalogue); the second attempt finds it
                if attempt == 2:
                    raise

    def _model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise InvalidInput("model", name, ", ".join(self.models)) from None

    # -- positions and catching up ----------------------------------------------------------------

    def position(self, name: str) -> int:
        """The id of the last notification the model has applied (0: none yet)."""
        with self.side.transaction() as c:
            return self._read_position(c, self._model(name), lock=False)

    def _read_position(self, c: SideCursor, m: Model, *, lock: bool) -> int:
        sql = f"SELECT position FROM {self.positions} WHERE model = ?"
        if lock and self.side.kind == "postgres":
            sql += " FOR UPDATE"
        found = c.query(sql, (m.key,))
        if not found:  # a tracking table emptied by hand: start again
            c.execute(f"INSERT INTO {self.positions} (model, position) VALUES (?, 0) ON CONFLICT (model) DO NOTHING", (m.key,))
            return 0
        return int(found[0][0])

    def catch_up(self, *names: str, progress: Progress | None = None) -> dict[str, int]:
        """Apply every new notification to the named models (default: all); returns how
        many each applied in this call. When nothing is new this reads the log's highest
        id and the positions (one query each) and takes no lock. ``progress(model,
        position, highest)`` is called after each batch."""
        chosen = [self._model(name) for name in (names or tuple(self.models))]
        high = self.ledger.recorder.max_notification_id() or 0
        with self.side.transaction() as c:
            stored = {str(model): int(position) for model, position in c.query(f"SELECT model, position FROM {self.positions}")}
        applied = {}
        for m in chosen:
            if stored.get(m.key, 0) >= high:
                applied[m.name] = 0
                continue
            with self._locks[m.name]:  # threads of this process wait instead of preparing the same batch
                applied[m.name] = self._catch_up(m, progress)
        return applied

    def _catch_up(self, m: Model, progress: Progress | None = None) -> int:
        applied = 0
        position = self.position(m.name)
        while True:
            high = self.ledger.recorder.max_notification_id() or 0
            if progress is not None:
                progress(m.name, min(position, high), high)
            if high <= position:
                return applied
            batch = list(self.ledger.recorder.select_notifications(
                start=position + 1, limit=self.batch, stop=high, topics=list(m.topics)))
            # a full batch may stop short of `high`; otherwise every notification up to
            # `high` has been seen and the position may move there
            new_position = batch[-1].id if len(batch) >= self.batch else high
            try:
                current = self._apply(m, position, new_position, [(None, m.prepare(self, batch))] if batch else [])
            except Exception as exc:
                if transient(exc):
                    raise
                # one of the batch's events cannot be applied: each on its own, and the
                # ones that fail are recorded as the model's problems
                current = self._apply(m, position, new_position, [self._prepare_one(m, n) for n in batch])
            if current != position:  # another process applied (part of) it meanwhile: theirs stands
                position = current
                continue
            applied += len(batch)
            with self._counting:
                self.applied[m.name] += len(batch)
            position = new_position

    def rebuild(self, name: str, progress: Progress | None = None) -> int:
        """Drop the model's rows, reset its position and catch up from the start; returns
        the number of notifications applied (``progress`` as for :meth:`catch_up`)."""
        m = self._model(name)
        with self._locks[m.name]:
            with self.side.transaction() as c:
                self._read_position(c, m, lock=True)
                for logical in m.tables:
                    c.execute(f"DELETE FROM {self.side.table(m.table(logical))}")
                c.execute(f"DELETE FROM {self.problems_table} WHERE model = ?", (m.key,))
                c.execute(f"UPDATE {self.positions} SET position = 0 WHERE model = ?", (m.key,))
            return self._catch_up(m, progress)

    def status(self) -> list[dict[str, Any]]:
        """Per model: its position, the log's highest notification id and its rows per table."""
        high = self.ledger.recorder.max_notification_id() or 0
        out = []
        with self.side.transaction() as c:
            for m in self.models.values():
                position = self._read_position(c, m, lock=False)
                rows = {logical: int(c.query(f"SELECT COUNT(*) FROM {self.side.table(m.table(logical))}")[0][0])
                        for logical in m.tables}
                problems = [
                    {"position": int(r[0]), "stream": r[1], "version": int(r[2]), "topic": r[3], "error": r[4]}
                    for r in c.query(f"SELECT position, stream, version, topic, error FROM {self.problems_table} "
                                     "WHERE model = ? ORDER BY position", (m.key,))
                ]
                out.append({"model": m.name, "layout": m.layout, "position": position, "log": high,
                            "up_to_date": position >= high, "rows": rows, "problems": problems})
        return out

    def problems(self, name: str) -> list[dict[str, Any]]:
        """The events the model could not apply (see :meth:`_apply`), in log order."""
        m = self._model(name)
        return next(row["problems"] for row in self.status() if row["model"] == m.name)

    def _prepare_one(self, m: Model, notification: Any) -> tuple[Any, list[Op] | Exception]:
        try:
            return notification, m.prepare(self, [notification])
        except Exception as exc:
            if transient(exc):
                raise
            return notification, exc

    def _apply(self, m: Model, position: int, new_position: int,
               prepared: Sequence[tuple[Any, list[Op] | Exception]]) -> int:
        """Apply prepared changes and move the model to ``new_position`` in one transaction,
        if the model is still at ``position``; returns the position found.

        ``prepared`` holds (notification, its changes or the error preparing them); a
        notification of None stands for a whole batch, applied all or nothing (an error
        rolls the transaction back and is raised). Each notification's changes are applied
        under a savepoint: when they fail (or could not be prepared), they are undone and
        the event is recorded as a problem of the model (position, stream, version, topic,
        error), so that one event can never stop a model; its other rows and every other
        tenant's keep being served."""
        with self.side.transaction() as c:
            current = self._read_position(c, m, lock=True)
            if current != position:
                return current
            for notification, ops in prepared:
                if notification is None:
                    assert not isinstance(ops, Exception)
                    for sql, params in ops:
                        c.execute(sql, params)
                    continue
                error = ops if isinstance(ops, Exception) else None
                if error is None:
                    c.execute("SAVEPOINT civic_rm_event")
                    try:
                        for sql, params in ops:
                            c.execute(sql, params)
                        c.execute("RELEASE SAVEPOINT civic_rm_event")
                    except Exception as exc:
                        if transient(exc):
                            raise
                        c.execute("ROLLBACK TO SAVEPOINT civic_rm_event")
                        c.execute("RELEASE SAVEPOINT civic_rm_event")
                        error = exc
                if error is not None:
                    c.execute(
                        f"INSERT INTO {self.problems_table} (model, position, stream, version, topic, error) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, position) DO NOTHING",
                        (m.key, notification.id, str(notification.originator_id), notification.originator_version,
                         shown(str(notification.topic), 200), shown(f"{type(error).__name__}: {error}", 500)),
                    )
            c.execute(f"UPDATE {self.positions} SET position = ? WHERE model = ?", (new_position, m.key))
        return position

    def dump(self, name: str) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the model's tables, sorted (to compare two builds)."""
        m = self._model(name)
        with self.side.transaction() as c:
            return {
                logical: sorted(c.query(f"SELECT * FROM {self.side.table(m.table(logical))}"), key=repr)
                for logical in m.tables
            }

    # -- what the models need from the ledger ------------------------------------------------------------

    def decode(self, notification: Any) -> Any:
        try:
            return self.ledger.mapper.to_domain_event(notification)
        except TopicError as exc:
            raise unreadable(self.ledger.store, exc) from exc

    def aggregate_at(self, uid: UUID, version: int) -> Any:
        """The aggregate as its events up to ``version`` left it: the cached copy when it is
        at that version (the usual case), else rebuilt from its snapshot and events."""
        repository = self.ledger.repository
        try:
            aggregate = repository.get(uid)
            if aggregate.version != version:
                aggregate = repository.get(uid, version=version)
        except AggregateNotFoundError:  # pragma: no cover - a notification names a stored stream
            raise NotFound("stream", uid) from None
        except TopicError as exc:
            raise unreadable(self.ledger.store, exc) from exc
        return aggregate

    def rubric_of_campaign(self, campaign_id: str) -> Rubric:
        content_hash = self._rubric_hashes.get(campaign_id)
        if content_hash is None:
            campaign = self.ledger.repository.get(UUID(campaign_id), deepcopy_from_cache=False)
            content_hash = self._rubric_hashes[campaign_id] = campaign.rubric["hash"]
        return self.ledger.rubric_by_hash(content_hash)

    def candidacy_figures(self, candidacy: Candidacy) -> dict[str, Any]:
        """The row's figures, exact (canonical fractions), computed by the core's own
        functions for a candidacy's evidence (:func:`core.services.decisions.combined`); after
        the decision, the total and satisfaction rate it recorded. Published on read."""
        rubric = self.rubric_of_campaign(candidacy.campaign_id)
        combine = self.ledger.plugins.combiner(rubric)
        scores = candidacy.scores
        official, counts = combined(rubric, scores["official"], combine)
        official_total = None if incomplete(rubric, scores["official"], counts) else canonical(subtotals(rubric, official)[1])
        self_sheet = (combined(rubric, scores["self"], combine)[0] if scores["self"]
                      else {k: exact(v) for k, v in candidacy.application_scores.items()})
        mock_total = canonical(subtotals(rubric, combined(rubric, scores["mock"], combine)[0])[1]) if scores["mock"] else None
        survey = candidacy.survey
        rate = (canonical(Fraction(survey["satisfied"] + survey["basically_satisfied"], survey["respondents"]))
                if survey and survey.get("respondents") else None)
        decision = candidacy.decision or {}
        outcome = decision.get("derivation", {}).get("outcome", {}) or {}
        if decision:
            official_total = recorded_exact(outcome.get("total"), official_total)
            rate = recorded_exact((outcome.get("survey") or {}).get("satisfaction_rate"), rate)
        counts = candidacy.objection_counts()
        return {
            "tenant": candidacy.tenant,
            "campaign_id": candidacy.campaign_id,
            "community_id": candidacy.community_id,
            "level": candidacy.level,
            "status": candidacy.status,
            "self_total": canonical(subtotals(rubric, self_sheet)[1]),
            "mock_total": mock_total,
            "official_total": official_total,
            "assessors": len(candidacy.scores["official"]),
            "satisfaction_rate": rate,
            "objections_open": counts["open"],
            "objections_upheld": counts["upheld"],
            "objections_dismissed": counts["dismissed"],
            "vetoes": len(candidacy.vetoes),
            "named": _flag(decision.get("named")) if decision else None,
            "decided_on": decision.get("effective"),
            "revoked_on": (candidacy.revocation or {}).get("effective"),
        }

    # -- queries ----------------------------------------------------------------------------------

    @staticmethod
    def _scope(actor: Actor, alias: str) -> tuple[str, tuple[Any, ...]]:
        """The tenant condition: the actor's own tenant (an all-tenant auditor sees all)."""
        if actor.role is Role.AUDITOR and actor.tenant == ALL_TENANTS:
            return "", ()
        return f" AND {alias}.tenant = ?", (actor.tenant,)

    @staticmethod
    def _campaign_key(campaign_id: Any) -> str:
        try:
            return str(UUID(str(campaign_id)))
        except ValueError:
            raise InvalidInput("campaign_id", campaign_id, "a UUID as printed by the platform") from None

    def _day(self, on: str | None) -> str:
        return self.ledger.check_date("on", on) if on else self.ledger.today()

    def _query(self, sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
        with self.side.transaction() as c:
            return c.query(sql, tuple(params))

    def candidacies(self, actor: Actor, campaign_id: str, order: str = "applied", *,
                    detail: bool = True) -> list[dict[str, Any]]:
        """The campaign's candidacies with their figures: in application order, or
        (``order="ranking"``) by official total, highest first, unscored last. Without
        ``detail`` only the summary (``candidacy_id``, ``community_id``, ``level``,
        ``status``, ``version``, ``named``, ``official_total``): no join, and a fraction
        of the work for a list of thousands."""
        if order not in ORDERS:
            raise InvalidInput("order", order, ", ".join(ORDERS))
        key = self._campaign_key(campaign_id)
        self.catch_up("communities", "candidacies")
        scope, scope_params = self._scope(actor, "c")
        t, m = self.table("candidacies", "candidacies"), self.table("communities", "communities")
        if not detail:
            rows = self._query(
                "SELECT c.candidacy_id, c.community_id, c.level, c.status, c.version, c.named, c.official_total "
                f"FROM {t} c WHERE c.campaign_id = ?{scope} ORDER BY c.seq, c.candidacy_id",
                (key, *scope_params),
            )
            rule = self.rubric_of_campaign(key).published_as
            result = [
                {"candidacy_id": cid, "community_id": community_id, "level": level, "status": status,
                 "version": int(version), "named": _bool(named), "official_total": official_total}
                for cid, community_id, level, status, version, named, official_total in rows
            ]
            if order == "ranking":
                self._ranked(result)
            for row in result:
                row["official_total"] = shown_text(row["official_total"], rule)
            return result
        rows = self._query(
            "SELECT c.candidacy_id, c.community_id, m.name, m.district, m.street, c.level, c.status, c.version, "
            "c.self_total, c.mock_total, c.official_total, c.assessors, c.satisfaction_rate, c.objections_open, "
            "c.objections_upheld, c.objections_dismissed, c.vetoes, c.named, c.decided_on, c.revoked_on "
            f"FROM {t} c LEFT JOIN {m} m ON m.community_id = c.community_id "
            f"WHERE c.campaign_id = ?{scope} ORDER BY c.seq, c.candidacy_id",
            (key, *scope_params),
        )
        result = []
        for (cid, community_id, name, district, street, level, status, version, self_total, mock_total, official_total,
             assessors, rate, open_, upheld, dismissed, vetoes, named, decided_on, revoked_on) in rows:
            result.append({
                "candidacy_id": cid,
                "community_id": community_id,
                "community": name,
                "district": district,
                "street": street,
                "level": level,
                "status": status,
                "version": int(version),
                "self_total": self_total,
                "mock_total": mock_total,
                "official_total": official_total,
                "assessors": int(assessors),
                "satisfaction_rate": rate,
                "objections": {"filed": int(open_ + upheld + dismissed), "open": int(open_), "upheld": int(upheld),
                               "dismissed": int(dismissed)},
                "vetoes": int(vetoes),
                "named": _bool(named),
                "decided_on": decided_on,
                "revoked": revoked_on is not None,
                "revoked_on": revoked_on,
            })
        if order == "ranking":
            self._ranked(result)
        rule = self.rubric_of_campaign(key).published_as
        for row in result:
            for name in ("self_total", "mock_total", "official_total"):
                row[name] = shown_text(row[name], rule)
            row["satisfaction_rate"] = shown_text(row["satisfaction_rate"], rule, rate=True)
        return result

    @staticmethod
    def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """By exact official total, highest first, unscored last (stable: ties keep their order)."""
        rows.sort(key=lambda r: (r["official_total"] is None, -exact(r["official_total"] or "0")))
        return rows

    def findings(self, actor: Actor, campaign_id: str, *, on: str | None = None,
                 overdue_only: bool = False) -> list[dict[str, Any]]:
        """The campaign's findings (campaign inspections and supervision) with their
        rectification status and whether each is overdue on ``on`` (default today):
        past its deadline and not accepted. Ordered by deadline."""
        key = self._campaign_key(campaign_id)
        day = self._day(on)
        self.catch_up("communities", "findings")
        scope, scope_params = self._scope(actor, "f")
        overdue = f" AND f.status <> '{ACCEPTED}' AND f.deadline < ?" if overdue_only else ""
        f, m = self.table("findings", "findings"), self.table("communities", "communities")
        rows = self._query(
            "SELECT f.inspection_id, f.finding_id, f.candidacy_id, f.community_id, m.name, m.street, f.kind, "
            "f.purpose, f.visit_date, f.item, f.severity, f.deadline, f.status, f.completed_on, f.verified_on "
            f"FROM {f} f LEFT JOIN {m} m ON m.community_id = f.community_id "
            f"WHERE f.campaign_id = ?{scope}{overdue} ORDER BY f.deadline, f.visit_date, f.inspection_id, f.seq",
            (key, *scope_params, *((day,) if overdue_only else ())),
        )
        today = dt.date.fromisoformat(day)
        result = []
        for (iid, fid, cid, community_id, name, street, kind, purpose, visit_date, item, severity, deadline, status,
             completed_on, verified_on) in rows:
            late = status != ACCEPTED and day > deadline
            result.append({
                "inspection_id": iid,
                "finding_id": fid,
                "candidacy_id": cid,
                "community_id": community_id,
                "community": name,
                "street": street,
                "kind": kind,
                "purpose": purpose,
                "visit_date": visit_date,
                "item": item,
                "severity": severity,
                "deadline": deadline,
                "status": status,
                "completed_on": completed_on,
                "verified_on": verified_on,
                "overdue": late,
                "days_overdue": (today - dt.date.fromisoformat(deadline)).days if late else 0,
                "accepted": status == ACCEPTED,
            })
        return result

    def street_progress(self, actor: Actor, campaign_id: str, *, on: str | None = None) -> list[dict[str, Any]]:
        """Per street of the campaign's candidate communities, for the mid-term meeting:
        candidacies by status, inspections done, findings open / overdue (on ``on``,
        default today) / verified, and the average official total of the candidacies
        scored so far."""
        key = self._campaign_key(campaign_id)
        day = self._day(on)
        self.catch_up("communities", "candidacies", "findings")
        t = self.table("candidacies", "candidacies")
        m = self.table("communities", "communities")
        i = self.table("findings", "inspections")
        f = self.table("findings", "findings")
        streets: dict[tuple[str, str], dict[str, Any]] = {}

        def street(district: Any, name: Any) -> dict[str, Any]:
            k = (district or "", name or "")
            if k not in streets:
                streets[k] = {
                    "district": district, "street": name,
                    "candidacies": {"total": 0, "by_status": {}},
                    "inspections": {"done": 0, "unannounced": 0, "supervision": 0},
                    "findings": {"total": 0, "open": 0, "overdue": 0, "verified": 0, "rejected": 0},
                    "official_total": {"scored": 0, "average": None},
                    "_totals": [],
                }
            return streets[k]

        with self.side.transaction() as c:
            scope, scope_params = self._scope(actor, "c")
            for district, name, status, count in c.query(
                f"SELECT m.district, m.street, c.status, COUNT(*) AS n FROM {t} c LEFT JOIN {m} m ON m.community_id = c.community_id "
                f"WHERE c.campaign_id = ?{scope} GROUP BY m.district, m.street, c.status", (key, *scope_params),
            ):
                entry = street(district, name)["candidacies"]
                entry["by_status"][status] = int(count)
                entry["total"] += int(count)
            for district, name, total in c.query(
                f"SELECT m.district, m.street, c.official_total FROM {t} c LEFT JOIN {m} m ON m.community_id = c.community_id "
                f"WHERE c.campaign_id = ?{scope} AND c.official_total IS NOT NULL", (key, *scope_params),
            ):
                street(district, name)["_totals"].append(exact(total))
            scope, scope_params = self._scope(actor, "i")
            for district, name, done, unannounced, supervision in c.query(
                "SELECT m.district, m.street, COUNT(*) AS done, SUM(CASE WHEN i.kind = 'unannounced' THEN 1 ELSE 0 END) AS unannounced, "
                "SUM(CASE WHEN i.purpose = 'supervision' THEN 1 ELSE 0 END) AS supervision "
                f"FROM {i} i LEFT JOIN {m} m ON m.community_id = i.community_id "
                f"WHERE i.campaign_id = ?{scope} GROUP BY m.district, m.street", (key, *scope_params),
            ):
                street(district, name)["inspections"].update(done=int(done), unannounced=int(unannounced or 0),
                                                             supervision=int(supervision or 0))
            scope, scope_params = self._scope(actor, "f")
            for district, name, total, open_, overdue, verified, rejected in c.query(
                f"SELECT m.district, m.street, COUNT(*) AS total, SUM(CASE WHEN f.status <> '{ACCEPTED}' THEN 1 ELSE 0 END) AS open, "
                f"SUM(CASE WHEN f.status <> '{ACCEPTED}' AND f.deadline < ? THEN 1 ELSE 0 END) AS overdue, "
                f"SUM(CASE WHEN f.status = '{ACCEPTED}' THEN 1 ELSE 0 END) AS verified, "
                f"SUM(CASE WHEN f.status = '{REJECTED}' THEN 1 ELSE 0 END) AS rejected "
                f"FROM {f} f LEFT JOIN {m} m ON m.community_id = f.community_id "
                f"WHERE f.campaign_id = ?{scope} GROUP BY m.district, m.street", (day, key, *scope_params),
            ):
                street(district, name)["findings"].update(total=int(total), open=int(open_ or 0), overdue=int(overdue or 0),
                                                          verified=int(verified or 0), rejected=int(rejected or 0))
        result = []
        rule = self.rubric_of_campaign(key).published_as
        for k in sorted(streets):
            entry = streets[k]
            totals = entry.pop("_totals")
            if totals:
                entry["official_total"] = {"scored": len(totals), "average": published(mean(totals), rule)}
            entry["candidacies"]["by_status"] = dict(sorted(entry["candidacies"]["by_status"].items()))
            result.append(entry)
        return result

    def notice_list(self, actor: Actor, campaign_id: str, *, listed_only: bool) -> dict[str, Any]:
        """The campaign's public notice: its window and its candidates (community, level,
        official total, objections, the preliminary reasons, and after the decision
        whether named); ``listed_only`` leaves out the approved candidates not listed.
        NotFound when the campaign has had no public notice."""
        key = self._campaign_key(campaign_id)
        self.catch_up("communities", "candidacies", "notice")
        n, e = self.table("notice", "notices"), self.table("notice", "notice_entries")
        t, m = self.table("candidacies", "candidacies"), self.table("communities", "communities")
        scope, scope_params = self._scope(actor, "n")
        entry_scope, entry_params = self._scope(actor, "e")
        with self.side.transaction() as c:
            found = c.query(f"SELECT start_on, end_on, closed, decided FROM {n} n WHERE n.campaign_id = ?{scope}",
                            (key, *scope_params))
            if not found:
                raise NotFound("public notice of campaign", key)
            listed = " AND e.listed = 1" if listed_only else ""
            entries = c.query(
                "SELECT e.candidacy_id, e.listed, e.reasons, c.community_id, m.name, m.district, m.street, c.level, "
                "c.official_total, c.objections_open, c.objections_upheld, c.objections_dismissed, c.named, c.revoked_on "
                f"FROM {e} e LEFT JOIN {t} c ON c.candidacy_id = e.candidacy_id "
                f"LEFT JOIN {m} m ON m.community_id = c.community_id "
                f"WHERE e.campaign_id = ?{entry_scope}{listed} ORDER BY e.seq",
                (key, *entry_params),
            )
        start, end, closed, decided = found[0]
        rubric = self.rubric_of_campaign(key)
        labels = {level.id: level.label for level in rubric.levels}
        candidates = []
        for (cid, on_list, reasons, community_id, name, district, street, level, total, open_, upheld, dismissed,
             named, revoked_on) in entries:
            candidates.append({
                "candidacy_id": cid,
                "listed": bool(on_list),
                "community_id": community_id,
                "community": name,
                "district": district,
                "street": street,
                "level": level,
                "level_label": labels.get(level),
                "total": shown_text(total, rubric.published_as),
                "objections": {"filed": int((open_ or 0) + (upheld or 0) + (dismissed or 0)), "open": int(open_ or 0),
                               "upheld": int(upheld or 0), "dismissed": int(dismissed or 0)},
                "reasons": json.loads(reasons),
                "named": _bool(named) if decided else None,
                "revoked": revoked_on is not None,
            })
        return {"start": start, "end": end, "closed": bool(closed), "decided": bool(decided), "candidates": candidates}


def recorded_exact(recorded: Any, otherwise: str | None) -> str | None:
    """A figure a decision recorded, as a row stores it: the exact value (a decision made
    before exact arithmetic recorded a 4-place decimal, which is kept as recorded)."""
    if recorded is None:
        return otherwise
    return recorded["exact"] if isinstance(recorded, dict) else str(recorded)


def shown_text(stored: str | None, rule: Any, *, rate: bool = False) -> str | None:
    """A stored figure as the lists show it: the published figure of an exact value; a
    4-place decimal recorded by a decision before exact arithmetic, as recorded."""
    if stored is None:
        return None
    if "." in stored:
        return stored
    return rate_figure(exact(stored), rule)["published"] if rate else published(exact(stored), rule)


_LOCK = threading.Lock()


def read_models(ledger: Any) -> ReadModels:
    """The ledger's read models (created with their tables on first use)."""
    found = ledger.__dict__.get("_read_models")
    if found is None:
        with _LOCK:
            found = ledger.__dict__.get("_read_models")
            if found is None:
                found = ledger.__dict__["_read_models"] = ReadModels(ledger)
    return found

"""Crash safety over real processes: ``civic serve --workers 2`` on PostgreSQL, killed with
SIGKILL (its whole process group) under concurrent load, three times.

Eight writer threads send POSTs, each with a fresh ``Idempotency-Key``; a reader keeps the
read models catching up. Three write kinds, so that a doubled write would show:

* registering a community (district officer), a fresh code per request: two streams
  (the community and the tenant's register), and writers race for the tenant's stream;
* conducting an inspection (inspector), one thread per candidacy, its notes unique: two
  streams (a NEW inspection and the candidacy); a double write makes two inspections;
* recording a finding (inspector), one thread per inspection, its description unique:
  a double write makes two findings (F1, F2, ...) with the same description.

After the last restart every request whose answer never arrived is retried with the same
key and body until it has a final answer (honouring 409 ``request_in_progress`` and its
``Retry-After``). Then: no key is stuck, nothing was answered 5xx, every write answered
2xx (at first or on a retry) is recorded exactly once and every one answered 4xx not at
all, a retry of an answered key replays its answer and records nothing, ``civic audit
verify`` passes, every read model equals its rebuild and none has problems.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.domain import ids
from core.readmodels import models, read_models
from core.services import CivicLedger
from tests.helpers import TENANT, World

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 2
ROUNDS = 3  # kills under load
LOAD_SECONDS = (1.5, 2.5)  # load before each kill
START_TIMEOUT = 90.0  # a start on a busy machine
RETRY_BUDGET = 30.0  # retrying the unanswered requests after the last restart
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
VISIT = "2020-05-20"


def _civic() -> list[str]:
    script = Path(sys.executable).with_name("civic")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from core.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _problem(answer: Answer) -> str:
    try:
        return str(json.loads(answer.text).get("type", "")).rsplit("/", 1)[-1]
    except (ValueError, AttributeError):
        return ""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @classmethod
    def of(cls, r: httpx.Response) -> Answer:
        return cls(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text)

    @property
    def in_progress(self) -> bool:
        return self.status == 409 and _problem(self) == "request_in_progress"


@dataclass
class Sent:
    """One POST with its key: what was sent, and what came back (nothing: ``lost``)."""

    key: str
    kind: str  # community | inspection | finding
    path: str
    body: bytes
    token: str
    marker: str  # the code, notes or description only this request carries
    target: str = ""  # the candidacy (inspection) or inspection (finding) it writes to
    answers: list[Answer] = field(default_factory=list)
    lost: int = 0
    retried: bool = False

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Idempotency-Key": self.key,
                "Content-Type": "application/json"}

    @property
    def final(self) -> Answer | None:
        done = [a for a in self.answers if not a.in_progress]
        return done[0] if done else None


class Server:
    """``civic serve --workers 2`` in a process group of its own, (re)started on one port."""

    def __init__(self, url: str, logs: Path) -> None:
        self.url = url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        self.starts = 0
        self.proc: subprocess.Popen | None = None
        self.env = {**os.environ, "CIVIC_DATABASE_URL": url, "CIVIC_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
                    "PYTHONUNBUFFERED": "1"}

    def log_path(self, n: int) -> Path:
        return self.logs / f"serve-{n}.log"

    def start(self) -> float:
        began = time.monotonic()
        self.starts += 1
        with open(self.log_path(self.starts), "wb") as log:
            self.proc = subprocess.Popen(
                _civic() + ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = began + START_TIMEOUT
        with httpx.Client(base_url=self.base, timeout=httpx.Timeout(5.0)) as client:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"civic serve exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"civic serve not healthy after {START_TIMEOUT:g} s:\n{self.log()}")
                time.sleep(0.2)
        # both workers, so that the load meets two processes (bounded: one is enough to go on)
        while self.log().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        return time.monotonic() - began

    def log(self, n: int | None = None) -> str:
        path = self.log_path(n or self.starts)
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, sig)  # the supervisor and its workers
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        if sig != signal.SIGKILL:  # whatever is left of the group
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        while _listening(self.port) and time.monotonic() < deadline:  # the workers are gone too
            time.sleep(0.05)


class Load:
    """The writer threads (and one reader) against the server while ``up`` is set."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.up = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: dict[str, Sent] = {}
        self.reads: list[Answer] = []
        self.failures: list[str] = []  # anything unexpected inside a thread
        self.threads: list[threading.Thread] = []

    def writer(self, name: str, make: Any) -> None:
        self.threads.append(threading.Thread(target=self._guard, args=(self._write, name, make), name=name, daemon=True))

    def reader(self, paths: list[str], token: str) -> None:
        self.threads.append(threading.Thread(target=self._guard, args=(self._read, paths, token), name="reader",
                                             daemon=True))

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        self.up.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not [t.name for t in self.threads if t.is_alive()], "load threads did not stop"

    def _guard(self, work: Any, *args: Any) -> None:
        try:
            work(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            with self.lock:
                self.failures.append(f"{threading.current_thread().name}: {type(exc).__name__}: {exc}")

    def _write(self, name: str, make: Any) -> None:
        client: httpx.Client | None = None
        n = 0
        try:
            while True:
                self.up.wait()
                if self.stop.is_set():
                    return
                if client is None:
                    client = httpx.Client(base_url=self.base, timeout=TIMEOUT)
                n += 1
                sent = make(f"{name}-{n}")
                with self.lock:
                    self.sent[sent.key] = sent
                try:
                    r = client.post(sent.path, content=sent.body, headers=sent.headers())
                except httpx.TransportError:
                    sent.lost += 1  # killed: no answer; retried after the last restart
                    client.close()
                    client = None
                    continue
                sent.answers.append(Answer.of(r))
        finally:
            if client is not None:
                client.close()

    def _read(self, paths: list[str], token: str) -> None:
        client: httpx.Client | None = None
        headers = {"Authorization": f"Bearer {token}"}
        try:
            while True:
                self.up.wait()
                if self.stop.is_set():
                    return
                if client is None:
                    client = httpx.Client(base_url=self.base, timeout=TIMEOUT)
                for path in paths:
                    try:
                        r = client.get(path, headers=headers)
                    except httpx.TransportError:
                        client.close()
                        client = None
                        break
                    with self.lock:
                        self.reads.append(Answer.of(r))
                time.sleep(0.05)
        finally:
            if client is not None:
                client.close()


def _body(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _retry_unanswered(base: str, sent: list[Sent]) -> list[Sent]:
    """Retry every request without a final answer, same key and body, until each has one
    or the budget is spent; returns the ones still without one."""
    pending = [s for s in sent if s.final is None]
    for s in pending:
        s.retried = True
    deadline = time.monotonic() + RETRY_BUDGET
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        while pending and time.monotonic() < deadline:
            waiting: list[Sent] = []
            pause = 0.2
            for s in pending:
                try:
                    answer = Answer.of(client.post(s.path, content=s.body, headers=s.headers()))
                except httpx.TransportError:
                    s.lost += 1
                    waiting.append(s)
                    continue
                s.answers.append(answer)
                if answer.in_progress:
                    assert int(answer.headers["retry-after"]) >= 1, answer
                    pause = max(pause, min(float(answer.headers["retry-after"]), 3.0))
                    waiting.append(s)
            pending = waiting
            if pending:
                time.sleep(pause)
    return pending


def _replay(base: str, answered: list[Sent]) -> list[tuple[Sent, Answer]]:
    """Send every answered request again (same key and body), four at a time."""
    out: list[tuple[Sent, Answer]] = []
    lock = threading.Lock()
    work = list(answered)

    def run() -> None:
        with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            while True:
                with lock:
                    if not work:
                        return
                    s = work.pop()
                answer = Answer.of(client.post(s.path, content=s.body, headers=s.headers()))
                with lock:
                    out.append((s, answer))

    threads = [threading.Thread(target=run, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(out) == len(answered), "replays did not finish"
    return out


def _run_cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIVIC_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(_civic() + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)


def test_killed_servers_lose_no_write_and_double_none(pg_schema_url, plugins, tmp_path):
    began = time.monotonic()
    url = pg_schema_url

    # -- the store: a tenant, an open campaign, three candidacies, three inspections, tokens
    ledger = CivicLedger(url, plugins=plugins)
    try:
        world = World(ledger)
        campaign = world.setup()
        ledger.open_campaign(world.owner, campaign, on="2020-03-09")
        candidacies = [world.apply(campaign, code) for code in ("c1", "c2", "c3")]
        inspections = [ledger.conduct_inspection(world.inspector, cid, "announced", VISIT, ["巡查员甲"])
                       for cid in candidacies]

        def token(person: Any) -> str:
            return ledger.issue_token("tests", TENANT, person.role.value, person.id, person.organisation)[1]

        district, inspector, owner = token(world.district), token(world.inspector), token(world.owner)
    finally:
        ledger.close()

    server = Server(url, tmp_path)
    load = Load(server.base)

    def community(tag: str) -> Sent:
        code = f"crash-{tag}"
        return Sent(uuid.uuid4().hex, "community", f"/tenants/{TENANT}/communities", _body({
            "code": code, "name": f"压测社区 {tag}", "district": "东丽区", "street": "张贵庄街道",
            "households": 10, "population": 20}), district, code)

    def inspection(candidacy: str) -> Any:
        def make(tag: str) -> Sent:
            notes = f"crash-visit {tag}"
            return Sent(uuid.uuid4().hex, "inspection", f"/candidacies/{candidacy}/inspections", _body({
                "kind": "announced", "visit_date": VISIT, "inspectors": ["巡查员乙"], "notes": notes}),
                inspector, notes, candidacy)
        return make

    def finding(inspection_id: str) -> Any:
        def make(tag: str) -> Sent:
            description = f"crash-finding {tag}"
            return Sent(uuid.uuid4().hex, "finding", f"/inspections/{inspection_id}/findings", _body({
                "item": "38", "description": description, "severity": "minor", "countermeasure": "清理楼道",
                "deadline": "2020-08-31"}), inspector, description, inspection_id)
        return make

    for n in range(2):
        load.writer(f"w{n}-community", community)
    for n, cid in enumerate(candidacies):
        load.writer(f"w{n}-inspection", inspection(cid))
    for n, iid in enumerate(inspections):
        load.writer(f"w{n}-finding", finding(iid))
    assert len(load.threads) == 8
    load.reader([f"/campaigns/{campaign}/candidacies", f"/campaigns/{campaign}/findings/overdue?on=2020-09-01",
                 f"/campaigns/{campaign}/streets/progress?on=2020-09-01"], owner)

    timings: dict[str, Any] = {"starts": []}
    try:
        load.start()
        for _ in range(ROUNDS):
            timings["starts"].append(round(server.start(), 1))
            load.up.set()
            time.sleep(random.uniform(*LOAD_SECONDS))
            load.up.clear()  # the threads wait after their request in flight; that one is cut off
            server.kill()
        load.finish()
        timings["starts"].append(round(server.start(), 1))
        assert not load.failures, load.failures

        sent = list(load.sent.values())
        lost = [s for s in sent if s.final is None]
        assert lost, "no request was cut off by the kills"
        stuck = _retry_unanswered(server.base, sent)
        assert not stuck, f"{len(stuck)} keys never got a final answer: " + \
            "; ".join(f"{s.key} {s.kind} {[(a.status, _problem(a)) for a in s.answers]}" for s in stuck[:10])

        # every answered key is replayed: the same answer, nothing more recorded (a lost race,
        # 409 concurrent_change, keeps no key: sent again it would run afresh, by design)
        check = CivicLedger(url, plugins=plugins)
        try:
            before = check.recorder.max_notification_id()
            replays = _replay(server.base, [s for s in sent if (s.final.status, _problem(s.final)) != (409, "concurrent_change")])
            assert check.recorder.max_notification_id() == before, "a replay recorded something"
        finally:
            check.close()

        every = [a for s in sent for a in s.answers] + [a for _, a in replays] + load.reads
        server_errors = [(a.status, a.text[:300]) for a in every if a.status >= 500]
        assert not server_errors, f"{len(server_errors)} answers were 5xx: {server_errors[:5]}"
        bad_reads = [(a.status, a.text[:300]) for a in load.reads if a.status != 200]
        assert not bad_reads, bad_reads[:5]

        for s, again in replays:
            first = s.final
            assert again.status == first.status and again.headers.get("idempotent-replayed") == "true", \
                (s.kind, s.key, first, again)
            if first.headers.get("idempotent-recovered") == "true":
                assert json.loads(again.text) == json.loads(first.text), (s.key, first.text, again.text)
            else:
                assert again.text == first.text, (s.key, first.text, again.text)
                for name in ("location", "etag"):
                    assert again.headers.get(name) == first.headers.get(name), (s.key, name, first, again)

        # -- the store: every write answered 2xx recorded once, every 4xx not at all
        truth = CivicLedger(url, plugins=plugins)
        try:
            register = truth.tenant(world.district, TENANT).communities
            recorded = Counter(register)
            inspection_notes: Counter[str] = Counter()
            inspection_of_notes: dict[str, str] = {}
            linked: Counter[str] = Counter()
            findings: Counter[str] = Counter()
            finding_rows: Counter[str] = Counter()
            for cid in candidacies:
                for iid in truth.candidacy(world.owner, cid).inspections:
                    linked[iid] += 1
                    notes = truth.inspection(world.owner, iid).notes
                    inspection_notes[notes] += 1
                    inspection_of_notes[notes] = iid
            for iid in linked:
                found = truth.inspection(world.owner, iid).findings
                finding_rows[iid] = len(found)
                for f in found.values():
                    findings[f["description"]] += 1
            communities_in_register = len(register)
        finally:
            truth.close()
        assert max(recorded.values()) == 1 and max(linked.values()) == 1, "a stream listed twice"

        def count(s: Sent) -> int:
            if s.kind == "community":
                return recorded[str(ids.community_id(TENANT, s.marker))]
            return (inspection_notes if s.kind == "inspection" else findings)[s.marker]

        wrong = []
        outcomes: Counter[str] = Counter()
        for s in sent:
            final = s.final
            expected = 1 if 200 <= final.status < 300 else 0
            if count(s) != expected:
                wrong.append((s.kind, s.key, s.marker, s.retried, count(s), [(a.status, a.text[:200]) for a in s.answers]))
            if 400 <= final.status < 500:
                # a rejected request records nothing; the only rejection here is losing a race
                # for the tenant's register (and never "already exists": that would be a write
                # recorded by an earlier attempt of the same key)
                assert (final.status, _problem(final)) == (409, "concurrent_change"), (s.kind, s.key, final)
                assert "on the same stream at the same time" in json.loads(final.text)["detail"], (s.kind, s.key, final)
            if final.headers.get("idempotent-recovered") == "true":
                body = json.loads(final.text)
                streams = {r["id"] for r in body["recorded"]}
                assert body["recovered"] is True and final.status == 200 and streams, body
                if s.kind == "community":
                    assert str(ids.community_id(TENANT, s.marker)) in streams, (s.marker, body)
                elif s.kind == "inspection":
                    assert {s.target, inspection_of_notes[s.marker]} <= streams, (s.marker, body)
                else:
                    assert s.target in streams, (s.marker, body)
            if s.retried:
                # retried one by one with the load stopped: each runs afresh, is recovered, or
                # replays the answer its first attempt kept (which may be a lost race)
                assert 200 <= final.status < 300 or final.headers.get("idempotent-replayed") == "true", \
                    (s.kind, s.key, final)
            kind = ("recovered" if final.headers.get("idempotent-recovered") == "true" else
                    "replayed" if final.headers.get("idempotent-replayed") == "true" else "fresh")
            outcomes[f"{'retried' if s.retried else 'answered'} {final.status} {kind}"] += 1
        assert not wrong, f"{len(wrong)} writes recorded a wrong number of times: {wrong[:5]}"
        ours = {s.marker for s in sent}
        strays = [m for m in list(inspection_notes) + list(findings) if m and m not in ours]
        assert not strays, strays
        assert sum(1 for s in sent if s.kind == "community" and 200 <= s.final.status < 300) + 3 == communities_in_register
    finally:
        load.stop.set()
        load.up.set()
        server.kill(signal.SIGTERM)

    tracebacks = [n for n in range(1, server.starts + 1) if "Traceback" in server.log(n)]
    assert not tracebacks, "\n".join(f"--- serve-{n}.log\n{server.log(n)[-4000:]}" for n in tracebacks)

    # -- the store after the crashes: chains and decisions, read models
    verified = _run_cli(url, "audit", "verify")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
    status = _run_cli(url, "readmodels", "status", "--json")
    assert status.returncode == 0, status.stdout[-3000:] + status.stderr[-3000:]
    shown = json.loads(status.stdout)
    assert {m["model"] for m in shown} == set(models())
    assert all(m["problems"] == [] for m in shown), [m for m in shown if m["problems"]]

    ledger = CivicLedger(url, plugins=plugins)
    try:
        rm = read_models(ledger)
        rm.catch_up()
        built = {name: rm.dump(name) for name in models()}
        assert len(built["communities"]["communities"]) == communities_in_register
        rows_per_inspection = Counter(row[0] for row in built["findings"]["findings"])
        assert {iid: rows_per_inspection.get(iid, 0) for iid in finding_rows} == dict(finding_rows)
        assert {row[0] for row in built["findings"]["inspections"]} == set(linked)
        for name in models():
            rm.rebuild(name)
            assert rm.dump(name) == built[name], f"read model {name} differs from its rebuild"
        assert all(m["problems"] == [] and m["up_to_date"] for m in rm.status())
    finally:
        ledger.close()

    lost_count = len(lost)
    print(f"\ncrash test: {len(sent)} writes, {sum(1 for s in sent if s.final and not s.retried)} answered under load, "
          f"{lost_count} unanswered and retried, reads {len(load.reads)}, replays {len(replays)}; "
          f"outcomes {dict(sorted(outcomes.items()))}; starts {timings['starts']} s; "
          f"total {time.monotonic() - began:.1f} s")

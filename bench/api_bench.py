"""d) The HTTP interface under load: the real ``civic serve --workers 2`` on PostgreSQL.

Set-up through the core, in a schema of its own (dropped at the end, even on failure): a
tenant, communities, a campaign on the Tianjin rubric with C (2,000) approved candidacies
and bearer tokens (``issue_token``). Then ``civic serve --workers 2`` runs as a subprocess
(its own process group) on a free loopback port with ``CIVIC_DATABASE_URL`` naming that
schema, and a bounded load generator sends a fixed number of requests per measurement over
a fixed number of keep-alive connections, one thread each:

* ``GET /health`` (the trivial endpoint) and ``POST /candidacies/{id}/score-sheets`` (full
  60-item official sheets, each on a candidacy no other request in flight touches, each by
  an assessor who has not scored that candidacy yet), in alternating rounds; every answer
  must be 200 / 201, or the benchmark stops without figures;
* ``GET /campaigns/{id}/candidacies`` of the C-candidacy campaign: warmed (the read model
  catches up with the whole set-up), then timed one request at a time.

The load generator is deliberately lean (pre-encoded requests, each written in one
``send``, answers read by ``Content-Length``, ``TCP_NODELAY`` as curl and browsers set
it): on a small machine it shares the CPU with the server and PostgreSQL, and a heavier
client would hold the trivial endpoint's rate down more than the score sheets' and so
flatter the ratio. Its CPU time and the server's are shown on stderr.

Figures go through ``result`` (stdout), progress and diagnostics through ``say`` (stderr).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.actors import Role

WORKERS = 2
HOST = "127.0.0.1"
TIMEOUT = 120.0


class BenchFailure(SystemExit):
    """A request of the benchmark got an unexpected answer: the figures would be wrong."""


# ---------------------------------------------------------------------------------------
# a lean HTTP/1.1 client: one keep-alive connection
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    token: str = ""
    body: bytes | None = None
    expect: int = 200

    def wire(self, host: str) -> bytes:
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        if self.body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + (self.body or b"")


class Connection:
    """One keep-alive connection; ``send`` writes a whole request at once and returns
    ``(status, body)``. Reconnects after the server closes, and before reusing a connection
    idle for longer than ``IDLE`` (uvicorn closes idle keep-alive connections after 5 s)."""

    IDLE = 3.0

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.used = 0.0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _recv(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._recv()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            self._recv()
        line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
        return line

    def send(self, wire: bytes) -> tuple[int, bytes]:
        if self.sock is not None and time.monotonic() - self.used > self.IDLE:
            self.close()
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=TIMEOUT)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        try:
            self.sock.sendall(wire)
            while (end := self.buffer.find(b"\r\n\r\n")) < 0:
                self._recv()
            head, self.buffer = self.buffer[:end].decode("latin-1").split("\r\n"), self.buffer[end + 4:]
            status = int(head[0].split(" ", 2)[1])
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip().lower()
            if "content-length" in headers:
                body = self._take(int(headers["content-length"]))
            elif headers.get("transfer-encoding") == "chunked":
                parts = []
                while size := int(self._line().split(b";")[0], 16):
                    parts.append(self._take(size))
                    self._take(2)
                while self._line():  # trailers
                    pass
                body = b"".join(parts)
            else:  # the body runs to the end of the connection
                try:
                    while True:
                        self._recv()
                except ConnectionError:
                    pass
                body, self.buffer = self.buffer, b""
                self.close()
            if headers.get("connection") == "close":
                self.close()
            self.used = time.monotonic()
            return status, body
        except BaseException:
            self.close()
            raise


# ---------------------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def civic_command() -> str:
    beside = Path(sys.executable).parent / "civic"  # .venv/bin/civic next to .venv/bin/python
    found = str(beside) if beside.exists() else shutil.which("civic")
    if not found:
        raise BenchFailure("the `civic` command is not installed (make install)")
    return found


class Server:
    """``civic serve --workers 2`` in its own process group; its log goes to a temp file."""

    def __init__(self, database_url: str, workers: int = WORKERS) -> None:
        self.port = free_port()
        self.host = f"{HOST}:{self.port}"
        self.workers = workers
        self.log = tempfile.NamedTemporaryFile(prefix="civic-bench-serve-", suffix=".log", delete=False)
        env = {**os.environ, "CIVIC_DATABASE_URL": database_url}
        self.process = subprocess.Popen(
            [civic_command(), "serve", "--host", HOST, "--port", str(self.port), "--workers", str(workers)],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def connection(self) -> Connection:
        return Connection(HOST, self.port)

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until /health answers and every worker has reported its start-up."""
        deadline = time.monotonic() + timeout
        health = Call("GET", "/health").wire(self.host)
        while True:
            if self.process.poll() is not None:
                raise BenchFailure(f"civic serve exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            started = self.log_text().count("Application startup complete")
            connection = self.connection()
            try:
                ok = connection.send(health)[0] == 200
            except OSError:
                ok = False
            finally:
                connection.close()
            if ok and started >= self.workers:
                return
            if time.monotonic() > deadline:
                raise BenchFailure(f"civic serve not ready after {timeout:.0f} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    def cpu_seconds(self) -> tuple[float, float] | None:
        """User + system CPU seconds so far of the server's processes (its process group)
        and of the machine's PostgreSQL processes (Linux /proc; PostgreSQL only when it runs
        here, and with whatever else it serves), or None."""
        try:
            entries = os.listdir("/proc")
            tick = os.sysconf("SC_CLK_TCK")
        except (OSError, AttributeError, ValueError):
            return None
        server = postgres = 0
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == self.process.pid:  # the server's process group
                server += int(fields[11]) + int(fields[12])
            elif name in ("postgres", "postmaster"):
                postgres += int(fields[11]) + int(fields[12])
        return server / tick, postgres / tick

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
        os.unlink(self.log.name)


# ---------------------------------------------------------------------------------------
# the load generator
# ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = 0.0
    postgres_cpu: float | None = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds
    failures: list[tuple[Call, int, str]] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.wall += other.wall
        self.client_cpu += other.client_cpu
        for name in ("server_cpu", "postgres_cpu"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, None if mine is None or theirs is None else mine + theirs)
        self.latencies += other.latencies
        self.failures += other.failures

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.wall

    def percentile_ms(self, p: int) -> float:
        return 1000 * percentile(self.latencies, p)


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method: never beyond the largest value)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


class Load:
    """``clients`` threads, each with its own keep-alive connection, sharing one queue of calls."""

    def __init__(self, server: Server, clients: int) -> None:
        self.server = server
        self.connections = [server.connection() for _ in range(clients)]

    def close(self) -> None:
        for connection in self.connections:
            connection.close()

    def send(self, connection: Connection, call: Call) -> tuple[int, bytes]:
        status, body = connection.send(call.wire(self.server.host))
        if status != call.expect:
            raise BenchFailure(f"{call.method} {call.path}: expected {call.expect}, got {status}: {body[:500]!r}")
        return status, body

    def run(self, calls: list[Call]) -> Outcome:
        """Send every call, ``len(connections)`` at a time; wall time from the start of the
        first to the answer of the last."""
        wires = [call.wire(self.server.host) for call in calls]
        latencies = [0.0] * len(calls)
        failures: list[tuple[Call, int, str]] = []
        queue = itertools.count()  # next() is atomic under the GIL
        start = threading.Barrier(len(self.connections) + 1)

        def client_loop(connection: Connection) -> None:
            start.wait()
            while (n := next(queue)) < len(calls):
                began = time.perf_counter()
                try:
                    status, body = connection.send(wires[n])
                except OSError as exc:
                    status, body = 0, f"{type(exc).__name__}: {exc}".encode()
                latencies[n] = time.perf_counter() - began
                if status != calls[n].expect:
                    failures.append((calls[n], status, body[:500].decode("utf-8", "replace")))

        threads = [threading.Thread(target=client_loop, args=(c,), daemon=True) for c in self.connections]
        for t in threads:
            t.start()
        processes = self.server.cpu_seconds()
        cpu = time.process_time()
        began = time.perf_counter()
        start.wait()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        client_cpu = time.process_time() - cpu
        processes_after = self.server.cpu_seconds()
        measured = processes is not None and processes_after is not None
        return Outcome(
            wall, client_cpu,
            processes_after[0] - processes[0] if measured else None,
            processes_after[1] - processes[1] if measured else None,
            latencies, failures,
        )

    def sequential(self, call: Call, times: int) -> list[float]:
        """``times`` requests one after the other (round robin over the connections, so both
        workers answer); the latency of each, in seconds."""
        wire = call.wire(self.server.host)
        samples = []
        for n in range(times):
            connection = self.connections[n % len(self.connections)]
            began = time.perf_counter()
            status, body = connection.send(wire)
            samples.append(time.perf_counter() - began)
            if status != call.expect:
                raise BenchFailure(f"{call.method} {call.path}: expected {call.expect}, got {status}: {body[:500]!r}")
        return samples


def check(what: str, outcome: Outcome, say: Callable[[str], None]) -> None:
    if not outcome.failures:
        return
    for call, status, text in outcome.failures[:5]:
        say(f"[red]{call.method} {call.path}: expected {call.expect}, got {status or 'no answer'}[/red] {text}")
    raise BenchFailure(f"{what}: {len(outcome.failures)} of {outcome.count} requests failed; no figures reported")


def describe(what: str, outcome: Outcome, say: Callable[[str], None]) -> None:
    """Rate and latency, and where the CPU went: ms of CPU per request and cores in use."""

    def share(name: str, seconds: float | None) -> str:
        if seconds is None:
            return ""
        return f"; {name} {1000 * seconds / outcome.count:.2f} ms CPU per request ({seconds / outcome.wall:.2f} cores)"

    say(f"{what}: {outcome.count} in {outcome.wall:.2f} s = {outcome.rate:.0f}/s, p50 {outcome.percentile_ms(50):.1f} ms, "
        f"p95 {outcome.percentile_ms(95):.1f} ms, max {1000 * max(outcome.latencies):.1f} ms"
        + share("server", outcome.server_cpu) + share("PostgreSQL", outcome.postgres_cpu)
        + share("load generator", outcome.client_cpu) + f" on {os.cpu_count()} cores")


def ms(samples: list[float], p: int) -> float:
    return 1000 * percentile(samples, p)


# ---------------------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------------------


def bench_api(
    base_url: str,
    result: Callable[..., None],
    say: Callable[[str], None],
    *,
    sheets: int = 400,
    candidacies: int = 2000,
    clients: int = 8,
    health: int = 2000,
    lists: int = 100,
    rounds: int = 4,
) -> None:
    """d) The HTTP interface: see the module's docstring and bench/README.md."""
    from bench.run import OWNER, SCORED_ON, TENANT, Bench, assessor, progress
    from core.rubric import sheet_for_total

    if min(sheets, health, lists, clients, rounds) < 1:
        raise BenchFailure("the API benchmark needs at least one sheet, health request, list request, client and round")
    if candidacies < 2 * clients:
        raise BenchFailure(f"--api-candidacies must be at least twice --api-clients ({2 * clients})")
    schema = f"civic_bench_{uuid.uuid4().hex[:10]}"
    began = time.perf_counter()
    bench = Bench(base_url, schema)
    server: Server | None = None
    load: Load | None = None
    say(f"d) HTTP interface — schema {schema} (dropped at the end)")
    try:
        # -- set-up through the core ------------------------------------------------------
        app = bench.app
        bench.setup(communities=-(-candidacies // 2))
        targets: list[str] = []
        with progress() as bar:
            task = bar.add_task("d) set-up: approved candidacies", total=candidacies)
            for n in range(candidacies):
                targets.append(bench.candidacy(bench.communities[n // 2], ("meili", "jingpin")[n % 2]))
                bar.advance(task)
        operator = "civic-bench"
        _, owner_token = app.issue_token(operator, TENANT, Role.CITY_OWNER.value, OWNER.id, OWNER.organisation)
        warm = 2 * clients
        total_sheets = warm + sheets
        assessors = clients * -(-total_sheets // candidacies)
        tokens = [app.issue_token(operator, TENANT, Role.ASSESSOR.value, assessor(n).id, "市评估组")[1]
                  for n in range(assessors)]
        say(f"set-up: tenant, {len(bench.communities)} communities, campaign with {candidacies} approved candidacies, "
            f"{assessors + 1} tokens in {time.perf_counter() - began:.0f} s")

        # sheet k: candidacy k mod C by assessor (k div C) * clients + k mod clients: no pair
        # (assessor, candidacy) twice, and the calls in flight together are on distinct candidacies
        sheet_calls = []
        for k in range(total_sheets):
            body = {"kind": "official", "scores": sheet_for_total(bench.rubric, 80 + k % 20), "on": SCORED_ON}
            assert len(body["scores"]) == 60
            who = (k // candidacies) * clients + k % clients
            sheet_calls.append(Call("POST", f"/candidacies/{targets[k % candidacies]}/score-sheets", tokens[who],
                                    json.dumps(body).encode(), 201))
        health_call = Call("GET", "/health")

        # -- the server ---------------------------------------------------------------------
        server = Server(f"{base_url}{'&' if '?' in base_url else '?'}schema={schema}")
        server.wait_ready()
        say(f"civic serve --workers {WORKERS} on http://{server.host}; load: {clients} keep-alive connections")
        load = Load(server, clients)

        # one connection, one request at a time: the trivial endpoint's bare latency. About
        # 40 ms instead of 1-3 means the server's sockets lack TCP_NODELAY: every keep-alive
        # answer after the first waits for the client's delayed ACK (~25 requests/s per connection)
        probe, wire, samples = server.connection(), health_call.wire(server.host), []
        try:
            for _ in range(40):
                t = time.perf_counter()
                status, _ = probe.send(wire)
                samples.append(time.perf_counter() - t)
                if status != 200:
                    raise BenchFailure(f"GET /health answered {status}")
        finally:
            probe.close()
        single = ms(samples[10:], 50)
        result("api_health_sequential_p50", single, "ms", "n/a")
        if single > 20:
            say(f"[yellow]GET /health takes {single:.0f} ms on an idle keep-alive connection: the server's sockets lack "
                "TCP_NODELAY (uvicorn with --workers > 1 listens on a socket created with proto 0, so asyncio never "
                "sets it on accepted connections: Kludex/uvicorn#3149), and every keep-alive answer waits for the "
                "client's delayed ACK. The rates below are capped by that, not by the application.[/yellow]")

        # warm-up: every connection, both workers, the first loads of the campaign
        check("warm-up GET /health", load.run([health_call] * (clients * 25)), say)
        check("warm-up score sheets", load.run(sheet_calls[:warm]), say)

        # -- /health and score sheets, in alternating rounds ---------------------------------
        health_total, sheet_total = Outcome(), Outcome()
        per_health, per_sheets = -(-health // rounds), -(-sheets // rounds)
        with progress() as bar:
            health_task = bar.add_task("d) GET /health", total=health)
            sheet_task = bar.add_task("d) POST score-sheets", total=sheets)
            for r in range(rounds):
                part = [health_call] * max(0, min(per_health, health - r * per_health))
                if part:
                    outcome = load.run(part)
                    check("GET /health", outcome, say)
                    health_total.add(outcome)
                    bar.advance(health_task, len(part))
                start = warm + r * per_sheets
                part = sheet_calls[start:min(start + per_sheets, total_sheets)]
                if part:
                    outcome = load.run(part)
                    check("POST /candidacies/{candidacy_id}/score-sheets", outcome, say)
                    sheet_total.add(outcome)
                    bar.advance(sheet_task, len(part))
        describe("GET /health", health_total, say)
        describe("POST score-sheets (60 items)", sheet_total, say)
        result("api_health_rate", health_total.rate, "requests/s", "n/a", 0)
        result("api_score_sheet_rate", sheet_total.rate, "sheets/s", "n/a", 1)
        result("api_score_sheet_p50", sheet_total.percentile_ms(50), "ms", "n/a")
        result("api_score_sheet_p95", sheet_total.percentile_ms(95), "ms", "n/a")
        result("api_score_sheet_ratio", sheet_total.rate / health_total.rate, "ratio", ">= 0.3", 2)

        # -- the candidacy list of the campaign -----------------------------------------------
        path = f"/campaigns/{bench.campaign}/candidacies"
        plain, detailed = Call("GET", path, owner_token), Call("GET", f"{path}?detail=true&order=ranking", owner_token)
        caught = time.perf_counter()
        _, listed = load.send(load.connections[0], plain)
        catch_up = time.perf_counter() - caught
        rows = json.loads(listed)
        if len(rows) != candidacies:
            raise BenchFailure(f"GET {path} listed {len(rows)} candidacies, expected {candidacies}")
        _, detail = load.send(load.connections[0], detailed)
        scored = sum(row["assessors"] for row in json.loads(detail))
        if scored != total_sheets:
            raise BenchFailure(f"the candidacy list counts {scored} official sheets; {total_sheets} were answered 201")
        say(f"first list request (the read model caught up with the set-up and {total_sheets} sheets): {catch_up:.1f} s; "
            f"the list is {len(listed):,} bytes, {len(detail):,} with detail=true")
        load.sequential(plain, 2 * clients)  # every connection, both workers
        with progress() as bar:
            task = bar.add_task(f"d) GET the list of {candidacies} candidacies", total=2 * lists)
            plain_ms = load.sequential(plain, lists)
            bar.advance(task, lists)
            detailed_ms = load.sequential(detailed, lists)
            bar.advance(task, lists)
        say(f"GET {path}: p50 {ms(plain_ms, 50):.1f} ms, p95 {ms(plain_ms, 95):.1f} ms, max {1000 * max(plain_ms):.1f} ms; "
            f"?detail=true&order=ranking: p50 {ms(detailed_ms, 50):.1f} ms, p95 {ms(detailed_ms, 95):.1f} ms")
        result("api_candidacy_list_p50", ms(plain_ms, 50), "ms", "n/a")
        result("api_candidacy_list_p95", ms(plain_ms, 95), "ms", "<= 50")
        result("api_candidacy_list_detail_p95", ms(detailed_ms, 95), "ms", "n/a")
    finally:
        try:
            if load is not None:
                load.close()
            if server is not None:
                server.stop()
        finally:
            bench.close()
            say(f"schema {schema} dropped; d) took {time.perf_counter() - began:.0f} s")

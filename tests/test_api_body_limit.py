"""Request size limits (api/bodylimit.py): a body over its route's limit is answered 413
before authentication and before it is read, whether it announces its length or streams
in chunks; rubric routes take the larger limit; both limits come from the environment
(and ``civic serve``'s options). Also against the real server, over a raw socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.bodylimit import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RUBRIC_BYTES, BodyLimitMiddleware
from core.errors import ConfigurationError
from core.plugins import PluginHost
from core.rubric_files import MAX_FILE_BYTES
from core.services import CivicLedger
from tests.api_support import ApiWorld
from tests.helpers import TENANT, notification_count

PROBLEM = "application/problem+json"
TOO_LARGE = "https://civic-ledger.org/problems/payload_too_large"
DOC = Path(__file__).resolve().parents[1] / "docs" / "http-api.md"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def world(app) -> ApiWorld:
    world = ApiWorld(app)
    world.setup()
    return world


def requests_logged(world: ApiWorld) -> int:
    log = world.http.app.state.request_log
    with log.side.transaction() as c:
        return c.query(f"SELECT COUNT(*) FROM {log.table}")[0][0]


def too_large(answer: Any, limit: int, kind: str = "default") -> dict[str, Any]:
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert (body["type"], body["title"], body["status"]) == (TOO_LARGE, "请求体过大 Payload too large", 413)
    assert (body["field"], body["allowed"], body["kind"]) == ("body", f"at most {limit} bytes", kind)
    assert f"at most {limit} bytes (route kind: {kind})" in body["detail"]
    return body


def padded_json(payload: dict[str, Any], size: int) -> bytes:
    """``payload`` as JSON of exactly ``size`` bytes (padded with spaces, which JSON ignores)."""
    text = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    assert len(text) <= size
    return text + b" " * (size - len(text))


# --------------------------------------------------------------------------------------
# The application, in process
# --------------------------------------------------------------------------------------


def test_the_defaults():
    assert DEFAULT_MAX_BODY_BYTES == 64 * 1024
    assert DEFAULT_MAX_RUBRIC_BYTES == MAX_FILE_BYTES == 256 * 1024
    middleware = BodyLimitMiddleware(None)
    assert middleware.limit_of("/tenants") == ("default", 65536)
    for path in ("/rubrics", "/rubrics/validate", "/tenants/tianjin/rubrics", "/tenants/tianjin/rubrics/x/versions"):
        assert middleware.limit_of(path) == ("rubric", 262144), path
    for path in ("/rubricsx", "/tenants/tianjin/rubricsx", "/tenants/tianjin/campaigns", "/tenants/a/b/rubrics"):
        assert middleware.limit_of(path)[0] == "default", path


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "GET"])
def test_over_the_limit_without_a_token_is_413_not_401_and_records_nothing(world, method):
    before = notification_count(world.app)
    answer = world.http.request(method, "/tenants", content=b" " * (DEFAULT_MAX_BODY_BYTES + 1),
                                headers={"Content-Type": "application/json"})
    too_large(answer, DEFAULT_MAX_BODY_BYTES)
    assert answer.headers["connection"] == "close"
    assert notification_count(world.app) == before


def test_over_the_limit_with_a_valid_token_and_a_key_records_nothing_and_claims_nothing(world):
    headers = {**world.auth(world.owner), "Idempotency-Key": "big-1"}
    before, logged = notification_count(world.app), requests_logged(world)
    payload = {"code": "xiqing", "name": "西青区"}
    answer = world.http.post("/tenants", headers=headers, content=padded_json(payload, DEFAULT_MAX_BODY_BYTES + 1))
    too_large(answer, DEFAULT_MAX_BODY_BYTES)
    assert (notification_count(world.app), requests_logged(world)) == (before, logged)
    # the key was not claimed: the same key with a body that fits is a first request, not a replay or a 422
    retry = world.http.post("/tenants", headers=headers, json=payload)
    assert retry.status_code != 413 and "Idempotent-Replayed" not in retry.headers
    assert not (retry.status_code == 422 and retry.json().get("field") == "Idempotency-Key"), retry.text


def test_a_body_of_exactly_the_limit_is_handled_as_usual(world):
    body = padded_json({"code": "x"}, DEFAULT_MAX_BODY_BYTES)
    answer = world.http.post("/tenants", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 401, answer.text  # reached authentication
    answer = world.http.post("/tenants", content=body, headers={**world.auth(world.owner), "Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["type"].endswith("/invalid_input"), answer.text  # reached the route


def test_rubric_routes_take_the_larger_limit(world):
    example = world.app.plugins.rubric("tianjin-meili", "2017").rubric.model_dump(mode="json")
    example["version"] = "2017-big"
    big = padded_json(example, 200 * 1024)  # over the default, within the rubric limit
    reader = {**world.auth(world.resident), "Content-Type": "application/json"}
    answer = world.http.post("/rubrics/validate", headers=reader, content=big)
    assert answer.status_code == 200 and answer.json()["ref"] == "tianjin-meili@2017-big", answer.text
    owner = {**world.auth(world.owner), "Content-Type": "application/json"}
    answer = world.http.post(f"/tenants/{TENANT}/rubrics", headers=owner, content=big)
    assert answer.status_code == 201 and answer.json()["ref"] == "tianjin-meili@2017-big", answer.text
    assert world.http.post("/tenants", headers=owner, content=big).status_code == 413  # not a rubric route

    for path in ("/rubrics/validate", f"/tenants/{TENANT}/rubrics", f"/tenants/{TENANT}/rubrics/tianjin-meili/versions"):
        after = notification_count(world.app)
        too_large(world.http.post(path, headers=owner, content=b" " * (DEFAULT_MAX_RUBRIC_BYTES + 1)),
                  DEFAULT_MAX_RUBRIC_BYTES, "rubric")
        assert notification_count(world.app) == after


def test_the_limits_come_from_the_environment(app, monkeypatch):
    monkeypatch.setenv("CIVIC_MAX_BODY_BYTES", "100")
    monkeypatch.setenv("CIVIC_MAX_RUBRIC_BYTES", "2_000")
    world = ApiWorld(app)
    too_large(world.http.post("/tenants", content=b" " * 101), 100)
    assert world.http.post("/tenants", content=b" " * 100).status_code == 401
    too_large(world.http.post("/rubrics/validate", content=b"#" * 2001), 2000, "rubric")
    assert world.http.post("/rubrics/validate", content=b"#" * 2000).status_code == 401

    monkeypatch.setenv("CIVIC_MAX_BODY_BYTES", "")
    assert ApiWorld(app).http.post("/tenants", content=b" " * 1000).status_code == 401  # empty: the default


@pytest.mark.parametrize("value", ["lots", "-1", "0", "1.5", "1e6"])
def test_a_bad_limit_in_the_environment_stops_the_application_from_starting(monkeypatch, value):
    monkeypatch.setenv("CIVIC_MAX_RUBRIC_BYTES", value)
    with pytest.raises(ConfigurationError, match="CIVIC_MAX_RUBRIC_BYTES"):
        create_app(CivicLedger("memory://", plugins=PluginHost()))


# Straight ASGI calls: what the middleware reads of a body, message by message.


def call(app: Any, method: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> tuple[list[dict], int]:
    """The messages the application sends, and how many times it asked for the body."""
    asked = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal asked
        asked += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return sent, asked


def chunks(count: int, size: int = 16 * 1024) -> Iterator[bytes]:
    return (b" " * size for _ in range(count))


def status_and_body(sent: list[dict]) -> tuple[int, dict]:
    (start, *bodies) = sent
    return start["status"], json.loads(b"".join(m.get("body", b"") for m in bodies))


def test_a_content_length_over_the_limit_is_answered_without_reading_the_body(world):
    sent, asked = call(world.http.app, "POST", "/tenants", {"Content-Length": str(100_000_000)}, chunks(10_000))
    assert asked == 0
    status, body = status_and_body(sent)
    assert status == 413 and body["allowed"] == "at most 65536 bytes"
    assert (b"connection", b"close") in sent[0]["headers"]


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit(world):
    headers = {**world.auth(world.owner), "Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    before = notification_count(world.app)
    sent, asked = call(world.http.app, "POST", "/tenants", headers, chunks(10_000))
    assert asked == DEFAULT_MAX_BODY_BYTES // (16 * 1024) + 1  # the chunk that passes the limit is the last one read
    status, body = status_and_body(sent)
    assert status == 413 and body["type"] == TOO_LARGE
    assert len([m for m in sent if m["type"] == "http.response.start"]) == 1  # the application's own answer is dropped
    assert notification_count(world.app) == before

    sent, asked = call(world.http.app, "POST", "/rubrics/validate", headers, chunks(10_000))
    assert asked == DEFAULT_MAX_RUBRIC_BYTES // (16 * 1024) + 1
    assert status_and_body(sent)[1]["kind"] == "rubric"


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS"])
def test_a_chunked_body_on_any_method_is_cut_off_past_the_limit_too(world, method):
    """A method that takes no body is no way round the limit: it is counted as it arrives."""
    headers = {**world.auth(world.owner), "Transfer-Encoding": "chunked"}
    sent, asked = call(world.http.app, method, "/tenants", headers, chunks(10_000))
    assert asked == DEFAULT_MAX_BODY_BYTES // (16 * 1024) + 1
    assert sent[0]["status"] == 413
    if method != "HEAD":
        assert status_and_body(sent)[1]["type"] == TOO_LARGE


def test_every_operation_declares_the_413(world):
    document = world.http.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "413" in operation["responses"], (method, path)


def test_a_chunked_body_within_the_limit_is_handled_as_usual(world):
    body = padded_json({"code": "x"}, DEFAULT_MAX_BODY_BYTES)  # exactly the limit, in four chunks
    pieces = iter([body[n:n + 16 * 1024] for n in range(0, len(body), 16 * 1024)])
    sent, asked = call(world.http.app, "POST", "/tenants", {"Transfer-Encoding": "chunked"}, pieces)
    assert status_and_body(sent)[0] == 401 and asked == 5  # read to its end, then authentication


def test_a_body_longer_than_its_content_length_is_counted_too(world):
    sent, _ = call(world.http.app, "POST", "/tenants", {"Content-Length": "10"}, chunks(10_000))
    assert status_and_body(sent)[0] == 413


@pytest.mark.parametrize("values", [["abc"], ["-5"], ["1e9"], [" "], ["10", "20"], ["１２"]])
def test_a_malformed_content_length_is_a_400_problem(world, values):
    scope_headers = [("content-length", v) for v in values]
    app = world.http.app
    sent: list[dict] = []
    asked = 0

    async def receive() -> dict:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/tenants", "raw_path": b"/tenants", "root_path": "", "query_string": b"",
             "headers": [(k.encode(), v.encode("utf-8")) for k, v in scope_headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    status, body = status_and_body(sent)
    assert status == 400 and body["field"] == "Content-Length" and asked == 0, body


def test_the_docs_state_the_limits_and_the_413():
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Request size limits"):text.index("## Safe retries")]
    for fragment in ("CIVIC_MAX_BODY_BYTES", "CIVIC_MAX_RUBRIC_BYTES", "64 KiB", "65536", "256 KiB", "262144",
                     "--max-body-bytes", "--max-rubric-bytes", "payload_too_large", "chunked"):
        assert fragment in section, fragment
    assert "| 413 |" in text
    from api.app import DESCRIPTION
    assert "413" in DESCRIPTION


# --------------------------------------------------------------------------------------
# The real server
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(folder: Path, *options: str) -> Iterator[int]:
    """``civic serve OPTIONS`` on a free port over a SQLite store in ``folder``; gives the port."""
    port = free_port()
    env = {**os.environ, "CIVIC_DATABASE_URL": f"sqlite:///{folder}/civic.sqlite3"}
    env.pop("CIVIC_MAX_BODY_BYTES", None)
    env.pop("CIVIC_MAX_RUBRIC_BYTES", None)
    log_path = folder / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from core.cli import main; sys.argv[0] = 'civic'; main()",
             "serve", "--host", "127.0.0.1", "--port", str(port), *options],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    pytest.fail(f"civic serve exited with {process.returncode}: {log_path.read_text()[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                        c.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                        if c.recv(100).startswith(b"HTTP/1.1 200"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"civic serve did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[int]:
    """``civic serve`` with the default limits; yields the port."""
    with running_server(tmp_path_factory.mktemp("serve")) as port:
        yield port


def answer_head(sock: socket.socket, within: float) -> bytes:
    """What the server answers (at least its status line and headers) within ``within`` seconds."""
    sock.settimeout(within)
    data = b""
    deadline = time.monotonic() + within
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_the_server_answers_a_100_mb_content_length_with_413_at_once(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"POST /tenants HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000\r\n\r\n")
        sock.sendall(b"{" + b" " * 4095)
        sent = time.monotonic()
        head = answer_head(sock, within=1.0)
        assert time.monotonic() - sent < 1.0
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"application/problem+json" in head and b"connection: close" in head.lower()


def test_the_server_cuts_off_a_chunked_body_past_the_limit(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"POST /tenants HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(5):  # 80 KiB, never finished
            sock.sendall(b"4000\r\n" + b" " * 0x4000 + b"\r\n")
        sent = time.monotonic()
        head = answer_head(sock, within=1.0)
        assert time.monotonic() - sent < 1.0
    assert head.startswith(b"HTTP/1.1 413"), head


def test_the_server_still_answers_small_requests(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        body = b'{"code": "x", "name": "y"}'
        sock.sendall(b"POST /tenants HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        head = answer_head(sock, within=5.0)
    assert head.startswith(b"HTTP/1.1 401"), head


def test_civic_serve_sets_the_limits_from_its_options(tmp_path):
    with running_server(tmp_path, "--max-body-bytes", "100", "--max-rubric-bytes", "300") as port:
        for path, size, limit in (("/tenants", 101, 100), ("/rubrics/validate", 301, 300), ("/tenants", 100, None)):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                             f"Content-Length: {size}\r\n\r\n".encode() + b" " * size)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            if limit is None:
                assert answer.startswith(b"HTTP/1.1 401"), answer
            else:
                assert answer.startswith(b"HTTP/1.1 413") and f"at most {limit} bytes".encode() in answer, answer


def test_civic_serve_describes_the_options():
    from typer.testing import CliRunner

    from core.cli import app as cli

    result = CliRunner().invoke(cli, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for fragment in ("--max-body-bytes", "请求体上限", "CIVIC_MAX_BODY_BYTES", "--max-rubric-bytes", "评分标准文件上限",
                     "CIVIC_MAX_RUBRIC_BYTES"):
        assert fragment in text, fragment

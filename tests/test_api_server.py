"""How ``civic serve`` speaks HTTP (api/server.py): a request its parser cannot read at all
is answered 400 with a problem document, like every other refusal, on both parsers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from api import server as serving_module
from tests.api_support import serving

PROTOCOLS = [serving_module.NoDelayH11Protocol]
if serving_module.HttpToolsProtocol is not None:
    PROTOCOLS.append(serving_module.NoDelayHttpToolsProtocol)

UNREADABLE = {
    "content-length-not-a-number": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
    "two-content-lengths": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "control-byte-in-a-header": b"GET / HTTP/1.1\r\nHost: t\r\nX-Note: a\x01b\r\n\r\n",
    "nul-in-a-header-name": b"GET / HTTP/1.1\r\nHost: t\r\nX-\x00: a\r\n\r\n",
    "broken-request-line": b"GET\x7f / HTTP/1.1\r\nHost: t\r\n\r\n",
}


async def app(scope, receive, send) -> None:  # the application is never reached by these requests
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"reached"})


@pytest.fixture(params=PROTOCOLS, ids=lambda p: p.__name__)
def port(request) -> Iterator[int]:
    with serving(app, http=request.param) as free:
        yield free


def exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("raw", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_request_is_a_400_problem_document_and_the_connection_closes(request, port, raw):
    if raw == UNREADABLE["control-byte-in-a-header"] and "H11" in request.node.callspec.id:
        pytest.skip("h11 (the fallback parser) hands a control byte in a header value to the application, "
                    "which never records a header")
    answer = exchange(port, raw)  # returns only once the server has closed the connection
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 400 Bad Request", answer
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(b":", 1) for line in lines[1:])}
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"connection"] == b"close"
    problem = json.loads(body)
    assert int(headers[b"content-length"]) == len(body)
    assert problem["type"] == "https://civic-ledger.org/problems/bad_request"
    assert (problem["status"], problem["field"], problem["title"]) == (400, "request", "请求错误 Bad request")
    assert "nothing was recorded" in problem["detail"] and "HTTP/1.1" in problem["allowed"]


def test_a_readable_request_still_reaches_the_application(port):
    answer = exchange(port, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and b"reached" in answer

"""How ``civic serve`` runs the application under uvicorn.

HTTP/1.1 is parsed by httptools (C) when it is installed, else by h11 (pure Python);
either way every connection gets ``TCP_NODELAY``, and a request the parser cannot read at
all (a malformed ``Content-Length``, a control byte in a header, a broken request line) is
answered like every other refusal: 400 ``application/problem+json`` (``bad_request``,
``field: request``) and the connection is closed. The event loop is uvloop when it is
installed (uvicorn's ``loop="auto"``).
"""

from __future__ import annotations

import json
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import MEDIA_TYPE, TYPE_BASE

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def set_nodelay(transport: Any) -> None:  # noqa: ANN401
    """``TCP_NODELAY`` on the connection's socket (TCP only).

    With ``--workers N`` uvicorn shares a listening socket created without a protocol
    number, and asyncio then leaves Nagle's algorithm on for accepted connections: every
    answer after the first on a kept-alive connection waited for the client's delayed
    acknowledgement (about 40 ms). Setting the option here covers every way of serving.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def unreadable_request(reason: str) -> bytes:
    """The problem document for a request the HTTP parser could not read (``reason`` is the
    parser's own words)."""
    detail = (f"请求无法按 HTTP/1.1 解析，未记录任何内容 the request could not be read as HTTP/1.1 "
              f"({reason.strip() or 'malformed request'}); nothing was recorded")
    return json.dumps({
        "type": TYPE_BASE + "bad_request", "title": "请求错误 Bad request", "status": 400, "detail": detail,
        "field": "request", "allowed": "an HTTP/1.1 request (RFC 9112): one whole-number Content-Length at most, "
                                      "no control characters in header names or values",
    }, ensure_ascii=False).encode("utf-8")


def _problem_head(body: bytes) -> list[bytes]:
    return [b"content-type: " + MEDIA_TYPE.encode("ascii") + b"\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n", b"connection: close\r\n"]


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 HTTP/1.1 protocol with ``TCP_NODELAY`` on every connection; an
    unreadable request is answered with a problem document."""

    def connection_made(self, transport: Any) -> None:  # noqa: ANN401
        set_nodelay(transport)
        super().connection_made(transport)

    def send_400_response(self, msg: str) -> None:
        body = unreadable_request(msg)
        headers = [(b"content-type", MEDIA_TYPE.encode("ascii")), (b"content-length", str(len(body)).encode("ascii")),
                   (b"connection", b"close")]
        self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


if HttpToolsProtocol is not None:

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools HTTP/1.1 protocol with ``TCP_NODELAY`` on every connection."""

        def connection_made(self, transport: Any) -> None:  # noqa: ANN401
            set_nodelay(transport)
            super().connection_made(transport)

        def send_400_response(self, msg: str) -> None:
            body = unreadable_request(msg)
            head = [b"HTTP/1.1 400 Bad Request\r\n"]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            self.transport.write(b"".join(head + _problem_head(body) + [b"\r\n", body]))
            self.transport.close()


def http_protocol() -> str:
    """The protocol class for uvicorn's ``http`` setting (an import string, so that every
    worker process imports it itself)."""
    return "api.server:NoDelayHttpToolsProtocol" if HttpToolsProtocol is not None else "api.server:NoDelayH11Protocol"

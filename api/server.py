"""How ``civic serve`` runs the application under uvicorn.

HTTP/1.1 is parsed by httptools (C) when it is installed, else by h11 (pure Python);
either way every connection gets ``TCP_NODELAY``. The event loop is uvloop when it is
installed (uvicorn's ``loop="auto"``).
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

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


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 HTTP/1.1 protocol with ``TCP_NODELAY`` on every connection."""

    def connection_made(self, transport: Any) -> None:  # noqa: ANN401
        set_nodelay(transport)
        super().connection_made(transport)


if HttpToolsProtocol is not None:

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools HTTP/1.1 protocol with ``TCP_NODELAY`` on every connection."""

        def connection_made(self, transport: Any) -> None:  # noqa: ANN401
            set_nodelay(transport)
            super().connection_made(transport)


def http_protocol() -> str:
    """The protocol class for uvicorn's ``http`` setting (an import string, so that every
    worker process imports it itself)."""
    return "api.server:NoDelayHttpToolsProtocol" if HttpToolsProtocol is not None else "api.server:NoDelayH11Protocol"

"""How ``civic serve`` runs the application under uvicorn."""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with ``TCP_NODELAY`` on every connection.

    With ``--workers N`` uvicorn shares a listening socket created without a protocol
    number, and asyncio then leaves Nagle's algorithm on for accepted connections: every
    answer after the first on a kept-alive connection waited for the client's delayed
    acknowledgement (about 40 ms). Setting the option here covers every way of serving.
    """

    def connection_made(self, transport: Any) -> None:  # noqa: ANN401
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        super().connection_made(transport)

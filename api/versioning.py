"""Optimistic concurrency over HTTP: ``ETag`` carries a stream's version, ``If-Match``
names the version a write expects (409 when the stream has moved on)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any
from uuid import UUID

from fastapi import Request, Response

from core.errors import InvalidInput
from core.services import CivicLedger

_TAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def if_match(request: Request) -> int | None:
    """The version named by ``If-Match`` (``"3"``, ``3`` or ``W/"3"``), or None."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    match = _TAG.match(raw)
    if not match or int(match.group(1)) < 1:
        raise InvalidInput("If-Match", raw, 'the ETag of the resource, e.g. "3" (its version)')
    return int(match.group(1))


@contextmanager
def expect(ledger: CivicLedger, request: Request, stream_id: Any) -> Iterator[dict[UUID, int]]:
    """Run a write under the request's ``If-Match`` for ``stream_id`` (if it sent one).
    Yields the versions the write's saved streams reached (see
    :meth:`~core.services.base.LedgerBase.noting_saves`), filled in when the block ends."""
    version = if_match(request)
    with ledger.noting_saves() as saved, ledger.expecting(stream_id, version) if version is not None else nullcontext():
        yield saved


def version_after(saved: dict[UUID, int], stream_id: str, current: Callable[[], int]) -> int:
    """The version ``stream_id`` reached by the request's own write, else ``current()``."""
    try:
        return saved[UUID(stream_id)]
    except (KeyError, ValueError):
        return current()

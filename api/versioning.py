"""Optimistic concurrency over HTTP: ``ETag`` carries a stream's version, ``If-Match``
names the version a write expects (409 when the stream has moved on)."""

from __future__ import annotations

import re
from collections.abc import Iterator
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


def saved_version(ledger: CivicLedger, saved: dict[UUID, int], stream_id: Any) -> int:
    """The version the request's own write gave ``stream_id`` (see :func:`expect`); read
    from the store only when the write did not save that stream."""
    uid = UUID(str(stream_id))
    found = saved.get(uid)
    return found if found is not None else ledger.repository.get(uid, deepcopy_from_cache=False).version


def acted(stream_id: Any, version: int, **extra: Any) -> dict[str, Any]:
    """The answer to an action: the stream it changed and the stream's new version."""
    return {"id": str(stream_id), "version": version, **extra}


def written(ledger: CivicLedger, saved: dict[UUID, int], stream_id: Any, **extra: Any) -> dict[str, Any]:
    """:func:`acted` with the version the request's write gave the stream (its id as the
    platform prints it)."""
    return acted(UUID(str(stream_id)), saved_version(ledger, saved, stream_id), **extra)

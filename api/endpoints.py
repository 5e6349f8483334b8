"""How the routes run: a plain (blocking) route function runs in ONE worker-thread call.

FastAPI runs a plain function endpoint in the thread pool and then, when the function has
a return annotation, validates its answer in the thread pool again. Each hand-over to a
worker thread and back costs several times what the trivial endpoint's whole request
does, so :class:`LedgerRoute` turns every plain route function into a coroutine that
makes exactly one such call; the answer is validated and serialised on the event loop,
where FastAPI serialises it anyway. Route functions stay plain functions: they block on
the store, and must not run on the event loop.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def in_worker_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a coroutine function that runs it in the thread pool (same
    signature and annotations, for FastAPI's parameters and the OpenAPI description)."""

    @functools.wraps(function)
    async def endpoint(**kwargs: Any) -> Any:
        return await run_in_threadpool(function, **kwargs)

    return endpoint


class LedgerRoute(APIRoute):
    """An API route whose plain endpoint function runs in one worker-thread call."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_worker_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


"""How a use case's transactions become an HTTP status: the one place that maps "pending" (the outbox
status) to 202; and how an endpoint that answers one transaction is run."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import ParamSpec, TypeVar

from fastapi import Response, status
from starlette.concurrency import run_in_threadpool

from ledger_core.chain.outbox import TxRecord
from ledger_service.services.sending import pending

P = ParamSpec("P")
T = TypeVar("T")


def status_of(records: Iterable[TxRecord], done: int = status.HTTP_200_OK) -> int:
    """202 while any transaction is still on its way, `done` otherwise."""
    return status.HTTP_202_ACCEPTED if any(pending(r) for r in records) else done


def answer(response: Response, *records: TxRecord, done: int = status.HTTP_200_OK) -> None:
    response.status_code = status_of(records, done)


def one_trip(endpoint: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """A blocking endpoint whose answer is small: run in the thread pool once, its answer shaped on the event
    loop. FastAPI would take a blocking endpoint's answer through the pool a second time to validate it
    against the response model, a trip as costly as the validation of one transaction is cheap. The
    signature is the endpoint's own, so its parameters and dependencies are too."""

    @functools.wraps(endpoint)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return run

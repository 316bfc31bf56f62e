"""How a use case's transactions become an HTTP status: the one place that maps "pending" (the outbox
status) to 202."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Response, status

from ledger_core.chain.outbox import TxRecord
from ledger_service.services.sending import pending


def status_of(records: Iterable[TxRecord], done: int = status.HTTP_200_OK) -> int:
    """202 while any transaction is still on its way, `done` otherwise."""
    return status.HTTP_202_ACCEPTED if any(pending(r) for r in records) else done


def answer(response: Response, *records: TxRecord, done: int = status.HTTP_200_OK) -> None:
    response.status_code = status_of(records, done)

"""Snapshots of a service runtime on the embedded chain, so each test starts from the same state.

A snapshot is the chain's (`evm_snapshot`), the outbox's last row id and the time. Reverting takes the chain
back, deletes the outbox rows and the requests' idempotency keys written since, drops what the runtime cached
of the chain (nonces, receipts, member views) and rolls the event index back to the chain's head. A key left
behind would answer a later test's identical request (the same key and body) with the stored reply of one whose
transactions the chain no longer has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from ledger_core.db.models.outbox import IdempotencyRecord, OutboxTransaction
from ledger_core.db.models.types import utc_now
from ledger_service.runtime import Runtime


@dataclass(frozen=True)
class RuntimeSnapshot:
    chain: int
    last_outbox_id: int
    taken_at: datetime


def snapshot(runtime: Runtime) -> RuntimeSnapshot:
    """The runtime's chain and outbox as they stand (the embedded chain only)."""
    embedded = runtime.chain.embedded
    assert embedded is not None, "snapshots need the embedded chain"
    with runtime.chain.exclusive():
        chain_snapshot = embedded.snapshot()
    with runtime.sessions() as session:
        last_id = session.scalar(select(func.max(OutboxTransaction.id))) or 0
    return RuntimeSnapshot(chain_snapshot, int(last_id), utc_now())


def revert(runtime: Runtime, taken: RuntimeSnapshot) -> None:
    """Back to `taken`: the chain's state, and the outbox rows and idempotency keys written since; cached nonces
    and member views are dropped and the index is rolled back to the chain's head."""
    embedded = runtime.chain.embedded
    assert embedded is not None, "snapshots need the embedded chain"
    with runtime.chain.exclusive():
        embedded.revert(taken.chain)
    with runtime.sessions.begin() as session:
        session.execute(delete(OutboxTransaction).where(OutboxTransaction.id > taken.last_outbox_id))
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at >= taken.taken_at))
    runtime.outbox.forget_chain_view()
    runtime.chain.forget_receipts()
    runtime.directory.forget()
    runtime.indexing.rollback_to_head()

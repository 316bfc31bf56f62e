"""Sending on behalf of a caller: custodial key check, preflight policy, refusals and 503s; the caller's
idempotency claim goes with the outbox write."""

from __future__ import annotations

from collections.abc import Sequence

from ledger_service.api.deps import Caller
from ledger_service.api.errors import ApiError, ChainBusy, TransactionRefused
from ledger_service.chain.outbox import Intent, SendDeferred, TxRecord
from ledger_service.db.models.outbox import OutboxStatus
from ledger_service.runtime import Runtime


def require_custodial(runtime: Runtime, caller: Caller) -> None:
    if not runtime.keystore.has(caller.address):
        raise ApiError(409, "NonCustodialMember",
                       f"the service keeps no key for {caller.address}: sign the transaction and relay it "
                       "(POST /api/v1/transactions/relay)", {"account": caller.address})


def send(runtime: Runtime, caller: Caller, intents: Sequence[Intent], wait: bool = True,
         batch: bool = False, refuse: bool = True) -> list[TxRecord]:
    """Submit through the outbox (requests that are not batches are group-committed with concurrent ones,
    see `GroupCommit`). A single transaction refused by the chain raises TransactionRefused
    (unless `refuse` is false); a chain or database that failed after the rows were written raises ChainBusy
    with the outbox ids. The caller's Idempotency-Key claim is recorded with the rows; a key another request
    holds raises the outbox's DuplicateRequest (answered as a replay)."""
    require_custodial(runtime, caller)
    policy = runtime.settings.preflight
    preflight = policy == "all" or (policy == "single" and not batch)
    try:
        submit = runtime.outbox.submit_grouped if runtime.settings.group_commit and not batch else runtime.outbox.submit
        records = submit(intents, preflight=preflight, wait=wait, timeout=runtime.settings.receipt_timeout_seconds,
                         claim=caller.idempotency)
    except SendDeferred as exc:
        raise ChainBusy(str(exc), exc.outbox_ids, getattr(exc, "dependency", "chain")) from None
    if refuse and len(records) == 1 and records[0].status in (OutboxStatus.REJECTED, OutboxStatus.FAILED):
        raise TransactionRefused(records[0], caller.address)
    return records

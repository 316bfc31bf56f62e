"""Sending on behalf of a caller: the custodial key check, the preflight policy, refusals and deferrals;
the caller's idempotency claim goes with the outbox write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ledger_core.chain.outbox import Intent, Outbox, SendDeferred, TxRecord, WouldRevert
from ledger_core.config import Settings
from ledger_core.db.models.outbox import PENDING_STATUSES, OutboxStatus
from ledger_service.identity.keystore import KeyStore
from ledger_service.services.caller import Caller
from ledger_service.services.errors import ChainBusy, Refusal, TransactionRefused


def pending(record: TxRecord) -> bool:
    """The one way to say a transaction is still on its way (answered 202 at the HTTP edge)."""
    return record.status in PENDING_STATUSES


@contextmanager
def _busy_when_deferred() -> Iterator[None]:
    """Rows written before the chain or the database failed: ChainBusy with their outbox ids."""
    try:
        yield
    except SendDeferred as exc:
        raise ChainBusy(str(exc), exc.outbox_ids, getattr(exc, "dependency", "chain")) from None


def _refused_if_one(records: list[TxRecord], caller: Caller) -> list[TxRecord]:
    """A single transaction the chain refused raises TransactionRefused."""
    if len(records) == 1 and records[0].status in (OutboxStatus.REJECTED, OutboxStatus.FAILED):
        raise TransactionRefused(records[0], caller.address)
    return records


def _nothing_to_check() -> None:
    """The check of a use case whose only refusals are the contract's own."""


@dataclass(frozen=True)
class Sender:
    outbox: Outbox
    keystore: KeyStore
    settings: Settings

    def require_custodial(self, caller: Caller) -> None:
        if not self.keystore.has(caller.address):
            raise Refusal(409, "NonCustodialMember",
                          f"the service keeps no key for {caller.address}: sign the transaction and relay it "
                          "(POST /api/v1/transactions/relay)", {"account": caller.address})

    def send(self, caller: Caller, intents: Sequence[Intent], wait: bool = True, batch: bool = False,
             refuse: bool = True, preflight: bool | None = None) -> list[TxRecord]:
        """Submit through the outbox (requests that are not batches are group-committed with concurrent ones,
        see `GroupCommit`). A single transaction refused by the chain raises TransactionRefused (unless `refuse`
        is false); a chain or database that failed after the rows were written raises ChainBusy with the outbox
        ids. The caller's Idempotency-Key claim is recorded with the rows; a key another request holds raises the
        outbox's DuplicateRequest (answered as a replay). `preflight` overrides the policy (False: the caller
        has just simulated these intents, see `send_checked`)."""
        self.require_custodial(caller)
        if preflight is None:
            preflight = self.preflights(batch)
        timeout = self.settings.receipt_timeout_seconds
        with _busy_when_deferred():
            if self.settings.group_commit and not batch:
                records = self.outbox.submit_grouped(intents, preflight=preflight, wait=wait, timeout=timeout,
                                                     claim=caller.idempotency)
            else:  # a batch records "sent" with its receipts, as a group does
                records = self.outbox.submit(intents, preflight=preflight, wait=wait, timeout=timeout,
                                             claim=caller.idempotency, sent_with_receipts=batch)
        return _refused_if_one(records, caller) if refuse else records

    async def require_custodial_async(self, caller: Caller) -> None:
        """`require_custodial` on the event loop: a key open in this process is not looked up again."""
        if not self.keystore.opened(caller.address):
            await asyncio.to_thread(self.require_custodial, caller)

    async def send_async(self, caller: Caller, intents: Sequence[Intent], check: Callable[[], None] | None = None,
                         wait: bool = True) -> list[TxRecord]:
        """`send_checked` for a request served on the event loop: the intents join the group commit without a
        thread of their own and are simulated with the group's (one JSON-RPC batch) before anything is
        written. When one would revert, `check` and the usual send run in the thread pool, exactly as
        `send_checked` does, so a refusal is answered the same way. Without `check` (the contract's own
        refusal is the answer) the usual send's preflight refuses the intents, as it would a blocking caller's."""
        await self.require_custodial_async(caller)
        check = check or _nothing_to_check
        if not (self.settings.group_commit and self.preflights(batch=False)):
            return await asyncio.to_thread(self.send_checked, caller, intents, check, wait)
        try:
            with _busy_when_deferred():
                records = await self.outbox.group.submit_async(intents, False, wait,
                                                               self.settings.receipt_timeout_seconds,
                                                               caller.idempotency, simulate=True)
        except WouldRevert:
            def refused_or_sent() -> list[TxRecord]:
                check()
                return self.send(caller, intents, wait=wait)
            return await asyncio.to_thread(refused_or_sent)
        return _refused_if_one(records, caller)

    def preflights(self, batch: bool) -> bool:
        policy = self.settings.preflight
        return policy == "all" or (policy == "single" and not batch)

    def send_checked(self, caller: Caller, intents: Sequence[Intent], check: Callable[[], None],
                     wait: bool = True) -> list[TxRecord]:
        """Send intents that `check` (the use case's own reads, raising its refusals) would otherwise vet before
        the preflight: the intents are simulated once, and when none reverts they go out with no further check
        or preflight (one eth_call per request instead of a read and a preflight). When one reverts, `check`
        runs and the intents go the usual way, so a refusal is answered exactly as without the simulation."""
        self.require_custodial(caller)
        if self.preflights(batch=False):
            outcomes = self.outbox.simulate(intents)
            if outcomes is not None and all(o is None for o in outcomes):
                return self.send(caller, intents, wait=wait, preflight=False)
        check()
        return self.send(caller, intents, wait=wait)

    def send_one(self, caller: Caller, intent: Intent, wait: bool = True) -> TxRecord:
        (record,) = self.send(caller, [intent], wait=wait)
        return record

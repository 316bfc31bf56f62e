"""Anchor built batches through `MeterAnchor`: one transaction per enterprise window, idempotently.

A batch goes built -> sent (transaction hash recorded) -> anchored (anchor id recorded),
committing after each step. Before sending, the contract is asked whether the window is
already anchored: if so with the same root, the batch is simply marked anchored (this
recovers a crash after sending); with another root it is an `AnchorConflict`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.contract import Contract
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD

from ledger_core.chain.sender import TransactionFailedOnChain, TransactionSender
from ledger_core.db.models import BatchStatus, MeterBatch
from oracles import merkle_sum as ms
from oracles.batches import built_batch
from oracles.canonical import factor_set_hash
from oracles.devices import DeviceInfo


class AnchorConflict(RuntimeError):
    """The chain holds an anchor for this enterprise window with a different root."""


class OnChainAnchor(NamedTuple):
    enterprise_org_id: int
    window_start: int
    window_end: int
    root: bytes
    factor_set_id: bytes
    total_mg: int
    reading_count: int
    previous_anchor_id: int
    oracle: str
    anchored_at: int
    measure: int


class MeterAnchorClient:
    """The oracle's handle on `MeterAnchor`: views, anchoring and device registration."""

    def __init__(self, contract: Contract, sender: TransactionSender | None) -> None:
        self.contract = contract
        self._sender = sender  # None: a read-only client (views only, no oracle key)

    @property
    def sender(self) -> TransactionSender:
        if self._sender is None:
            raise RuntimeError("this MeterAnchor client is read-only (no oracle key): it cannot send transactions")
        return self._sender

    def anchor_id_of(self, enterprise_org_id: int, measure: int, window_start: int, window_end: int) -> int:
        return int(self.contract.functions.anchorIdOf(enterprise_org_id, measure, window_start, window_end).call())

    def get_anchor(self, anchor_id: int) -> OnChainAnchor:
        return OnChainAnchor(*self.contract.functions.getAnchor(anchor_id).call())

    def send_anchor(self, enterprise_org_id: int, measure: int, window_start: int, window_end: int, factor_set: str,
                    facilities_root: ms.Node) -> HexBytes:
        fn = self.contract.functions.anchor(
            enterprise_org_id, measure, window_start, window_end, factor_set_hash(factor_set),
            facilities_root.hash, facilities_root.sum, facilities_root.count,
        )
        return self.sender.send_raw(fn.address, fn._encode_transaction_data())

    def anchored_id(self, tx_hash: HexBytes, timeout: float = 120) -> int:
        """Wait for an anchor transaction and return the id of the anchor it created."""
        receipt = self.sender.wait(tx_hash, timeout=timeout)
        events = self.contract.events.Anchored().process_receipt(receipt, errors=DISCARD)
        if not events:
            raise RuntimeError(f"transaction {tx_hash.hex()} emitted no Anchored event")
        return int(events[0]["args"]["anchorId"])

    def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node knows the transaction (pending or mined)."""
        try:
            self.sender.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def verify_reading(self, anchor_id: int, digest: bytes, value: int, steps: Sequence[ms.Step]
                       ) -> tuple[bool, list[ms.Subtotal]]:
        valid, subtotals = self.contract.functions.verifyReading(
            anchor_id, digest, value, [s.as_tuple() for s in steps]
        ).call()
        return bool(valid), [ms.Subtotal(int(lv), bytes(i), int(s), int(c)) for lv, i, s, c in subtotals]


def register_devices_on_chain(contract: Contract, sender: TransactionSender, devices: Sequence[DeviceInfo]) -> int:
    """Register devices in `MeterAnchor` (as an enterprise member of their organisation or a
    regulator); devices already registered are skipped. Returns how many were registered."""
    registered = 0
    for d in devices:
        try:
            contract.functions.getDevice(d.device_hash).call()
            continue
        except Exception:  # UnknownDevice: not yet registered
            pass
        fn = contract.functions.registerDevice(
            d.device_hash, d.enterprise_org_id, d.facility_id, d.workshop_id, d.public_key_hash
        )
        sender.transact(fn)
        registered += 1
    return registered


@dataclass(frozen=True)
class AnchorOutcome:
    batch_id: int
    enterprise_org_id: int
    window_start: int
    window_end: int
    anchor_id: int
    root: bytes
    action: str  # "anchored", "recovered" (found on chain) or "already" (nothing to do)


def _mark_anchored(batch: MeterBatch, anchor_id: int) -> None:
    batch.status = BatchStatus.ANCHORED
    batch.anchor_id = anchor_id
    batch.anchored_at = datetime.now(UTC)


def anchor_batch(session: Session, client: MeterAnchorClient, batch: MeterBatch) -> AnchorOutcome:
    """Bring one built (or sent) batch to anchored; commits after each state change."""

    def outcome(action: str) -> AnchorOutcome:
        assert batch.anchor_id is not None and batch.root is not None
        return AnchorOutcome(batch.id, batch.enterprise_org_id, batch.window_start, batch.window_end,
                             batch.anchor_id, batch.root, action)

    if batch.status == BatchStatus.ANCHORED:
        return outcome("already")
    built = built_batch(batch)
    existing = client.anchor_id_of(built.enterprise_org_id, built.measure, built.window_start, built.window_end)
    if existing:
        on_chain = client.get_anchor(existing)
        if on_chain.root != built.root:
            raise AnchorConflict(
                f"enterprise {built.enterprise_org_id} window [{built.window_start}, {built.window_end}) is anchored "
                f"as {existing} with root 0x{on_chain.root.hex()}, but batch {built.batch_id} has root "
                f"0x{built.root.hex()}"
            )
        _mark_anchored(batch, existing)
        session.commit()
        return outcome("recovered")
    if batch.status == BatchStatus.SENT and batch.tx_hash and client.transaction_known(batch.tx_hash):
        # Broadcast earlier: wait for it rather than send a second transaction; resend if it failed.
        try:
            anchor_id = client.anchored_id(HexBytes(batch.tx_hash))
        except TransactionFailedOnChain:
            anchor_id = 0
        if anchor_id:
            return _finish(session, batch, built.root, client, anchor_id, "recovered")
    tx_hash = client.send_anchor(built.enterprise_org_id, built.measure, built.window_start, built.window_end,
                                 built.factor_set, built.facilities_root)
    batch.status = BatchStatus.SENT
    batch.tx_hash = "0x" + bytes(tx_hash).hex()
    session.commit()
    return _finish(session, batch, built.root, client, client.anchored_id(tx_hash), "anchored")


def _finish(session: Session, batch: MeterBatch, root: bytes, client: MeterAnchorClient, anchor_id: int,
            action: str) -> AnchorOutcome:
    on_chain = client.get_anchor(anchor_id)
    if on_chain.root != root:
        raise AnchorConflict(f"anchor {anchor_id} has root 0x{on_chain.root.hex()}, expected 0x{root.hex()}")
    _mark_anchored(batch, anchor_id)
    session.commit()
    return AnchorOutcome(batch.id, batch.enterprise_org_id, batch.window_start, batch.window_end, anchor_id, root,
                         action)


def anchor_pending(session: Session, client: MeterAnchorClient,
                   progress: Callable[[AnchorOutcome], None] | None = None) -> list[AnchorOutcome]:
    """Anchor every built or sent batch, oldest window first per enterprise and measure."""
    batches = session.scalars(
        select(MeterBatch)
        .where(MeterBatch.status.in_([BatchStatus.BUILT, BatchStatus.SENT]))
        .order_by(MeterBatch.enterprise_org_id, MeterBatch.measure, MeterBatch.window_start)
    ).all()
    outcomes = []
    for batch in batches:
        result = anchor_batch(session, client, batch)
        outcomes.append(result)
        if progress is not None:
            progress(result)
    return outcomes


def anchor_summary(outcomes: Sequence[AnchorOutcome]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.action] = counts.get(o.action, 0) + 1
    return {"batches": len(outcomes), **counts}

"""Anchor built batches through `MeterAnchor`, idempotently: one `anchor` transaction per window, or, when
a round anchors the windows of several enterprises, one `anchorBatch` transaction for up to `BATCH_WINDOWS`.

A batch goes built -> sent (transaction hash recorded) -> anchored (anchor id recorded),
committing after each step. Before sending, the chain is asked whether the window is
already anchored: if so with the same root, the batch is simply marked anchored (this
recovers a crash after sending); with another root it is an `AnchorConflict`. The contract keeps
only commitments; anchors are read back from its events (`oracles.anchor_records`).
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
from oracles.anchor_records import AnchoredWindow, AnchorReader, AnchorRecord, decode_records, event_record
from oracles.batches import BuiltBatch, built_batch
from oracles.canonical import factor_set_hash
from oracles.devices import DeviceInfo

BATCH_WINDOWS = 100  # windows per `anchorBatch` transaction (about 15,000 gas each)
WindowKey = tuple[int, int, int, int]  # enterprise, measure, window start, window end


class AnchorConflict(RuntimeError):
    """The chain holds an anchor for this enterprise window with a different root."""


class UnknownAnchor(LookupError):
    """No `Anchored` or `BatchAnchored` event announces this anchor id."""


class OnChainAnchor(NamedTuple):
    """An anchor as the chain records it (its event's record; the contract keeps its commitment)."""

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

    @classmethod
    def of(cls, window: AnchoredWindow) -> OnChainAnchor:
        r = window.record
        return cls(r.enterprise_org_id, r.window_start, r.window_end, r.root, r.factor_set_id, r.total,
                   r.reading_count, r.previous_anchor_id, r.oracle, window.anchored_at, r.measure)


def _window_args(built: BuiltBatch) -> tuple[Any, ...]:
    root = built.facilities_root
    return (built.enterprise_org_id, built.measure, built.window_start, built.window_end,
            factor_set_hash(built.factor_set), root.hash, root.sum, root.count)


class MeterAnchorClient:
    """The oracle's handle on `MeterAnchor`: anchors read from its events, anchoring and device registration."""

    def __init__(self, contract: Contract, sender: TransactionSender | None, from_block: int = 0) -> None:
        self.contract = contract
        self._sender = sender  # None: a read-only client (views only, no oracle key)
        self.from_block = from_block  # the deployment's block: events are read from there

    @property
    def sender(self) -> TransactionSender:
        if self._sender is None:
            raise RuntimeError("this MeterAnchor client is read-only (no oracle key): it cannot send transactions")
        return self._sender

    @property
    def reader(self) -> AnchorReader:
        return AnchorReader(self.contract, from_block=self.from_block)

    def anchor_id_of(self, enterprise_org_id: int, measure: int, window_start: int, window_end: int) -> int:
        return self.reader.find(enterprise_org_id, measure, window_start, window_end)

    def anchored_window(self, anchor_id: int) -> AnchoredWindow:
        window = self.reader.window(anchor_id)
        if window is None:
            raise UnknownAnchor(f"no anchor {anchor_id}")
        return window

    def get_anchor(self, anchor_id: int) -> OnChainAnchor:
        return OnChainAnchor.of(self.anchored_window(anchor_id))

    def send_anchor(self, enterprise_org_id: int, measure: int, window_start: int, window_end: int, factor_set: str,
                    facilities_root: ms.Node) -> HexBytes:
        fn = self.contract.functions.anchor(
            enterprise_org_id, measure, window_start, window_end, factor_set_hash(factor_set),
            facilities_root.hash, facilities_root.sum, facilities_root.count,
        )
        return self.sender.send_raw(fn.address, fn._encode_transaction_data())

    def send_batch(self, windows: Sequence[BuiltBatch]) -> HexBytes:
        """One `anchorBatch` transaction for the windows, in the order given."""
        fn = self.contract.functions.anchorBatch([_window_args(w) for w in windows])
        return self.sender.send_raw(fn.address, fn._encode_transaction_data())

    def anchored_records(self, tx_hash: HexBytes, timeout: float = 120) -> dict[WindowKey, AnchorRecord]:
        """Wait for an anchoring transaction (single or batch); the record of each window it anchored, as its
        receipt's events state them (no log scan: a long chain is not read again for each window)."""
        receipt = self.sender.wait(tx_hash, timeout=timeout)
        records = [event_record(ev["args"])
                   for ev in self.contract.events.Anchored().process_receipt(receipt, errors=DISCARD)]
        for ev in self.contract.events.BatchAnchored().process_receipt(receipt, errors=DISCARD):
            a = ev["args"]
            records += decode_records(str(a["oracle"]), bytes(a["records"]))
        if not records:
            raise RuntimeError(f"transaction {tx_hash.hex()} anchored nothing")
        return {(r.enterprise_org_id, r.measure, r.window_start, r.window_end): r for r in records}

    def anchored_ids(self, tx_hash: HexBytes, timeout: float = 120) -> dict[WindowKey, int]:
        """Wait for an anchoring transaction; the anchor id of each window it anchored."""
        return {key: r.anchor_id for key, r in self.anchored_records(tx_hash, timeout).items()}

    def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node knows the transaction (pending or mined)."""
        try:
            self.sender.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def verify_reading(self, anchor_id: int, digest: bytes, value: int, steps: Sequence[ms.Step]
                       ) -> tuple[bool, list[ms.Subtotal]]:
        """`MeterAnchor.verifyReading` with the anchor's record (and batch path) read from the chain's events."""
        window = self.anchored_window(anchor_id)
        valid, subtotals = self.contract.functions.verifyReading(
            *window.proof_args(), digest, value, [s.as_tuple() for s in steps]
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


def _key(built: BuiltBatch) -> WindowKey:
    return built.enterprise_org_id, built.measure, built.window_start, built.window_end


def _outcome(batch: MeterBatch, action: str) -> AnchorOutcome:
    assert batch.anchor_id is not None and batch.root is not None
    return AnchorOutcome(batch.id, batch.enterprise_org_id, batch.window_start, batch.window_end, batch.anchor_id,
                         batch.root, action)


def _settle(session: Session, client: MeterAnchorClient, batch: MeterBatch) -> AnchorOutcome | None:
    """Bring a batch the chain already holds (or whose transaction was broadcast) to anchored; None if it still
    has to be sent."""
    if batch.status == BatchStatus.ANCHORED:
        return _outcome(batch, "already")
    built = built_batch(batch)
    existing = client.anchor_id_of(*_key(built))
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
        return _outcome(batch, "recovered")
    if batch.status == BatchStatus.SENT and batch.tx_hash and client.transaction_known(batch.tx_hash):
        # Broadcast earlier: wait for it rather than send a second transaction; resend if it failed.
        try:
            record = client.anchored_records(HexBytes(batch.tx_hash)).get(_key(built))
        except TransactionFailedOnChain:
            record = None
        if record is not None:
            return _finish(session, batch, built.root, record, "recovered")
    return None


def anchor_batch(session: Session, client: MeterAnchorClient, batch: MeterBatch) -> AnchorOutcome:
    """Bring one built (or sent) batch to anchored with its own `anchor` transaction; commits after each state
    change."""
    settled = _settle(session, client, batch)
    if settled is not None:
        return settled
    built = built_batch(batch)
    tx_hash = client.send_anchor(built.enterprise_org_id, built.measure, built.window_start, built.window_end,
                                 built.factor_set, built.facilities_root)
    batch.status = BatchStatus.SENT
    batch.tx_hash = "0x" + bytes(tx_hash).hex()
    session.commit()
    (record,) = client.anchored_records(tx_hash).values()
    return _finish(session, batch, built.root, record, "anchored")


def _anchor_together(session: Session, client: MeterAnchorClient, batches: Sequence[MeterBatch]
                     ) -> list[AnchorOutcome]:
    """Anchor the batches with one `anchorBatch` transaction; commits after sending and after each window."""
    built = [built_batch(b) for b in batches]
    tx_hash = client.send_batch(built)
    for batch in batches:
        batch.status = BatchStatus.SENT
        batch.tx_hash = "0x" + bytes(tx_hash).hex()
    session.commit()
    records = client.anchored_records(tx_hash)
    return [_finish(session, batch, b.root, records[_key(b)], "anchored")
            for batch, b in zip(batches, built, strict=True)]


def _finish(session: Session, batch: MeterBatch, root: bytes, on_chain: AnchorRecord, action: str
            ) -> AnchorOutcome:
    """Mark a batch anchored as `on_chain` (its transaction's record) states, if the roots agree."""
    anchor_id = on_chain.anchor_id
    if on_chain.root != root:
        raise AnchorConflict(f"anchor {anchor_id} has root 0x{on_chain.root.hex()}, expected 0x{root.hex()}")
    _mark_anchored(batch, anchor_id)
    session.commit()
    return AnchorOutcome(batch.id, batch.enterprise_org_id, batch.window_start, batch.window_end, anchor_id, root,
                         action)


def anchor_pending(session: Session, client: MeterAnchorClient,
                   progress: Callable[[AnchorOutcome], None] | None = None,
                   batch_windows: int = BATCH_WINDOWS) -> list[AnchorOutcome]:
    """Anchor every built or sent batch, oldest window first per enterprise and measure. Windows the chain
    already holds are recovered; when the rest belong to several enterprises they go out `batch_windows` at a
    time in `anchorBatch` transactions, otherwise one `anchor` transaction each."""
    batches = session.scalars(
        select(MeterBatch)
        .where(MeterBatch.status.in_([BatchStatus.BUILT, BatchStatus.SENT]))
        .order_by(MeterBatch.enterprise_org_id, MeterBatch.measure, MeterBatch.window_start)
    ).all()
    outcomes: list[AnchorOutcome] = []

    def done(result: AnchorOutcome) -> None:
        outcomes.append(result)
        if progress is not None:
            progress(result)

    to_send: list[MeterBatch] = []
    for batch in batches:
        settled = _settle(session, client, batch)
        if settled is None:
            to_send.append(batch)
        else:
            done(settled)
    if len({b.enterprise_org_id for b in to_send}) > 1:
        for start in range(0, len(to_send), batch_windows):
            for result in _anchor_together(session, client, to_send[start:start + batch_windows]):
                done(result)
    else:
        for batch in to_send:
            done(anchor_batch(session, client, batch))
    position = {b.id: i for i, b in enumerate(batches)}
    return sorted(outcomes, key=lambda o: position[o.batch_id])


def anchor_summary(outcomes: Sequence[AnchorOutcome]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.action] = counts.get(o.action, 0) + 1
    return {"batches": len(outcomes), **counts}

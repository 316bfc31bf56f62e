"""Meters: devices in MeterAnchor and in the oracle's registry, pushed readings, windows built and anchored.

A device lives in two places that must agree: `MeterAnchor` (owner, facility, workshop, key
hash; what proofs and audits rely on) and the oracle's SQL registry (the raw Ed25519 key the
signatures are checked with). The chain is written first, through the outbox; the SQL registry
follows once the transaction is mined, so the oracle never accepts readings of a device the
chain does not know. Repeating a registration whose transaction was mined but whose SQL step did
not happen completes it without a second transaction.

Anchoring goes through the outbox with the oracle's custodial key, one transaction per window,
in window order, idempotently: a window the chain already holds (same root) is marked anchored
without sending, and a window whose anchor transaction is still pending in the outbox is not
sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import Intent, TxRecord
from ledger_core.chain.suite import Suite
from ledger_core.db.models import (
    BatchStatus,
    MeterBatch,
    MeterDevice,
    OutboxStatus,
    OutboxTransaction,
    QuarantinedReading,
)
from ledger_core.db.models.outbox import PENDING_STATUSES
from oracles.anchor_records import AnchoredWindow, AnchorReader
from oracles.anchoring import OnChainAnchor
from oracles.batches import BuiltBatch, build_batch, built_batch, device_places
from oracles.canonical import factor_set_hash
from oracles.devices import DeviceInfo

ANCHOR = "MeterAnchor"


@dataclass(frozen=True)
class ChainDevice:
    enterprise_org_id: int
    facility_id: bytes
    workshop_id: bytes
    public_key_hash: bytes
    active: bool


def chain_device(chain: ChainClient, suite: Suite, device_hash: bytes) -> ChainDevice | None:
    """The device as MeterAnchor records it, None if it is not registered."""
    try:
        raw = suite.view(chain, ANCHOR, "getDevice", device_hash)
    except ContractRevert as exc:
        if exc.error == "UnknownDevice":
            return None
        raise
    org, facility, workshop, key_hash, active = raw
    return ChainDevice(int(org), bytes(facility), bytes(workshop), bytes(key_hash), bool(active))


def matches(device: ChainDevice, info: DeviceInfo) -> bool:
    return (device.enterprise_org_id, device.facility_id, device.workshop_id, device.public_key_hash) == (
        info.enterprise_org_id, info.facility_id, info.workshop_id, info.public_key_hash)


def register_intent(signer: str, info: DeviceInfo) -> Intent:
    return Intent(ANCHOR, "registerDevice", (info.device_hash, info.enterprise_org_id, info.facility_id,
                                             info.workshop_id, info.public_key_hash), signer, requested_by=signer)


def set_active_intent(signer: str, device_hash: bytes, active: bool) -> Intent:
    return Intent(ANCHOR, "setDeviceActive", (device_hash, active), signer, requested_by=signer)


def rotate_intent(signer: str, device_hash: bytes, key_hash: bytes) -> Intent:
    return Intent(ANCHOR, "rotateDeviceKey", (device_hash, key_hash), signer, requested_by=signer)


def authorise_intent(signer: str, oracle: str, org_id: int, authorised: bool) -> Intent:
    """Authorise an oracle to anchor the enterprise's meter data, or withdraw it (regulator)."""
    return Intent(ANCHOR, "setOracleAuthorisation", (oracle, org_id, authorised), signer, requested_by=signer)


def sql_device(session: Session, device_id: str) -> MeterDevice | None:
    return session.scalar(select(MeterDevice).where(MeterDevice.device_id == device_id))


def oracle_authorised(chain: ChainClient, suite: Suite, oracle: str, org_id: int) -> bool:
    return bool(suite.view(chain, ANCHOR, "isOracleAuthorised", oracle, org_id))


def device_owners(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Registered device id -> enterprise, for the names that are registered."""
    wanted = sorted(set(names))
    owners: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(select(MeterDevice.device_id, MeterDevice.enterprise_org_id)
                               .where(MeterDevice.device_id.in_(wanted[start:start + 500])))
        owners.update({d: int(o) for d, o in rows})
    return owners


def named_devices(messages: Iterable[Any]) -> set[str]:
    """The device ids a raw pushed batch names (messages too malformed to name one are left out)."""
    return {m["device"] for m in messages if isinstance(m, dict) and isinstance(m.get("device"), str)}


# ---------------------------------------------------------------------- windows


def chain_time(chain: ChainClient) -> int:
    return int(chain.request(lambda: chain.w3.eth.get_block("latest")["timestamp"]))


def build_closed(session: Session, org_id: int, closed_before: int) -> list[BuiltBatch]:
    """Build every open window of the enterprise that ended at or before `closed_before`; each is committed."""
    places = device_places(session)
    batches = session.scalars(
        select(MeterBatch)
        .where(MeterBatch.enterprise_org_id == org_id, MeterBatch.status == BatchStatus.OPEN,
               MeterBatch.window_end <= closed_before)
        .order_by(MeterBatch.window_start)
    ).all()
    built = []
    for batch in batches:
        built.append(build_batch(session, batch, places))
        session.commit()
    return built


@dataclass(frozen=True)
class WindowOutcome:
    batch_id: int
    window_start: int
    window_end: int
    root: bytes
    action: str  # anchored, recovered, pending, refused or conflict
    anchor_id: int | None = None
    measure: int = 0
    outbox_id: int | None = None
    tx_hash: str | None = None
    error: str | None = None


def _pending_windows(session: Session, org_id: int) -> dict[tuple[int, int, int], int]:
    """(measure, start, end) -> outbox id of the enterprise's anchor transactions still on their way."""
    rows = session.execute(select(OutboxTransaction.id, OutboxTransaction.args).where(
        OutboxTransaction.contract == ANCHOR, OutboxTransaction.function == "anchor",
        OutboxTransaction.status.in_(PENDING_STATUSES)))
    windows = {}
    for outbox_id, args in rows:
        if args and int(args[0]) == org_id:
            windows[(int(args[1]), int(args[2]), int(args[3]))] = int(outbox_id)
    return windows


def _reader(suite: Suite) -> AnchorReader:
    return AnchorReader(suite.contract(ANCHOR), from_block=suite.deployment.block)


def anchored_window(chain: ChainClient, suite: Suite, anchor_id: int) -> AnchoredWindow:
    """An anchor's record as MeterAnchor's events state it, and where its commitment is kept; raises the
    contract's `UnknownAnchor` if no event announces it."""
    window = chain.request(lambda: _reader(suite).window(anchor_id))
    if window is None:
        raise ContractRevert("UnknownAnchor", {"anchorId": anchor_id})
    return window


def get_anchor(chain: ChainClient, suite: Suite, anchor_id: int) -> OnChainAnchor:
    """An anchor as MeterAnchor records it; raises the contract's `UnknownAnchor` if none."""
    return OnChainAnchor.of(anchored_window(chain, suite, anchor_id))


def _anchor_id_of(chain: ChainClient, suite: Suite, org_id: int, measure: int, start: int, end: int) -> int:
    return chain.request(lambda: _reader(suite).find(org_id, measure, start, end))


def _anchored_id(chain: ChainClient, suite: Suite, tx_hash: str) -> int:
    """The id of the anchor a mined `anchor` transaction created, from its receipt (finding it by its window in
    the logs would scan the chain once per window)."""
    receipt = chain.request(lambda: suite.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
    (event,) = suite.events(receipt, ANCHOR, "Anchored")
    return int(event["anchorId"])


def _mark(batch: MeterBatch, anchor_id: int) -> None:
    batch.status = BatchStatus.ANCHORED
    batch.anchor_id = anchor_id
    batch.anchored_at = datetime.now(UTC)


def anchor_windows(session: Session, chain: ChainClient, suite: Suite, org_id: int, oracle: str,
                   submit: Callable[[Sequence[Intent]], list[TxRecord]]) -> list[WindowOutcome]:
    """Anchor the enterprise's built (or sent) windows, oldest first per measure; `submit` sends through the
    outbox."""
    batches = session.scalars(
        select(MeterBatch)
        .where(MeterBatch.enterprise_org_id == org_id,
               MeterBatch.status.in_([BatchStatus.BUILT, BatchStatus.SENT]))
        .order_by(MeterBatch.measure, MeterBatch.window_start)
    ).all()
    pending = _pending_windows(session, org_id)
    outcomes: list[WindowOutcome] = []
    to_send: list[MeterBatch] = []
    for batch in batches:
        built = built_batch(batch)
        window = (batch.measure, batch.window_start, batch.window_end)
        existing = _anchor_id_of(chain, suite, org_id, *window)
        if existing:
            on_chain = get_anchor(chain, suite, existing)
            if bytes(on_chain.root) != built.root:
                outcomes.append(WindowOutcome(batch.id, batch.window_start, batch.window_end, built.root, "conflict",
                                              existing, batch.measure,
                                              error="the chain holds another root for this window"))
                continue
            _mark(batch, existing)
            outcomes.append(WindowOutcome(batch.id, batch.window_start, batch.window_end, built.root, "recovered",
                                          existing, batch.measure))
        elif window in pending:
            outcomes.append(WindowOutcome(batch.id, batch.window_start, batch.window_end, built.root, "pending",
                                          measure=batch.measure, outbox_id=pending[window],
                                          tx_hash=batch.tx_hash))
        else:
            to_send.append(batch)
    session.commit()
    if not to_send:
        return outcomes
    intents = []
    for batch in to_send:
        root = built_batch(batch).facilities_root
        intents.append(Intent(ANCHOR, "anchor", (org_id, batch.measure, batch.window_start, batch.window_end,
                                                 factor_set_hash(batch.factor_set), root.hash, root.sum, root.count),
                              oracle, requested_by=oracle))
    records = submit(intents)
    for batch, record in zip(to_send, records, strict=True):
        built = built_batch(batch)
        common = (batch.id, batch.window_start, batch.window_end, built.root)
        if record.status == OutboxStatus.MINED:
            anchor_id = _anchored_id(chain, suite, str(record.tx_hash))
            batch.tx_hash = record.tx_hash
            _mark(batch, anchor_id)
            outcomes.append(WindowOutcome(*common, "anchored", anchor_id, batch.measure, record.id, record.tx_hash))
        elif record.pending:
            batch.status = BatchStatus.SENT
            batch.tx_hash = record.tx_hash
            outcomes.append(WindowOutcome(*common, "pending", measure=batch.measure, outbox_id=record.id,
                                          tx_hash=record.tx_hash))
        else:
            outcomes.append(WindowOutcome(*common, "refused", measure=batch.measure, outbox_id=record.id,
                                          tx_hash=record.tx_hash, error=record.error_name))
        session.commit()
    outcomes.sort(key=lambda o: (o.measure, o.window_start))
    return outcomes


def quarantine_counts(session: Session, org_id: int) -> dict[str, int]:
    rows = session.execute(
        select(QuarantinedReading.reason, func.count())
        .join(MeterDevice, MeterDevice.device_id == QuarantinedReading.device_id)
        .where(MeterDevice.enterprise_org_id == org_id)
        .group_by(QuarantinedReading.reason)
    )
    return {str(reason): int(count) for reason, count in rows}

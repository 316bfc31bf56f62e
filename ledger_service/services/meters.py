"""Meter use cases: devices (register, deactivate, reactivate, rotate the key), oracles authorised per
enterprise, pushed readings, windows built and anchored by an oracle, anchors, quarantine and reading proofs.

A device lives on chain (MeterAnchor) and in the oracle's SQL registry; the chain is written first and the
registry follows once the transaction is mined (`ledger_service.meters` says why). Meter data is visible to
the enterprise's members, verifiers, regulators and the oracles authorised for it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import Intent, TxRecord
from ledger_core.chain.suite import Suite
from ledger_core.config import Settings
from ledger_core.db.models import BatchStatus, MeterBatch, MeterDevice, QuarantinedReading, Reading
from ledger_core.db.models.outbox import OutboxStatus
from ledger_service import meters
from ledger_service.membership import Directory, OrgKind
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, TransactionRefused, forbidden, not_found
from ledger_service.services.listing import Listed
from ledger_service.services.sending import Sender, pending
from oracles.anchor_records import AnchoredWindow, window_json
from oracles.canonical import public_key_hash
from oracles.devices import (
    DeviceConflict,
    DeviceInfo,
    UnknownDevice,
    register_devices,
    rotate_device_key,
    set_device_active,
)
from oracles.http_push import PushBatch, PushResult, UnattributedMessages, ingest_batch
from oracles.proofs import ReadingNotCommitted, ReadingProof, StoredDataInconsistent, prove_reading


@dataclass(frozen=True)
class DeviceChange:
    device: MeterDevice
    record: TxRecord | None  # None when the chain already held this state


@dataclass(frozen=True)
class Authorisation:
    oracle: str
    enterprise_org_id: int
    authorised: bool  # as MeterAnchor records it
    record: TxRecord | None = None


@dataclass(frozen=True)
class Anchoring:
    enterprise_org_id: int
    closed_before: int
    built: int
    windows: list[meters.WindowOutcome]
    records: list[TxRecord]  # of the windows' transactions: sent by this request or still on their way

    @property
    def refused(self) -> bool:
        """Some window was refused by the chain or holds another root there."""
        return any(w.action in ("refused", "conflict") for w in self.windows)


@dataclass(frozen=True)
class Anchor:
    """A committed window: the oracle's batch, MeterAnchor's record, or both."""

    anchor_id: int | None
    enterprise_org_id: int
    window_start: int
    window_end: int
    root: bytes | None
    total_mg: int
    reading_count: int
    status: str  # built, sent or anchored (the oracle's batch), or on_chain
    batch_id: int | None = None
    factor_set: str | None = None
    previous_anchor_id: int | None = None
    oracle: str | None = None
    anchored_at: int | None = None
    tx_hash: str | None = None
    measure: int = 0  # 0 emissions (total in mgCO2e), 1 electricity produced (total in Wh)

    @classmethod
    def of_batch(cls, b: MeterBatch) -> Anchor:
        return cls(b.anchor_id, b.enterprise_org_id, b.window_start, b.window_end,
                   None if b.root is None else bytes(b.root), int(b.total_mg), b.reading_count, b.status, b.id,
                   b.factor_set, tx_hash=b.tx_hash, measure=b.measure)


@dataclass(frozen=True)
class Quarantine:
    enterprise_org_id: int
    by_reason: dict[str, int]
    readings: Listed[QuarantinedReading]


@dataclass(frozen=True)
class ProvenReading:
    proof: ReadingProof
    verified_on_chain: bool | None  # MeterAnchor.verifyReading's answer; None if not anchored
    chain_subtotals: tuple[tuple[int, int], ...] = ()  # (sum_mg, count) per level on the path, as verifyReading
    # recomputed them, device first
    anchored: AnchoredWindow | None = None  # the anchor's record (and batch path) the contract checked

    def as_json(self) -> dict[str, Any]:
        """The proof bundle (COMMITMENTS.md, "Proof bundles") with the anchor's record and whether the chain
        accepted it."""
        anchor = window_json(self.anchored) if self.anchored is not None else {"anchor_record": None,
                                                                               "anchor_batch": None}
        return {**self.proof.as_json(), **anchor, "verified_on_chain": self.verified_on_chain}


def _inconsistent(reading_id: int, exc: StoredDataInconsistent) -> Refusal:
    """409: the window's stored data no longer reproduces its committed root, so no reading of it is provable."""
    return Refusal(409, "StoredDataInconsistent",
                   f"reading {reading_id} cannot be proved: the stored data of its window no longer reproduces "
                   f"its committed root: {exc.reason}", {"readingId": reading_id, **exc.details()})


def _as_registered(info: DeviceInfo) -> MeterDevice:
    """The device as the registry will hold it once its registration is mined."""
    return MeterDevice(device_id=info.device_id, device_hash=info.device_hash, enterprise_org_id=info.enterprise_org_id,
                       facility=info.facility, workshop=info.workshop, public_key=info.public_key, kind=info.kind,
                       active=True)


def _device_row(session: Session, info: DeviceInfo) -> MeterDevice:
    device = meters.sql_device(session, info.device_id)
    assert device is not None, "registered in this session"
    return device


@dataclass(frozen=True)
class MeterService:
    sessions: sessionmaker[Session]
    chain: ChainClient
    suite: Suite
    sender: Sender
    settings: Settings
    directory: Directory

    # ------------------------------------------------------------------ access

    def _visible(self, caller: Caller, org_id: int) -> None:
        """Enterprise meter data: its own members, verifiers, regulators and oracles authorised for it."""
        if caller.is_regulator or caller.member.has_role("VERIFIER") or caller.member.org_id == org_id:
            return
        if caller.member.has_role("ORACLE") and self.oracle_authorised(caller.address, org_id):
            return
        raise forbidden("meter data is visible to the enterprise's members, verifiers, regulators and its oracles",
                        "NotYourData", orgId=org_id)

    @staticmethod
    def _manages(caller: Caller, org_id: int) -> None:
        if not (caller.is_regulator or caller.member.org_id == org_id):
            raise forbidden(f"{caller.address} may manage only the devices of its own organisation", "NotYourDevice",
                            account=caller.address, orgId=org_id)

    def oracle_authorised(self, oracle: str, org_id: int) -> bool:
        return meters.oracle_authorised(self.chain, self.suite, oracle, org_id)

    def _stored_device(self, device_id: str) -> MeterDevice:
        with self.sessions() as session:
            device = meters.sql_device(session, device_id)
        if device is None:
            raise not_found(f"device {device_id} is not registered", "UnknownDevice", deviceId=device_id)
        return device

    # ------------------------------------------------------------------ devices

    def _check_registry(self, infos: Sequence[DeviceInfo]) -> None:
        """409 DeviceConflict if the oracle's registry holds one of the devices with other details."""
        with self.sessions() as session:
            for info in infos:
                known = meters.sql_device(session, info.device_id)
                if known is not None and (known.enterprise_org_id, known.facility, known.workshop,
                                          bytes(known.public_key)) != (info.enterprise_org_id, info.facility,
                                                                       info.workshop, info.public_key):
                    raise Refusal(409, "DeviceConflict", f"device {info.device_id} is registered with other details",
                                  {"deviceId": info.device_id})

    def _on_chain(self, info: DeviceInfo) -> bool:
        """Whether MeterAnchor holds the device already; its DeviceAlreadyRegistered if it holds other details."""
        on_chain = meters.chain_device(self.chain, self.suite, info.device_hash)
        if on_chain is not None and not meters.matches(on_chain, info):
            raise ContractRevert("DeviceAlreadyRegistered", {"deviceId": info.device_hash,
                                                             "enterpriseOrgId": on_chain.enterprise_org_id})
        return on_chain is not None

    def register_device(self, caller: Caller, info: DeviceInfo) -> DeviceChange:
        """Register in MeterAnchor (through the outbox), then in the oracle's registry once mined. Repeating a
        registration the chain holds completes the registry's side without a transaction (`record` None); a
        registration still on its way answers its record with the device as it will be registered."""
        self._manages(caller, info.enterprise_org_id)
        self._check_registry([info])
        record = None
        if not self._on_chain(info):
            record = self.sender.send_one(caller, meters.register_intent(caller.address, info))
            if pending(record):
                return DeviceChange(_as_registered(info), record)
        with self.sessions() as session:
            try:
                register_devices(session, [info])
            except DeviceConflict as exc:
                raise Refusal(409, "DeviceConflict", str(exc), {"deviceId": info.device_id}) from None
            session.commit()
            device = meters.sql_device(session, info.device_id)
        assert device is not None
        return DeviceChange(device, record)

    def register_devices(self, caller: Caller, infos: Sequence[DeviceInfo]) -> list[DeviceChange]:
        """`register_device` for many devices at once: the registrations the chain lacks go out as one outbox
        batch, then every mined (or already held) device goes into the registry in one database transaction. A
        device registered with other details refuses the whole batch before anything is sent; a registration the
        chain refused raises TransactionRefused once the others are registered (repeating the batch is safe)."""
        for org_id in sorted({i.enterprise_org_id for i in infos}):
            self._manages(caller, org_id)
        self._check_registry(infos)
        missing = [i for i in infos if not self._on_chain(i)]
        sent = dict(zip((i.device_id for i in missing), self.sender.send(
            caller, [meters.register_intent(caller.address, i) for i in missing], batch=True, refuse=False),
            strict=True)) if missing else {}
        held = [i for i in infos if i.device_id not in sent or sent[i.device_id].status == OutboxStatus.MINED]
        with self.sessions() as session:
            try:
                register_devices(session, held)
            except DeviceConflict as exc:
                raise Refusal(409, "DeviceConflict", str(exc)) from None
            session.commit()
            registered = {i.device_id for i in held}
            changes = [DeviceChange(_device_row(session, i) if i.device_id in registered else _as_registered(i),
                                    sent.get(i.device_id)) for i in infos]
        refused = [r for r in sent.values() if r.status in (OutboxStatus.REJECTED, OutboxStatus.FAILED)]
        if refused:
            raise TransactionRefused(refused[0], caller.address)
        return changes

    def devices(self, caller: Caller, org_id: int, offset: int, limit: int) -> Listed[MeterDevice]:
        self._visible(caller, org_id)
        where = MeterDevice.enterprise_org_id == org_id
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(MeterDevice).where(where)) or 0
            rows = session.scalars(select(MeterDevice).where(where).order_by(MeterDevice.id)
                                   .offset(offset).limit(limit)).all()
        return Listed(rows, total, offset, limit)

    def device(self, caller: Caller, device_id: str) -> MeterDevice:
        device = self._stored_device(device_id)
        self._visible(caller, device.enterprise_org_id)
        return device

    def readings(self, caller: Caller, device_id: str, offset: int, limit: int) -> Listed[Reading]:
        """A device's accepted readings, newest first (visible as its enterprise's meter data is)."""
        device = self.device(caller, device_id)
        where = Reading.device_pk == device.id
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(Reading).where(where)) or 0
            rows = session.scalars(select(Reading).where(where).order_by(Reading.sequence.desc())
                                   .offset(offset).limit(limit)).all()
        return Listed(rows, total, offset, limit)

    def set_active(self, caller: Caller, device_id: str, active: bool) -> DeviceChange:
        """Deactivate (the oracle quarantines the device's readings as device_inactive) or reactivate a device:
        on chain, then in the registry once mined."""
        device = self._stored_device(device_id)
        self._manages(caller, device.enterprise_org_id)
        record = self.sender.send_one(caller, meters.set_active_intent(caller.address, bytes(device.device_hash),
                                                                       active))
        with self.sessions() as session:
            if record.status == "mined":
                set_device_active(session, device_id, active)
                session.commit()
            row = meters.sql_device(session, device_id)
        assert row is not None
        return DeviceChange(row, record)

    def rotate_key(self, caller: Caller, device_id: str, key: bytes) -> DeviceChange:
        """Replace the device's key: its hash in MeterAnchor, then the key itself in the registry once mined."""
        device = self._stored_device(device_id)
        self._manages(caller, device.enterprise_org_id)
        record = self.sender.send_one(caller, meters.rotate_intent(caller.address, bytes(device.device_hash),
                                                                   public_key_hash(key)))
        with self.sessions() as session:
            if record.status == "mined":
                try:
                    rotate_device_key(session, device_id, key)
                except UnknownDevice:
                    raise not_found(f"device {device_id} is not registered", "UnknownDevice") from None
                session.commit()
            row = meters.sql_device(session, device_id)
        assert row is not None
        return DeviceChange(row, record)

    # ------------------------------------------------------------------ oracles

    def authorise_oracle(self, caller: Caller, org_id: int, oracle: str, authorised: bool) -> Authorisation:
        """Authorise an oracle for the enterprise's meter data, or withdraw it (the caller is a regulator).
        Authorising needs a registered enterprise (the chain checks the oracle's membership)."""
        oracle = to_checksum_address(oracle)
        org = self.directory.organisation(org_id)
        if authorised and (org is None or org.kind != OrgKind.ENTERPRISE):
            raise not_found(f"organisation {org_id} is not a registered enterprise", "UnknownOrganisation",
                            orgId=org_id)
        record = self.sender.send_one(caller, meters.authorise_intent(caller.address, oracle, org_id, authorised))
        return Authorisation(oracle, org_id, self.oracle_authorised(oracle, org_id), record)

    def authorisation(self, caller: Caller, org_id: int, oracle: str) -> Authorisation:
        """For the oracle itself and whoever sees the enterprise's meter data."""
        oracle = to_checksum_address(oracle)
        if caller.address != oracle:
            self._visible(caller, org_id)
        return Authorisation(oracle, org_id, self.oracle_authorised(oracle, org_id))

    # ------------------------------------------------------------------ readings

    def push(self, caller: Caller, batch: PushBatch) -> PushResult:
        """Ingest signed messages. An oracle pushes for the enterprises it is authorised for, an enterprise member
        for its own organisation; a batch naming a registered device outside that is refused whole (403), one naming
        unregistered devices too (422 UnattributedMessages); nothing is stored then."""
        with self.sessions() as session:
            owners = meters.device_owners(session, meters.named_devices(batch.messages))
        orgs = set(owners.values())
        allowed: set[int] = set()
        if caller.member.has_role("ENTERPRISE"):
            allowed |= {caller.member.org_id} & orgs
        if caller.member.has_role("ORACLE"):
            allowed |= {o for o in orgs - allowed if self.oracle_authorised(caller.address, o)}
        foreign = sorted(d for d, o in owners.items() if o not in allowed)
        if foreign:
            raise forbidden(f"{caller.address} may not push readings of {len(foreign)} device(s) of other "
                            "enterprises", "NotYourDevice", account=caller.address, devices=foreign[:20],
                            orgIds=sorted({owners[d] for d in foreign}))
        try:
            return ingest_batch(self.sessions, self.settings, batch, source=f"api:{caller.address}")
        except UnattributedMessages as exc:
            body = exc.body()
            raise Refusal(422, body["error"], body["message"], body["args"]) from None

    def prove(self, caller: Caller, reading_id: int) -> ProvenReading:
        """The reading's Merkle-sum proof into its anchor and whether MeterAnchor.verifyReading accepts it; 409 if
        its window is not built yet or its stored data no longer reproduces the committed (or anchored) root."""
        with self.sessions() as session:
            org = session.scalar(select(MeterDevice.enterprise_org_id)
                                 .join(Reading, Reading.device_pk == MeterDevice.id).where(Reading.id == reading_id))
            if org is None:
                raise not_found(f"no reading {reading_id}", "UnknownReading", readingId=reading_id)
            self._visible(caller, org)
            try:
                proof = prove_reading(session, reading_id)
            except ReadingNotCommitted as exc:
                raise Refusal(409, "ReadingNotCommitted", f"{exc}: its window is not built yet",
                              {"readingId": reading_id}) from None
            except StoredDataInconsistent as exc:
                raise _inconsistent(reading_id, exc) from None
        if proof.anchor_id is None:
            return ProvenReading(proof, None)
        anchor_id = proof.anchor_id
        window = meters.anchored_window(self.chain, self.suite, anchor_id)
        anchored = window.record
        if anchored.root != proof.root:
            raise _inconsistent(reading_id, StoredDataInconsistent(
                f"batch {proof.batch_id} (enterprise {proof.enterprise_org_id}, window {proof.window_start}-"
                f"{proof.window_end}, anchor {anchor_id}): its stored root 0x{proof.root.hex()} is not the anchored "
                f"root 0x{anchored.root.hex()}", proof.batch_id, proof.enterprise_org_id, proof.window_start,
                proof.window_end, anchor_id))
        # The record (read from the chain's events) is checked by the contract against its kept commitment.
        valid, subtotals = self.suite.view(self.chain, meters.ANCHOR, "verifyReading", *window.proof_args(),
                                           proof.digest, proof.value_mg, [s.as_tuple() for s in proof.steps])
        return ProvenReading(proof, bool(valid), tuple((int(t[2]), int(t[3])) for t in subtotals), window)

    # ------------------------------------------------------------------ windows and anchors

    def build_and_anchor(self, caller: Caller, org_id: int, until: int | None = None) -> Anchoring:
        """Build the enterprise's closed windows (those ended by `until`, when given) and anchor every built one
        with the oracle's key; only an oracle the regulator authorised for the enterprise. Repeating it is safe."""
        if not self.oracle_authorised(caller.address, org_id):
            raise ContractRevert("OracleNotAuthorised", {"oracle": caller.address, "enterpriseOrgId": org_id})
        self.sender.require_custodial(caller)
        closed_before = min(int(time.time()), meters.chain_time(self.chain), *(() if until is None else (until,)))
        sent: list[TxRecord] = []

        def submit(intents: Sequence[Intent]) -> list[TxRecord]:
            records = self.sender.send(caller, intents, batch=True, refuse=False)
            sent.extend(records)
            return records

        with self.sessions() as session:
            built = meters.build_closed(session, org_id, closed_before)
            outcomes = meters.anchor_windows(session, self.chain, self.suite, org_id, caller.address, submit)
        ours = {r.id for r in sent}
        waiting = [self.sender.outbox.record(o.outbox_id) for o in outcomes
                   if o.action == "pending" and o.outbox_id is not None and o.outbox_id not in ours]
        return Anchoring(org_id, closed_before, len(built), outcomes, sent + [r for r in waiting if r is not None])

    def anchors(self, caller: Caller, org_id: int, offset: int, limit: int,
                include_unanchored: bool = False) -> Listed[Anchor]:
        """The enterprise's committed windows, oldest first (anchored ones only unless asked)."""
        self._visible(caller, org_id)
        wanted = [BatchStatus.ANCHORED] + ([BatchStatus.BUILT, BatchStatus.SENT] if include_unanchored else [])
        where = (MeterBatch.enterprise_org_id == org_id) & MeterBatch.status.in_(wanted)
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(MeterBatch).where(where)) or 0
            rows = session.scalars(select(MeterBatch).where(where).order_by(MeterBatch.window_start)
                                   .offset(offset).limit(limit)).all()
            return Listed([Anchor.of_batch(b) for b in rows], total, offset, limit)

    def anchor(self, caller: Caller, anchor_id: int) -> Anchor:
        """An anchor as MeterAnchor holds it, with the oracle's batch when this service anchored it."""
        a = meters.get_anchor(self.chain, self.suite, anchor_id)
        self._visible(caller, a.enterprise_org_id)
        with self.sessions() as session:
            batch = session.scalar(select(MeterBatch).where(MeterBatch.anchor_id == anchor_id))
            mine = None if batch is None else Anchor.of_batch(batch)
        return Anchor(anchor_id, a.enterprise_org_id, a.window_start, a.window_end, bytes(a.root), int(a.total_mg),
                      int(a.reading_count), "on_chain" if mine is None else mine.status,
                      None if mine is None else mine.batch_id, None if mine is None else mine.factor_set,
                      int(a.previous_anchor_id), a.oracle, int(a.anchored_at), None if mine is None else mine.tx_hash,
                      a.measure)

    def quarantine(self, caller: Caller, org_id: int, offset: int, limit: int,
                   reason: str | None = None) -> Quarantine:
        """Readings of the enterprise's devices the oracle refused: counts by reason and the readings, newest
        first. (Messages naming no registered device belong to no enterprise.)"""
        self._visible(caller, org_id)
        query = (select(QuarantinedReading)
                 .join(MeterDevice, MeterDevice.device_id == QuarantinedReading.device_id)
                 .where(MeterDevice.enterprise_org_id == org_id))
        if reason is not None:
            query = query.where(QuarantinedReading.reason == reason)
        with self.sessions() as session:
            counts = meters.quarantine_counts(session, org_id)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(QuarantinedReading.id.desc()).offset(offset).limit(limit)).all()
        return Quarantine(org_id, counts, Listed(rows, total, offset, limit))

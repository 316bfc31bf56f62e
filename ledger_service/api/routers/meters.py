"""Meters: devices (register, deactivate, reactivate, rotate the key), oracles authorised per enterprise,
pushed readings, windows built and anchored by an oracle, anchors, quarantine and reading proofs."""

from __future__ import annotations

import time
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from ledger_service import meters
from ledger_service.api.deps import Caller, PageDep, Regulator, RuntimeDep, member
from ledger_service.api.errors import ApiError, forbidden, not_found
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.sending import require_custodial, send
from ledger_service.api.types import ChainId64, OrgId, OrgIdField, OrgIdQuery, RowId
from ledger_service.chain.errors import ContractRevert
from ledger_service.db.models import BatchStatus, MeterBatch, MeterDevice, QuarantinedReading, Reading
from ledger_service.membership import OrgKind
from ledger_service.runtime import Runtime
from oracles.canonical import public_key_hash
from oracles.devices import (
    DeviceConflict,
    DeviceInfo,
    UnknownDevice,
    register_devices,
    rotate_device_key,
    set_device_active,
)
from oracles.http_push import MAX_BATCH, PushBatch, PushResult, UnattributedMessages, ingest_batch
from oracles.proofs import ReadingNotCommitted, StoredDataInconsistent, prove_reading

router = APIRouter(prefix="/meters", tags=["meters"])
KEY = "^(0x)?[0-9a-fA-F]{64}$"
ADDRESS = "^0x[0-9a-fA-F]{40}$"
DeviceManager = Annotated[Caller, Depends(member("ENTERPRISE", "REGULATOR"))]
Pusher = Annotated[Caller, Depends(member("ORACLE", "ENTERPRISE"))]
Oracle = Annotated[Caller, Depends(member("ORACLE"))]
Reader = Annotated[Caller, Depends(member())]
DeviceId = Annotated[str, Path(min_length=1, max_length=128)]


class DeviceIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=128)
    enterprise_org_id: OrgIdField
    facility: str = Field(min_length=1, max_length=128)
    workshop: str = Field(min_length=1, max_length=128)
    public_key: str = Field(pattern=KEY, description="raw Ed25519 public key, 32 bytes of hex")


class KeyIn(BaseModel):
    public_key: str = Field(pattern=KEY, description="the new raw Ed25519 public key, 32 bytes of hex")


class AuthorisationIn(BaseModel):
    oracle: str = Field(pattern=ADDRESS, description="an active member holding the ORACLE role")
    authorised: bool = Field(default=True, description="false withdraws the authorisation")


class AuthorisationOut(BaseModel):
    oracle: str
    enterprise_org_id: int
    authorised: bool = Field(description="as MeterAnchor records it")


class AuthorisationChange(BaseModel):
    authorisation: AuthorisationOut
    transaction: TxOut


class DeviceOut(BaseModel):
    device_id: str
    device_hash: str
    enterprise_org_id: int
    facility: str
    workshop: str
    public_key: str
    public_key_hash: str
    active: bool
    last_sequence: int | None = None
    last_timestamp: int | None = None

    @classmethod
    def of(cls, d: MeterDevice) -> DeviceOut:
        return cls(device_id=d.device_id, device_hash="0x" + bytes(d.device_hash).hex(),
                   enterprise_org_id=d.enterprise_org_id, facility=d.facility, workshop=d.workshop,
                   public_key=bytes(d.public_key).hex(), public_key_hash="0x" + public_key_hash(d.public_key).hex(),
                   active=d.active, last_sequence=d.last_sequence, last_timestamp=d.last_timestamp)


class DeviceAction(BaseModel):
    device: DeviceOut
    transaction: TxOut | None = Field(description="null when the chain already held this state")


class DeviceList(BaseModel):
    page: PageInfo
    devices: list[DeviceOut]


class WindowOut(BaseModel):
    batch_id: int
    window_start: int
    window_end: int
    root: str
    action: str = Field(description="anchored, recovered (found on chain), pending, refused or conflict")
    anchor_id: int | None
    outbox_id: int | None
    tx_hash: str | None
    error: str | None


class AnchoringOut(BaseModel):
    enterprise_org_id: int
    closed_before: int
    built: int
    windows: list[WindowOut]


class AnchorOut(BaseModel):
    anchor_id: int | None
    batch_id: int | None = None
    enterprise_org_id: int
    window_start: int
    window_end: int
    root: str | None
    total_mg: str = Field(description="mgCO2e, decimal string")
    reading_count: int
    factor_set: str | None = None
    status: str = Field(description="built, sent or anchored (from the oracle's records), or on_chain")
    previous_anchor_id: int | None = None
    oracle: str | None = None
    anchored_at: int | None = None
    tx_hash: str | None = None


class AnchorList(BaseModel):
    enterprise_org_id: int
    page: PageInfo
    anchors: list[AnchorOut]


class QuarantinedOut(BaseModel):
    id: int
    run_id: int
    reason: str
    detail: str
    device_id: str | None
    sequence: int | None
    timestamp: int | None
    payload: str
    received_at: str


class QuarantineOut(BaseModel):
    enterprise_org_id: int
    by_reason: dict[str, int]
    page: PageInfo
    readings: list[QuarantinedOut]


class StepOut(BaseModel):
    kind: int
    level: int
    data: str
    sum: str
    count: int


class SubtotalOut(BaseModel):
    level: int
    name: str
    label: str
    id: str
    sum_mg: str
    count: int


class ProofOut(BaseModel):
    reading_id: int
    batch_id: int
    anchor_id: int | None
    enterprise_org_id: int
    window_start: int
    window_end: int
    digest: str
    value_mg: str
    record: dict[str, Any] = Field(description="the canonical reading record the digest is computed from "
                                   "(contracts/COMMITMENTS.md): quantity, unit, carrier, time, factor set")
    root: str
    steps: list[StepOut]
    subtotals: list[SubtotalOut]
    verified_on_chain: bool | None = Field(description="MeterAnchor.verifyReading's answer; null if not anchored")


# ---------------------------------------------------------------------- access


def _visible(runtime: Runtime, caller: Caller, org_id: int) -> None:
    """Enterprise meter data: its own members, verifiers, regulators and oracles authorised for it."""
    if caller.is_regulator or caller.member.has_role("VERIFIER") or caller.member.org_id == org_id:
        return
    if caller.member.has_role("ORACLE") and meters.oracle_authorised(runtime.chain, runtime.suite, caller.address,
                                                                      org_id):
        return
    raise forbidden("meter data is visible to the enterprise's members, verifiers, regulators and its oracles",
                    "NotYourData", orgId=org_id)


def _manages(caller: Caller, org_id: int) -> None:
    if not (caller.is_regulator or caller.member.org_id == org_id):
        raise forbidden(f"{caller.address} may manage only the devices of its own organisation", "NotYourDevice",
                        account=caller.address, orgId=org_id)


def _device(runtime: Runtime, device_id: str) -> MeterDevice:
    with runtime.sessions() as session:
        device = meters.sql_device(session, device_id)
    if device is None:
        raise not_found(f"device {device_id} is not registered", "UnknownDevice", deviceId=device_id)
    return device


def _answer(record_status: str, response: Response) -> None:
    if record_status != "mined":
        response.status_code = status.HTTP_202_ACCEPTED


# ---------------------------------------------------------------------- devices


@router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceAction)
def register_device(body: DeviceIn, caller: DeviceManager, runtime: RuntimeDep, response: Response) -> DeviceAction:
    """Register a device in MeterAnchor (through the outbox) and then in the oracle's registry; an enterprise
    member registers devices of its own organisation, a regulator those of any enterprise."""
    _manages(caller, body.enterprise_org_id)
    info = DeviceInfo(body.device_id, body.enterprise_org_id, body.facility, body.workshop,
                      bytes.fromhex(body.public_key.removeprefix("0x")))
    with runtime.sessions() as session:
        known = meters.sql_device(session, info.device_id)
    if known is not None and (known.enterprise_org_id, known.facility, known.workshop, bytes(known.public_key)) != (
            info.enterprise_org_id, info.facility, info.workshop, info.public_key):
        raise ApiError(409, "DeviceConflict", f"device {info.device_id} is registered with other details",
                       {"deviceId": info.device_id})
    on_chain = meters.chain_device(runtime.chain, runtime.suite, info.device_hash)
    record = None
    if on_chain is None:
        (record,) = send(runtime, caller, [meters.register_intent(caller.address, info)])
        if record.status != "mined":
            raise ApiError(202, "DevicePending", "the registration is sent; repeat the request once it is mined",
                           {"outbox_id": record.id})
    elif not meters.matches(on_chain, info):
        raise ContractRevert("DeviceAlreadyRegistered", {"deviceId": info.device_hash,
                                                         "enterpriseOrgId": on_chain.enterprise_org_id})
    else:
        response.status_code = status.HTTP_200_OK
    with runtime.sessions() as session:
        try:
            register_devices(session, [info])
        except DeviceConflict as exc:
            raise ApiError(409, "DeviceConflict", str(exc), {"deviceId": info.device_id}) from None
        session.commit()
        device = meters.sql_device(session, info.device_id)
        assert device is not None
        return DeviceAction(device=DeviceOut.of(device), transaction=None if record is None else TxOut.of(record))


@router.get("/devices", response_model=DeviceList)
def list_devices(enterprise_org_id: OrgIdQuery, caller: Reader, runtime: RuntimeDep,
                 page: PageDep) -> DeviceList:
    _visible(runtime, caller, enterprise_org_id)
    where = MeterDevice.enterprise_org_id == enterprise_org_id
    with runtime.sessions() as session:
        total = session.scalar(select(func.count()).select_from(MeterDevice).where(where)) or 0
        rows = session.scalars(select(MeterDevice).where(where).order_by(MeterDevice.id)
                               .offset(page.offset).limit(page.limit)).all()
        return DeviceList(page=PageInfo(offset=page.offset, limit=page.limit, total=total),
                          devices=[DeviceOut.of(d) for d in rows])


@router.get("/devices/{device_id}", response_model=DeviceOut)
def get_device(device_id: DeviceId, caller: Reader, runtime: RuntimeDep) -> DeviceOut:
    device = _device(runtime, device_id)
    _visible(runtime, caller, device.enterprise_org_id)
    return DeviceOut.of(device)


def _set_active(device_id: str, active: bool, caller: Caller, runtime: Runtime, response: Response) -> DeviceAction:
    device = _device(runtime, device_id)
    _manages(caller, device.enterprise_org_id)
    (record,) = send(runtime, caller, [meters.set_active_intent(caller.address, bytes(device.device_hash), active)])
    _answer(record.status, response)
    with runtime.sessions() as session:
        if record.status == "mined":
            set_device_active(session, device_id, active)
            session.commit()
        row = meters.sql_device(session, device_id)
        assert row is not None
        return DeviceAction(device=DeviceOut.of(row), transaction=TxOut.of(record))


@router.post("/devices/{device_id}/deactivate", response_model=DeviceAction)
def deactivate(device_id: DeviceId, caller: DeviceManager, runtime: RuntimeDep, response: Response) -> DeviceAction:
    """The oracle quarantines the device's readings (device_inactive) until it is reactivated."""
    return _set_active(device_id, False, caller, runtime, response)


@router.post("/devices/{device_id}/reactivate", response_model=DeviceAction)
def reactivate(device_id: DeviceId, caller: DeviceManager, runtime: RuntimeDep, response: Response) -> DeviceAction:
    return _set_active(device_id, True, caller, runtime, response)


@router.post("/devices/{device_id}/key", response_model=DeviceAction)
def rotate_key(device_id: DeviceId, body: KeyIn, caller: DeviceManager, runtime: RuntimeDep,
               response: Response) -> DeviceAction:
    """Replace the device's key: its hash in MeterAnchor, the key itself in the oracle's registry."""
    device = _device(runtime, device_id)
    _manages(caller, device.enterprise_org_id)
    key = bytes.fromhex(body.public_key.removeprefix("0x"))
    (record,) = send(runtime, caller, [meters.rotate_intent(caller.address, bytes(device.device_hash),
                                                            public_key_hash(key))])
    _answer(record.status, response)
    with runtime.sessions() as session:
        if record.status == "mined":
            try:
                rotate_device_key(session, device_id, key)
            except UnknownDevice:
                raise not_found(f"device {device_id} is not registered", "UnknownDevice") from None
            session.commit()
        row = meters.sql_device(session, device_id)
        assert row is not None
        return DeviceAction(device=DeviceOut.of(row), transaction=TxOut.of(record))


# ---------------------------------------------------------------------- oracles


@router.post("/enterprises/{org_id}/oracles", response_model=AuthorisationChange)
def authorise_oracle(org_id: OrgId, body: AuthorisationIn, caller: Regulator, runtime: RuntimeDep,
                     response: Response) -> AuthorisationChange:
    """Authorise an oracle to push and anchor the enterprise's meter data, or withdraw the authorisation
    (regulator). Authorising needs an active ORACLE member and a registered enterprise."""
    oracle = to_checksum_address(body.oracle)
    org = runtime.directory.organisation(org_id)
    if body.authorised and (org is None or org.kind != OrgKind.ENTERPRISE):
        raise not_found(f"organisation {org_id} is not a registered enterprise", "UnknownOrganisation", orgId=org_id)
    (record,) = send(runtime, caller, [meters.authorise_intent(caller.address, oracle, org_id, body.authorised)])
    _answer(record.status, response)
    return AuthorisationChange(
        authorisation=AuthorisationOut(oracle=oracle, enterprise_org_id=org_id, authorised=meters.oracle_authorised(
            runtime.chain, runtime.suite, oracle, org_id)),
        transaction=TxOut.of(record))


@router.get("/enterprises/{org_id}/oracles/{address}", response_model=AuthorisationOut)
def get_authorisation(org_id: OrgId, address: Annotated[str, Path(pattern=ADDRESS)], caller: Reader,
                      runtime: RuntimeDep) -> AuthorisationOut:
    """Whether an oracle is authorised for the enterprise: for the oracle itself and whoever sees the
    enterprise's meter data."""
    oracle = to_checksum_address(address)
    if caller.address != oracle:
        _visible(runtime, caller, org_id)
    return AuthorisationOut(oracle=oracle, enterprise_org_id=org_id,
                            authorised=meters.oracle_authorised(runtime.chain, runtime.suite, oracle, org_id))


# ---------------------------------------------------------------------- readings


@router.post("/messages", response_model=PushResult, summary=f"Push a batch of signed meter messages (at most "
             f"{MAX_BATCH})")
def push(batch: PushBatch, caller: Pusher, runtime: RuntimeDep) -> PushResult:
    """Ingest signed messages: each reading is checked and accepted or quarantined with its reason (a malformed
    message is quarantined, never refused with the batch). An ORACLE member may push for the devices of the
    enterprises it is authorised for, an ENTERPRISE member for its own organisation's devices; a batch naming a
    registered device outside that is refused as a whole (403) and nothing is stored. A batch with messages naming
    no registered device (or none at all) is refused as a whole (422 UnattributedMessages, each with its reason)
    and nothing is stored; a device's quarantined readings are kept up to `quarantine_per_device_hour` in any
    hour, the rest counted in `quarantine_not_stored`."""
    with runtime.sessions() as session:
        owners = meters.device_owners(session, meters.named_devices(batch.messages))
    orgs = set(owners.values())
    allowed: set[int] = set()
    if caller.member.has_role("ENTERPRISE"):
        allowed |= {caller.member.org_id} & orgs
    if caller.member.has_role("ORACLE"):
        allowed |= {o for o in orgs - allowed
                    if meters.oracle_authorised(runtime.chain, runtime.suite, caller.address, o)}
    foreign = sorted(d for d, o in owners.items() if o not in allowed)
    if foreign:
        raise forbidden(f"{caller.address} may not push readings of {len(foreign)} device(s) of other enterprises",
                        "NotYourDevice", account=caller.address, devices=foreign[:20],
                        orgIds=sorted({owners[d] for d in foreign}))
    try:
        return ingest_batch(runtime.sessions, runtime.settings, batch, source=f"api:{caller.address}")
    except UnattributedMessages as exc:
        body = exc.body()
        raise ApiError(422, body["error"], body["message"], body["args"]) from None


def _inconsistent(reading_id: int, exc: StoredDataInconsistent) -> ApiError:
    """409: the window's stored data no longer reproduces its committed root, so no reading of it is provable."""
    return ApiError(409, "StoredDataInconsistent",
                    f"reading {reading_id} cannot be proved: the stored data of its window no longer reproduces "
                    f"its committed root: {exc.reason}", {"readingId": reading_id, **exc.details()})


@router.get("/readings/{reading_id}/proof", response_model=ProofOut,
            responses={409: {"description": "ReadingNotCommitted (window not built yet) or StoredDataInconsistent "
                             "(the window's stored readings no longer reproduce its committed or anchored root; "
                             "names the window and the reason)"}})
def reading_proof(reading_id: RowId, caller: Reader, runtime: RuntimeDep) -> ProofOut:
    """The reading's Merkle-sum proof into its anchor, with the labelled subtotals on its path, and whether
    MeterAnchor.verifyReading accepts it."""
    with runtime.sessions() as session:
        org = session.scalar(select(MeterDevice.enterprise_org_id).join(Reading, Reading.device_pk == MeterDevice.id)
                             .where(Reading.id == reading_id))
        if org is None:
            raise not_found(f"no reading {reading_id}", "UnknownReading", readingId=reading_id)
        _visible(runtime, caller, org)
        try:
            proof = prove_reading(session, reading_id)
        except ReadingNotCommitted as exc:
            raise ApiError(409, "ReadingNotCommitted", f"{exc}: its window is not built yet",
                           {"readingId": reading_id}) from None
        except StoredDataInconsistent as exc:
            raise _inconsistent(reading_id, exc) from None
    verified = None
    if proof.anchor_id is not None:
        anchor_id = proof.anchor_id
        anchored = meters.get_anchor(runtime.chain, runtime.suite, anchor_id)
        if anchored.root != proof.root:
            raise _inconsistent(reading_id, StoredDataInconsistent(
                f"batch {proof.batch_id} (enterprise {proof.enterprise_org_id}, window {proof.window_start}-"
                f"{proof.window_end}, anchor {anchor_id}): its stored root 0x{proof.root.hex()} is not the anchored "
                f"root 0x{anchored.root.hex()}", proof.batch_id, proof.enterprise_org_id, proof.window_start,
                proof.window_end, anchor_id))
        valid, _ = runtime.chain.request(lambda: runtime.suite.call(
            meters.ANCHOR, "verifyReading", anchor_id, proof.digest, proof.value_mg,
            [s.as_tuple() for s in proof.steps]))
        verified = bool(valid)
    return ProofOut(
        reading_id=proof.reading_id, batch_id=proof.batch_id, anchor_id=proof.anchor_id,
        enterprise_org_id=proof.enterprise_org_id, window_start=proof.window_start, window_end=proof.window_end,
        digest="0x" + proof.digest.hex(), value_mg=str(proof.value_mg), record=proof.record_json(),
        root="0x" + proof.root.hex(),
        steps=[StepOut(kind=s.kind, level=s.level, data="0x" + s.data.hex(), sum=str(s.sum), count=s.count)
               for s in proof.steps],
        subtotals=[SubtotalOut(level=t.level, name=t.level_name, label=t.label, id="0x" + t.id.hex(),
                               sum_mg=str(t.sum_mg), count=t.count) for t in proof.subtotals],
        verified_on_chain=verified,
    )


# ---------------------------------------------------------------------- windows and anchors


@router.post("/enterprises/{org_id}/anchoring", response_model=AnchoringOut)
def build_and_anchor(org_id: OrgId, caller: Oracle, runtime: RuntimeDep, response: Response) -> AnchoringOut:
    """Build the enterprise's closed windows and anchor every built one through the outbox with the oracle's key.
    Only an ORACLE member the regulator authorised for the enterprise. Repeating the request is safe."""
    if not meters.oracle_authorised(runtime.chain, runtime.suite, caller.address, org_id):
        raise ContractRevert("OracleNotAuthorised", {"oracle": caller.address, "enterpriseOrgId": org_id})
    require_custodial(runtime, caller)
    closed_before = min(int(time.time()), meters.chain_time(runtime.chain))
    with runtime.sessions() as session:
        built = meters.build_closed(session, org_id, closed_before)
        outcomes = meters.anchor_windows(session, runtime.chain, runtime.suite, org_id, caller.address,
                                         lambda intents: send(runtime, caller, intents, batch=True, refuse=False))
    if any(o.action in ("pending", "refused", "conflict") for o in outcomes):
        response.status_code = status.HTTP_207_MULTI_STATUS if any(
            o.action in ("refused", "conflict") for o in outcomes) else status.HTTP_202_ACCEPTED
    return AnchoringOut(enterprise_org_id=org_id, closed_before=closed_before, built=len(built), windows=[
        WindowOut(batch_id=o.batch_id, window_start=o.window_start, window_end=o.window_end, root="0x" + o.root.hex(),
                  action=o.action, anchor_id=o.anchor_id, outbox_id=o.outbox_id, tx_hash=o.tx_hash, error=o.error)
        for o in outcomes])


def _batch_out(b: MeterBatch) -> AnchorOut:
    return AnchorOut(anchor_id=b.anchor_id, batch_id=b.id, enterprise_org_id=b.enterprise_org_id,
                     window_start=b.window_start, window_end=b.window_end,
                     root=None if b.root is None else "0x" + bytes(b.root).hex(), total_mg=str(b.total_mg),
                     reading_count=b.reading_count, factor_set=b.factor_set, status=b.status, tx_hash=b.tx_hash)


@router.get("/enterprises/{org_id}/anchors", response_model=AnchorList)
def list_anchors(org_id: OrgId, caller: Reader, runtime: RuntimeDep, page: PageDep,
                 include_unanchored: Annotated[bool, Query(description="also built and sent windows")] = False
                 ) -> AnchorList:
    """The enterprise's committed windows, oldest first (anchored ones only unless asked)."""
    _visible(runtime, caller, org_id)
    wanted = [BatchStatus.ANCHORED] + ([BatchStatus.BUILT, BatchStatus.SENT] if include_unanchored else [])
    where = (MeterBatch.enterprise_org_id == org_id) & MeterBatch.status.in_(wanted)
    with runtime.sessions() as session:
        total = session.scalar(select(func.count()).select_from(MeterBatch).where(where)) or 0
        rows = session.scalars(select(MeterBatch).where(where).order_by(MeterBatch.window_start)
                               .offset(page.offset).limit(page.limit)).all()
        return AnchorList(enterprise_org_id=org_id, page=PageInfo(offset=page.offset, limit=page.limit, total=total),
                          anchors=[_batch_out(b) for b in rows])


@router.get("/anchors/{anchor_id}", response_model=AnchorOut)
def get_anchor(anchor_id: ChainId64, caller: Reader, runtime: RuntimeDep) -> AnchorOut:
    """An anchor as MeterAnchor holds it, with the oracle's batch when this service anchored it."""
    a = meters.get_anchor(runtime.chain, runtime.suite, anchor_id)
    _visible(runtime, caller, a.enterprise_org_id)
    with runtime.sessions() as session:
        batch = session.scalar(select(MeterBatch).where(MeterBatch.anchor_id == anchor_id))
        out = _batch_out(batch) if batch is not None else AnchorOut(
            anchor_id=anchor_id, enterprise_org_id=a.enterprise_org_id, window_start=a.window_start,
            window_end=a.window_end, root=None, total_mg="0", reading_count=0, status="on_chain")
    return out.model_copy(update={
        "anchor_id": anchor_id, "root": "0x" + bytes(a.root).hex(), "total_mg": str(a.total_mg),
        "reading_count": a.reading_count, "previous_anchor_id": a.previous_anchor_id, "oracle": a.oracle,
        "anchored_at": a.anchored_at})


@router.get("/enterprises/{org_id}/quarantine", response_model=QuarantineOut)
def quarantine(org_id: OrgId, caller: Reader, runtime: RuntimeDep, page: PageDep,
               reason: Annotated[str | None, Query(max_length=32)] = None) -> QuarantineOut:
    """Readings of the enterprise's devices the oracle refused: counts by reason and the readings, newest first.
    (Messages naming no registered device belong to no enterprise.)"""
    _visible(runtime, caller, org_id)
    query = (select(QuarantinedReading)
             .join(MeterDevice, MeterDevice.device_id == QuarantinedReading.device_id)
             .where(MeterDevice.enterprise_org_id == org_id))
    if reason is not None:
        query = query.where(QuarantinedReading.reason == reason)
    with runtime.sessions() as session:
        counts = meters.quarantine_counts(session, org_id)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(QuarantinedReading.id.desc()).offset(page.offset)
                               .limit(page.limit)).all()
        return QuarantineOut(enterprise_org_id=org_id, by_reason=counts,
                             page=PageInfo(offset=page.offset, limit=page.limit, total=total),
                             readings=[QuarantinedOut(id=q.id, run_id=q.run_id, reason=q.reason, detail=q.detail,
                                                      device_id=q.device_id, sequence=q.sequence,
                                                      timestamp=q.timestamp, payload=q.payload,
                                                      received_at=q.received_at.isoformat()) for q in rows])




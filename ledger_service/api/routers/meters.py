"""Meters: devices (register, deactivate, reactivate, rotate the key), oracles authorised per enterprise,
pushed readings, windows built and anchored by an oracle, anchors, quarantine and reading proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, computed_field

from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer
from ledger_service.api.deps import Caller, PageDep, Regulator, ServicesDep, member
from ledger_service.api.schemas import AnchorBase, BareHex, DecimalString, DeviceBase, Hex, IsoTime, PageInfo, TxOut
from ledger_service.api.types import ChainId64, OrgId, OrgIdField, OrgIdQuery, RowId
from ledger_service.services.meters import DeviceChange
from oracles.canonical import public_key_hash
from oracles.devices import DeviceInfo
from oracles.http_push import MAX_BATCH, PushBatch, PushResult
from oracles.measures import DeviceKind

router = APIRouter(prefix=f"{API_PREFIX}/meters", tags=["meters"])
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
    kind: DeviceKind = Field(
        default=DeviceKind.EMISSION_METER,
        description="emission_meter (readings valued in mgCO2e), generation_meter (electricity produced, "
                    "anchored in Wh as production windows) or product_counter (units of a product, anchored in "
                    "milli declared units as product-count windows)")


class KeyIn(BaseModel):
    public_key: str = Field(pattern=KEY, description="the new raw Ed25519 public key, 32 bytes of hex")


class AuthorisationIn(BaseModel):
    oracle: str = Field(pattern=ADDRESS, description="an active member holding the ORACLE role")
    authorised: bool = Field(default=True, description="false withdraws the authorisation")


class AuthorisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    oracle: str
    enterprise_org_id: int
    authorised: bool = Field(description="as MeterAnchor records it")


class AuthorisationChange(BaseModel):
    authorisation: AuthorisationOut
    transaction: TxOut


class DeviceOut(DeviceBase):
    """A device as the oracle's registry holds it."""

    enterprise_org_id: int
    public_key: BareHex
    kind: DeviceKind = DeviceKind.EMISSION_METER
    active: bool
    last_sequence: int | None = None
    last_timestamp: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def public_key_hash(self) -> str:
        """What MeterAnchor records of the key."""
        return "0x" + public_key_hash(bytes.fromhex(self.public_key)).hex()


class DeviceAction(BaseModel):
    device: DeviceOut
    transaction: TxOut | None = Field(description="null when the chain already held this state")


class DeviceList(BaseModel):
    page: PageInfo
    devices: list[DeviceOut]


class WindowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    batch_id: int
    window_start: int
    window_end: int
    root: Hex
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


class AnchorOut(AnchorBase):
    """A window as the oracle's batch and MeterAnchor record it."""

    total_mg: DecimalString = Field(description="mgCO2e (Wh for a production window), decimal string")
    measure: int = Field(default=0, description="0 emissions (mgCO2e), 1 electricity produced by generation "
                         "meters (Wh)")
    factor_set: str | None = None
    status: str = Field(description="built, sent or anchored (from the oracle's records), or on_chain")
    previous_anchor_id: int | None = None
    anchored_at: int | None = None
    tx_hash: str | None = None


class AnchorList(BaseModel):
    enterprise_org_id: int
    page: PageInfo
    anchors: list[AnchorOut]


class QuarantinedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: int
    reason: str
    detail: str
    device_id: str | None
    sequence: int | None
    timestamp: int | None
    payload: str
    received_at: IsoTime


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
    anchor_record: dict[str, Any] | None = Field(
        default=None, description="the anchor's record as its event states it (COMMITMENTS.md, \"Proof bundles\"), "
        "which MeterAnchor checks against the commitment it keeps; null if not anchored")
    anchor_batch: dict[str, Any] | None = Field(
        default=None, description="for a window anchored in a batch: the batch's first anchor id, the path of the "
        "record's commitment to the batch root kept there, and that root; null for a single anchor")
    verified_on_chain: bool | None = Field(description="MeterAnchor.verifyReading's answer; null if not anchored")


# ---------------------------------------------------------------------- devices


def _changed(change: DeviceChange) -> DeviceAction:
    return DeviceAction(device=DeviceOut.model_validate(change.device),
                        transaction=None if change.record is None else TxOut.model_validate(change.record))


def _device_answer(change: DeviceChange, response: Response) -> DeviceAction:
    """200 once the change is mined (and made in the registry), 202 while it is on its way."""
    if change.record is not None:
        answer(response, change.record)
    return _changed(change)


@router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceAction)
def register_device(body: DeviceIn, caller: DeviceManager, services: ServicesDep, response: Response) -> DeviceAction:
    """Register a device in MeterAnchor (through the outbox) and then in the oracle's registry; an enterprise
    member registers devices of its own organisation, a regulator those of any enterprise. 200 when the chain
    held the device already (the registry's side completed), 202 while the registration is on its way (repeat
    the request once it is mined)."""
    info = DeviceInfo(body.device_id, body.enterprise_org_id, body.facility, body.workshop,
                      bytes.fromhex(body.public_key.removeprefix("0x")), body.kind)
    change = services.meters.register_device(caller, info)
    if change.record is None:
        response.status_code = status.HTTP_200_OK
    else:
        answer(response, change.record, done=status.HTTP_201_CREATED)
    return _changed(change)


@router.get("/devices", response_model=DeviceList)
def list_devices(enterprise_org_id: OrgIdQuery, caller: Reader, services: ServicesDep,
                 page: PageDep) -> DeviceList:
    found = services.meters.devices(caller, enterprise_org_id, page.offset, page.limit)
    return DeviceList(page=PageInfo(offset=found.offset, limit=found.limit, total=found.total),
                      devices=[DeviceOut.model_validate(d) for d in found.items])


@router.get("/devices/{device_id}", response_model=DeviceOut)
def get_device(device_id: DeviceId, caller: Reader, services: ServicesDep) -> DeviceOut:
    return DeviceOut.model_validate(services.meters.device(caller, device_id))


@router.post("/devices/{device_id}/deactivate", response_model=DeviceAction)
def deactivate(device_id: DeviceId, caller: DeviceManager, services: ServicesDep, response: Response) -> DeviceAction:
    """The oracle quarantines the device's readings (device_inactive) until it is reactivated."""
    return _device_answer(services.meters.set_active(caller, device_id, False), response)


@router.post("/devices/{device_id}/reactivate", response_model=DeviceAction)
def reactivate(device_id: DeviceId, caller: DeviceManager, services: ServicesDep, response: Response) -> DeviceAction:
    return _device_answer(services.meters.set_active(caller, device_id, True), response)


@router.post("/devices/{device_id}/key", response_model=DeviceAction)
def rotate_key(device_id: DeviceId, body: KeyIn, caller: DeviceManager, services: ServicesDep,
               response: Response) -> DeviceAction:
    """Replace the device's key: its hash in MeterAnchor, the key itself in the oracle's registry."""
    key = bytes.fromhex(body.public_key.removeprefix("0x"))
    return _device_answer(services.meters.rotate_key(caller, device_id, key), response)


# ---------------------------------------------------------------------- oracles


@router.post("/enterprises/{org_id}/oracles", response_model=AuthorisationChange)
def authorise_oracle(org_id: OrgId, body: AuthorisationIn, caller: Regulator, services: ServicesDep,
                     response: Response) -> AuthorisationChange:
    """Authorise an oracle to push and anchor the enterprise's meter data, or withdraw the authorisation
    (regulator). Authorising needs an active ORACLE member and a registered enterprise."""
    done = services.meters.authorise_oracle(caller, org_id, body.oracle, body.authorised)
    assert done.record is not None
    answer(response, done.record)
    return AuthorisationChange(authorisation=AuthorisationOut.model_validate(done),
                               transaction=TxOut.model_validate(done.record))


@router.get("/enterprises/{org_id}/oracles/{address}", response_model=AuthorisationOut)
def get_authorisation(org_id: OrgId, address: Annotated[str, Path(pattern=ADDRESS)], caller: Reader,
                      services: ServicesDep) -> AuthorisationOut:
    """Whether an oracle is authorised for the enterprise: for the oracle itself and whoever sees the
    enterprise's meter data."""
    return AuthorisationOut.model_validate(services.meters.authorisation(caller, org_id, address))


# ---------------------------------------------------------------------- readings


@router.post("/messages", response_model=PushResult, summary=f"Push a batch of signed meter messages (at most "
             f"{MAX_BATCH})")
def push(batch: PushBatch, caller: Pusher, services: ServicesDep) -> PushResult:
    """Ingest signed messages: each reading is checked and accepted or quarantined with its reason (a malformed
    message is quarantined, never refused with the batch). An ORACLE member may push for the devices of the
    enterprises it is authorised for, an ENTERPRISE member for its own organisation's devices; a batch naming a
    registered device outside that is refused as a whole (403) and nothing is stored. A batch with messages naming
    no registered device (or none at all) is refused as a whole (422 UnattributedMessages, each with its reason)
    and nothing is stored; a device's quarantined readings are kept up to `quarantine_per_device_hour` in any
    hour, the rest counted in `quarantine_not_stored`."""
    return services.meters.push(caller, batch)


@router.get("/readings/{reading_id}/proof", response_model=ProofOut,
            responses={409: {"description": "ReadingNotCommitted (window not built yet) or StoredDataInconsistent "
                             "(the window's stored readings no longer reproduce its committed or anchored root; "
                             "names the window and the reason)"}})
def reading_proof(reading_id: RowId, caller: Reader, services: ServicesDep) -> ProofOut:
    """The reading's Merkle-sum proof into its anchor, with the labelled subtotals on its path, and whether
    MeterAnchor.verifyReading accepts it."""
    return ProofOut.model_validate(services.meters.prove(caller, reading_id).as_json())


# ---------------------------------------------------------------------- windows and anchors


@router.post("/enterprises/{org_id}/anchoring", response_model=AnchoringOut)
def build_and_anchor(org_id: OrgId, caller: Oracle, services: ServicesDep, response: Response) -> AnchoringOut:
    """Build the enterprise's closed windows and anchor every built one through the outbox with the oracle's key.
    Only an ORACLE member the regulator authorised for the enterprise. Repeating the request is safe. 207 when a
    window was refused (or the chain holds another root for it), 202 while one is on its way."""
    done = services.meters.build_and_anchor(caller, org_id)
    if done.refused:
        response.status_code = status.HTTP_207_MULTI_STATUS
    else:
        answer(response, *done.records)
    return AnchoringOut(enterprise_org_id=done.enterprise_org_id, closed_before=done.closed_before, built=done.built,
                        windows=[WindowOut.model_validate(w) for w in done.windows])


@router.get("/enterprises/{org_id}/anchors", response_model=AnchorList)
def list_anchors(org_id: OrgId, caller: Reader, services: ServicesDep, page: PageDep,
                 include_unanchored: Annotated[bool, Query(description="also built and sent windows")] = False
                 ) -> AnchorList:
    """The enterprise's committed windows, oldest first (anchored ones only unless asked)."""
    found = services.meters.anchors(caller, org_id, page.offset, page.limit, include_unanchored)
    return AnchorList(enterprise_org_id=org_id, page=PageInfo(offset=found.offset, limit=found.limit,
                                                              total=found.total),
                      anchors=[AnchorOut.model_validate(a) for a in found.items])


@router.get("/anchors/{anchor_id}", response_model=AnchorOut)
def get_anchor(anchor_id: ChainId64, caller: Reader, services: ServicesDep) -> AnchorOut:
    """An anchor as MeterAnchor holds it, with the oracle's batch when this service anchored it."""
    return AnchorOut.model_validate(services.meters.anchor(caller, anchor_id))


@router.get("/enterprises/{org_id}/quarantine", response_model=QuarantineOut)
def quarantine(org_id: OrgId, caller: Reader, services: ServicesDep, page: PageDep,
               reason: Annotated[str | None, Query(max_length=32)] = None) -> QuarantineOut:
    """Readings of the enterprise's devices the oracle refused: counts by reason and the readings, newest first.
    (Messages naming no registered device belong to no enterprise.)"""
    found = services.meters.quarantine(caller, org_id, page.offset, page.limit, reason)
    listed = found.readings
    return QuarantineOut(enterprise_org_id=org_id, by_reason=found.by_reason,
                         page=PageInfo(offset=listed.offset, limit=listed.limit, total=listed.total),
                         readings=[QuarantinedOut.model_validate(q) for q in listed.items])

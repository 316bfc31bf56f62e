"""Allowances: allocation (regulator), balances, transfers (single and batch), surrender; compliance status and
the yearly compliance windows (opened and closed by a regulator)."""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field

from ledger_service import allowances
from ledger_service.api.deps import Caller, Regulator, RuntimeDep, member
from ledger_service.api.errors import ApiError, forbidden, not_found
from ledger_service.api.indexing import viewer
from ledger_service.api.schemas import TxOut
from ledger_service.api.sending import require_custodial, send
from ledger_service.api.types import OrgId, Tonnes, Year, YearItem
from ledger_service.audit.access import AccessDenied, park_rows, require_in_park
from ledger_service.chain.outbox import Intent, TxRecord
from ledger_service.db.models.outbox import OutboxStatus
from ledger_service.membership import OrgKind

router = APIRouter(tags=["allowances"])
ADDRESS = "^0x[0-9a-fA-F]{40}$"
Amount = Tonnes
Trader = Annotated[Caller, Depends(member("ENTERPRISE", "TRADER", moves_assets=True))]
Surrenderer = Annotated[Caller, Depends(member("ENTERPRISE", moves_assets=True))]
Wait = Annotated[bool, Query(description="wait for the receipt (otherwise answer 202 once sent)")]


class Grant(BaseModel):
    holder: str = Field(pattern=ADDRESS)
    amount: Amount


class AllocationIn(BaseModel):
    year: Year
    allocations: list[Grant] = Field(min_length=1, max_length=500)


class TransferIn(BaseModel):
    to: str = Field(pattern=ADDRESS)
    year: Year
    amount: Amount


class BatchIn(BaseModel):
    transfers: list[TransferIn] = Field(min_length=1)


class BatchOut(BaseModel):
    transactions: list[TxOut]
    mined: int
    failed: int
    pending: int


class VintageAmount(BaseModel):
    year: Year
    amount: Amount


class SurrenderIn(BaseModel):
    compliance_year: Year
    vintages: list[VintageAmount] = Field(min_length=1, max_length=50)


class Balances(BaseModel):
    address: str
    balances: dict[int, int] = Field(description="vintage year -> allowances (tCO2e)")


class StatusOut(BaseModel):
    org_id: int
    year: int
    obligation: int
    allowances_surrendered: int
    credits_surrendered: int
    shortfall: int
    finalized: bool

    @classmethod
    def of(cls, s: allowances.ComplianceStatus) -> StatusOut:
        return cls(**s.__dict__)


class ParkStatusOut(BaseModel):
    park: StatusOut
    enterprises: list[StatusOut]


class WindowOut(BaseModel):
    year: int
    open: bool = Field(description="surrenders for the year are accepted")


class WindowChange(BaseModel):
    window: WindowOut
    transaction: TxOut


def _answer(record: TxRecord, response: Response) -> TxOut:
    if record.status not in (OutboxStatus.MINED,):
        response.status_code = status.HTTP_202_ACCEPTED
    return TxOut.of(record)


@router.post("/allowances/allocations", response_model=TxOut)
def allocate(body: AllocationIn, caller: Regulator, runtime: RuntimeDep, response: Response,
             wait: Wait = True) -> TxOut:
    holders = [to_checksum_address(g.holder) for g in body.allocations]
    (record,) = send(runtime, caller, [Intent("AllowanceRegistry", "allocate",
                                              (body.year, holders, [g.amount for g in body.allocations]),
                                              caller.address, requested_by=caller.address)], wait=wait)
    return _answer(record, response)


@router.get("/allowances/balances/{address}", response_model=Balances)
def get_balances(address: Annotated[str, Path(pattern=ADDRESS)], caller: Annotated[Caller, Depends(member())],
                 runtime: RuntimeDep,
                 years: Annotated[list[YearItem], Query(min_length=1, max_length=50)]) -> Balances:
    holder = runtime.directory.member(address)
    if not (caller.is_regulator or holder.address == caller.address
            or (holder.org_id != 0 and holder.org_id == caller.member.org_id)):
        raise forbidden("balances are visible to the holder, its organisation and regulators", "NotYourData",
                        account=holder.address)
    return Balances(address=holder.address, balances=allowances.balances(runtime.chain, runtime.suite,
                                                                         holder.address, years))


@router.post("/allowances/transfers", response_model=TxOut)
def transfer(body: TransferIn, caller: Trader, runtime: RuntimeDep, response: Response, wait: Wait = True) -> TxOut:
    require_custodial(runtime, caller)
    transfers = [allowances.Transfer(to_checksum_address(body.to), body.year, body.amount)]
    allowances.check_transfers(runtime.chain, runtime.suite, runtime.directory, caller.address, transfers)
    (record,) = send(runtime, caller, allowances.transfer_intents(caller.address, transfers, caller.address),
                     wait=wait)
    return _answer(record, response)


@router.post("/allowances/transfers/batch", response_model=BatchOut)
def transfer_batch(body: BatchIn, caller: Trader, runtime: RuntimeDep, response: Response,
                   wait: Wait = True) -> BatchOut:
    """Many transfers from the caller: checked together, written, signed and sent as one batch.
    Each transfer is its own transaction and outbox entry."""
    if len(body.transfers) > runtime.settings.batch_max:
        raise ApiError(422, "BatchTooLarge", f"at most {runtime.settings.batch_max} transfers per batch",
                       {"max": runtime.settings.batch_max})
    require_custodial(runtime, caller)
    receivers = {t.to: to_checksum_address(t.to) for t in body.transfers}  # a batch often repeats receivers
    transfers = [allowances.Transfer(receivers[t.to], t.year, t.amount) for t in body.transfers]
    allowances.check_transfers(runtime.chain, runtime.suite, runtime.directory, caller.address, transfers)
    records = send(runtime, caller, allowances.transfer_intents(caller.address, transfers, caller.address),
                   wait=wait, batch=True, refuse=False)
    mined = sum(r.status == OutboxStatus.MINED for r in records)
    failed = sum(r.status in (OutboxStatus.FAILED, OutboxStatus.REJECTED) for r in records)
    if mined != len(records):
        response.status_code = status.HTTP_202_ACCEPTED if failed == 0 else status.HTTP_207_MULTI_STATUS
    return BatchOut(transactions=[TxOut.of(r) for r in records], mined=mined, failed=failed,
                    pending=len(records) - mined - failed)


@router.post("/allowances/surrenders", response_model=TxOut)
def surrender(body: SurrenderIn, caller: Surrenderer, runtime: RuntimeDep, response: Response,
              wait: Wait = True) -> TxOut:
    (record,) = send(runtime, caller, [Intent("AllowanceRegistry", "surrender",
                                              (body.compliance_year, [v.year for v in body.vintages],
                                               [v.amount for v in body.vintages]),
                                              caller.address, requested_by=caller.address)], wait=wait)
    return _answer(record, response)


@router.get("/compliance/enterprises/{org_id}/{year}", response_model=StatusOut, tags=["compliance"])
def enterprise_status(org_id: OrgId, year: Annotated[int, Path(ge=1, le=65535)],
                      caller: Annotated[Caller, Depends(member())], runtime: RuntimeDep) -> StatusOut:
    org = runtime.directory.organisation(org_id)
    if org is None or org.kind != OrgKind.ENTERPRISE:
        raise not_found(f"organisation {org_id} is not a registered enterprise", "UnknownOrganisation", orgId=org_id)
    if not viewer(runtime, caller).can_see(org_id, org.parent_id):
        raise forbidden("compliance status is visible to the enterprise, its park's administrators, the verifiers "
                        "of its reports and regulators", "NotYourData", orgId=org_id)
    return StatusOut.of(allowances.compliance_status(runtime.chain, runtime.suite, org_id, year))


@router.get("/compliance/parks/{park_id}/{year}", response_model=ParkStatusOut, tags=["compliance"])
def park_status(park_id: OrgId, year: Annotated[int, Path(ge=1, le=65535)],
                caller: Annotated[Caller, Depends(member())], runtime: RuntimeDep) -> ParkStatusOut:
    park = runtime.directory.organisation(park_id)
    if park is None or park.kind != OrgKind.PARK:
        raise not_found(f"organisation {park_id} is not a registered park", "UnknownOrganisation", orgId=park_id)
    sees = viewer(runtime, caller)
    try:
        require_in_park(sees, park_id, [o.org_id for o in runtime.directory.children(park_id)])
    except AccessDenied as exc:
        raise forbidden(f"a park's compliance is visible to its members, the verifiers of its enterprises and "
                        f"regulators ({exc})", "NotYourData", orgId=park_id) from None
    total, each = allowances.park_status(runtime.chain, runtime.suite, runtime.directory, park_id, year)
    return ParkStatusOut(park=StatusOut.of(total),
                         enterprises=[StatusOut.of(s) for s in park_rows(sees, park_id, each, lambda s: s.org_id)])


@router.get("/compliance/windows/{year}", response_model=WindowOut, tags=["compliance"])
def get_window(year: Annotated[int, Path(ge=1, le=65535)], caller: Annotated[Caller, Depends(member())],
               runtime: RuntimeDep) -> WindowOut:
    return WindowOut(year=year, open=allowances.window_open(runtime.chain, runtime.suite, year))


def _set_window(year: int, open_: bool, caller: Caller, runtime: RuntimeDep, response: Response,
                wait: bool) -> WindowChange:
    (record,) = send(runtime, caller, [allowances.window_intent(caller.address, year, open_)], wait=wait)
    tx = _answer(record, response)
    return WindowChange(window=WindowOut(year=year, open=allowances.window_open(runtime.chain, runtime.suite, year)),
                        transaction=tx)


@router.post("/compliance/windows/{year}/open", response_model=WindowChange, tags=["compliance"])
def open_window(year: Annotated[int, Path(ge=1, le=65535)], caller: Regulator, runtime: RuntimeDep,
                response: Response, wait: Wait = True) -> WindowChange:
    """Open the year's compliance window: enterprises may surrender allowances and credits for it."""
    return _set_window(year, True, caller, runtime, response, wait)


@router.post("/compliance/windows/{year}/close", response_model=WindowChange, tags=["compliance"])
def close_window(year: Annotated[int, Path(ge=1, le=65535)], caller: Regulator, runtime: RuntimeDep,
                 response: Response, wait: Wait = True) -> WindowChange:
    """Close the year's compliance window: no more surrenders for it."""
    return _set_window(year, False, caller, runtime, response, wait)

"""Allowances: allocation (regulator), balances, transfers (single and batch), surrender; compliance status and
the yearly compliance windows (opened and closed by a regulator). The use cases are
`ledger_service.services.allowances`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ledger_service.allowances import Transfer
from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer, one_trip
from ledger_service.api.deps import Caller, Regulator, ServicesDep, member
from ledger_service.api.schemas import TxOut
from ledger_service.api.types import OrgId, Tonnes, Year, YearItem
from ledger_service.services.outcomes import Sent

router = APIRouter(prefix=API_PREFIX, tags=["allowances"])
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

    model_config = ConfigDict(from_attributes=True)


class ParkStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    park: StatusOut
    enterprises: list[StatusOut]


class WindowOut(BaseModel):
    year: int
    open: bool = Field(description="surrenders for the year are accepted")


class WindowChange(BaseModel):
    window: WindowOut
    transaction: TxOut


def _tx(response: Response, sent: Sent[None]) -> TxOut:
    answer(response, *sent.records)
    return TxOut.model_validate(sent.record)


@router.post("/allowances/allocations", response_model=TxOut)
@one_trip
def allocate(body: AllocationIn, caller: Regulator, services: ServicesDep, response: Response,
             wait: Wait = True) -> TxOut:
    return _tx(response, services.allowances.allocate(caller, body.year, [(g.holder, g.amount)
                                                                          for g in body.allocations], wait))


@router.get("/allowances/balances/{address}", response_model=Balances)
def get_balances(address: Annotated[str, Path(pattern=ADDRESS)], caller: Annotated[Caller, Depends(member())],
                 services: ServicesDep,
                 years: Annotated[list[YearItem], Query(min_length=1, max_length=50)]) -> Balances:
    holder, balances = services.allowances.balances(caller, address, years)
    return Balances(address=holder, balances=balances)


@router.post("/allowances/transfers", response_model=TxOut)
async def transfer(body: TransferIn, caller: Trader, services: ServicesDep, response: Response,
                   wait: Wait = True) -> TxOut:
    return _tx(response, await services.allowances.transfer_async(caller, body.to, body.year, body.amount, wait))


@router.post("/allowances/transfers/batch", response_model=BatchOut)
def transfer_batch(body: BatchIn, caller: Trader, services: ServicesDep, response: Response,
                   wait: Wait = True) -> BatchOut:
    """Many transfers from the caller: checked together, written, signed and sent as one batch.
    Each transfer is its own transaction and outbox entry."""
    sent = services.allowances.transfer_batch(caller, [Transfer(t.to, t.year, t.amount) for t in body.transfers],
                                              wait)
    if sent.failed:
        response.status_code = status.HTTP_207_MULTI_STATUS
    else:
        answer(response, *sent.records)
    return BatchOut(transactions=[TxOut.model_validate(r) for r in sent.records], mined=sent.mined, failed=sent.failed,
                    pending=sent.pending)


@router.post("/allowances/surrenders", response_model=TxOut)
@one_trip
def surrender(body: SurrenderIn, caller: Surrenderer, services: ServicesDep, response: Response,
              wait: Wait = True) -> TxOut:
    return _tx(response, services.allowances.surrender(caller, body.compliance_year,
                                                       [(v.year, v.amount) for v in body.vintages], wait))


@router.get("/compliance/enterprises/{org_id}/{year}", response_model=StatusOut, tags=["compliance"])
def enterprise_status(org_id: OrgId, year: Annotated[int, Path(ge=1, le=65535)],
                      caller: Annotated[Caller, Depends(member())], services: ServicesDep) -> StatusOut:
    return StatusOut.model_validate(services.allowances.enterprise_status(caller, org_id, year))


@router.get("/compliance/parks/{park_id}/{year}", response_model=ParkStatusOut, tags=["compliance"])
def park_status(park_id: OrgId, year: Annotated[int, Path(ge=1, le=65535)],
                caller: Annotated[Caller, Depends(member())], services: ServicesDep) -> ParkStatusOut:
    return ParkStatusOut.model_validate(services.allowances.park_status(caller, park_id, year))


@router.get("/compliance/windows/{year}", response_model=WindowOut, tags=["compliance"])
def get_window(year: Annotated[int, Path(ge=1, le=65535)], caller: Annotated[Caller, Depends(member())],
               services: ServicesDep) -> WindowOut:
    return WindowOut(year=year, open=services.allowances.window_open(year))


def _set_window(year: int, open_: bool, caller: Caller, services: ServicesDep, response: Response,
                wait: bool) -> WindowChange:
    sent = services.allowances.set_window(caller, year, open_, wait)
    answer(response, *sent.records)
    return WindowChange(window=WindowOut(year=year, open=bool(sent.value)),
                        transaction=TxOut.model_validate(sent.record))


@router.post("/compliance/windows/{year}/open", response_model=WindowChange, tags=["compliance"])
def open_window(year: Annotated[int, Path(ge=1, le=65535)], caller: Regulator, services: ServicesDep,
                response: Response, wait: Wait = True) -> WindowChange:
    """Open the year's compliance window: enterprises may surrender allowances and credits for it."""
    return _set_window(year, True, caller, services, response, wait)


@router.post("/compliance/windows/{year}/close", response_model=WindowChange, tags=["compliance"])
def close_window(year: Annotated[int, Path(ge=1, le=65535)], caller: Regulator, services: ServicesDep,
                 response: Response, wait: Wait = True) -> WindowChange:
    """Close the year's compliance window: no more surrenders for it."""
    return _set_window(year, False, caller, services, response, wait)

"""Offset credits: projects, verification statements, issuance, transfers, retirements with their
certificates (JSON and a printable page), cancellations, compliance surrenders, batches, holdings.
The use cases are `ledger_service.services.credits`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer, one_trip
from ledger_service.api.deps import AnyMember, Caller, PageDep, Regulator, ServicesDep, member
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.types import MAX_SERIAL, UINT16_MAX, ChainId64, Id64, Seconds, Tonnes, Year
from ledger_service.credits import Project
from ledger_service.services.credits import Retirement, project_key
from ledger_service.services.outcomes import Sent

router = APIRouter(prefix=f"{API_PREFIX}/credits", tags=["credits"])
ADDRESS = "^0x[0-9a-fA-F]{40}$"
Amount = Tonnes
BatchId = Annotated[Id64, Field(description="a credit batch (its token id)")]
Label = Annotated[str, Field(min_length=1, max_length=256)]
ProjectId = Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$", description="32-byte project id, 0x-hex")]
Holder = Annotated[Caller, Depends(member("ENTERPRISE", "TRADER", moves_assets=True))]
Verifier = Annotated[Caller, Depends(member("VERIFIER"))]
Surrenderer = Annotated[Caller, Depends(member("ENTERPRISE", moves_assets=True))]
Wait = Annotated[bool, Query(description="wait for the receipt (otherwise answer 202 once sent)")]


# ------------------------------------------------------------------ models


class ProjectIn(BaseModel):
    code: Label = Field(description="the programme's project code; the project id is its keccak256 "
                        "(or give a 0x-hex 32-byte id)")
    owner: str = Field(pattern=ADDRESS, description="the member that receives the project's credits")
    methodology: Label
    document: str = Field(default="", max_length=256,
                          description="the project design document's hash (0x-hex 32 bytes) or a reference text")
    location: Annotated[str, Field(min_length=1, max_length=64)]


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=256, description="decision reference (its hash goes on chain)")


class ProjectOut(BaseModel):
    project_id: str
    owner: str
    status: str = Field(description="active or suspended")
    last_period_end: int | None = None
    document_hash: str
    methodology: str
    location: str

    model_config = ConfigDict(from_attributes=True)


class ProjectTx(BaseModel):
    project: ProjectOut | None
    transaction: TxOut


class ProjectList(BaseModel):
    items: list[ProjectOut]
    page: PageInfo


class VerificationIn(BaseModel):
    period_start: Seconds = Field(gt=0)
    period_end: Seconds
    verified_tonnes: Amount
    statement: str = Field(min_length=1, max_length=256,
                           description="the statement's hash (0x-hex 32 bytes) or a reference text")

    @model_validator(mode="after")
    def _ordered(self) -> VerificationIn:
        if self.period_start > self.period_end:
            raise ValueError("period_start must not be after period_end")
        return self


class IssueIn(BaseModel):
    project_id: str = Field(pattern="^0x[0-9a-fA-F]{64}$")
    period_start: Seconds = Field(gt=0)
    period_end: Seconds
    vintage: int = Field(strict=True, ge=1900, le=UINT16_MAX)
    amount: Amount
    serial_start: Annotated[int, Field(strict=True)] | None = Field(default=None, gt=0, le=MAX_SERIAL,
                                     description="first serial; default: right after the last one issued")


class BatchOut(BaseModel):
    batch_id: int
    project_id: str
    vintage: int
    period_start: int
    period_end: int
    statement_hash: str
    amount: int
    serial_start: int
    serial_end: int
    verifier: str | None = None
    next_serial: int | None = None
    retired: int | None = None
    cancelled: int | None = None
    surrendered: int | None = None
    supply: int | None = Field(default=None, description="units in existence")

    model_config = ConfigDict(from_attributes=True)


class BatchTx(BaseModel):
    batch: BatchOut | None
    transaction: TxOut


class BatchList(BaseModel):
    items: list[BatchOut]
    page: PageInfo


class TransferIn(BaseModel):
    to: str = Field(pattern=ADDRESS)
    batch_id: BatchId
    amount: Amount


class RetireIn(BaseModel):
    batch_id: BatchId
    amount: Amount
    beneficiary: Label
    purpose: Label
    jurisdiction: Annotated[str, Field(min_length=1, max_length=64)]
    consumption_start: Seconds = 0
    consumption_end: Seconds = 0

    @model_validator(mode="after")
    def _ordered(self) -> RetireIn:
        if self.consumption_start > self.consumption_end:
            raise ValueError("consumption_start must not be after consumption_end")
        return self


class CertificateOut(BaseModel):
    retirement_id: int
    batch_id: int
    holder: str
    project_id: str
    methodology: str
    location: str
    vintage: int
    amount: int
    serial_start: int
    serial_end: int
    beneficiary: str
    purpose: str
    jurisdiction: str
    consumption_start: int
    consumption_end: int
    tx_hash: str
    block_number: int
    block_time: datetime
    pending: bool = Field(description="the block is not yet deeper than the confirmation depth")
    registry: str = Field(description="CreditRegistry address")
    chain_id: int
    html: str = Field(description="path of the printable certificate")

    model_config = ConfigDict(from_attributes=True)


class RetirementTx(BaseModel):
    certificate: CertificateOut | None
    transaction: TxOut


class CancelIn(BaseModel):
    holder: str = Field(pattern=ADDRESS)
    batch_id: BatchId
    amount: Amount
    reason: str = Field(min_length=1, max_length=256)


class SurrenderIn(BaseModel):
    batch_id: BatchId
    amount: Amount
    compliance_year: Year


class HoldingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    batch_id: int
    amount: int
    project_id: str | None
    vintage: int | None
    serial_start: int | None
    serial_end: int | None


class HoldingsOut(BaseModel):
    address: str
    holdings: list[HoldingOut]


def _project_tx(sent: Sent[Project]) -> ProjectTx:
    return ProjectTx(project=ProjectOut.model_validate(sent.value) if sent.value else None,
                     transaction=TxOut.model_validate(sent.record))


# ------------------------------------------------------------------ projects


@router.post("/projects", response_model=ProjectTx, status_code=status.HTTP_201_CREATED)
def register_project(body: ProjectIn, caller: Regulator, services: ServicesDep, response: Response,
                     wait: Wait = True) -> ProjectTx:
    sent = services.credits.register_project(caller, body.code, body.owner, body.methodology, body.document,
                                             body.location, wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return _project_tx(sent)


@router.get("/projects", response_model=ProjectList)
def list_projects(caller: AnyMember, services: ServicesDep, page: PageDep) -> ProjectList:
    items, total = services.credits.projects(page.offset, page.limit)
    return ProjectList(items=[ProjectOut.model_validate(p) for p in items],
                       page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: ProjectId, caller: AnyMember, services: ServicesDep) -> ProjectOut:
    return ProjectOut.model_validate(services.credits.project(project_key(project_id)))


@router.post("/projects/{project_id}/suspend", response_model=ProjectTx)
def suspend_project(project_id: ProjectId, body: ReasonIn, caller: Regulator, services: ServicesDep,
                    response: Response, wait: Wait = True) -> ProjectTx:
    sent = services.credits.suspend_project(caller, project_key(project_id), body.reason, wait)
    answer(response, *sent.records)
    return _project_tx(sent)


@router.post("/projects/{project_id}/reinstate", response_model=ProjectTx)
def reinstate_project(project_id: ProjectId, caller: Regulator, services: ServicesDep, response: Response,
                      wait: Wait = True) -> ProjectTx:
    sent = services.credits.reinstate_project(caller, project_key(project_id), wait)
    answer(response, *sent.records)
    return _project_tx(sent)


@router.post("/projects/{project_id}/verifications", response_model=TxOut)
@one_trip
def submit_verification(project_id: ProjectId, body: VerificationIn, caller: Verifier, services: ServicesDep,
                        response: Response, wait: Wait = True) -> TxOut:
    sent = services.credits.submit_verification(caller, project_key(project_id), body.period_start,
                                                body.period_end, body.verified_tonnes, body.statement, wait)
    answer(response, *sent.records)
    return TxOut.model_validate(sent.record)


# ------------------------------------------------------------------ batches


@router.post("/batches", response_model=BatchTx, status_code=status.HTTP_201_CREATED)
def issue_batch(body: IssueIn, caller: Regulator, services: ServicesDep, response: Response,
                wait: Wait = True) -> BatchTx:
    sent = services.credits.issue_batch(caller, project_key(body.project_id), body.period_start, body.period_end,
                                        body.vintage, body.amount, body.serial_start, wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return BatchTx(batch=BatchOut.model_validate(sent.value) if sent.value else None,
                   transaction=TxOut.model_validate(sent.record))


@router.get("/batches", response_model=BatchList)
def list_batches(caller: AnyMember, services: ServicesDep, page: PageDep,
                 project_id: Annotated[str | None, Query(pattern="^0x[0-9a-fA-F]{64}$")] = None) -> BatchList:
    items, total = services.credits.batches(page.offset, page.limit, project_key(project_id) if project_id else None)
    return BatchList(items=[BatchOut.model_validate(b) for b in items],
                     page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: ChainId64, caller: AnyMember, services: ServicesDep) -> BatchOut:
    return BatchOut.model_validate(services.credits.batch(batch_id))


# ------------------------------------------------------------------ holders


@router.get("/holdings/{address}", response_model=HoldingsOut)
def get_holdings(address: Annotated[str, Path(pattern=ADDRESS)], caller: AnyMember,
                 services: ServicesDep) -> HoldingsOut:
    holder, found = services.credits.holdings(caller, address)
    return HoldingsOut(address=holder, holdings=[HoldingOut.model_validate(h) for h in found])


@router.post("/transfers", response_model=TxOut)
async def transfer(body: TransferIn, caller: Holder, services: ServicesDep, response: Response,
                   wait: Wait = True) -> TxOut:
    sent = await services.credits.transfer_async(caller, body.to, body.batch_id, body.amount, wait)
    answer(response, *sent.records)
    return TxOut.model_validate(sent.record)


@router.post("/retirements", response_model=RetirementTx, status_code=status.HTTP_201_CREATED)
def retire(body: RetireIn, caller: Holder, services: ServicesDep, response: Response,
           wait: Wait = True) -> RetirementTx:
    """Retire credits for a beneficiary; the answer carries the retirement certificate."""
    sent = services.credits.retire(caller, Retirement(
        body.batch_id, body.amount, body.beneficiary, body.purpose, body.jurisdiction, body.consumption_start,
        body.consumption_end), wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return RetirementTx(certificate=CertificateOut.model_validate(sent.value) if sent.value else None,
                        transaction=TxOut.model_validate(sent.record))


@router.get("/retirements/{retirement_id}", response_model=CertificateOut)
def get_certificate(retirement_id: ChainId64, caller: AnyMember, services: ServicesDep) -> CertificateOut:
    """A retirement certificate: visible to the retiring holder's organisation and to regulators."""
    return CertificateOut.model_validate(services.credits.certificate(caller, retirement_id))


@router.get("/retirements/{retirement_id}/certificate.html", response_class=HTMLResponse)
def certificate_page(retirement_id: ChainId64, caller: AnyMember, services: ServicesDep) -> str:
    """The retirement certificate as a printable page."""
    return services.credits.certificate_page(caller, retirement_id).html


@router.post("/cancellations", response_model=TxOut)
@one_trip
def cancel(body: CancelIn, caller: Regulator, services: ServicesDep, response: Response,
           wait: Wait = True) -> TxOut:
    sent = services.credits.cancel(caller, body.holder, body.batch_id, body.amount, body.reason, wait)
    answer(response, *sent.records)
    return TxOut.model_validate(sent.record)


@router.post("/surrenders", response_model=TxOut)
@one_trip
def surrender(body: SurrenderIn, caller: Surrenderer, services: ServicesDep, response: Response,
              wait: Wait = True) -> TxOut:
    """Surrender credits towards the caller's organisation's obligation, within the offset cap
    (a refusal names the cap left: CreditCapExceeded)."""
    sent = services.credits.surrender(caller, body.batch_id, body.amount, body.compliance_year, wait)
    answer(response, *sent.records)
    return TxOut.model_validate(sent.record)

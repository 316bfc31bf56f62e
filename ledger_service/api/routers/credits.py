"""Offset credits: projects, verification statements, issuance, transfers, retirements with their
certificates (JSON and a printable page), cancellations, compliance surrenders, batches, holdings."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator

from ledger_service import credits
from ledger_service.api.deps import AnyMember, Caller, PageDep, Regulator, RuntimeDep, member
from ledger_service.api.errors import forbidden, not_found
from ledger_service.api.indexing import FreshIndex, fresh_index
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.sending import require_custodial, send
from ledger_service.api.types import MAX_SERIAL, UINT16_MAX, ChainId64, Id64, Seconds, Tonnes, Year
from ledger_service.chain.errors import ContractRevert
from ledger_service.chain.outbox import TxRecord
from ledger_service.db.models.outbox import OutboxStatus
from ledger_service.runtime import Runtime

router = APIRouter(prefix="/credits", tags=["credits"])
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

    @classmethod
    def of(cls, p: credits.Project) -> ProjectOut:
        return cls(**p.__dict__)


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

    @classmethod
    def of(cls, b: credits.Batch) -> BatchOut:
        return cls(**b.__dict__)


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

    @classmethod
    def of(cls, c: credits.Certificate) -> CertificateOut:
        return cls(**c.__dict__, html=f"/api/v1/credits/retirements/{c.retirement_id}/certificate.html")


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
    batch_id: int
    amount: int
    project_id: str | None
    vintage: int | None
    serial_start: int | None
    serial_end: int | None


class HoldingsOut(BaseModel):
    address: str
    holdings: list[HoldingOut]


# ------------------------------------------------------------------ helpers


def _answer(record: TxRecord, response: Response) -> TxOut:
    if record.status != OutboxStatus.MINED:
        response.status_code = status.HTTP_202_ACCEPTED
    return TxOut.of(record)


def _mined(record: TxRecord) -> bool:
    return record.status == OutboxStatus.MINED and record.tx_hash is not None


def _sees_holder(runtime: Runtime, caller: Caller, holder: str) -> None:
    view = runtime.directory.member(holder)
    if not (caller.is_regulator or view.address == caller.address
            or (view.org_id != 0 and view.org_id == caller.member.org_id)):
        raise forbidden("credit holdings are visible to the holder, its organisation and regulators", "NotYourData",
                        account=view.address)


def _certificate(runtime: Runtime, retirement_id: int) -> credits.Certificate:
    with runtime.sessions() as session:
        cert = credits.certificate(session, retirement_id, runtime.deployment.addresses[credits.REGISTRY],
                                   runtime.chain.chain_id)
    if cert is None:
        raise not_found(f"retirement {retirement_id} does not exist", "UnknownRetirement", retirementId=retirement_id)
    return cert


# ------------------------------------------------------------------ projects


@router.post("/projects", response_model=ProjectTx, status_code=status.HTTP_201_CREATED)
def register_project(body: ProjectIn, caller: Regulator, runtime: RuntimeDep, response: Response,
                     wait: Wait = True) -> ProjectTx:
    project_id = credits.hash_of(body.code)
    intent = credits.register_intent(caller.address, project_id, to_checksum_address(body.owner), body.methodology,
                                     credits.hash_of(body.document), body.location)
    (record,) = send(runtime, caller, [intent], wait=wait)
    tx = _answer(record, response)
    found = credits.project(runtime.chain, runtime.suite, project_id) if _mined(record) else None
    return ProjectTx(project=ProjectOut.of(found) if found else None, transaction=tx)


@router.get("/projects", response_model=ProjectList)
def list_projects(caller: AnyMember, runtime: FreshIndex, page: PageDep) -> ProjectList:
    with runtime.sessions() as session:
        items, total = credits.projects(session, page.offset, page.limit)
    return ProjectList(items=[ProjectOut.of(p).model_copy(update={"last_period_end": None}) for p in items],
                       page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: ProjectId, caller: AnyMember, runtime: RuntimeDep) -> ProjectOut:
    return ProjectOut.of(credits.project(runtime.chain, runtime.suite, bytes.fromhex(project_id[2:])))


def _project_change(runtime: Runtime, caller: Caller, project_id: str, function: str, response: Response,
                    wait: bool, *args: bytes) -> ProjectTx:
    pid = bytes.fromhex(project_id[2:])
    (record,) = send(runtime, caller, [credits.call(caller.address, function, pid, *args)], wait=wait)
    tx = _answer(record, response)
    found = credits.project(runtime.chain, runtime.suite, pid) if _mined(record) else None
    return ProjectTx(project=ProjectOut.of(found) if found else None, transaction=tx)


@router.post("/projects/{project_id}/suspend", response_model=ProjectTx)
def suspend_project(project_id: ProjectId, body: ReasonIn, caller: Regulator, runtime: RuntimeDep,
                    response: Response, wait: Wait = True) -> ProjectTx:
    return _project_change(runtime, caller, project_id, "suspendProject", response, wait,
                           credits.hash_of(body.reason))


@router.post("/projects/{project_id}/reinstate", response_model=ProjectTx)
def reinstate_project(project_id: ProjectId, caller: Regulator, runtime: RuntimeDep, response: Response,
                      wait: Wait = True) -> ProjectTx:
    return _project_change(runtime, caller, project_id, "reinstateProject", response, wait)


@router.post("/projects/{project_id}/verifications", response_model=TxOut)
def submit_verification(project_id: ProjectId, body: VerificationIn, caller: Verifier, runtime: RuntimeDep,
                        response: Response, wait: Wait = True) -> TxOut:
    (record,) = send(runtime, caller, [credits.call(
        caller.address, "submitVerification", bytes.fromhex(project_id[2:]), body.period_start, body.period_end,
        body.verified_tonnes, credits.hash_of(body.statement))], wait=wait)
    return _answer(record, response)


# ------------------------------------------------------------------ batches


@router.post("/batches", response_model=BatchTx, status_code=status.HTTP_201_CREATED)
def issue_batch(body: IssueIn, caller: Regulator, runtime: RuntimeDep, response: Response,
                wait: Wait = True) -> BatchTx:
    serial_start = body.serial_start or credits.next_serial(runtime.chain, runtime.suite)
    intent = credits.issue_intent(caller.address, bytes.fromhex(body.project_id[2:]), body.period_start,
                                  body.period_end, body.vintage, body.amount, serial_start)
    (record,) = send(runtime, caller, [intent], wait=wait)
    tx = _answer(record, response)
    if not _mined(record):
        return BatchTx(batch=None, transaction=tx)
    (batch_id,) = credits.issued_ids(runtime.chain, runtime.suite, str(record.tx_hash))
    return BatchTx(batch=BatchOut.of(credits.batch(runtime.chain, runtime.suite, batch_id)), transaction=tx)


@router.get("/batches", response_model=BatchList)
def list_batches(caller: AnyMember, runtime: FreshIndex, page: PageDep,
                 project_id: Annotated[str | None, Query(pattern="^0x[0-9a-fA-F]{64}$")] = None) -> BatchList:
    with runtime.sessions() as session:
        rows, total = credits.batches(session, page.offset, page.limit,
                                      bytes.fromhex(project_id[2:]) if project_id else None)
        items = [BatchOut(batch_id=b.batch_id, project_id=credits.hex32(b.project_id), vintage=b.vintage,
                          period_start=b.period_start, period_end=b.period_end,
                          statement_hash=credits.hex32(b.statement_hash), amount=b.amount,
                          serial_start=b.serial_start, serial_end=b.serial_end) for b in rows]
    return BatchList(items=items, page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: ChainId64, caller: AnyMember, runtime: RuntimeDep) -> BatchOut:
    return BatchOut.of(credits.batch(runtime.chain, runtime.suite, batch_id))


# ------------------------------------------------------------------ holders


@router.get("/holdings/{address}", response_model=HoldingsOut)
def get_holdings(address: Annotated[str, Path(pattern=ADDRESS)], caller: AnyMember,
                 runtime: FreshIndex) -> HoldingsOut:
    holder = to_checksum_address(address)
    _sees_holder(runtime, caller, holder)
    with runtime.sessions() as session:
        found = credits.holdings(session, credits.REGISTRY, [holder])[holder]
    return HoldingsOut(address=holder, holdings=[HoldingOut(**h.__dict__) for h in found])


@router.post("/transfers", response_model=TxOut)
def transfer(body: TransferIn, caller: Holder, runtime: RuntimeDep, response: Response, wait: Wait = True) -> TxOut:
    require_custodial(runtime, caller)
    receiver = to_checksum_address(body.to)
    if not runtime.directory.member(receiver).can_transact:
        raise ContractRevert("AccountCannotTransact", {"account": receiver})
    held = credits.balance(runtime.chain, runtime.suite, caller.address, body.batch_id)
    if held < body.amount:
        raise ContractRevert("ERC1155InsufficientBalance", {"sender": caller.address, "balance": held,
                                                            "needed": body.amount, "tokenId": body.batch_id})
    (record,) = send(runtime, caller, [credits.call(caller.address, "safeTransferFrom", caller.address, receiver,
                                                    body.batch_id, body.amount, b"")], wait=wait)
    return _answer(record, response)


@router.post("/retirements", response_model=RetirementTx, status_code=status.HTTP_201_CREATED)
def retire(body: RetireIn, caller: Holder, runtime: RuntimeDep, response: Response,
           wait: Wait = True) -> RetirementTx:
    """Retire credits for a beneficiary; the answer carries the retirement certificate."""
    intent = credits.retire_intent(caller.address, body.batch_id, body.amount, body.beneficiary, body.purpose,
                                   body.jurisdiction, body.consumption_start, body.consumption_end)
    (record,) = send(runtime, caller, [intent], wait=wait)
    tx = _answer(record, response)
    if not _mined(record):
        return RetirementTx(certificate=None, transaction=tx)
    fresh_index(runtime)
    (retirement_id,) = credits.retired_ids(runtime.chain, runtime.suite, str(record.tx_hash))
    return RetirementTx(certificate=CertificateOut.of(_certificate(runtime, retirement_id)), transaction=tx)


@router.get("/retirements/{retirement_id}", response_model=CertificateOut)
def get_certificate(retirement_id: ChainId64, caller: AnyMember,
                    runtime: FreshIndex) -> CertificateOut:
    """A retirement certificate: visible to the retiring holder's organisation and to regulators."""
    cert = _certificate(runtime, retirement_id)
    _sees_holder(runtime, caller, cert.holder)
    return CertificateOut.of(cert)


@router.get("/retirements/{retirement_id}/certificate.html", response_class=HTMLResponse)
def certificate_page(retirement_id: ChainId64, caller: AnyMember, runtime: FreshIndex) -> str:
    """The retirement certificate as a printable page."""
    cert = _certificate(runtime, retirement_id)
    _sees_holder(runtime, caller, cert.holder)
    return render_certificate(cert, credits.certificate_matches_chain(runtime.chain, runtime.suite, cert))


@router.post("/cancellations", response_model=TxOut)
def cancel(body: CancelIn, caller: Regulator, runtime: RuntimeDep, response: Response, wait: Wait = True) -> TxOut:
    (record,) = send(runtime, caller, [credits.call(caller.address, "cancelCredits", to_checksum_address(body.holder),
                                                    body.batch_id, body.amount, credits.hash_of(body.reason))],
                     wait=wait)
    return _answer(record, response)


@router.post("/surrenders", response_model=TxOut)
def surrender(body: SurrenderIn, caller: Surrenderer, runtime: RuntimeDep, response: Response,
              wait: Wait = True) -> TxOut:
    """Surrender credits towards the caller's organisation's obligation, within the offset cap
    (a refusal names the cap left: CreditCapExceeded)."""
    (record,) = send(runtime, caller, [credits.call(caller.address, "surrender", body.batch_id, body.amount,
                                                    body.compliance_year)], wait=wait)
    return _answer(record, response)


# ------------------------------------------------------------------ the printable certificate


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d") if seconds else "-"


def render_certificate(cert: credits.Certificate, on_chain_matches: bool) -> str:
    """A self-contained HTML page stating the retirement and how to check it on chain."""
    e = html.escape
    period = (f"{_day(cert.consumption_start)} to {_day(cert.consumption_end)}"
              if cert.consumption_start or cert.consumption_end else "not stated")
    rows = [
        ("Retirement", f"#{cert.retirement_id}"),
        ("Beneficiary", cert.beneficiary),
        ("Purpose", cert.purpose),
        ("Jurisdiction", cert.jurisdiction),
        ("Quantity", f"{cert.amount:,} tCO2e"),
        ("Serial numbers", f"{cert.serial_start} to {cert.serial_end}"),
        ("Project", cert.project_id),
        ("Methodology", cert.methodology),
        ("Project location", cert.location),
        ("Vintage", str(cert.vintage)),
        ("Credit batch", f"#{cert.batch_id}"),
        ("Consumption period", period),
        ("Retired by", cert.holder),
        ("Transaction", cert.tx_hash),
        ("Block", f"{cert.block_number}" + (" (not yet final)" if cert.pending else "")),
        ("Time (UTC)", cert.block_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Registry", f"CreditRegistry {cert.registry} on chain {cert.chain_id}"),
    ]
    table = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    status_line = ("The registry's record matches this certificate." if on_chain_matches
                   else "WARNING: the registry's record does not match this certificate.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Retirement certificate #{cert.retirement_id}</title>
<style>
body {{ font-family: Georgia, serif; max-width: 52em; margin: 2em auto; color: #111; }}
h1 {{ font-size: 1.6em; border-bottom: 2px solid #2f6b3a; padding-bottom: .3em; }}
table {{ border-collapse: collapse; width: 100%; }}
th {{ text-align: left; width: 14em; vertical-align: top; padding: .3em; color: #2f6b3a; }}
td {{ padding: .3em; font-family: monospace; word-break: break-all; }}
.verify {{ margin-top: 2em; font-size: .9em; border-top: 1px solid #999; padding-top: 1em; }}
@media print {{ body {{ margin: 0; }} }}
</style></head>
<body>
<h1>Carbon credit retirement certificate</h1>
<p>{e(f"{cert.amount:,}")} tonnes of CO2e of verified emission reductions were retired on behalf of
<strong>{e(cert.beneficiary)}</strong> and can never be used again.</p>
<table>
{table}
</table>
<p><strong>{e(status_line)}</strong></p>
<div class="verify">
<h2>How to verify this certificate on chain</h2>
<ol>
<li>On chain {cert.chain_id}, call <code>retirement({cert.retirement_id})</code> on the CreditRegistry at
<code>{e(cert.registry)}</code>: it returns the batch, holder, quantity, serial range, beneficiary, purpose,
jurisdiction and consumption period stated here.</li>
<li>Fetch the receipt of transaction <code>{e(cert.tx_hash)}</code> (block {cert.block_number}): it holds the
<code>CreditsRetired</code> event with retirement id {cert.retirement_id} and the same fields.</li>
<li>Call <code>batch({cert.batch_id})</code>: serials {cert.serial_start} to {cert.serial_end} lie within the batch's
range, and are counted in its <code>retired</code> total, so they cannot be retired, surrendered or cancelled
again.</li>
</ol>
</div>
</body></html>
"""

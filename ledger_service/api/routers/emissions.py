"""Emission reports: submit (enterprise, with its document sealed off chain), verify or reject (verifier),
finalize (regulator); read a report, its versions and history; download its documents."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer
from ledger_service.api.deps import Caller, PageDep, Regulator, ServicesDep, member
from ledger_service.api.schemas import DecimalString, Hex, Label, PageInfo, TxOut
from ledger_service.api.types import INT64_MAX, LAST_DAY, ChainId64, OrgId
from ledger_service.documents import DocumentKind
from ledger_service.emissions import Commitment
from ledger_service.services.emissions import ReportChange, Upload
from ledger_service.services.errors import Refusal

router = APIRouter(prefix=f"{API_PREFIX}/emissions", tags=["emissions"])
MAX_DOCUMENT_BYTES = 50 * 2**20
SAFE_CONTENT_TYPES = frozenset({
    "application/pdf", "text/plain", "text/csv", "application/json", "image/png", "image/jpeg", "image/gif",
    "application/zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/msword",
    "application/vnd.ms-excel"})
HASH = "^0x[0-9a-fA-F]{64}$"
Enterprise = Annotated[Caller, Depends(member("ENTERPRISE"))]
Verifier = Annotated[Caller, Depends(member("VERIFIER"))]
Reader = Annotated[Caller, Depends(member())]
ReportId = ChainId64
Kg = Annotated[int, Form(ge=0, le=INT64_MAX, description="kgCO2e, a whole number")]


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    report_id: int
    org_id: int
    year: int
    version: int
    previous_report_id: int
    status: Label = Field(description="submitted, verified, rejected or finalized")
    submitter: str
    document_hash: Hex
    reported_kg_co2e: DecimalString = Field(validation_alias=AliasChoices("reported_kg_co2e", "reported_kg"),
                                            description="kgCO2e, decimal string")
    anchors_root: Hex
    anchored_mg: DecimalString = Field(description="mgCO2e of the anchors the report commits to, decimal string")
    reading_count: int
    verifier: str | None
    verified_kg_co2e: DecimalString = Field(validation_alias=AliasChoices("verified_kg_co2e", "verified_kg"))
    statement_hash: Hex | None
    reason_hash: Hex | None
    finalizer: str | None
    obligation_tonnes: int
    submitted_at: int = Field(description="block time, Unix seconds (UTC)")
    reviewed_at: int | None
    finalized_at: int | None
    documents: dict[str, bool] = Field(description="which documents the service keeps (report, statement, reason)")


class CommitmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    source: str = Field(description='"anchors" (computed from the anchored windows of the year) or "caller"')
    anchors_root: Hex = Field(validation_alias=AliasChoices("anchors_root", "root"))
    anchored_mg: DecimalString
    reading_count: int
    anchor_ids: list[int]


class ReportAction(BaseModel):
    report: ReportOut
    transaction: TxOut


class Submitted(BaseModel):
    report: ReportOut | None = Field(description="null while the transaction is on its way (answered 202)")
    transaction: TxOut
    commitment: CommitmentOut


class ReportList(BaseModel):
    org_id: int
    year: int
    page: PageInfo
    reports: list[ReportOut]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    report_id: int
    version: int
    event: str
    at: int
    by: str
    details: dict[str, Any]


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    org_id: int
    year: int
    latest_report_id: int
    events: list[EventOut]


async def _read(document: UploadFile) -> bytes:
    content = await document.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise Refusal(413, "DocumentTooLarge", f"documents are limited to {MAX_DOCUMENT_BYTES} bytes")
    if not content:
        raise Refusal(422, "EmptyDocument", "the document is empty")
    return content


async def _upload(document: UploadFile | None) -> Upload | None:
    if document is None:
        return None
    return Upload(await _read(document), document.filename or "", document.content_type or "")


def _hash(given: str | None) -> bytes | None:
    return None if given is None else bytes.fromhex(given[2:])


def _changed(change: ReportChange) -> ReportAction:
    return ReportAction(report=ReportOut.model_validate(change.report), transaction=TxOut.model_validate(change.record))


def safe_content_type(content_type: str) -> str:
    """The uploaded content type if a browser cannot run it (a PDF, an image, plain text, office and archive
    formats), otherwise application/octet-stream."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind if kind in SAFE_CONTENT_TYPES else "application/octet-stream"


def attachment(filename: str) -> str:
    """A Content-Disposition that saves the file under a name made of safe characters, and under its own name
    (any script, UTF-8) for clients that read RFC 6266's `filename*`."""
    safe = re.sub(r"[^A-Za-z0-9._ -]", "_", filename).strip(" .")[:128]
    own = re.sub(r"[\x00-\x1f\x7f/\\]", "_", filename).strip(" .")[:128]
    encoded = f"; filename*=UTF-8''{quote(own, safe='')}" if own else ""
    return f'attachment; filename="{safe or "document"}"{encoded}'


@router.post("/reports", status_code=status.HTTP_201_CREATED, response_model=Submitted)
async def submit(document: Annotated[UploadFile, File(description="the report document")], year: Annotated[
                 int, Form(ge=1, le=LAST_DAY.year)], reported_kg_co2e: Kg, caller: Enterprise, services: ServicesDep,
                 response: Response,
                 anchors_root: Annotated[str | None, Form(pattern=HASH)] = None,
                 anchored_mg: Annotated[int | None, Form(ge=0, le=INT64_MAX)] = None,
                 reading_count: Annotated[int | None, Form(ge=0, le=INT64_MAX)] = None) -> Submitted:
    """Submit the caller's organisation's report for `year`. The commitment to the meter data is computed
    from the enterprise's anchored windows of the year unless all of anchors_root, anchored_mg and
    reading_count are given. 202 (with no report yet) while the transaction is on its way."""
    given = (anchors_root, anchored_mg, reading_count)
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise Refusal(422, "IncompleteCommitment", "give anchors_root, anchored_mg and reading_count together")
    upload = await _upload(document)
    assert upload is not None
    commitment = None
    if anchors_root is not None and anchored_mg is not None and reading_count is not None:
        commitment = Commitment(bytes.fromhex(anchors_root[2:]), anchored_mg, reading_count, (), "caller")
    done = await run_in_threadpool(services.emissions.submit, caller, year, reported_kg_co2e, upload, commitment)
    answer(response, done.record, done=status.HTTP_201_CREATED)
    return Submitted(report=None if done.report is None else ReportOut.model_validate(done.report),
                     transaction=TxOut.model_validate(done.record),
                     commitment=CommitmentOut.model_validate(done.commitment))


@router.post("/reports/{report_id}/verification", response_model=ReportAction)
async def verify(report_id: ReportId, verified_kg_co2e: Kg, caller: Verifier, services: ServicesDep,
                 statement: Annotated[UploadFile | None, File(description="the verification statement")] = None,
                 statement_hash: Annotated[str | None, Form(pattern=HASH)] = None) -> ReportAction:
    """Verify a submitted report at `verified_kg_co2e`, with the statement document (kept sealed) or its hash."""
    upload = await _upload(statement)
    return _changed(await run_in_threadpool(services.emissions.verify, caller, report_id, verified_kg_co2e, upload,
                                            _hash(statement_hash)))


@router.post("/reports/{report_id}/rejection", response_model=ReportAction)
async def reject(report_id: ReportId, caller: Verifier, services: ServicesDep,
                 reason: Annotated[UploadFile | None, File(description="the reasons for rejection")] = None,
                 reason_hash: Annotated[str | None, Form(pattern=HASH)] = None) -> ReportAction:
    """Reject a submitted report with the reasons document (kept sealed) or its hash; the enterprise may then
    submit a new version."""
    upload = await _upload(reason)
    return _changed(await run_in_threadpool(services.emissions.reject, caller, report_id, upload,
                                            _hash(reason_hash)))


@router.post("/reports/{report_id}/finalization", response_model=ReportAction)
def finalize(report_id: ReportId, caller: Regulator, services: ServicesDep) -> ReportAction:
    """Finalize a verified report: its verified kgCO2e, rounded half up to tonnes, becomes the obligation."""
    return _changed(services.emissions.finalize(caller, report_id))


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(report_id: ReportId, caller: Reader, services: ServicesDep) -> ReportOut:
    return ReportOut.model_validate(services.emissions.report(caller, report_id))


@router.get("/enterprises/{org_id}/reports", response_model=ReportList)
def list_versions(org_id: OrgId, year: Annotated[int, Query(ge=1, le=65535)],
                  caller: Reader, services: ServicesDep, page: PageDep) -> ReportList:
    """Every version of an enterprise's report for a year, oldest first."""
    found = services.emissions.versions(caller, org_id, year, page.offset, page.limit)
    return ReportList(org_id=org_id, year=year, page=PageInfo(offset=found.offset, limit=found.limit,
                                                              total=found.total),
                      reports=[ReportOut.model_validate(r) for r in found.items])


@router.get("/reports/{report_id}/history", response_model=HistoryOut)
def get_history(report_id: ReportId, caller: Reader, services: ServicesDep) -> HistoryOut:
    """Submission, review and finalization of every version of the report's enterprise and year."""
    return HistoryOut.model_validate(services.emissions.history(caller, report_id))


@router.get("/reports/{report_id}/documents/{kind}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download(report_id: ReportId, kind: DocumentKind, caller: Reader, services: ServicesDep) -> Response:
    """The decrypted report document, verification statement or rejection reasons: for the enterprise's own
    members, verifiers and regulators."""
    opened = services.emissions.document(caller, report_id, kind)
    return Response(opened.content, media_type=safe_content_type(opened.content_type), headers={
        "Content-Disposition": attachment(opened.filename or f"report-{report_id}-{kind}"),
        "X-Document-SHA256": "0x" + opened.document_hash.hex()})

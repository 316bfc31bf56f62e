"""Emission reports: submit (enterprise, with its document sealed off chain), verify or reject (verifier),
finalize (regulator); read a report, its versions and history; download its documents."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ledger_service import emissions
from ledger_service.api.deps import Caller, PageDep, Regulator, RuntimeDep, member
from ledger_service.api.errors import ApiError, TransactionRefused, forbidden, not_found
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.sending import require_custodial, send
from ledger_service.api.types import INT64_MAX, LAST_DAY, ChainId64, OrgId
from ledger_service.chain.errors import ContractRevert
from ledger_service.chain.outbox import Intent, InvalidIntent, TxRecord
from ledger_service.documents import DocumentKind, DocumentUnsealError
from ledger_service.membership import OrgKind
from ledger_service.runtime import Runtime

router = APIRouter(prefix="/emissions", tags=["emissions"])
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
    report_id: int
    org_id: int
    year: int
    version: int
    previous_report_id: int
    status: str = Field(description="submitted, verified, rejected or finalized")
    submitter: str
    document_hash: str
    reported_kg_co2e: str = Field(description="kgCO2e, decimal string")
    anchors_root: str
    anchored_mg: str = Field(description="mgCO2e of the anchors the report commits to, decimal string")
    reading_count: int
    verifier: str | None
    verified_kg_co2e: str
    statement_hash: str | None
    reason_hash: str | None
    finalizer: str | None
    obligation_tonnes: int
    submitted_at: int = Field(description="block time, Unix seconds (UTC)")
    reviewed_at: int | None
    finalized_at: int | None
    documents: dict[str, bool] = Field(description="which documents the service keeps (report, statement, reason)")

    @classmethod
    def of(cls, r: emissions.Report, runtime: Runtime) -> ReportOut:
        def hx(value: bytes | None) -> str | None:
            return None if value is None else "0x" + value.hex()

        kept = {
            DocumentKind.REPORT: r.document_hash,
            DocumentKind.STATEMENT: r.statement_hash,
            DocumentKind.REASON: r.reason_hash,
        }
        return cls(
            report_id=r.report_id, org_id=r.org_id, year=r.year, version=r.version,
            previous_report_id=r.previous_report_id, status=r.status.label, submitter=r.submitter,
            document_hash="0x" + r.document_hash.hex(), reported_kg_co2e=str(r.reported_kg),
            anchors_root="0x" + r.anchors_root.hex(), anchored_mg=str(r.anchored_mg), reading_count=r.reading_count,
            verifier=r.verifier, verified_kg_co2e=str(r.verified_kg), statement_hash=hx(r.statement_hash),
            reason_hash=hx(r.reason_hash), finalizer=r.finalizer, obligation_tonnes=r.obligation_tonnes,
            submitted_at=r.submitted_at, reviewed_at=r.reviewed_at, finalized_at=r.finalized_at,
            documents={str(kind): digest is not None and runtime.documents.has(digest, r.org_id, kind)
                       for kind, digest in kept.items()},
        )


class CommitmentOut(BaseModel):
    source: str = Field(description='"anchors" (computed from the anchored windows of the year) or "caller"')
    anchors_root: str
    anchored_mg: str
    reading_count: int
    anchor_ids: list[int]


class ReportAction(BaseModel):
    report: ReportOut
    transaction: TxOut


class Submitted(ReportAction):
    commitment: CommitmentOut


class ReportList(BaseModel):
    org_id: int
    year: int
    page: PageInfo
    reports: list[ReportOut]


class EventOut(BaseModel):
    report_id: int
    version: int
    event: str
    at: int
    by: str
    details: dict[str, Any]


class HistoryOut(BaseModel):
    org_id: int
    year: int
    latest_report_id: int
    events: list[EventOut]


async def _read(document: UploadFile) -> bytes:
    content = await document.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ApiError(413, "DocumentTooLarge", f"documents are limited to {MAX_DOCUMENT_BYTES} bytes")
    if not content:
        raise ApiError(422, "EmptyDocument", "the document is empty")
    return content


def _can_read(caller: Caller, org_id: int) -> None:
    if not (caller.is_regulator or caller.member.has_role("VERIFIER") or caller.member.org_id == org_id):
        raise forbidden("reports are visible to the enterprise's members, verifiers and regulators", "NotYourData",
                        orgId=org_id)


def _report(runtime: Runtime, report_id: int) -> emissions.Report:
    return emissions.get_report(runtime.chain, runtime.suite, report_id)


def _hash_or_document(content: bytes | None, given: str | None, what: str) -> bytes | None:
    if (content is None) == (given is None):
        raise ApiError(422, "DocumentOrHashRequired", f"give either the {what} document or its hash, not both",
                       {"what": what})
    return None if given is None else bytes.fromhex(given[2:])


async def _send(runtime: Runtime, caller: Caller, intent: Intent,
                kept: tuple[bytes, int, DocumentKind] | None) -> TxRecord:
    """Send the intent; a refused request (permission, state, arguments) stores nothing: the document this request
    stored (`kept`) is discarded. A request deferred by an outage keeps it (its transaction is sent later)."""
    try:
        (record,) = await run_in_threadpool(send, runtime, caller, [intent])
    except (ApiError, TransactionRefused, ContractRevert, InvalidIntent):
        if kept is not None:
            await run_in_threadpool(runtime.documents.discard, *kept)
        raise
    return record


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
                 int, Form(ge=1, le=LAST_DAY.year)], reported_kg_co2e: Kg, caller: Enterprise, runtime: RuntimeDep,
                 anchors_root: Annotated[str | None, Form(pattern=HASH)] = None,
                 anchored_mg: Annotated[int | None, Form(ge=0, le=INT64_MAX)] = None,
                 reading_count: Annotated[int | None, Form(ge=0, le=INT64_MAX)] = None) -> Submitted:
    """Submit the caller's organisation's report for `year`. The commitment to the meter data is computed
    from the enterprise's anchored windows of the year unless all of anchors_root, anchored_mg and
    reading_count are given."""
    given = (anchors_root, anchored_mg, reading_count)
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise ApiError(422, "IncompleteCommitment", "give anchors_root, anchored_mg and reading_count together")
    content = await _read(document)
    require_custodial(runtime, caller)
    org_id = caller.member.org_id
    if anchors_root is not None and anchored_mg is not None and reading_count is not None:
        commitment = emissions.Commitment(bytes.fromhex(anchors_root[2:]), anchored_mg, reading_count, (), "caller")
    else:
        def compute() -> emissions.Commitment:
            with runtime.sessions() as session:
                return emissions.anchored_commitment(session, org_id, year)

        try:
            commitment = await run_in_threadpool(compute)
        except emissions.NoAnchoredData as exc:
            raise ApiError(409, "NoAnchoredData", f"{exc}: give anchors_root, anchored_mg and reading_count "
                           "explicitly (zeros for a report without meter data)", {"orgId": org_id, "year": year}) \
                from None
    digest, new = await run_in_threadpool(runtime.documents.keep, content, org_id, DocumentKind.REPORT,
                                          caller.address, document.filename or "", document.content_type or "")
    intent = emissions.submit_intent(caller.address, year, digest, reported_kg_co2e, commitment)
    record = await _send(runtime, caller, intent, (digest, org_id, DocumentKind.REPORT) if new else None)
    if record.status != "mined":
        raise ApiError(202, "Pending", "the report was sent but is not mined yet", {"outbox_id": record.id})
    report_id = await run_in_threadpool(emissions.latest_report_id, runtime.chain, runtime.suite, org_id, year)
    report = await run_in_threadpool(_report, runtime, report_id)
    return Submitted(report=ReportOut.of(report, runtime), transaction=TxOut.of(record), commitment=CommitmentOut(
        source=commitment.source, anchors_root="0x" + commitment.root.hex(), anchored_mg=str(commitment.anchored_mg),
        reading_count=commitment.reading_count, anchor_ids=list(commitment.anchor_ids)))


@router.post("/reports/{report_id}/verification", response_model=ReportAction)
async def verify(report_id: ReportId, verified_kg_co2e: Kg, caller: Verifier, runtime: RuntimeDep,
                 statement: Annotated[UploadFile | None, File(description="the verification statement")] = None,
                 statement_hash: Annotated[str | None, Form(pattern=HASH)] = None) -> ReportAction:
    """Verify a submitted report at `verified_kg_co2e`, with the statement document (kept sealed) or its hash."""
    content = await _read(statement) if statement is not None else None
    digest = _hash_or_document(content, statement_hash, "statement")
    report = await run_in_threadpool(_report, runtime, report_id)
    require_custodial(runtime, caller)
    kept = None
    if content is not None and statement is not None:
        stored, new = await run_in_threadpool(runtime.documents.keep, content, report.org_id, DocumentKind.STATEMENT,
                                              caller.address, statement.filename or "", statement.content_type or "")
        digest, kept = stored, (stored, report.org_id, DocumentKind.STATEMENT) if new else None
    assert digest is not None
    record = await _send(runtime, caller, emissions.verify_intent(caller.address, report_id, verified_kg_co2e, digest),
                         kept)
    return ReportAction(report=ReportOut.of(await run_in_threadpool(_report, runtime, report_id), runtime),
                        transaction=TxOut.of(record))


@router.post("/reports/{report_id}/rejection", response_model=ReportAction)
async def reject(report_id: ReportId, caller: Verifier, runtime: RuntimeDep,
                 reason: Annotated[UploadFile | None, File(description="the reasons for rejection")] = None,
                 reason_hash: Annotated[str | None, Form(pattern=HASH)] = None) -> ReportAction:
    """Reject a submitted report with the reasons document (kept sealed) or its hash; the enterprise may then
    submit a new version."""
    content = await _read(reason) if reason is not None else None
    digest = _hash_or_document(content, reason_hash, "reason")
    report = await run_in_threadpool(_report, runtime, report_id)
    require_custodial(runtime, caller)
    kept = None
    if content is not None and reason is not None:
        stored, new = await run_in_threadpool(runtime.documents.keep, content, report.org_id, DocumentKind.REASON,
                                              caller.address, reason.filename or "", reason.content_type or "")
        digest, kept = stored, (stored, report.org_id, DocumentKind.REASON) if new else None
    assert digest is not None
    record = await _send(runtime, caller, emissions.reject_intent(caller.address, report_id, digest), kept)
    return ReportAction(report=ReportOut.of(await run_in_threadpool(_report, runtime, report_id), runtime),
                        transaction=TxOut.of(record))


@router.post("/reports/{report_id}/finalization", response_model=ReportAction)
def finalize(report_id: ReportId, caller: Regulator, runtime: RuntimeDep) -> ReportAction:
    """Finalize a verified report: its verified kgCO2e, rounded half up to tonnes, becomes the obligation."""
    (record,) = send(runtime, caller, [emissions.finalize_intent(caller.address, report_id)])
    return ReportAction(report=ReportOut.of(_report(runtime, report_id), runtime), transaction=TxOut.of(record))


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(report_id: ReportId, caller: Reader, runtime: RuntimeDep) -> ReportOut:
    report = _report(runtime, report_id)
    _can_read(caller, report.org_id)
    return ReportOut.of(report, runtime)


@router.get("/enterprises/{org_id}/reports", response_model=ReportList)
def list_versions(org_id: OrgId, year: Annotated[int, Query(ge=1, le=65535)],
                  caller: Reader, runtime: RuntimeDep, page: PageDep) -> ReportList:
    """Every version of an enterprise's report for a year, oldest first."""
    org = runtime.directory.organisation(org_id)
    if org is None or org.kind != OrgKind.ENTERPRISE:
        raise not_found(f"organisation {org_id} is not a registered enterprise", "UnknownOrganisation", orgId=org_id)
    _can_read(caller, org_id)
    every = emissions.versions(runtime.chain, runtime.suite, org_id, year)
    shown = every[page.offset:page.offset + page.limit]
    return ReportList(org_id=org_id, year=year, page=PageInfo(offset=page.offset, limit=page.limit, total=len(every)),
                      reports=[ReportOut.of(r, runtime) for r in shown])


@router.get("/reports/{report_id}/history", response_model=HistoryOut)
def get_history(report_id: ReportId, caller: Reader, runtime: RuntimeDep) -> HistoryOut:
    """Submission, review and finalization of every version of the report's enterprise and year."""
    report = _report(runtime, report_id)
    _can_read(caller, report.org_id)
    every = emissions.versions(runtime.chain, runtime.suite, report.org_id, report.year)
    return HistoryOut(org_id=report.org_id, year=report.year, latest_report_id=every[-1].report_id,
                      events=[EventOut(**e.__dict__) for e in emissions.history(every)])


@router.get("/reports/{report_id}/documents/{kind}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download(report_id: ReportId, kind: DocumentKind, caller: Reader, runtime: RuntimeDep) -> Response:
    """The decrypted report document, verification statement or rejection reasons: for the enterprise's own
    members, verifiers and regulators."""
    report = _report(runtime, report_id)
    _can_read(caller, report.org_id)
    digest = {DocumentKind.REPORT: report.document_hash, DocumentKind.STATEMENT: report.statement_hash,
              DocumentKind.REASON: report.reason_hash}[kind]
    try:
        opened = None if digest is None else runtime.documents.open(digest, report.org_id, kind)
    except DocumentUnsealError as exc:  # the sealed row was altered: it no longer opens to the hash on chain
        raise ApiError(409, "StoredDataInconsistent", f"the stored {kind} document of report {report_id} no longer "
                       f"has the hash on chain ({exc}); reconcile names it", {"reportId": report_id, "kind": str(kind)}
                       ) from None
    if opened is None:
        raise not_found(f"the service keeps no {kind} document of report {report_id}", "DocumentNotStored",
                        reportId=report_id, kind=str(kind))
    return Response(opened.content, media_type=safe_content_type(opened.content_type), headers={
        "Content-Disposition": attachment(opened.filename or f"report-{report_id}-{kind}"),
        "X-Document-SHA256": "0x" + opened.document_hash.hex()})

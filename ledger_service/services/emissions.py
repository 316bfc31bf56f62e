"""Emission report use cases: submit (an enterprise member, with its document sealed off chain), verify or reject
(a verifier, with the statement or reasons document or its hash), finalize (a regulator); read a report, its
versions and history, download its documents. Reports are visible to the enterprise's members, verifiers and
regulators.

A document a refused request stored is discarded; one stored by a request deferred by an outage is kept (its
transaction is sent later)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import Intent, InvalidIntent, TxRecord
from ledger_core.chain.suite import Suite
from ledger_service import emissions
from ledger_service.documents import DocumentKind, DocumentUnsealError, DocumentVault, OpenedDocument
from ledger_service.emissions import Commitment, HistoryEvent, Report
from ledger_service.membership import Directory, OrgKind
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, TransactionRefused, forbidden, not_found
from ledger_service.services.listing import Listed
from ledger_service.services.sending import Sender, pending
from ledger_service.services.visibility import IndexedViews


@dataclass(frozen=True)
class Upload:
    """A document as the caller gave it."""

    content: bytes
    filename: str = ""
    content_type: str = ""


@dataclass(frozen=True)
class ReportChange:
    report: Report
    record: TxRecord


@dataclass(frozen=True)
class Submission:
    report: Report | None  # None while the transaction is on its way
    record: TxRecord
    commitment: Commitment


@dataclass(frozen=True)
class History:
    org_id: int
    year: int
    latest_report_id: int
    events: list[HistoryEvent]


@dataclass(frozen=True)
class EmissionService:
    sessions: sessionmaker[Session]
    chain: ChainClient
    suite: Suite
    sender: Sender
    documents: DocumentVault
    directory: Directory
    views: IndexedViews

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _can_read(caller: Caller, org_id: int) -> None:
        if not (caller.is_regulator or caller.member.has_role("VERIFIER") or caller.member.org_id == org_id):
            raise forbidden("reports are visible to the enterprise's members, verifiers and regulators",
                            "NotYourData", orgId=org_id)

    def _kept(self, report: Report) -> Report:
        """The report with which of its documents the service keeps."""
        digests = {DocumentKind.REPORT: report.document_hash, DocumentKind.STATEMENT: report.statement_hash,
                   DocumentKind.REASON: report.reason_hash}
        return replace(report, documents={
            str(kind): digest is not None and self.documents.has(digest, report.org_id, kind)
            for kind, digest in digests.items()})

    def _report(self, report_id: int, mined: TxRecord | None = None) -> Report:
        """A report version as the registry holds it (its events looked for first where the index, and the
        transaction just `mined`, put them); the contract's UnknownReport if none."""
        self.views.fresh()
        with self.sessions() as session:
            near = emissions.indexed_blocks(session, report_id)
        if mined is not None and mined.block_number is not None:
            near.append(mined.block_number)
        return emissions.get_report(self.chain, self.suite, report_id, near)

    def report(self, caller: Caller, report_id: int) -> Report:
        report = self._report(report_id)
        self._can_read(caller, report.org_id)
        return self._kept(report)

    def versions(self, caller: Caller, org_id: int, year: int, offset: int, limit: int) -> Listed[Report]:
        """Every version of an enterprise's report for a year, oldest first."""
        org = self.directory.organisation(org_id)
        if org is None or org.kind != OrgKind.ENTERPRISE:
            raise not_found(f"organisation {org_id} is not a registered enterprise", "UnknownOrganisation",
                            orgId=org_id)
        self._can_read(caller, org_id)
        shown = Listed.slice(emissions.versions(self.chain, self.suite, org_id, year), offset, limit)
        return replace(shown, items=[self._kept(r) for r in shown.items])

    def history(self, caller: Caller, report_id: int) -> History:
        """Submission, review and finalization of every version of the report's enterprise and year."""
        report = self._report(report_id)
        self._can_read(caller, report.org_id)
        every = emissions.versions(self.chain, self.suite, report.org_id, report.year)
        return History(report.org_id, report.year, every[-1].report_id, emissions.history(every))

    def document(self, caller: Caller, report_id: int, kind: DocumentKind) -> OpenedDocument:
        """The decrypted report document, verification statement or rejection reasons; 409 if the stored copy no
        longer has the hash on chain."""
        report = self._report(report_id)
        self._can_read(caller, report.org_id)
        digest = {DocumentKind.REPORT: report.document_hash, DocumentKind.STATEMENT: report.statement_hash,
                  DocumentKind.REASON: report.reason_hash}[kind]
        try:
            opened = None if digest is None else self.documents.open(digest, report.org_id, kind)
        except DocumentUnsealError as exc:  # the sealed row was altered: it no longer opens to the hash on chain
            raise Refusal(409, "StoredDataInconsistent", f"the stored {kind} document of report {report_id} no "
                          f"longer has the hash on chain ({exc}); reconcile names it",
                          {"reportId": report_id, "kind": str(kind)}) from None
        if opened is None:
            raise not_found(f"the service keeps no {kind} document of report {report_id}", "DocumentNotStored",
                            reportId=report_id, kind=str(kind))
        return opened

    # ------------------------------------------------------------------ sending

    def _send(self, caller: Caller, intent: Intent, kept: tuple[bytes, int, DocumentKind] | None) -> TxRecord:
        """Send the intent; a refused request (permission, state, arguments) stores nothing: the document this
        request stored (`kept`) is discarded."""
        try:
            return self.sender.send_one(caller, intent)
        except (Refusal, TransactionRefused, ContractRevert, InvalidIntent):
            if kept is not None:
                self.documents.discard(*kept)
            raise

    def _keep(self, caller: Caller, upload: Upload, org_id: int,
              kind: DocumentKind) -> tuple[bytes, tuple[bytes, int, DocumentKind] | None]:
        """Seal the document for the organisation: its hash, and what to discard if the request is refused (None
        when the service kept it already)."""
        digest, new = self.documents.keep(upload.content, org_id, kind, caller.address, upload.filename,
                                          upload.content_type)
        return digest, (digest, org_id, kind) if new else None

    def submit(self, caller: Caller, year: int, reported_kg: int, document: Upload,
               commitment: Commitment | None = None) -> Submission:
        """Submit the caller's organisation's report for `year`, committing to the enterprise's anchored windows
        of the year unless the commitment is given (409 NoAnchoredData if there are none)."""
        self.sender.require_custodial(caller)
        org_id = caller.member.org_id
        if commitment is None:
            try:
                with self.sessions() as session:
                    commitment = emissions.anchored_commitment(session, org_id, year)
            except emissions.NoAnchoredData as exc:
                raise Refusal(409, "NoAnchoredData", f"{exc}: give anchors_root, anchored_mg and reading_count "
                              "explicitly (zeros for a report without meter data)", {"orgId": org_id, "year": year}
                              ) from None
        digest, kept = self._keep(caller, document, org_id, DocumentKind.REPORT)
        record = self._send(caller, emissions.submit_intent(caller.address, year, digest, reported_kg, commitment),
                            kept)
        if pending(record):
            return Submission(None, record, commitment)
        report_id = emissions.latest_report_id(self.chain, self.suite, org_id, year)
        return Submission(self._kept(self._report(report_id, record)), record, commitment)

    def _review(self, caller: Caller, report_id: int, upload: Upload | None, given: bytes | None, what: str,
                kind: DocumentKind, intent: Callable[[bytes], Intent]) -> ReportChange:
        if (upload is None) == (given is None):
            raise Refusal(422, "DocumentOrHashRequired", f"give either the {what} document or its hash, not both",
                          {"what": what})
        report = self._report(report_id)
        self.sender.require_custodial(caller)
        kept = None
        digest = given
        if upload is not None:
            digest, kept = self._keep(caller, upload, report.org_id, kind)
        assert digest is not None
        record = self._send(caller, intent(digest), kept)
        return ReportChange(self._kept(self._report(report_id, record)), record)

    def verify(self, caller: Caller, report_id: int, verified_kg: int, statement: Upload | None = None,
               statement_hash: bytes | None = None) -> ReportChange:
        """Verify a submitted report at `verified_kg`, with the statement document (kept sealed) or its hash."""
        return self._review(caller, report_id, statement, statement_hash, "statement", DocumentKind.STATEMENT,
                            lambda digest: emissions.verify_intent(caller.address, report_id, verified_kg, digest))

    def reject(self, caller: Caller, report_id: int, reason: Upload | None = None,
               reason_hash: bytes | None = None) -> ReportChange:
        """Reject a submitted report with the reasons document (kept sealed) or its hash; the enterprise may then
        submit a new version."""
        return self._review(caller, report_id, reason, reason_hash, "reason", DocumentKind.REASON,
                            lambda digest: emissions.reject_intent(caller.address, report_id, digest))

    def finalize(self, caller: Caller, report_id: int) -> ReportChange:
        """Finalize a verified report: its verified kgCO2e, rounded half up to tonnes, becomes the obligation."""
        record = self.sender.send_one(caller, emissions.finalize_intent(caller.address, report_id))
        return ReportChange(self._kept(self._report(report_id, record)), record)

"""Emission reports: what the service reads and sends around the EmissionRegistry.

A report's document stays off chain, sealed (`ledger_service.documents`); its SHA-256 is the
report's `documentHash` on the EmissionRegistry, which is the document's notarization (it is
not notarized again on the Notary). The report also commits to the enterprise's meter data:
the level-5 commitment over the anchors of its windows inside the calendar year (UTC), taken
from the oracle's anchored batches (`oracles.reports.anchored_period_commitment`) unless the
caller gives the commitment itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from sqlalchemy.orm import Session

from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from oracles.reports import anchored_period_commitment

REGISTRY = "EmissionRegistry"
ZERO_ADDRESS = "0x" + "00" * 20


class ReportStatus(IntEnum):
    NONE = 0
    SUBMITTED = 1
    VERIFIED = 2
    REJECTED = 3
    FINALIZED = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Report:
    report_id: int
    org_id: int
    year: int
    version: int
    previous_report_id: int
    submitter: str
    document_hash: bytes
    reported_kg: int
    anchors_root: bytes
    anchored_mg: int
    reading_count: int
    status: ReportStatus
    verifier: str | None
    verified_kg: int
    statement_hash: bytes | None
    reason_hash: bytes | None
    finalizer: str | None
    obligation_tonnes: int
    submitted_at: int
    reviewed_at: int | None
    finalized_at: int | None
    documents: dict[str, bool] = field(default_factory=dict, compare=False)
    """Which of its documents (report, statement, reason) the service keeps; filled by the use cases."""

    @classmethod
    def of(cls, report_id: int, raw: Any) -> Report:
        (org, year, version, previous, submitter, document, reported, root, mg, count, status, verifier, verified,
         statement, reason, finalizer, tonnes, submitted_at, reviewed_at, finalized_at) = raw

        def opt_hash(value: bytes) -> bytes | None:
            return None if bytes(value) == b"\0" * 32 else bytes(value)

        def opt_address(value: str) -> str | None:
            return None if value == ZERO_ADDRESS else value

        return cls(report_id, int(org), int(year), int(version), int(previous), submitter, bytes(document),
                   int(reported), bytes(root), int(mg), int(count), ReportStatus(int(status)), opt_address(verifier),
                   int(verified), opt_hash(statement), opt_hash(reason), opt_address(finalizer), int(tonnes),
                   int(submitted_at), int(reviewed_at) or None, int(finalized_at) or None)


@dataclass(frozen=True)
class HistoryEvent:
    report_id: int
    version: int
    event: str  # submitted, verified, rejected or finalized
    at: int  # block time, Unix seconds (UTC)
    by: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Commitment:
    root: bytes
    anchored_mg: int
    reading_count: int
    anchor_ids: tuple[int, ...]
    source: str  # "anchors" (computed from the oracle's anchored windows) or "caller"


class NoAnchoredData(LookupError):
    """The enterprise has no anchored meter data in the year."""


def year_bounds(year: int) -> tuple[int, int]:
    """The calendar year in UTC as `[start, end)` Unix seconds."""
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()) if year < 9999 else 2**63 - 1
    return start, end


def anchored_commitment(session: Session, org_id: int, year: int) -> Commitment:
    start, end = year_bounds(year)
    try:
        c = anchored_period_commitment(session, org_id, start, end)
    except ValueError:
        raise NoAnchoredData(f"organisation {org_id} has no anchored meter data in {year}") from None
    return Commitment(c.root, c.total_mg, c.reading_count, c.anchor_ids, "anchors")


def get_report(chain: ChainClient, suite: Suite, report_id: int) -> Report:
    """A report version; raises the contract's `UnknownReport` if none."""
    return Report.of(report_id, chain.request(lambda: suite.call(REGISTRY, "getReport", report_id)))


def versions(chain: ChainClient, suite: Suite, org_id: int, year: int) -> list[Report]:
    """Every version of the organisation's report for the year, oldest first."""
    ids = chain.request(lambda: suite.call(REGISTRY, "reportVersions", org_id, year))
    return [get_report(chain, suite, int(i)) for i in ids]


def latest_report_id(chain: ChainClient, suite: Suite, org_id: int, year: int) -> int:
    return int(chain.request(lambda: suite.call(REGISTRY, "latestReportId", org_id, year)))


def history(reports: list[Report]) -> list[HistoryEvent]:
    """What happened to the versions, in time order, from the registry's own records."""
    events: list[HistoryEvent] = []
    for r in reports:
        events.append(HistoryEvent(r.report_id, r.version, "submitted", r.submitted_at, r.submitter, {
            "documentHash": "0x" + r.document_hash.hex(), "reportedKgCO2e": str(r.reported_kg),
            "anchorsRoot": "0x" + r.anchors_root.hex(), "anchoredMg": str(r.anchored_mg),
            "readingCount": r.reading_count, "previousReportId": r.previous_report_id}))
        if r.reviewed_at is not None and r.verifier is not None:
            if r.reason_hash is not None:
                events.append(HistoryEvent(r.report_id, r.version, "rejected", r.reviewed_at, r.verifier,
                                           {"reasonHash": "0x" + r.reason_hash.hex()}))
            else:
                events.append(HistoryEvent(r.report_id, r.version, "verified", r.reviewed_at, r.verifier, {
                    "verifiedKgCO2e": str(r.verified_kg),
                    "statementHash": "0x" + (r.statement_hash or b"").hex()}))
        if r.finalized_at is not None and r.finalizer is not None:
            events.append(HistoryEvent(r.report_id, r.version, "finalized", r.finalized_at, r.finalizer,
                                       {"obligationTonnes": r.obligation_tonnes}))
    events.sort(key=lambda e: (e.at, e.report_id))
    return events


def submit_intent(signer: str, year: int, document_hash: bytes, reported_kg: int, commitment: Commitment) -> Intent:
    return Intent(REGISTRY, "submitReport", (year, document_hash, reported_kg, commitment.root,
                                             commitment.anchored_mg, commitment.reading_count), signer,
                  requested_by=signer)


def verify_intent(signer: str, report_id: int, verified_kg: int, statement_hash: bytes) -> Intent:
    return Intent(REGISTRY, "verifyReport", (report_id, verified_kg, statement_hash), signer, requested_by=signer)


def reject_intent(signer: str, report_id: int, reason_hash: bytes) -> Intent:
    return Intent(REGISTRY, "rejectReport", (report_id, reason_hash), signer, requested_by=signer)


def finalize_intent(signer: str, report_id: int) -> Intent:
    return Intent(REGISTRY, "finalizeReport", (report_id,), signer, requested_by=signer)

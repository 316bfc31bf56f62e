"""Emission reports: what the service reads and sends around the EmissionRegistry.

A report's document stays off chain, sealed (`ledger_service.documents`); its SHA-256 is the
report's `documentHash` on the EmissionRegistry, which is the document's notarization (it is
not notarized again on the Notary). The report also commits to the enterprise's meter data:
the level-5 commitment over the anchors of its windows inside the calendar year (UTC), taken
from the oracle's anchored batches (`oracles.reports.anchored_period_commitment`) unless the
caller gives the commitment itself.

The registry keeps, per version, what it checks itself (status, version chain, the verified kgCO2e a
finalization needs) and commitments to the records (`submissionHash`, `reviewHash`); the records are read
from the version's events and checked against them (`read_report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from web3.types import BlockIdentifier, EventData

from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from ledger_core.db.models import ChainReportEvent
from oracles.reports import anchored_period_commitment

REGISTRY = "EmissionRegistry"


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



SUBMISSION_TYPES = ("address", "bytes32", "uint256", "bytes32", "uint128", "uint64")
REVIEW_TYPES = ("address", "uint256", "bytes32")
REPORT_EVENTS = ("ReportSubmitted", "ReportVerified", "ReportRejected", "ReportFinalized")


def submission_hash(submitter: str, document_hash: bytes, reported_kg: int, anchors_root: bytes, anchored_mg: int,
                    reading_count: int) -> bytes:
    """`EmissionRegistry.submissionHash`: the commitment a report version keeps to its submitted record."""
    return keccak(abi_encode(SUBMISSION_TYPES, (submitter, document_hash, reported_kg, anchors_root, anchored_mg,
                                                reading_count)))


def review_hash(verifier: str, verified_kg: int, document_hash: bytes) -> bytes:
    """`EmissionRegistry.reviewHash`: the commitment to a review (verified kg 0 and the reasons for a rejection)."""
    return keccak(abi_encode(REVIEW_TYPES, (verifier, verified_kg, document_hash)))


class ReportRecordMismatch(ValueError):
    """A report's events do not hash to the commitments the registry keeps."""


def _report_events(suite: Suite, report_id: int, ranges: Sequence[tuple[BlockIdentifier, BlockIdentifier]]
                   ) -> dict[str, EventData]:
    """The events of one report version (each happens at most once) in the block ranges, found by the indexed
    report id."""
    contract = suite.contract(REGISTRY)
    events = {getattr(contract.events, name).topic: getattr(contract.events, name)() for name in REPORT_EVENTS}
    found: dict[str, EventData] = {}
    for first, last in ranges:
        for log in suite.w3.eth.get_logs({"address": contract.address, "fromBlock": first, "toBlock": last,
                                          "topics": [list(events), "0x" + report_id.to_bytes(32, "big").hex()]}):
            decoded = events[HexBytes(log["topics"][0]).to_0x_hex()].process_log(log)
            found[decoded["event"]] = decoded
    return found


def read_report(suite: Suite, report_id: int, block: BlockIdentifier = "latest", near: Sequence[int] = ()
                ) -> Report:
    """A report version: the state the registry keeps (status, version chain, commitments) and the records of its
    events, checked against the commitments. Raises the contract's `UnknownReport` if none, and
    `ReportRecordMismatch` if an event does not hash to its commitment.

    `near`: blocks that hold the version's events as far as the caller knows (the index's, a transaction's
    just mined). They are read first, as a node without a log index (the embedded chain) scans every block of
    a range; when they do not hold what the commitments say, the events are read from the deployment on."""
    if near:
        try:
            return _read_report(suite, report_id, block, [(b, b) for b in sorted(set(near))])
        except ReportRecordMismatch:
            pass
    return _read_report(suite, report_id, block, [(suite.deployment.block, block)])


def _read_report(suite: Suite, report_id: int, block: BlockIdentifier,
                 ranges: Sequence[tuple[BlockIdentifier, BlockIdentifier]]) -> Report:
    try:
        kept = suite.function(REGISTRY, "getReport", report_id).call(block_identifier=block)
    except Exception as exc:
        revert = suite.decoder.from_exception(exc)
        if revert is None:
            raise
        raise revert from None
    org, year, version, status, previous, submission, review, verified_kg = kept
    events = _report_events(suite, report_id, ranges)
    if "ReportSubmitted" not in events:
        raise ReportRecordMismatch(f"report {report_id}: no ReportSubmitted event was read")

    def at(name: str) -> int | None:
        event = events.get(name)
        return None if event is None else int(suite.w3.eth.get_block(event["blockNumber"])["timestamp"])

    s = events["ReportSubmitted"]["args"]
    if submission_hash(s["submitter"], s["documentHash"], s["reportedKgCO2e"], s["anchorsRoot"], s["anchoredMg"],
                       s["readingCount"]) != bytes(submission):
        raise ReportRecordMismatch(f"report {report_id}: ReportSubmitted does not hash to its submissionHash")
    verifier = statement = reason = finalizer = None
    reviewed_at = at("ReportVerified") or at("ReportRejected")
    if "ReportVerified" in events:
        v = events["ReportVerified"]["args"]
        verifier, statement = str(v["verifier"]), bytes(v["statementHash"])
        checked = review_hash(verifier, int(v["verifiedKgCO2e"]), statement)
    elif "ReportRejected" in events:
        v = events["ReportRejected"]["args"]
        verifier, reason = str(v["verifier"]), bytes(v["reasonHash"])
        checked = review_hash(verifier, 0, reason)
    else:
        checked = b"\0" * 32
    if checked != bytes(review):
        raise ReportRecordMismatch(f"report {report_id}: its review event does not hash to its reviewHash")
    if ReportStatus(int(status)) == ReportStatus.FINALIZED and "ReportFinalized" not in events:
        raise ReportRecordMismatch(f"report {report_id}: finalized, but no ReportFinalized event was read")
    tonnes = 0
    if "ReportFinalized" in events:
        f = events["ReportFinalized"]["args"]
        finalizer, tonnes = str(f["finalizer"]), int(f["obligationTonnes"])
    return Report(report_id, int(org), int(year), int(version), int(previous), str(s["submitter"]),
                  bytes(s["documentHash"]), int(s["reportedKgCO2e"]), bytes(s["anchorsRoot"]), int(s["anchoredMg"]),
                  int(s["readingCount"]), ReportStatus(int(status)), verifier, int(verified_kg), statement, reason,
                  finalizer, tonnes, at("ReportSubmitted") or 0, reviewed_at, at("ReportFinalized"))


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


def get_report(chain: ChainClient, suite: Suite, report_id: int, near: Sequence[int] = ()) -> Report:
    """A report version (its events read first in the blocks `near`); raises the contract's `UnknownReport` if
    none."""
    return chain.request(lambda: read_report(suite, report_id, near=near))


def indexed_blocks(db: Session | Connection, report_id: int, up_to: int | None = None) -> list[int]:
    """The blocks of the version's events as the index holds them (up to block `up_to`)."""
    query = select(ChainReportEvent.block_number).where(ChainReportEvent.report_id == report_id)
    if up_to is not None:
        query = query.where(ChainReportEvent.block_number <= up_to)
    return [int(b) for b in db.scalars(query)]


def versions(chain: ChainClient, suite: Suite, org_id: int, year: int) -> list[Report]:
    """Every version of the organisation's report for the year, oldest first."""
    ids = suite.view(chain, REGISTRY, "reportVersions", org_id, year)
    return [get_report(chain, suite, int(i)) for i in ids]


def latest_report_id(chain: ChainClient, suite: Suite, org_id: int, year: int) -> int:
    return int(suite.view(chain, REGISTRY, "latestReportId", org_id, year))


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

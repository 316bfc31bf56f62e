"""Audit use cases: a report traced down to readings with proofs (optionally verified by the chain itself), a
product footprint traced down to proved readings and up its supply chain, an asset traced hop by hop, a park
drilled down to its devices, and the index and outbox reconciled with the chain.

Every read first brings the event index up to the chain's head. Who sees which organisations' rows is decided
by the rule table of `ledger_service.audit.access` (README: What each role sees)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from ledger_core.assets import asset_kind
from ledger_core.chain.client import ChainClient
from ledger_core.chain.suite import Suite
from ledger_core.config import Settings
from ledger_core.db.models import ChainTransfer
from ledger_service.audit import results as r
from ledger_service.audit.access import (
    AccessDenied,
    asset_trace_for,
    drill_down_for,
    member_orgs,
    report_trace_for,
)
from ledger_service.audit.asset_lineage import Lineage, asset_lineage
from ledger_service.audit.asset_trace import trace_asset
from ledger_service.audit.drilldown import drill_down
from ledger_service.audit.epd_lineage import EpdLineage, epd_lineage
from ledger_service.audit.product_trace import ProductTrace, UnknownEpd, trace_product
from ledger_service.audit.reconcile import ReconcileReport, reconcile
from ledger_service.audit.report_trace import UnknownReport, trace_report, year_window
from ledger_service.documents import DocumentVault
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, forbidden, not_found
from ledger_service.services.visibility import IndexedViews
from oracles.anchor_records import window_proof_args


@dataclass(frozen=True)
class CheckedTrace:
    """A report's trace and, when asked, each listed proof as MeterAnchor.verifyReading judged it."""

    trace: r.ReportTrace
    on_chain: dict[int, bool] | None = None  # reading id -> accepted

    @property
    def failed_checks(self) -> list[str]:
        return self.trace.failed_checks + [
            f"reading {e.reading_id} (anchor {e.anchor_id}): MeterAnchor.verifyReading refused its proof"
            for e in self.trace.readings if (self.on_chain or {}).get(e.reading_id) is False]


@dataclass(frozen=True)
class AssetTracePage:
    trace: r.AssetTrace
    hops: list[r.AssetHop]  # the page asked for
    total: int  # hops the caller may see


@dataclass(frozen=True)
class DrillDown:
    park_id: int
    start: int  # seconds UTC, inclusive
    end: int  # seconds UTC, exclusive
    tree: r.LevelTotal


@dataclass(frozen=True)
class Reconciliation:
    report: ReconcileReport
    since: datetime | None  # the meter data check's lower bound, as asked (UTC unless it said otherwise)


def _denied(exc: AccessDenied) -> Refusal:
    return forbidden(f"a member sees only its own organisation's data and what its role adds ({exc})",
                     "NotYourData")


@dataclass(frozen=True)
class AuditService:
    chain: ChainClient
    suite: Suite
    engine: Engine
    directory: Directory
    documents: DocumentVault
    views: IndexedViews
    settings: Settings

    def report_trace(self, caller: Caller, report_id: int, readings: int = 4, verify_on_chain: bool = False,
                     seed: int | None = None, all_readings: bool = False) -> CheckedTrace:
        """A report's versions, anchors (each window rebuilt from its stored readings), sampled readings with
        proofs, devices and notarizations, and which checks failed; refused before any window is rebuilt when
        the caller may not see the enterprise."""
        with self.views.reading() as session:
            sees = self.views.viewer(caller, session)
            parks: dict[int, int | None] = {}

            def admit(org_id: int, park: int | None) -> None:  # read with the report's versions
                sees.require(org_id, park)
                parks[org_id] = park

            try:
                trace = trace_report(session, report_id, readings, seed=seed, all_readings=all_readings, admit=admit)
                trace = report_trace_for(sees, trace, parks[trace.org_id])
            except UnknownReport:
                raise not_found(f"no report {report_id}", "UnknownReport", reportId=report_id) from None
            except AccessDenied as exc:
                raise _denied(exc) from None
        return CheckedTrace(trace, self._verify_on_chain(trace) if verify_on_chain else None)

    def _verify_on_chain(self, trace: r.ReportTrace) -> dict[int, bool]:
        """Each listed reading's proof, checked by MeterAnchor.verifyReading against its anchor (a reading
        without a proof, its window's stored data being inconsistent, is left out: it already failed)."""
        anchor = self.suite.contract("MeterAnchor")
        out: dict[int, bool] = {}
        for reading in trace.readings:
            proof = reading.proof
            if proof is None:
                continue
            if proof["anchor_id"] is None or proof.get("anchor_record") is None:
                out[reading.reading_id] = False
                continue
            steps = [(s["kind"], s["level"], bytes.fromhex(s["data"][2:]), int(s["sum"]), s["count"])
                     for s in proof["steps"]]
            # The indexed record the trace carries, checked by the contract against the commitment it keeps.
            call = anchor.functions.verifyReading(
                *window_proof_args(proof), bytes.fromhex(proof["digest"][2:]), int(proof["value_mg"]), steps)
            valid, _ = self.chain.request(call.call)
            out[reading.reading_id] = bool(valid)
        return out

    def product_trace(self, caller: Caller, epd_id: int, readings: int = 1) -> ProductTrace:
        """An EPD down to `readings` proved readings per anchored window of its site and up through every EPD it
        cites, tier by tier; each hop's provenance is checked and shown where the caller sees its owner's footprint
        data, its on-chain facts everywhere (published EPDs are registry facts). Validity is judged at the chain's
        latest block time, as EpdRegistry judges it."""
        sees = self.views.viewer(caller)
        now = int(self.chain.request(lambda: self.suite.w3.eth.get_block("latest"))["timestamp"])
        with self.views.sessions() as session:
            try:
                return trace_product(session, epd_id, sees, readings, now=now)
            except UnknownEpd:
                raise not_found(f"no EPD {epd_id}", "UnknownEpd", epdId=epd_id) from None

    def asset_trace(self, caller: Caller, asset: str, token_id: int, offset: int, limit: int) -> AssetTracePage:
        """Every movement of an allowance vintage or a credit batch in chain order, and its holders; a member
        sees the hops its organisation's accounts took part in and its own holdings."""
        token = traced_contract(asset)
        with self.views.reading() as session:
            sees = self.views.viewer(caller, session)
            if sees.regulator:
                trace = trace_asset(session, token, token_id, limit=offset + limit)
                total = session.scalar(select(func.count()).select_from(ChainTransfer).where(
                    ChainTransfer.token == token, ChainTransfer.token_id == token_id)) or 0
            else:
                trace = asset_trace_for(sees, trace_asset(session, token, token_id), member_orgs(session))
                total = len(trace.hops)
        return AssetTracePage(trace, trace.hops[offset: offset + limit], int(total))

    def asset_lineage(self, caller: Caller, asset: str, token_id: int, max_edges: int) -> Lineage:
        """An allowance vintage's, credit batch's or certificate batch's hops as a graph of accounts, escrow,
        issuances and the records units left circulation by; a member's graph has the hops its organisation's
        accounts took part in (as in the trace)."""
        token = traced_contract(asset)
        sees = self.views.viewer(caller)
        with self.views.sessions() as session:
            return asset_lineage(session, token, token_id, max_edges, None if sees.regulator else (
                lambda trace, orgs: asset_trace_for(sees, trace, orgs)))

    def epd_lineage(self, caller: Caller, epd_id: int) -> EpdLineage:
        """An EPD's attestation, publication, citations both ways, supersession, withdrawal and flags as a graph
        (registry facts: any member; the caller's authentication is the check)."""
        self.views.fresh()
        with self.views.sessions() as session:
            try:
                return epd_lineage(session, epd_id)
            except UnknownEpd:
                raise not_found(f"no EPD {epd_id}", "UnknownEpd", epdId=epd_id) from None

    def park_drilldown(self, caller: Caller, park_id: int, year: int | None = None, start: int | None = None,
                       end: int | None = None, verify_roots: bool = False) -> DrillDown:
        """A park's emissions by enterprise, facility, workshop and device for a year or a window [start, end),
        with the branches the caller sees."""
        if (year is not None and (start is not None or end is not None)) or (
            year is None and (start is None or end is None)
        ):
            raise Refusal(422, "ValidationError", "give either year, or both start and end")
        if year is not None:
            start, end = year_window(year)
        assert start is not None and end is not None
        if end <= start:
            raise Refusal(422, "ValidationError", "end must be after start", {"start": start, "end": end})
        sees = self.views.park_viewer(caller, self.directory, park_id)
        with self.views.sessions() as session:
            tree = drill_down_for(sees, drill_down(session, park_id, start, end, verify_roots=verify_roots))
        return DrillDown(park_id, start, end, tree)

    def reconcile(self, since: datetime | None = None, sample: int | None = None,
                  seed: int | None = None) -> Reconciliation:
        """Every difference between the index, the outbox, the stored meter data and documents, and the chain
        (the regulator's check: the role is the caller's authentication)."""
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        self.views.fresh()
        report = self.chain.request(lambda: reconcile(
            self.engine, self.suite, chain=self.chain, grace_seconds=self.settings.receipt_timeout_seconds,
            since=since, sample=sample, seed=seed, documents=self.documents))
        return Reconciliation(report, since)


def traced_contract(asset: str) -> str:
    """The contract of an asset kind traced by token id, by the kind's name; KeyError for any other name."""
    kind = asset_kind(asset)
    if not kind.traced:
        raise KeyError(asset)
    return kind.contract

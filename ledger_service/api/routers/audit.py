"""Audit: a report traced down to readings with proofs, an asset traced hop by hop, a park drilled down
to its devices, and the index reconciled with the chain.

Every read first brings the event index up to the chain's head. Who sees which organisations' rows is
decided by the rule table of `ledger_service.audit.access` (README: What each role sees).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer
from sqlalchemy import func, select

from ledger_service.api.deps import AnyMember, PageDep, Regulator, RuntimeDep
from ledger_service.api.errors import ApiError, forbidden, not_found
from ledger_service.api.indexing import viewer
from ledger_service.api.schemas import PageInfo
from ledger_service.api.types import INT64_MAX, LAST_DAY, LAST_SECOND, ChainId64, OrgId
from ledger_service.audit import results as r
from ledger_service.audit.access import (
    AccessDenied,
    asset_trace_for,
    drill_down_for,
    member_orgs,
    park_of,
    report_trace_for,
    require_in_park,
)
from ledger_service.audit.asset_trace import ALLOWANCES, CREDITS, trace_asset
from ledger_service.audit.drilldown import drill_down
from ledger_service.audit.reconcile import Difference, reconcile
from ledger_service.audit.report_trace import UnknownReport, trace_report, year_window
from ledger_service.chain.calldata import jsonable
from ledger_service.db.models import ChainReport, ChainTransfer
from ledger_service.membership import OrgKind
from ledger_service.runtime import Runtime

router = APIRouter(prefix="/audit", tags=["audit"])
TOKENS = {"allowance": ALLOWANCES, "credit": CREDITS}


# ------------------------------------------------------------------ response models


class OnChainOut(BaseModel):
    tx_hash: str
    block_number: int
    log_index: int
    block_time: datetime = Field(description="UTC")
    pending: bool = Field(description="within the confirmation depth: may still be reorganised away")

    @classmethod
    def of(cls, at: r.OnChain) -> OnChainOut:
        return cls(
            tx_hash=at.tx_hash,
            block_number=at.block_number,
            log_index=at.log_index,
            block_time=at.block_time,
            pending=at.pending,
        )


class ReportStepOut(BaseModel):
    kind: str = Field(description="submitted, verified, rejected or finalized")
    actor: str
    at: OnChainOut
    verified_kg: int | None = None
    obligation_tonnes: int | None = None
    statement_or_reason: str | None = None
    actor_organisation: str | None = Field(default=None, description="the name of the actor's organisation")


class ReportVersionOut(BaseModel):
    report_id: int
    version: int
    previous_report_id: int
    status: str
    document_hash: str
    reported_kg: int
    anchors_root: str
    anchored_mg: int
    reading_count: int
    steps: list[ReportStepOut]


class CommitmentOut(BaseModel):
    """The report's level-5 commitment recomputed from its anchors' roots, against what it recorded."""

    anchor_ids: list[int]
    expected_root: str
    expected_mg: int
    expected_count: int
    committed_root: str
    committed_mg: int
    committed_count: int
    matches: bool


class AnchorOut(BaseModel):
    anchor_id: int
    enterprise_org_id: int
    window_start: int
    window_end: int
    root: str
    total_mg: int
    reading_count: int
    oracle: str
    at: OnChainOut
    batch_id: int | None
    sql_matches: bool = Field(description="the stored meter batch reproduces the anchored root, total and count")
    oracle_organisation: str | None = Field(default=None, description="the name of the oracle's organisation")
    readings_match: bool | None = Field(
        default=None, description="the window rebuilt from its stored readings gives the anchored root "
        "(null: no stored window)")
    readings_problem: str | None = Field(default=None, description="why it does not (window, root, changed readings)")


class SubtotalOut(BaseModel):
    level: str
    label: str
    sum_mg: int
    count: int


class ReadingOut(BaseModel):
    reading_id: int
    device_id: str
    timestamp: int
    quantity: str = Field(description="as stored (canonical decimal)")
    unit: str
    carrier: str
    factor_set: str = Field(description="the factor set that valued it")
    factor_kg_per_unit: str | None = Field(description="kgCO2e per unit of the carrier in that set (GWP applied)")
    value_mg: int
    anchor_id: int | None
    proof_valid: bool = Field(description="the proof leads to the anchored root (checked by the service)")
    verified_on_chain: bool | None = Field(
        default=None, description="MeterAnchor.verifyReading accepted the proof (when asked with verify_on_chain)"
    )
    changed: bool = Field(description="its stored fields no longer give its committed digest")
    problem: str | None = Field(default=None, description="why there is no proof: its window's stored data no "
                                "longer reproduces the anchored root")
    subtotals: list[SubtotalOut]
    proof: dict[str, Any] | None = Field(description="the proof bundle, in the API's naming (null without proof)")


class DeviceOut(BaseModel):
    device_id: str
    device_hash: str
    facility: str
    workshop: str
    active_on_chain: bool | None
    registered: OnChainOut | None


class NotarizationOut(BaseModel):
    document_hash: str
    notary: str
    org_id: int
    at: OnChainOut
    notary_organisation: str | None = None


class ReportTraceOut(BaseModel):
    report_id: int
    org_id: int
    year: int
    verified: bool = Field(description="every check passed: commitment, anchors (batch and readings), every "
                           "checked proof (and on chain, when asked)")
    failed_checks: list[str] = Field(description="each check that failed, in words; empty when verified")
    seed: int = Field(description="the seed of the reading sample; the same seed samples the same readings")
    all_readings: bool = Field(description="every reading was checked, not a sample")
    readings_checked: int = Field(description="readings whose proofs were checked")
    versions: list[ReportVersionOut]
    commitment: CommitmentOut
    anchors: list[AnchorOut]
    readings: list[ReadingOut]
    devices: list[DeviceOut]
    notarizations: list[NotarizationOut]

    @classmethod
    def of(cls, t: r.ReportTrace, on_chain: dict[int, bool] | None = None) -> ReportTraceOut:
        c = t.commitment
        failed = t.failed_checks + [
            f"reading {e.reading_id} (anchor {e.anchor_id}): MeterAnchor.verifyReading refused its proof"
            for e in t.readings if (on_chain or {}).get(e.reading_id) is False]
        return cls(
            report_id=t.report_id,
            org_id=t.org_id,
            year=t.year,
            verified=not failed,
            failed_checks=failed,
            seed=t.seed,
            all_readings=t.all_readings,
            readings_checked=t.readings_checked,
            versions=[
                ReportVersionOut(
                    report_id=v.report_id,
                    version=v.version,
                    previous_report_id=v.previous_report_id,
                    status=v.status,
                    document_hash=v.document_hash,
                    reported_kg=v.reported_kg,
                    anchors_root=v.anchors_root,
                    anchored_mg=v.anchored_mg,
                    reading_count=v.reading_count,
                    steps=[
                        ReportStepOut(
                            kind=s.kind,
                            actor=s.actor,
                            at=OnChainOut.of(s.at),
                            verified_kg=s.verified_kg,
                            obligation_tonnes=s.obligation_tonnes,
                            statement_or_reason=s.statement_or_reason,
                            actor_organisation=s.actor_organisation,
                        )
                        for s in v.steps
                    ],
                )
                for v in t.versions
            ],
            commitment=CommitmentOut(
                anchor_ids=c.anchor_ids,
                expected_root=c.expected_root,
                expected_mg=c.expected_mg,
                expected_count=c.expected_count,
                committed_root=c.committed_root,
                committed_mg=c.committed_mg,
                committed_count=c.committed_count,
                matches=c.matches,
            ),
            anchors=[
                AnchorOut(
                    anchor_id=a.anchor_id,
                    enterprise_org_id=a.enterprise_org_id,
                    window_start=a.window_start,
                    window_end=a.window_end,
                    root=a.root,
                    total_mg=a.total_mg,
                    reading_count=a.reading_count,
                    oracle=a.oracle,
                    at=OnChainOut.of(a.at),
                    batch_id=a.batch_id,
                    sql_matches=a.sql_matches,
                    oracle_organisation=a.oracle_organisation,
                    readings_match=a.readings_match,
                    readings_problem=a.readings_problem,
                )
                for a in t.anchors
            ],
            readings=[
                ReadingOut(
                    reading_id=e.reading_id,
                    device_id=e.device_id,
                    timestamp=e.timestamp,
                    quantity=e.quantity,
                    unit=e.unit,
                    carrier=e.carrier,
                    factor_set=e.factor_set,
                    factor_kg_per_unit=e.factor_kg_per_unit,
                    value_mg=e.value_mg,
                    anchor_id=e.anchor_id,
                    proof_valid=e.proof_valid,
                    verified_on_chain=None if on_chain is None else on_chain.get(e.reading_id),
                    changed=e.changed,
                    problem=e.problem,
                    subtotals=[
                        SubtotalOut(level=s.level, label=s.label, sum_mg=s.sum_mg, count=s.count) for s in e.subtotals
                    ],
                    proof=None if e.proof is None else jsonable(e.proof),
                )
                for e in t.readings
            ],
            devices=[
                DeviceOut(
                    device_id=d.device_id,
                    device_hash=d.device_hash,
                    facility=d.facility,
                    workshop=d.workshop,
                    active_on_chain=d.active_on_chain,
                    registered=OnChainOut.of(d.registered) if d.registered else None,
                )
                for d in t.devices
            ],
            notarizations=[
                NotarizationOut(document_hash=n.document_hash, notary=n.notary, org_id=n.org_id, at=OnChainOut.of(n.at),
                                notary_organisation=n.notary_organisation)
                for n in t.notarizations
            ],
        )


class HopOut(BaseModel):
    kind: str = Field(
        description="allocation, issuance, transfer, listing, trade, delisting, surrender, "
        "retraction, retirement, cancellation or burn"
    )
    from_address: str
    to_address: str
    amount: int
    at: OnChainOut
    compliance_year: int | None = Field(default=None, description="for a surrender: the year it counts for")
    serial_start: int | None = Field(default=None, description="credits: first serial consumed")
    serial_end: int | None = Field(default=None, description="credits: last serial consumed")
    order_id: int | None = Field(default=None, description="a trade: the market order")
    price: int | None = Field(default=None, description="a trade: price per tonne in settlement-token units")
    payment: int | None = Field(default=None, description="a trade: paid in settlement-token units")
    retirement_id: int | None = Field(default=None, description="a retirement: its certificate's id")


class HoldingOut(BaseModel):
    holder: str
    org_id: int | None
    amount: int


class AssetTraceOut(BaseModel):
    asset: Literal["allowance", "credit"]
    token_id: int = Field(description="the vintage year of allowances, the batch id of credits")
    issued: int
    surrendered: int
    outstanding: int
    holders: list[HoldingOut]
    hops: list[HopOut]
    page: PageInfo


class LevelOut(BaseModel):
    level: str = Field(description="park, park_facilities (the park organisation's own), enterprise, facility, "
                       "workshop or device")
    label: str
    sum_mg: int
    count: int
    anchored_mg: int | None = None
    anchored_count: int | None = None
    matches_anchored: bool | None = Field(
        default=None, description="the total equals the anchored sums (unknown where nothing is anchored)"
    )
    children: list[LevelOut] = Field(default_factory=list)

    @classmethod
    def of(cls, node: r.LevelTotal) -> LevelOut:
        return cls(
            level=node.level,
            label=node.label,
            sum_mg=node.sum_mg,
            count=node.count,
            anchored_mg=node.anchored_mg,
            anchored_count=node.anchored_count,
            matches_anchored=node.matches_anchored,
            children=[cls.of(c) for c in node.children],
        )


class DrillDownOut(BaseModel):
    park_id: int
    start: int = Field(description="window start, seconds UTC (inclusive)")
    end: int = Field(description="window end, seconds UTC (exclusive)")
    tree: LevelOut


class DifferenceOut(BaseModel):
    kind: str
    key: str
    field: str
    index: Any = Field(description="the indexed value (null: missing from the index); for meter data and "
                       "documents, what SQL holds or gives")
    chain: Any = Field(description="the chain's value")
    where: dict[str, Any] | None = Field(None, description="for meter data: enterprise, anchor, window, and the "
                                         "first device and reading that no longer reproduce; for documents: row")

    @model_serializer(mode="wrap")
    def _without_empty_where(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`where` only on the differences that have one (meter data, documents)."""
        data: dict[str, Any] = handler(self)
        if data.get("where") is None:
            data.pop("where", None)
        return data


class OutboxCheckOut(BaseModel):
    ok: bool
    checked: dict[str, int] = Field(description="outbox rows with a nonce (transaction), receipts asked for, "
                                    "signers, and nonces on chain accounted for")
    differences: list[DifferenceOut] = Field(description="kind `outbox`, `index` holding the outbox's value: a row's "
                                             "status, block_number or block_hash against its transaction on chain, a "
                                             "nonce used with or without its row, a signer's next_nonce gap")
    pending: list[DifferenceOut] = Field(description="disagreements about rows still in flight or provisional "
                                         "written less than receipt_timeout_seconds ago (not differences yet)")


class MeterCheckOut(BaseModel):
    windows_anchored: int = Field(description="anchored windows (on chain and in the index)")
    windows_checked: int = Field(description="windows recomputed from their readings")
    readings: int = Field(description="readings re-encoded and re-hashed")
    since: datetime | None = Field(description="only windows starting at or after this time (UTC)")
    sample: int | None = Field(description="windows drawn at random, when sampled")
    seed: int | None = Field(description="the sample's seed: give it again to check the same windows")


class ReconcileOut(BaseModel):
    block: int = Field(description="the block at which the chain was read (where the index stands)")
    ok: bool = Field(description="neither the index nor the outbox differs from the chain")
    checked: dict[str, int]
    differences: list[DifferenceOut]
    outbox: OutboxCheckOut = Field(description="the outbox against the chain, read at its head")
    meters: MeterCheckOut | None = Field(None, description="what the meter data check covered")


# ------------------------------------------------------------------ helpers


def _differences(differences: list[Difference]) -> list[DifferenceOut]:
    return [DifferenceOut(kind=d.kind, key=str(d.key), field=d.field, index=jsonable(d.index), chain=jsonable(d.chain),
                          where=None if d.where is None else jsonable(d.where))
            for d in differences]


def _denied(exc: AccessDenied) -> ApiError:
    return forbidden(f"a member sees only its own organisation's data and what its role adds ({exc})",
                     "NotYourData")


def _verify_on_chain(runtime: Runtime, trace: r.ReportTrace) -> dict[int, bool]:
    """Each listed reading's proof, checked by MeterAnchor.verifyReading against its anchor (a reading
    without a proof, its window's stored data being inconsistent, is left out: it already failed)."""
    anchor = runtime.suite.contract("MeterAnchor")
    out: dict[int, bool] = {}
    for reading in trace.readings:
        proof = reading.proof
        if proof is None:
            continue
        if proof["anchor_id"] is None:
            out[reading.reading_id] = False
            continue
        steps = [(s["kind"], s["level"], bytes.fromhex(s["data"][2:]), int(s["sum"]), s["count"])
                 for s in proof["steps"]]
        call = anchor.functions.verifyReading(
            proof["anchor_id"], bytes.fromhex(proof["digest"][2:]), int(proof["value_mg"]), steps)
        valid, _ = runtime.chain.request(call.call)
        out[reading.reading_id] = bool(valid)
    return out


# ------------------------------------------------------------------ endpoints


@router.get("/reports/{report_id}/trace", response_model=ReportTraceOut)
def report_trace(
    report_id: ChainId64,
    caller: AnyMember,
    runtime: RuntimeDep,
    readings: Annotated[int, Query(ge=0, le=50, description="readings sampled with proofs, drawn from every "
                                   "anchor (at least one each, so possibly more)")] = 4,
    verify_on_chain: Annotated[
        bool, Query(description="also verify each listed proof with MeterAnchor.verifyReading")
    ] = False,
    seed: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="the sample's seed (drawn and shown when "
                                      "not given): the same seed samples the same readings again")] = None,
    all_readings: Annotated[bool, Query(alias="all", description="check every reading of every anchor; the "
                                        "sample and every reading changed in SQL are listed")] = False,
) -> ReportTraceOut:
    """A report's versions, verification and finalization, the anchors its commitment covers (each window
    rebuilt from its stored readings), readings sampled from every anchor with their quantities, factors,
    Merkle-sum proofs and subtotals, the enterprise's devices and notarizations, and which checks failed."""
    sees = viewer(runtime, caller)
    with runtime.sessions() as session:
        try:
            org_id = session.scalar(select(ChainReport.org_id).where(ChainReport.report_id == report_id))
            if org_id is not None:  # refused before any window is rebuilt
                sees.require(org_id, park_of(session, org_id))
            trace = trace_report(session, report_id, readings, seed=seed, all_readings=all_readings)
            trace = report_trace_for(sees, trace, park_of(session, trace.org_id))
        except UnknownReport:
            raise not_found(f"no report {report_id}", "UnknownReport", reportId=report_id) from None
        except AccessDenied as exc:
            raise _denied(exc) from None
    return ReportTraceOut.of(trace, _verify_on_chain(runtime, trace) if verify_on_chain else None)


@router.get("/assets/{asset}/{token_id}/trace", response_model=AssetTraceOut)
def asset_trace(
    asset: Literal["allowance", "credit"],
    token_id: Annotated[int, Path(ge=0, le=INT64_MAX)],
    caller: AnyMember,
    runtime: RuntimeDep,
    page: PageDep,
) -> AssetTraceOut:
    """Every movement of an allowance vintage or a credit batch in chain order (paginated), and its current
    holders. A member sees the hops its organisation's accounts took part in and its own holdings."""
    token = TOKENS[asset]
    sees = viewer(runtime, caller)
    with runtime.sessions() as session:
        if sees.regulator:
            trace = trace_asset(session, token, token_id, limit=page.offset + page.limit)
            total = (
                session.scalar(
                    select(func.count())
                    .select_from(ChainTransfer)
                    .where(ChainTransfer.token == token, ChainTransfer.token_id == token_id)
                )
                or 0
            )
        else:
            trace = asset_trace_for(sees, trace_asset(session, token, token_id), member_orgs(session))
            total = len(trace.hops)
    hops = trace.hops[page.offset : page.offset + page.limit]
    return AssetTraceOut(
        asset=asset,
        token_id=token_id,
        issued=trace.issued,
        surrendered=trace.surrendered,
        outstanding=trace.outstanding,
        holders=[HoldingOut(holder=h.holder, org_id=h.org_id, amount=h.amount) for h in trace.holders],
        hops=[
            HopOut(
                kind=h.kind,
                from_address=h.from_address,
                to_address=h.to_address,
                amount=h.amount,
                at=OnChainOut.of(h.at),
                compliance_year=h.compliance_year,
                serial_start=h.serial_start,
                serial_end=h.serial_end,
                order_id=h.order_id,
                price=h.price,
                payment=h.payment,
                retirement_id=h.retirement_id,
            )
            for h in hops
        ],
        page=PageInfo(offset=page.offset, limit=page.limit, total=total),
    )


@router.get("/parks/{park_id}/drilldown", response_model=DrillDownOut)
def park_drilldown(
    park_id: OrgId,
    caller: AnyMember,
    runtime: RuntimeDep,
    year: Annotated[int | None, Query(ge=1970, le=LAST_DAY.year, description="a calendar year (UTC)")] = None,
    start: Annotated[int | None, Query(ge=0, le=LAST_SECOND, description="window start, seconds UTC")] = None,
    end: Annotated[int | None, Query(ge=0, le=LAST_SECOND, description="window end, seconds UTC (exclusive)")]
    = None,
    verify_roots: Annotated[
        bool, Query(description="rebuild every window from its stored readings and mark each node whose stored "
                    "total, rebuilt total and anchored commitment disagree")
    ] = False,
) -> DrillDownOut:
    """A park's emissions by enterprise, facility, workshop and device for a year or a window, each total
    compared with the anchored sums; the park organisation's own meter data (shared facilities) is a
    `park_facilities` child. The park's total with the branches the caller sees: all for a regulator or the
    park's administrators, its own for an enterprise, the enterprises it attested for a verifier."""
    if (year is not None and (start is not None or end is not None)) or (
        year is None and (start is None or end is None)
    ):
        raise ApiError(422, "ValidationError", "give either year, or both start and end")
    if year is not None:
        start, end = year_window(year)
    assert start is not None and end is not None
    if end <= start:
        raise ApiError(422, "ValidationError", "end must be after start", {"start": start, "end": end})
    park = runtime.directory.organisation(park_id)
    if park is None or park.kind != OrgKind.PARK:
        raise not_found(f"organisation {park_id} is not a registered park", "UnknownOrganisation", orgId=park_id)
    sees = viewer(runtime, caller)
    try:
        require_in_park(sees, park_id, [o.org_id for o in runtime.directory.children(park_id)])
    except AccessDenied as exc:
        raise forbidden(str(exc), "NotYourData", orgId=park_id) from None
    with runtime.sessions() as session:
        tree = drill_down_for(sees, drill_down(session, park_id, start, end, verify_roots=verify_roots))
    return DrillDownOut(park_id=park_id, start=start, end=end, tree=LevelOut.of(tree))


@router.get("/reconcile", response_model=ReconcileOut)
def reconcile_index(
    caller: Regulator,
    runtime: RuntimeDep,
    since: Annotated[datetime | None, Query(description="meter data: only windows starting at or after this time "
                                            "(ISO 8601, UTC unless it says otherwise, or Unix seconds)")] = None,
    sample: Annotated[int | None, Query(ge=1, le=1_000_000, description="meter data: check this many windows, "
                                        "drawn at random")] = None,
    seed: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="the sample's seed (default: a fresh one, "
                                      "shown in `meters.seed`)")] = None,
) -> ReconcileOut:
    """Every difference between the event index and the chain's own views, read at the indexed block:
    balances, supplies, organisations, members, devices, anchors, reports, notarizations, credit batches,
    orders; every anchored window's root recomputed from its stored readings against the chain, every stored
    document's hash against the chain; and between the outbox and the chain: receipts of the transactions
    recorded as mined, every signer's nonces."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    runtime.index_up_to_date()
    report = runtime.chain.request(lambda: reconcile(
        runtime.engine, runtime.suite, chain=runtime.chain, grace_seconds=runtime.settings.receipt_timeout_seconds,
        since=since, sample=sample, seed=seed, documents=runtime.documents))
    outbox, meters = report.outbox, report.meters
    assert outbox is not None
    return ReconcileOut(
        block=report.block,
        ok=report.ok,
        checked=report.checked,
        differences=_differences(report.differences),
        outbox=OutboxCheckOut(ok=outbox.ok, checked=outbox.checked, differences=_differences(outbox.differences),
                              pending=_differences(outbox.pending)),
        meters=None if meters is None else MeterCheckOut(
            windows_anchored=meters.windows_anchored, windows_checked=meters.windows_checked, readings=meters.readings,
            since=since, sample=meters.sample, seed=meters.seed),
    )

"""Audit: a report traced down to readings with proofs, a product footprint traced down to proved readings and up
its supply chain, an asset traced hop by hop, a park drilled down
to its devices, and the index reconciled with the chain. The use cases are `ledger_service.services.audit`.

Every read first brings the event index up to the chain's head. Who sees which organisations' rows is
decided by the rule table of `ledger_service.audit.access` (README: What each role sees).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    field_validator,
    model_serializer,
)

from ledger_core.chain.calldata import jsonable
from ledger_service.api import API_PREFIX
from ledger_service.api.asset_names import TracedAsset
from ledger_service.api.deps import AnyMember, PageDep, Regulator, ServicesDep
from ledger_service.api.schemas import AnchorBase, DeviceBase, Hex, PageInfo
from ledger_service.api.types import INT64_MAX, LAST_DAY, LAST_SECOND, ChainId64, OrgId
from ledger_service.audit.results import AssetHop, Holding
from ledger_service.services.audit import CheckedTrace

router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])


# ------------------------------------------------------------------ response models


class FromResult(BaseModel):
    """Built from the audit's typed results (`ledger_service.audit.results`) by their attribute names."""

    model_config = ConfigDict(from_attributes=True)


class OnChainOut(FromResult):
    tx_hash: str
    block_number: int
    log_index: int
    block_time: datetime = Field(description="UTC")
    pending: bool = Field(description="within the confirmation depth: may still be reorganised away")



class ReportStepOut(FromResult):
    kind: str = Field(description="submitted, verified, rejected or finalized")
    actor: str
    at: OnChainOut
    verified_kg: int | None = None
    obligation_tonnes: int | None = None
    statement_or_reason: str | None = None
    actor_organisation: str | None = Field(default=None, description="the name of the actor's organisation")


class ReportVersionOut(FromResult):
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


class CommitmentCheckOut(FromResult):
    """The report's level-5 commitment recomputed from its anchors' roots, against what it recorded."""

    anchor_ids: list[int]
    expected_root: str
    expected_mg: int
    expected_count: int
    committed_root: str
    committed_mg: int
    committed_count: int
    matches: bool


class TracedAnchorOut(AnchorBase):
    """An anchor the report's commitment covers, as the trace checked it."""

    anchor_id: int
    root: Hex
    total_mg: int
    oracle: str
    at: OnChainOut
    batch_id: int | None
    sql_matches: bool = Field(description="the stored meter batch reproduces the anchored root, total and count")
    oracle_organisation: str | None = Field(default=None, description="the name of the oracle's organisation")
    readings_match: bool | None = Field(
        default=None, description="the window rebuilt from its stored readings gives the anchored root "
        "(null: no stored window)")
    readings_problem: str | None = Field(default=None, description="why it does not (window, root, changed readings)")


class TracedSubtotalOut(FromResult):
    """A subtotal on a sampled reading's path, as the trace recomputed it (the proof endpoint answers the proof's
    own labelled subtotals)."""

    level: str
    label: str
    sum_mg: int
    count: int


class ReadingOut(FromResult):
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
    subtotals: list[TracedSubtotalOut]
    proof: dict[str, Any] | None = Field(description="the proof bundle, in the API's naming (null without proof)")

    @field_validator("proof", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return jsonable(value)


class TracedDeviceOut(DeviceBase):
    """A device of the report's enterprise, as the chain and the index know it."""

    active_on_chain: bool | None
    registered: OnChainOut | None


class NotarizationOut(FromResult):
    document_hash: str
    notary: str
    org_id: int
    at: OnChainOut
    notary_organisation: str | None = None


class ReportTraceOut(FromResult):
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
    commitment: CommitmentCheckOut
    anchors: list[TracedAnchorOut]
    readings: list[ReadingOut]
    devices: list[TracedDeviceOut]
    notarizations: list[NotarizationOut]

    @classmethod
    def of(cls, checked: CheckedTrace) -> ReportTraceOut:
        """The trace, with what the chain said of each listed proof when it was asked."""
        out = cls.model_validate(checked.trace)
        if checked.on_chain is None:
            return out
        on_chain = checked.on_chain
        failed = checked.failed_checks
        return out.model_copy(update={"verified": not failed, "failed_checks": failed, "readings": [
            e.model_copy(update={"verified_on_chain": on_chain.get(e.reading_id)}) for e in out.readings]})


class AccessAppliedOut(FromResult):
    subject: str
    org_id: int
    shown: bool = Field(description="the viewer sees this organisation's footprint data (provenance, proofs)")
    rule: str = Field(description="the rule of the access table that decided it, in words")


class ReadingCheckOut(FromResult):
    reading_id: int
    device_id: str
    timestamp: int
    value_mg: int
    proof_valid: bool = Field(description="the proof leads to the anchored root")
    site_mg_on_path: int | None = Field(description="the site's (workshop or facility) node on the proof's path")
    matches: bool = Field(description="the proof holds and the site's node on it is the provenance subtotal")
    proof: dict[str, Any] | None = Field(description="the proof bundle, in the API's naming")
    problem: str | None = None

    @field_validator("proof", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return jsonable(value)


class SubtotalCheckOut(FromResult):
    anchor_id: int
    label: str = Field(description="the site: the facility or workshop label")
    window_start: int
    window_end: int
    mg: int = Field(description="the subtotal the provenance record states")
    anchored: bool = Field(description="an indexed emissions anchor of the EPD's owner with this window")
    anchor_root: str | None
    anchor_total_mg: int | None
    anchor_at: OnChainOut | None
    stored_site_mg: int | None = Field(description="the site's node in the window's stored tree")
    sql_matches: bool
    readings: list[ReadingCheckOut]


class InputCheckOut(FromResult):
    name: str
    source_type: str = Field(description="supplier or factor")
    kind: str | None = Field(description="EPD or PACT, for a supplier")
    reference: str
    content_hash: str | None
    cut_off: bool
    cited_on_chain: bool | None = Field(description="an EPD of this ledger: among the on-chain citations")
    hash_matches: bool | None = Field(description="an EPD of this ledger: its hash is the EPD's draft commitment")


class EpdHopOut(FromResult):
    tier: int = Field(description="0: the traced EPD; n: a supplier cited n steps up")
    cited_by: int | None
    epd: dict[str, Any] = Field(description="the EPD as indexed now, in the shape `GET /epds/{epd_id}` answers "
                                "(EpdOut): status, flags, figures, validity, publication")
    owner: str | None = Field(description="the owner organisation's name")
    current: bool = Field(description="published, unflagged and valid at the chain's time")
    valid_now: bool
    covers_citing_period: bool | None = Field(description="valid over the citing EPD's period (null at tier 0)")
    flagged_citations: list[int] = Field(description="cited EPDs no longer published or valid when flagged")
    access: AccessAppliedOut
    provenance_stored: bool | None = Field(description="null: not shown to the viewer")
    stored_commitment: str | None
    provenance_matches: bool | None = Field(description="the stored record's commitment is the on-chain one")
    subtotals: list[SubtotalCheckOut]
    inputs: list[InputCheckOut]
    citations_match: bool | None
    not_traced: list[int] = Field(description="cited EPDs beyond the depth bound")

    @field_validator("epd", mode="before")
    @classmethod
    def _epd(cls, value: Any) -> Any:
        # The EPD router's own model, imported here: that router imports this one's OnChainOut.
        from ledger_service.api.routers.footprints import EpdOut

        return value if isinstance(value, dict) else EpdOut.model_validate(value).model_dump(mode="json")


class ProductTraceOut(FromResult):
    epd_id: int
    viewer_org_id: int
    at: int = Field(description="the chain time validity was judged at, seconds UTC")
    tiers: int
    verified: bool = Field(description="every check that ran passed (hidden provenance is not checked)")
    failed_checks: list[str]
    hops: list[EpdHopOut]


class HopOut(FromResult):
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


class HoldingOut(FromResult):
    holder: str
    org_id: int | None
    amount: int


class AssetTraceOut(FromResult):
    asset: TracedAsset
    token_id: int = Field(description="the vintage year of allowances, the batch id of credits")
    issued: int
    surrendered: int
    outstanding: int
    holders: list[HoldingOut]
    hops: list[HopOut]
    page: PageInfo


@dataclass(frozen=True, slots=True)
class AssetTraceAnswer:
    """`AssetTraceOut`'s fields over the typed results themselves, written without validating them into the
    response models first: a page of 500 hops took longer to validate (1.5 ms) than to read. `AssetTraceOut`
    stays the documented response; tests hold both to the same JSON."""

    asset: str
    token_id: int
    issued: int
    surrendered: int
    outstanding: int
    holders: list[Holding]
    hops: list[AssetHop]
    page: PageInfo


ASSET_TRACE_ANSWER = TypeAdapter(AssetTraceAnswer)


class LineageNodeOut(FromResult):
    id: str = Field(description="`account:<address>`, `escrow:<address>`, `<source kind>:<tx>` or "
                    "`<sink kind>:<tx>:<log index>:<holder>`")
    kind: str = Field(description="account, escrow; allocation or issuance (where units came from); surrender, "
                      "retirement, cancellation, consumption, retraction or burn (where they left circulation)")
    label: str
    first_block: int = Field(description="the block of the node's first hop")
    first_time: datetime = Field(description="its time (UTC): the graph is drawn left to right by it")
    address: str | None = None
    org_id: int | None = None
    organisation: str | None = None
    holding: int | None = Field(default=None, description="an account's or the escrow's units now")


class LineageEdgeOut(FromResult):
    id: int
    source: str = Field(description="the node the units came from")
    target: str = Field(description="the node they went to")
    kind: str = Field(description="the hop's kind, as in the trace (an EPD's: published, cited, superseded, "
                      "withdrawn, flagged)")
    amount: int | None = Field(description="units moved (null for an EPD's steps)")
    at: OnChainOut = Field(description="the hop's transaction, block and time")
    seller: str | None = Field(default=None, description="a trade (escrow to buyer): the order's seller")
    details: dict[str, int] = Field(description="what else the hop says: compliance_year, serial_start, "
                                    "serial_end, order_id, price, payment, retirement_id")


class LineageOut(FromResult):
    asset: TracedAsset
    token_id: int
    issued: int
    outstanding: int
    nodes: list[LineageNodeOut]
    edges: list[LineageEdgeOut] = Field(description="in chain order; at an account, what came in less what went "
                                        "out is what it holds (the whole graph)")
    truncated: bool = Field(description="there are more hops than max_edges")


class EpdLineageOut(FromResult):
    epd_id: int
    nodes: list[LineageNodeOut] = Field(description="kinds epd, attestation, withdrawal, flag")
    edges: list[LineageEdgeOut] = Field(description="in chain order")


class LevelOut(FromResult):
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



class DrillDownOut(FromResult):
    park_id: int
    start: int = Field(description="window start, seconds UTC (inclusive)")
    end: int = Field(description="window end, seconds UTC (exclusive)")
    tree: LevelOut


class DifferenceOut(FromResult):
    kind: str
    key: str
    field: str
    index: Any = Field(description="the indexed value (null: missing from the index); for meter data and "
                       "documents, what SQL holds or gives")
    chain: Any = Field(description="the chain's value")
    where: dict[str, Any] | None = Field(None, description="for meter data: enterprise, anchor, window, and the "
                                         "first device and reading that no longer reproduce; for documents: row")

    @field_validator("key", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return str(value)

    @field_validator("index", "chain", "where", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return jsonable(value)

    @model_serializer(mode="wrap")
    def _without_empty_where(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`where` only on the differences that have one (meter data, documents)."""
        data: dict[str, Any] = handler(self)
        if data.get("where") is None:
            data.pop("where", None)
        return data


class OutboxCheckOut(FromResult):
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


# ------------------------------------------------------------------ endpoints


def _answer(model: BaseModel) -> Response:
    """The JSON FastAPI would write for `model` as its response model, written here: a trace's answer is built
    from typed results just now, so FastAPI's validating it again (in a second thread-pool hop) is skipped."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.get("/reports/{report_id}/trace", response_model=ReportTraceOut)
def report_trace(
    report_id: ChainId64,
    caller: AnyMember,
    services: ServicesDep,
    readings: Annotated[int, Query(ge=0, le=50, description="readings sampled with proofs, drawn from every "
                                   "anchor (at least one each, so possibly more)")] = 4,
    verify_on_chain: Annotated[
        bool, Query(description="also verify each listed proof with MeterAnchor.verifyReading")
    ] = False,
    seed: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="the sample's seed (drawn and shown when "
                                      "not given): the same seed samples the same readings again")] = None,
    all_readings: Annotated[bool, Query(alias="all", description="check every reading of every anchor; the "
                                        "sample and every reading changed in SQL are listed")] = False,
) -> Response:
    """A report's versions, verification and finalization, the anchors its commitment covers (each window
    rebuilt from its stored readings), readings sampled from every anchor with their quantities, factors,
    Merkle-sum proofs and subtotals, the enterprise's devices and notarizations, and which checks failed."""
    return _answer(ReportTraceOut.of(services.audit.report_trace(caller, report_id, readings, verify_on_chain, seed,
                                                                 all_readings)))


@router.get("/epds/{epd_id}/trace", response_model=ProductTraceOut)
def product_trace(
    epd_id: ChainId64,
    caller: AnyMember,
    services: ServicesDep,
    readings: Annotated[int, Query(ge=0, le=20, description="readings of the site proved per anchored window")] = 1,
) -> Response:
    """An EPD traced down through its site's anchored subtotals to readings proved against the anchored roots,
    and up through every EPD it cites, tier by tier: each hop's on-chain facts, the access rule applied to its
    owner and, where the caller sees the owner's footprint data, its provenance checked against the on-chain
    commitment."""
    return _answer(ProductTraceOut.model_validate(services.audit.product_trace(caller, epd_id, readings)))


@router.get("/assets/{asset}/{token_id}/trace", response_model=AssetTraceOut)
def asset_trace(
    asset: TracedAsset,
    token_id: Annotated[int, Path(ge=0, le=INT64_MAX)],
    caller: AnyMember,
    services: ServicesDep,
    page: PageDep,
) -> Response:
    """Every movement of an allowance vintage or a credit batch in chain order (paginated), and its current
    holders. A member sees the hops its organisation's accounts took part in and its own holdings."""
    found = services.audit.asset_trace(caller, asset, token_id, page.offset, page.limit)
    trace = found.trace
    return Response(ASSET_TRACE_ANSWER.dump_json(AssetTraceAnswer(
        asset, token_id, trace.issued, trace.surrendered, trace.outstanding, trace.holders, found.hops,
        PageInfo(offset=page.offset, limit=page.limit, total=found.total))), media_type="application/json")


@router.get("/assets/{asset}/{token_id}/lineage", response_model=LineageOut)
def asset_lineage(
    asset: TracedAsset,
    token_id: Annotated[int, Path(ge=0, le=INT64_MAX)],
    caller: AnyMember,
    services: ServicesDep,
    max_edges: Annotated[int, Query(ge=1, le=5_000, description="hops drawn at most, the first in chain order")]
    = 1_000,
) -> Response:
    """An allowance vintage's, credit batch's or certificate batch's history as a graph: nodes for the accounts
    that held it, the market's escrow, each issuance or allocation and each surrender, retirement, cancellation
    or consumption; an edge per hop with its amount and transaction. A member sees the hops its organisation's
    accounts took part in."""
    found = services.audit.asset_lineage(caller, asset, token_id, max_edges)
    return _answer(LineageOut.model_validate({
        "asset": asset, "token_id": token_id, "issued": found.issued, "outstanding": found.outstanding,
        "nodes": found.nodes, "edges": found.edges, "truncated": found.truncated}, from_attributes=True))


@router.get("/epds/{epd_id}/lineage", response_model=EpdLineageOut)
def epd_lineage(epd_id: ChainId64, caller: AnyMember, services: ServicesDep) -> Response:
    """An EPD's history as a graph: the attestation it was published from, the supplier EPDs it cites and those
    citing it, the EPD it superseded and the one superseding it, its withdrawal and flagged citations; each edge
    with its transaction. Published EPDs are registry facts: any member sees them."""
    return _answer(EpdLineageOut.model_validate(services.audit.epd_lineage(caller, epd_id)))


@router.get("/parks/{park_id}/drilldown", response_model=DrillDownOut)
def park_drilldown(
    park_id: OrgId,
    caller: AnyMember,
    services: ServicesDep,
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
    return DrillDownOut.model_validate(services.audit.park_drilldown(caller, park_id, year, start, end, verify_roots))


@router.get("/reconcile", response_model=ReconcileOut)
def reconcile_index(
    caller: Regulator,
    services: ServicesDep,
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
    found = services.audit.reconcile(since, sample, seed)
    report, meters = found.report, found.report.meters
    assert report.outbox is not None
    return ReconcileOut(
        block=report.block,
        ok=report.ok,
        checked=report.checked,
        differences=[DifferenceOut.model_validate(d) for d in report.differences],
        outbox=OutboxCheckOut.model_validate(report.outbox),
        meters=None if meters is None else MeterCheckOut(
            windows_anchored=meters.windows_anchored, windows_checked=meters.windows_checked, readings=meters.readings,
            since=found.since, sample=meters.sample, seed=meters.seed),
    )

"""What the trace pages show: a report traced down to readings with their proofs, an asset's or an EPD's lineage,
and what a browser needs to check a proof itself (the bundle, a node to ask, MeterAnchor's address).

Each calls the use case the API's audit and meter endpoints call, with the same caller, so a page shows what that
member gets from `GET /api/v1/audit/...` and refuses as it does. The JSON given to the page's scripts is the
API's own shape (`jsonable`: bytes as 0x-hex, large integers as decimal strings), so `proof.js` and `lineage.js`
read it exactly as they read the API's answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ledger_core.assets import asset_kind, traced_names
from ledger_core.chain.calldata import jsonable
from ledger_service.audit import results as r
from ledger_service.audit.asset_lineage import Lineage, LineageEdge, LineageNode
from ledger_service.audit.epd_lineage import EpdLineage
from ledger_service.console.i18n import Locale, catalogue
from ledger_service.credits import Batch as CreditBatch
from ledger_service.epd import Epd
from ledger_service.gec import Batch as GecBatch
from ledger_service.services.audit import CheckedTrace
from ledger_service.services.caller import Caller, require_member
from ledger_service.services.errors import Refusal, not_found
from ledger_service.services.wiring import Services

TRACE_READINGS = 4  # readings a report's trace samples unless asked (as the API's default)
MAX_TRACE_READINGS = 50  # as the API allows
LINEAGE_EDGES = 1_000  # hops drawn at most (the API's default)
LISTED = 200  # batches and EPDs listed on the assets page


# ------------------------------------------------------------------ the node a browser asks


@dataclass(frozen=True)
class NodeChoice:
    """The JSON-RPC endpoint a page proposes for the in-browser check, and the contract it asks."""

    url: str
    anchor: str  # MeterAnchor's address in this deployment
    own: bool  # the service's own `/rpc` (the embedded chain): same origin as the page


def node_choice(chain: str, base_url: str, anchor: str, public: str | None = None) -> NodeChoice:
    """The node set as the public one; else this service's `/rpc` when it serves one (the embedded chain); else the
    deployment's node reduced to scheme, host and port: a provider's URL may carry its key in the user:password
    part, the path or the query, and none of it is shown to a browser."""
    if public:
        return NodeChoice(public, anchor, False)
    if chain == "embedded":
        return NodeChoice(base_url.rstrip("/") + "/rpc", anchor, True)
    parts = urlsplit(chain)
    return NodeChoice(urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], "", "", "")), anchor, False)


def proof_json(services: Services, caller: Caller, reading_id: int) -> dict[str, Any]:
    """A reading's proof bundle as `GET /api/v1/meters/readings/{id}/proof` answers it (the same use case)."""
    bundle: dict[str, Any] = jsonable(services.meters.prove(caller, reading_id).as_json())
    return bundle


# ------------------------------------------------------------------ a report's trace


@dataclass(frozen=True)
class ReportPage:
    trace: r.ReportTrace
    organisation: str
    verified: bool
    failed_checks: list[str]
    proofs: dict[str, Any]  # reading id -> its proof bundle (only readings that have one), for the browser


def report(services: Services, caller: Caller, report_id: int, readings: int) -> ReportPage:
    checked: CheckedTrace = services.audit.report_trace(caller, report_id, readings)
    trace = checked.trace
    try:
        organisation = services.organisations.organisation(trace.org_id).name
    except Refusal:
        organisation = str(trace.org_id)
    proofs = {str(e.reading_id): jsonable(e.proof) for e in trace.readings if e.proof is not None}
    failed = checked.failed_checks
    return ReportPage(trace, organisation, not failed, failed, proofs)


# ------------------------------------------------------------------ lineage


@dataclass(frozen=True)
class Hop:
    """An edge of the graph as a row of the table beside it."""

    edge: LineageEdge
    source: LineageNode
    target: LineageNode
    first_of_tx: bool  # the first hop of its transaction: the row the graph's link to the transaction lands on


@dataclass(frozen=True)
class LineagePage:
    asset: str | None  # None for an EPD
    token_id: int
    unit: str
    issued: int | None
    outstanding: int | None
    truncated: bool
    nodes: list[LineageNode]
    hops: list[Hop]
    data: dict[str, Any]  # the graph in the API's shape, for lineage.js


def named(locale: Locale, prefix: str, name: str) -> str:
    """A hop's, node's or detail's kind in the page's language (`kind.transfer`, `detail.order_id`), or as the
    audit names it where the catalogue has no word for it (a kind added later)."""
    key = f"{prefix}.{name}"
    return locale.t(key) if key in catalogue(locale.language) else name


def _hops(nodes: list[LineageNode], edges: list[LineageEdge]) -> list[Hop]:
    by_id = {n.id: n for n in nodes}
    seen: set[str] = set()
    out = []
    for e in edges:
        out.append(Hop(e, by_id[e.source], by_id[e.target], e.at.tx_hash not in seen))
        seen.add(e.at.tx_hash)
    return out


def _json(value: Any) -> Any:
    """A lineage field as the API writes it (times as ISO 8601 UTC)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return jsonable(value)


def graph_json(found: Lineage | EpdLineage, asset: str | None) -> dict[str, Any]:
    """`GET /api/v1/audit/assets/{asset}/{token_id}/lineage`'s answer (or an EPD's) for the same lineage."""
    head: dict[str, Any] = ({"epd_id": found.epd_id} if isinstance(found, EpdLineage) else {
        "asset": asset, "token_id": found.token_id, "issued": found.issued, "outstanding": found.outstanding})
    tail = {} if isinstance(found, EpdLineage) else {"truncated": found.truncated}
    return {**head, "nodes": [_json(asdict(n)) for n in found.nodes],
            "edges": [_json(asdict(e)) for e in found.edges], **tail}


def asset_lineage(services: Services, caller: Caller, asset: str, token_id: int) -> LineagePage:
    if asset not in traced_names():
        raise not_found(f"no traced asset {asset}", "UnknownAsset", asset=asset)
    found = services.audit.asset_lineage(require_member(caller), asset, token_id, LINEAGE_EDGES)
    return LineagePage(asset, token_id, asset_kind(asset).unit, found.issued, found.outstanding, found.truncated,
                       found.nodes, _hops(found.nodes, found.edges), graph_json(found, asset))


def epd_lineage(services: Services, caller: Caller, epd_id: int) -> LineagePage:
    found = services.audit.epd_lineage(require_member(caller), epd_id)
    return LineagePage(None, epd_id, "", None, None, False, found.nodes, _hops(found.nodes, found.edges),
                       graph_json(found, None))


# ------------------------------------------------------------------ what can be traced


@dataclass(frozen=True)
class Assets:
    vintages: list[int]
    credit_batches: list[CreditBatch]
    gec_batches: list[GecBatch]
    epds: list[Epd]


def assets(services: Services, caller: Caller, year: int) -> Assets:
    """The vintages around `year` and the batches and EPDs on the registries (registry facts, as the API's lists:
    any member); each lineage then shows the hops the caller may see."""
    require_member(caller)
    credit_batches, _ = services.credits.batches(0, LISTED)
    gec_batches, _ = services.gec.batches(0, LISTED)
    epds, _ = services.footprints.epds(0, LISTED)
    return Assets([year - 1, year, year + 1], credit_batches, gec_batches, epds)

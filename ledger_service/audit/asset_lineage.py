"""An asset's lineage as a graph: the hops of its trace (`asset_trace`) as edges between the accounts that held
it, the market's escrow, and the events it came from and went to.

- **Nodes**: an account (`account`, with its organisation and what it holds now), the market's escrow
  (`escrow`), a source per minting transaction (`allocation` or `issuance`: one node however many holders it
  minted to), and a sink per unit that left circulation (`surrender`, `retirement`, `cancellation`,
  `consumption`, `retraction` or `burn`: one node per hop, since each is its own record).
- **Edges**: each hop where the units actually moved, with its amount and transaction: a trade runs from the
  escrow to the buyer (the seller, order, price and payment on the edge), so that at every account what came in
  less what went out is what it holds.

Each node carries the block and time it first appears, for drawing the graph left to right by time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger_service.audit.access import member_orgs
from ledger_service.audit.asset_trace import MARKET, contract_address, trace_asset
from ledger_service.audit.report_trace import organisation_names
from ledger_service.audit.results import AssetHop, AssetTrace, OnChain

SOURCES = ("allocation", "issuance")
SINKS = ("surrender", "retirement", "cancellation", "consumption", "retraction", "burn")
_EXTRAS = ("compliance_year", "serial_start", "serial_end", "order_id", "price", "payment", "retirement_id")


@dataclass
class LineageNode:
    id: str
    kind: str  # account, escrow, or a source or sink kind
    label: str
    first_block: int
    first_time: datetime
    address: str | None = None
    org_id: int | None = None
    organisation: str | None = None
    holding: int | None = None  # an account's or the escrow's units now


@dataclass(frozen=True)
class LineageEdge:
    id: int
    source: str
    target: str
    kind: str
    amount: int | None  # None where no units move (an EPD's steps)
    at: OnChain
    seller: str | None = None  # a trade: whose order it filled
    details: dict[str, Any] = field(default_factory=dict)  # the hop's serials, year, order, price, retirement


@dataclass(frozen=True)
class Lineage:
    token: str
    token_id: int
    issued: int
    outstanding: int
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool  # more hops than were drawn


def _short(address: str) -> str:
    return f"{address[:6]}...{address[-4:]}"


def _sink_label(hop: AssetHop) -> str:
    if hop.kind == "surrender" and hop.compliance_year is not None:
        return f"surrender for {hop.compliance_year}"
    if hop.kind == "retirement" and hop.retirement_id is not None:
        return f"retirement #{hop.retirement_id}"
    if hop.serial_start is not None:
        return f"{hop.kind} {hop.serial_start}-{hop.serial_end}"
    return hop.kind


def build_lineage(trace: AssetTrace, org_of: dict[str, int], names: dict[str, str], market: str | None,
                  max_edges: int | None = None) -> Lineage:
    """The graph of `trace`'s hops (the first `max_edges`), its accounts named by organisation."""
    nodes: dict[str, LineageNode] = {}
    holdings = {h.holder: h.amount for h in trace.holders}

    def node(node_id: str, kind: str, label: str, hop: AssetHop, address: str | None = None) -> str:
        if node_id not in nodes:
            org = None if address is None else org_of.get(address)
            organisation = None if address is None else names.get(address.lower())
            nodes[node_id] = LineageNode(node_id, kind, f"{organisation} ({label})" if organisation else label,
                                         hop.at.block_number,
                                         hop.at.block_time, address, org, organisation,
                                         None if address is None else holdings.get(address, 0))
        return node_id

    def account(address: str, hop: AssetHop) -> str:
        if address == market:
            return node(f"escrow:{address}", "escrow", "market escrow", hop, address)
        return node(f"account:{address}", "account", _short(address), hop, address)

    hops = trace.hops if max_edges is None else trace.hops[:max_edges]
    edges = []
    for i, hop in enumerate(hops):
        seller = None
        if hop.kind in SOURCES:
            source = node(f"{hop.kind}:{hop.at.tx_hash}", hop.kind, hop.kind, hop)
        elif hop.kind == "trade" and market is not None:
            seller, source = hop.from_address, account(market, hop)
        else:
            source = account(hop.from_address, hop)
        if hop.kind in SINKS:
            target = node(f"{hop.kind}:{hop.at.tx_hash}:{hop.at.log_index}:{hop.from_address}", hop.kind,
                          _sink_label(hop), hop)
        else:
            target = account(hop.to_address, hop)
        details = {k: getattr(hop, k) for k in _EXTRAS if getattr(hop, k) is not None}
        edges.append(LineageEdge(i, source, target, hop.kind, hop.amount, hop.at, seller, details))
    return Lineage(trace.token, trace.token_id, trace.issued, trace.outstanding, list(nodes.values()), edges,
                   len(hops) < len(trace.hops))


def asset_lineage(session: Session, token: str, token_id: int, max_edges: int,
                  shown: Callable[[AssetTrace, dict[str, int]], AssetTrace] | None = None) -> Lineage:
    """The lineage of `token` id `token_id` from the index: its first `max_edges` hops, or of the hops `shown`
    keeps (a member's view) the first `max_edges`."""
    orgs = member_orgs(session)
    if shown is None:  # everything: read one hop more than is drawn, to say whether there are more
        trace = trace_asset(session, token, token_id, limit=max_edges + 1)
    else:
        trace = shown(trace_asset(session, token, token_id), orgs)
    return build_lineage(trace, orgs, organisation_names(session), contract_address(session, MARKET), max_edges)

"""An EPD's lineage as a graph, in the shape of an asset's (`asset_lineage`): the attestation it was published
from, the supplier EPDs it cites and the EPDs citing it, the EPD it superseded and the one that superseded it,
its withdrawal and the flags raised on its citations. Published EPDs are registry facts: every member sees them.

Edges carry the transaction of the step they stand for (a citation: the citing EPD's publication); they move no
units, so their `amount` is None.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger_core.db.models import ChainEpd, ChainEpdAttestation, ChainEpdCitation, ChainEpdEvent, ChainOrganisation
from ledger_service.audit.asset_lineage import LineageEdge, LineageNode
from ledger_service.audit.product_trace import UnknownEpd
from ledger_service.audit.results import OnChain


@dataclass(frozen=True)
class EpdLineage:
    epd_id: int
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class _Graph:
    def __init__(self, names: dict[int, str]) -> None:
        self.names = names
        self.nodes: dict[str, LineageNode] = {}
        self.edges: list[LineageEdge] = []

    def node(self, node_id: str, kind: str, label: str, at: OnChain, org_id: int | None = None) -> str:
        if node_id not in self.nodes:
            organisation = None if org_id is None else self.names.get(org_id)
            self.nodes[node_id] = LineageNode(node_id, kind, label, at.block_number, at.block_time,
                                              org_id=org_id, organisation=organisation)
        return node_id

    def epd(self, row: ChainEpd) -> str:
        owner = self.names.get(row.owner_org_id, f"organisation {row.owner_org_id}")
        return self.node(f"epd:{row.epd_id}", "epd", f"EPD {row.epd_id} ({owner}): {row.mg_per_unit} mg per "
                         f"{row.declared_unit}", OnChain.of(row), row.owner_org_id)

    def edge(self, source: str, target: str, kind: str, at: OnChain, **details: int) -> None:
        self.edges.append(LineageEdge(len(self.edges), source, target, kind, None, at, details=details))


def epd_lineage(session: Session, epd_id: int) -> EpdLineage:
    """The EPD's steps and its neighbours (cited, citing, superseded, superseding) from the index."""
    epd = session.scalar(select(ChainEpd).where(ChainEpd.epd_id == epd_id))
    if epd is None:
        raise UnknownEpd(f"no EPD {epd_id} in the index")
    names = session.execute(select(ChainOrganisation.org_id, ChainOrganisation.name)).all()
    graph = _Graph({org_id: name for org_id, name in names})
    citations = session.scalars(select(ChainEpdCitation).where(or_(
        ChainEpdCitation.citing_epd_id == epd_id, ChainEpdCitation.cited_epd_id == epd_id))).all()
    events = session.scalars(select(ChainEpdEvent).where(or_(
        ChainEpdEvent.epd_id == epd_id, ChainEpdEvent.by_epd_id == epd_id))).all()
    related = {c.cited_epd_id for c in citations} | {c.citing_epd_id for c in citations}
    related |= {e.epd_id for e in events} | {e.by_epd_id for e in events if e.by_epd_id is not None}
    others = {row.epd_id: row for row in session.scalars(select(ChainEpd).where(ChainEpd.epd_id.in_(related)))}
    others[epd_id] = epd
    this = graph.epd(epd)
    for attestation in session.scalars(select(ChainEpdAttestation).where(
            ChainEpdAttestation.draft_commitment == epd.draft_commitment, ChainEpdAttestation.block_number <= (
                epd.block_number)).order_by(ChainEpdAttestation.block_number, ChainEpdAttestation.log_index)):
        verifier = graph.names.get(attestation.verifier_org_id, f"organisation {attestation.verifier_org_id}")
        source = graph.node(f"attestation:{attestation.tx_hash}:{attestation.log_index}", "attestation",
                            f"attested by {verifier}", OnChain.of(attestation), attestation.verifier_org_id)
        graph.edge(source, this, "published", OnChain.of(epd))
    steps: list[tuple[int, int, int, ChainEpdCitation | ChainEpdEvent]] = [
        (c.block_number, c.log_index, c.sub_index, c) for c in citations]
    steps += [(e.block_number, e.log_index, 0, e) for e in events]
    for *_, step in sorted(steps, key=lambda s: s[:3]):
        at = OnChain.of(step)
        if isinstance(step, ChainEpdCitation):
            graph.edge(graph.epd(others[step.cited_epd_id]), graph.epd(others[step.citing_epd_id]), "cited", at)
        elif step.kind == "superseded" and step.by_epd_id is not None:
            graph.edge(graph.epd(others[step.epd_id]), graph.epd(others[step.by_epd_id]), "superseded", at)
        elif step.kind == "withdrawn":
            graph.edge(this, graph.node(f"withdrawal:{step.tx_hash}:{step.log_index}", "withdrawal", "withdrawn",
                                        at), "withdrawn", at)
        elif step.kind == "flagged" and step.cited_epd_id is not None:
            flag = graph.node(f"flag:{step.tx_hash}:{step.log_index}", "flag",
                              f"citation of EPD {step.cited_epd_id} flagged", at)
            graph.edge(this, flag, "flagged", at, cited_epd_id=step.cited_epd_id)
    return EpdLineage(epd_id, list(graph.nodes.values()), graph.edges)

"""An asset's lineage as a graph: a credit batch issued, transferred, listed, traded, delisted, retired,
cancelled and surrendered becomes accounts, the market's escrow, its issuance and each record units left
circulation by, joined by one edge per hop with its transaction."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from ledger_service.audit.access import asset_trace_for, member_orgs, viewer_of
from ledger_service.audit.asset_lineage import asset_lineage
from tests.indexer.conftest import MakeIndexer
from tests.indexer.test_credits_market import PRICE, Market, traded  # noqa: F401
from tests.support.ledger import Ledger


def test_a_credit_batchs_history_is_a_graph_of_holders_escrow_issuance_and_its_ends(
        ledger: Ledger, traded: Market, make_indexer: MakeIndexer, session: Session):  # noqa: F811
    make_indexer().sync()
    a, trader, trader2 = (ledger.address(n) for n in ("enterprise_a", "trader", "trader2"))
    graph = asset_lineage(session, "CreditRegistry", 1, max_edges=100)
    nodes = {n.id: n for n in graph.nodes}
    (issuance,) = [n for n in graph.nodes if n.kind == "issuance"]
    ends = {n.kind: n for n in graph.nodes if n.kind in ("retirement", "cancellation", "surrender")}
    escrow = f"escrow:{traded.market}"
    assert set(nodes) == {issuance.id, f"account:{a}", f"account:{trader}", escrow, f"account:{trader2}",
                          *(n.id for n in ends.values())}
    assert (ends["retirement"].label, ends["surrender"].label, ends["cancellation"].label) == (
        "retirement #1", "surrender for 2024", "cancellation 51-60")
    assert [(e.kind, e.source, e.target, e.amount) for e in graph.edges] == [
        ("issuance", issuance.id, f"account:{a}", 1000),
        ("transfer", f"account:{a}", f"account:{trader}", 200),
        ("listing", f"account:{a}", escrow, 300),
        ("trade", escrow, f"account:{trader2}", 100),  # the units leave the escrow; the order was a's
        ("listing", f"account:{a}", escrow, 50),
        ("delisting", escrow, f"account:{a}", 50),
        ("listing", f"account:{a}", escrow, 20),
        ("delisting", escrow, f"account:{a}", 20),
        ("retirement", f"account:{a}", ends["retirement"].id, 50),
        ("cancellation", f"account:{trader}", ends["cancellation"].id, 10),
        ("surrender", f"account:{a}", ends["surrender"].id, 20),
    ]
    trade = graph.edges[3]
    assert (trade.seller, trade.at.tx_hash, trade.details) == (a, traded.tx["fill"], {
        "order_id": 1, "price": PRICE, "payment": 100 * PRICE})
    assert graph.edges[-1].details == {"compliance_year": 2024, "serial_start": 61, "serial_end": 80}
    assert [e.at.tx_hash for e in graph.edges if e.kind in ("retirement", "surrender")] == [
        traded.tx["retire"], traded.tx["surrender"]]
    # At every account and the escrow, what came in less what went out is what it holds now.
    flow: dict[str, int] = defaultdict(int)
    for e in graph.edges:
        flow[e.target] += e.amount
        flow[e.source] -= e.amount
    held = {n.id: n.holding for n in graph.nodes if n.kind in ("account", "escrow")}
    assert held == {f"account:{a}": 430, f"account:{trader}": 190, f"account:{trader2}": 100, escrow: 200}
    assert all(flow[node] == amount for node, amount in held.items())
    assert (graph.issued, graph.outstanding, graph.truncated) == (1000, 920, False)
    assert nodes[f"account:{a}"].org_id == 11 and nodes[issuance.id].first_block <= nodes[escrow].first_block


def test_a_lineage_is_cut_at_its_edge_bound_and_a_member_sees_its_own_hops(
        ledger: Ledger, traded: Market, make_indexer: MakeIndexer, session: Session):  # noqa: F811
    make_indexer().sync()
    cut = asset_lineage(session, "CreditRegistry", 1, max_edges=3)
    assert ([e.kind for e in cut.edges], cut.truncated) == (["issuance", "transfer", "listing"], True)
    assert {n.kind for n in cut.nodes} == {"issuance", "account", "escrow"}
    trader = viewer_of(session, ledger.address("trader"))
    own = asset_lineage(session, "CreditRegistry", 1, max_edges=100,
                        shown=lambda trace, orgs: asset_trace_for(trader, trace, orgs))
    assert [e.kind for e in own.edges] == ["transfer", "cancellation"]
    assert member_orgs(session)[ledger.address("trader")] == 30

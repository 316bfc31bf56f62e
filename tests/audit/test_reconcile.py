"""Reconciling the index with the chain: a faithful index has no difference; any edited row is reported."""

from __future__ import annotations

from sqlalchemy import delete, update

from ledger_service.audit.reconcile import reconcile
from ledger_service.db.models import ChainAnchor, ChainBalance, ChainMember, ChainNotarization, ChainReport
from tests.support.story import YEAR


def test_a_faithful_index_agrees_with_the_chain_on_every_fact(ledger, story, index_engine):
    report = reconcile(index_engine, ledger)
    assert report.ok, report.differences
    assert report.checked["balance"] == 3 and report.checked["total_supply"] == 1
    assert report.checked["anchor"] == 4 and report.checked["report"] == 1 and report.checked["member"] == 10


def test_the_index_is_compared_at_the_block_it_reached_not_at_the_head(ledger, story, index_engine):
    ledger.tx("enterprise_a", "AllowanceRegistry", "safeTransferFrom", ledger.address("enterprise_a"),
              ledger.address("trader"), YEAR, 1, b"")
    assert reconcile(index_engine, ledger).ok
    assert not reconcile(index_engine, ledger, block=ledger.w3.eth.block_number).ok


def test_every_tampered_row_is_reported(ledger, story, index_engine):
    a, trader = ledger.address("enterprise_a"), ledger.address("trader")
    with index_engine.begin() as conn:
        conn.execute(update(ChainBalance).where(ChainBalance.holder == trader).values(amount=5000))
        conn.execute(update(ChainMember).where(ChainMember.account == a).values(frozen=True, status="suspended"))
        conn.execute(update(ChainAnchor).where(ChainAnchor.anchor_id == 2).values(total_mg=1, root=b"\x01" * 32))
        conn.execute(update(ChainReport).values(status="rejected"))
        conn.execute(delete(ChainNotarization))
    found = {(d.kind, d.key, d.field): (d.index, d.chain) for d in reconcile(index_engine, ledger).differences}
    assert found[("balance", f"AllowanceRegistry/{YEAR}/{trader}", "amount")] == (5000, 50)
    assert found[("total_supply", f"AllowanceRegistry/{YEAR}", "amount")][0] == found[
        ("total_supply", f"AllowanceRegistry/{YEAR}", "amount")][1] + 4950
    assert found[("member", a, "frozen")] == (True, False)
    assert found[("member", a, "status")] == ("suspended", "active")
    assert found[("anchor", "2", "total_mg")][0] == 1
    assert found[("anchor", "2", "root")][0] == b"\x01" * 32
    assert found[("report", str(story.report_id), "status")] == ("rejected", "finalized")
    assert found[("notarization_count", "Notary", "count")] == (0, 1)
    assert len(found) == 8

"""Upgrading the market with live balances, anchors and open orders: nothing is lost, the open orders trade on
the new version with their ids, the old version refuses, and the event index follows both addresses with no gap
(an index that followed the upgrade equals one built afterwards in one pass) and reconciles clean."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger_core.assets import tradeable
from ledger_core.db.base import Base
from ledger_core.db.models import ChainOrder, ChainOrderEvent
from ledger_core.db.session import make_engine
from ledger_service.audit.reconcile import reconcile
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import EventIndexer
from ledger_service.indexer.source import Web3Source
from oracles.anchor_records import AnchorReader
from tests.indexer.conftest import indexer_for
from tests.indexer.helpers import dump
from tests.support.credits import CNY, MAX_UINT, approve_market, fund, now, travel, verified_batch
from tests.support.ledger import Ledger
from tests.support.reverts import reverts
from tests.support.story import anchor_meter_data
from tests.support.upgrades import first_deployment_restored, upgrade_market

DAY = 86_400
PRICE = 60 * CNY
VINTAGE = 2025
HOLDERS = ("enterprise_a", "enterprise_b", "trader", "trader2")
OPEN, FILLED, CANCELLED, EXPIRED, MIGRATED = 1, 2, 3, 4, 5


@dataclass
class Book:
    credit: str
    allowance: str
    open_ids: list[int]
    expired_id: int
    closed_ids: list[int]
    anchors: dict[int, Any] = field(default_factory=dict)


def _listed(ledger: Ledger, seller: str, asset: str, token: int, amount: int, expiry: int) -> int:
    receipt = ledger.tx(seller, "CarbonMarket", "list", asset, token, amount, PRICE, expiry)
    return int(ledger.events(receipt, "CarbonMarket", "OrderListed")[0]["orderId"])


@pytest.fixture
def book(ledger: Ledger, session: Session) -> Book:
    """Anchored meter data; credits (batch 1) and 2025 allowances held; six orders: a partly filled credit
    order, an open credit order, an open allowance order, an expired one not yet reclaimed, a cancelled and a
    filled one."""
    anchors = anchor_meter_data(ledger, session, hours=1).anchor_ids
    verified_batch(ledger, amount=5_000)
    credit, allowance = ledger.contract("CreditRegistry").address, ledger.contract("AllowanceRegistry").address
    ledger.tx("regulator", "AllowanceRegistry", "allocate", VINTAGE,
              [ledger.address("enterprise_b"), ledger.address("enterprise_a")], [3_000, 500])
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", credit, 1, PRICE)
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", allowance, VINTAGE, PRICE)
    for actor in HOLDERS:
        approve_market(ledger, actor)
        ledger.tx(actor, "AllowanceRegistry", "setApprovalForAll", ledger.contract("CarbonMarket").address, True)
        fund(ledger, actor, 1_000_000 * CNY)
    day = now(ledger) + DAY
    partly = _listed(ledger, "enterprise_a", credit, 1, 1_000, day)
    ledger.tx("trader", "CarbonMarket", "fill", partly, 300)
    whole = _listed(ledger, "enterprise_a", credit, 1, 500, day + DAY)
    allowances = _listed(ledger, "enterprise_b", allowance, VINTAGE, 200, day)
    expiring = _listed(ledger, "enterprise_a", credit, 1, 40, now(ledger) + 60)
    cancelled = _listed(ledger, "enterprise_a", credit, 1, 100, day)
    ledger.tx("enterprise_a", "CarbonMarket", "cancel", cancelled)
    filled = _listed(ledger, "enterprise_b", allowance, VINTAGE, 50, day)
    ledger.tx("trader2", "CarbonMarket", "fill", filled, 50)
    travel(ledger, 120)
    ids = [a for org in sorted(anchors) for a in anchors[org]]
    return Book(credit, allowance, [partly, whole, allowances, expiring], expiring, [cancelled, filled],
                _anchors(ledger, ids))


def _anchors(ledger: Ledger, ids: list[int]) -> dict[int, Any]:
    """Each anchor's record as its event states it, and the commitment MeterAnchor keeps for it."""
    reader = AnchorReader(ledger.contract("MeterAnchor"))
    found = {}
    for i in ids:
        window = reader.window(i)
        assert window is not None, f"anchor {i} has no event"
        found[i] = (window.record, ledger.call("MeterAnchor", "commitmentOf", window.batch_id))
        assert found[i][1] == window.kept_commitment(), f"anchor {i} is not kept"
    return found


def _holdings(ledger: Ledger, book: Book) -> dict[str, tuple[int, int, int]]:
    return {a: (ledger.call("CreditRegistry", "balanceOf", ledger.address(a), 1),
                ledger.call("AllowanceRegistry", "balanceOf", ledger.address(a), VINTAGE),
                ledger.call("SettlementToken", "balanceOf", ledger.address(a))) for a in HOLDERS}


def _orders(ledger: Ledger, ids: list[int]) -> dict[int, list[Any]]:
    return {i: list(ledger.call("CarbonMarket", "order", i)) for i in ids}


def _fresh_index(ledger: Ledger, path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    EventIndexer(engine, Web3Source(ledger.w3), EventCatalog.of_deployment(ledger.artifacts, ledger.deployment),
                 confirmations=0, start_block=ledger.deployment.block).sync()
    return engine


def _held(index: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """An index dump without zero balances (whether one is kept depends on where the ranges fell, not on what
    was indexed)."""
    return {**index, "chain_balances": [row for row in index["chain_balances"] if row[-1] != 0]}


def test_an_upgraded_market_keeps_every_balance_anchor_and_order(
        ledger: Ledger, book: Book, index_engine: Engine, tmp_path: Path) -> None:
    indexer = indexer_for(ledger, index_engine)
    indexer.sync()
    old = ledger.contract("CarbonMarket")
    holdings, orders = _holdings(ledger, book), _orders(ledger, book.open_ids + book.closed_ids)
    escrow = {1: 700 + 500 + 40, VINTAGE: 200}
    assert ledger.call("CreditRegistry", "balanceOf", old.address, 1) == escrow[1]
    old_count = ledger.call("CarbonMarket", "orderCount")

    with first_deployment_restored(ledger):
        record, report = upgrade_market(ledger)
        new = ledger.contract("CarbonMarket")
        assert new.address != old.address and ledger.call("CarbonMarket", "version") == 2
        assert report.counts == {"orders": 4, "escrow_units": sum(escrow.values()), "escrow_tokens": 2,
                                 "reference_prices": 2, "assets_enabled": len(tradeable())}
        assert record.version_of("CarbonMarket").version == 2
        (past,) = record.version_of("CarbonMarket").history
        assert (past.address, past.version, past.until_block) == (old.address, 1, report.last_block)

        # Nothing lost: holdings, anchors, every order (closed ones answered through the predecessor).
        assert _holdings(ledger, book) == holdings
        assert _anchors(ledger, list(book.anchors)) == book.anchors
        assert _orders(ledger, book.open_ids + book.closed_ids) == orders
        assert ledger.call("CarbonMarket", "orderCount") == old_count
        assert ledger.call("CreditRegistry", "balanceOf", new.address, 1) == escrow[1]
        assert ledger.call("AllowanceRegistry", "balanceOf", new.address, VINTAGE) == escrow[VINTAGE]
        assert ledger.call("CreditRegistry", "balanceOf", old.address, 1) == 0
        assert all(old.functions.order(i).call()[2] == MIGRATED for i in book.open_ids)

        # The open orders trade on the new market; listing continues the numbering.
        for actor in HOLDERS:
            ledger.tx(actor, "SettlementToken", "approve", new.address, MAX_UINT)
            ledger.tx(actor, "CreditRegistry", "setApprovalForAll", new.address, True)
        partly, whole, allowances, expiring = book.open_ids
        ledger.tx("trader2", "CarbonMarket", "fill", partly, 200)
        ledger.tx("trader", "CarbonMarket", "fill", allowances, 200)
        ledger.tx("enterprise_a", "CarbonMarket", "cancel", whole)
        ledger.tx("trader", "CarbonMarket", "reclaimExpired", expiring)
        assert ledger.call("CarbonMarket", "openUnits", partly) == 500
        relisted = _listed(ledger, "enterprise_a", book.credit, 1, 10, now(ledger) + DAY)
        assert relisted == old_count + 1
        assert ledger.call("CreditRegistry", "balanceOf", ledger.address("trader2"), 1) == holdings["trader2"][0] + 200

        # The old market refuses.
        with reverts("OrderNotOpen", partly, MIGRATED):
            ledger.senders["trader"].transact(old.functions.fill(partly, 1))
        with reverts("AssetNotEnabled", book.credit):
            ledger.senders["enterprise_a"].transact(old.functions.list(book.credit, 1, 1, PRICE, now(ledger) + DAY))

        # The index follows both addresses: the old one up to its last block, the new one from its first.
        indexer.catalog = EventCatalog.of_deployment(ledger.artifacts, ledger.deployment)
        indexer.sync()
        with index_engine.connect() as conn:
            status = dict(conn.execute(select(ChainOrder.order_id, ChainOrder.status)).all())
            kinds = [k for (k,) in conn.execute(select(ChainOrderEvent.kind).where(ChainOrderEvent.order_id == partly)
                                                .order_by(ChainOrderEvent.block_number, ChainOrderEvent.log_index))]
        assert status == {partly: "open", whole: "cancelled", allowances: "filled", expiring: "expired",
                          book.closed_ids[0]: "cancelled", book.closed_ids[1]: "filled", relisted: "open"}
        assert kinds == ["listed", "filled", "migrated", "imported", "filled"]
        assert reconcile(index_engine, ledger).ok
        assert _held(dump(index_engine)) == _held(dump(_fresh_index(ledger, tmp_path / "fresh.db")))

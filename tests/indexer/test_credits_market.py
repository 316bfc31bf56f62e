"""Credits and the market in the index: projects, batches, retirements, cancellations, surrenders and
orders indexed and projected; a batch traced from issuance through trades to retirement; the
index reconciled with the chain, tampering found, and the order state rebuilt after a rollback."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_utils import keccak
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from ledger_core.db.models import (
    ChainCreditBatch,
    ChainCreditProject,
    ChainCreditRetirement,
    ChainCreditVerification,
    ChainOrder,
    ChainOrderEvent,
    ChainOtherEvent,
)
from ledger_service.audit.asset_trace import trace_asset
from ledger_service.audit.reconcile import reconcile
from ledger_service.indexer.store import rollback_to
from tests.indexer.conftest import MakeIndexer
from tests.support.credits import (
    CNY,
    PROJECT,
    approve_market,
    fund,
    now,
    set_obligation,
    travel,
    verified_batch,
)
from tests.support.ledger import Ledger

DAY = 86_400
PRICE = 60 * CNY


def _hash(receipt: dict) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


@dataclass
class Market:
    registry: str
    market: str
    tx: dict[str, str]
    before_fill: int


@pytest.fixture
def traded(ledger: Ledger) -> Market:
    """Batch 1 (1,000 t) to enterprise_a; 200 t to trader; order 1 (300 t at 60.00) filled 100 by trader2;
    order 2 cancelled; order 3 expired and reclaimed; 50 t retired, 10 t of the trader's cancelled,
    20 t surrendered; the project suspended."""
    verified_batch(ledger)
    registry = ledger.contract("CreditRegistry").address
    market = ledger.contract("CarbonMarket").address
    a, trader = ledger.address("enterprise_a"), ledger.address("trader")
    tx: dict[str, str] = {}
    tx["transfer"] = _hash(ledger.tx("enterprise_a", "CreditRegistry", "safeTransferFrom", a, trader, 1, 200, b""))
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", registry, 1, PRICE)
    approve_market(ledger, "enterprise_a")
    approve_market(ledger, "trader2")
    fund(ledger, "trader2", 100_000 * CNY)
    tx["list"] = _hash(ledger.tx("enterprise_a", "CarbonMarket", "list", registry, 1, 300, PRICE, now(ledger) + DAY))
    before_fill = ledger.w3.eth.block_number
    tx["fill"] = _hash(ledger.tx("trader2", "CarbonMarket", "fill", 1, 100))
    ledger.tx("enterprise_a", "CarbonMarket", "list", registry, 1, 50, PRICE, now(ledger) + DAY)
    tx["cancel"] = _hash(ledger.tx("enterprise_a", "CarbonMarket", "cancel", 2))
    ledger.tx("enterprise_a", "CarbonMarket", "list", registry, 1, 20, PRICE, now(ledger) + 60)
    travel(ledger, 120)
    tx["reclaim"] = _hash(ledger.tx("trader2", "CarbonMarket", "reclaimExpired", 3))
    tx["retire"] = _hash(ledger.tx("enterprise_a", "CreditRegistry", "retire", 1, 50, "Riverside Steel",
                                   "2024 travel", "CN", 0, 0))
    tx["cancel_credits"] = _hash(ledger.tx("regulator", "CreditRegistry", "cancelCredits", trader, 1, 10,
                                           keccak(text="reversal")))
    set_obligation(ledger, 11, 2024, 1000)
    tx["surrender"] = _hash(ledger.tx("enterprise_a", "CreditRegistry", "surrender", 1, 20, 2024))
    ledger.tx("regulator", "CreditRegistry", "suspendProject", PROJECT, keccak(text="finding"))
    return Market(registry, market, tx, before_fill)


def test_credit_and_market_events_land_in_their_tables(ledger: Ledger, traded: Market, make_indexer: MakeIndexer,
                                                        session: Session):
    make_indexer().sync()
    project = session.get(ChainCreditProject, PROJECT)
    assert project is not None and (project.status, project.owner, project.location) == (
        "suspended", ledger.address("enterprise_a"), "CN-GS")
    (verification,) = session.scalars(select(ChainCreditVerification)).all()
    assert (verification.verifier, verification.verified_tonnes) == (ledger.address("verifier"), 1000)
    (batch,) = session.scalars(select(ChainCreditBatch)).all()
    assert (batch.batch_id, batch.amount, batch.serial_start, batch.serial_end, batch.vintage) == (1, 1000, 1, 1000,
                                                                                                 2024)
    (retirement,) = session.scalars(select(ChainCreditRetirement)).all()
    assert (retirement.retirement_id, retirement.serial_start, retirement.serial_end, retirement.beneficiary) == (
        1, 1, 50, "Riverside Steel")
    orders = {o.order_id: (o.status, o.remaining, o.amount) for o in session.scalars(select(ChainOrder))}
    assert orders == {1: ("open", 200, 300), 2: ("cancelled", 0, 50), 3: ("expired", 0, 20)}
    kinds = [e.kind for e in session.scalars(select(ChainOrderEvent).order_by(ChainOrderEvent.block_number))]
    assert kinds == ["listed", "filled", "listed", "cancelled", "listed", "expired"]
    fill = session.scalars(select(ChainOrderEvent).where(ChainOrderEvent.kind == "filled")).one()
    assert (fill.buyer, fill.amount, fill.price, fill.payment, fill.remaining) == (
        ledger.address("trader2"), 100, PRICE, 100 * PRICE, 200)
    handled = {"OrderListed", "OrderFilled", "OrderCancelled", "OrderExpiredReclaimed", "BatchIssued",
               "CreditsRetired", "ProjectRegistered"}
    assert not handled & {e.event for e in session.scalars(select(ChainOtherEvent))}


def test_a_batch_is_traced_through_trades_to_retirement_cancellation_and_surrender(
        ledger: Ledger, traded: Market, make_indexer: MakeIndexer, session: Session):
    make_indexer().sync()
    a, trader, trader2 = (ledger.address(n) for n in ("enterprise_a", "trader", "trader2"))
    trace = trace_asset(session, "CreditRegistry", 1)
    assert [(h.kind, h.from_address, h.to_address, h.amount) for h in trace.hops] == [
        ("issuance", "0x" + "0" * 40, a, 1000),
        ("transfer", a, trader, 200),
        ("listing", a, traded.market, 300),
        ("trade", a, trader2, 100),
        ("listing", a, traded.market, 50),
        ("delisting", traded.market, a, 50),
        ("listing", a, traded.market, 20),
        ("delisting", traded.market, a, 20),
        ("retirement", a, "0x" + "0" * 40, 50),
        ("cancellation", trader, "0x" + "0" * 40, 10),
        ("surrender", a, "0x" + "0" * 40, 20),
    ]
    trade = trace.hops[3]
    assert (trade.order_id, trade.price, trade.payment, trade.at.tx_hash) == (1, PRICE, 100 * PRICE,
                                                                              traded.tx["fill"])
    retirement, cancellation, surrender = trace.hops[-3:]
    assert (retirement.serial_start, retirement.serial_end, retirement.retirement_id) == (1, 50, 1)
    assert (cancellation.serial_start, cancellation.serial_end) == (51, 60)
    assert (surrender.serial_start, surrender.serial_end, surrender.compliance_year) == (61, 80, 2024)
    assert (trace.issued, trace.retired, trace.cancelled, trace.surrendered, trace.escrowed) == (1000, 50, 10, 20,
                                                                                                200)
    assert {h.holder: h.amount for h in trace.holders} == {a: 430, traded.market: 200, trader: 190, trader2: 100}
    assert trace.outstanding == trace.issued - trace.retired - trace.cancelled - trace.surrendered


def test_the_index_reconciles_batches_orders_and_escrow_and_finds_tampering(
        ledger: Ledger, traded: Market, make_indexer: MakeIndexer, index_engine: Engine):
    make_indexer().sync()
    report = reconcile(index_engine, ledger)
    assert report.ok, report.differences
    assert report.checked["credit_batch"] == 1 and report.checked["order"] == 3 and report.checked["escrow"] == 1
    with index_engine.begin() as conn:
        conn.execute(update(ChainOrder).where(ChainOrder.order_id == 1).values(remaining=150))
        conn.execute(update(ChainCreditRetirement).values(amount=49))
    found = {(d.kind, d.key, d.field): (d.index, d.chain) for d in reconcile(index_engine, ledger).differences}
    assert found[("order", "1", "remaining")] == (150, 200)
    assert found[("escrow", "CreditRegistry/1", "open_orders")] == (150, 200)
    assert found[("credit_batch", "1", "retired")] == (49, 50)
    assert found[("credit_batch", "1", "supply")] == (921, 920)
    assert found[("credit_batch_held", "1", "supply")] == (921, 920)


def test_orders_are_rebuilt_from_their_events_after_a_rollback(ledger: Ledger, traded: Market,
                                                               make_indexer: MakeIndexer, index_engine: Engine,
                                                               session: Session):
    make_indexer().sync()
    with index_engine.begin() as conn:
        rollback_to(conn, traded.before_fill)
    orders = {o.order_id: (o.status, o.remaining) for o in session.scalars(select(ChainOrder))}
    assert orders == {1: ("open", 300)}
    project = session.get(ChainCreditProject, PROJECT)
    assert project is not None and project.status == "active"
    make_indexer().sync()
    session.expire_all()
    assert {o.order_id: o.status for o in session.scalars(select(ChainOrder))} == {
        1: "open", 2: "cancelled", 3: "expired"}
    assert reconcile(index_engine, ledger).ok


def test_the_index_follows_a_regulators_recovery_and_cancellation_of_stuck_escrow(
        ledger: Ledger, traded: Market, make_indexer: MakeIndexer, index_engine: Engine, session: Session):
    decision = keccak(text="decision: seller revoked")
    ledger.tx("enterprise_a", "CarbonMarket", "list", traded.registry, 1, 40, PRICE, now(ledger) + DAY)
    ledger.tx("regulator", "CarbonMarket", "cancelEscrowedCredits", 4, keccak(text="credits invalidated"))
    ledger.tx("regulator", "Membership", "revoke", ledger.address("enterprise_a"), decision)
    ledger.tx("regulator", "CarbonMarket", "recoverEscrow", 1, ledger.address("enterprise_a2"), decision)
    make_indexer().sync()

    orders = {o.order_id: (o.status, o.remaining) for o in session.scalars(select(ChainOrder))}
    assert orders[1] == ("cancelled", 0) and orders[4] == ("cancelled", 0)
    recovered = session.scalars(select(ChainOrderEvent).where(ChainOrderEvent.order_id == 1,
                                                              ChainOrderEvent.kind == "cancelled")).one()
    assert (recovered.returned, recovered.caller) == (200, ledger.address("regulator"))
    assert not {"EscrowRecovered", "EscrowCancelled"} & {e.event for e in session.scalars(select(ChainOtherEvent))}
    report = reconcile(index_engine, ledger)
    assert report.ok, report.differences
    trace = trace_asset(session, "CreditRegistry", 1)
    assert trace.cancelled == 10 + 40 and trace.escrowed == 0
    assert {h.holder: h.amount for h in trace.holders}[ledger.address("enterprise_a2")] == 200

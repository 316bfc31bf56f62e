"""Trace an allowance year or a credit batch (a token id of an ERC-1155 registry) from its
issuance or allocation through every transfer, listing, trade, surrender, retirement and
cancellation to its holders.

Token movements come from the transfers; each is explained by the event of the same
transaction: a fill (`OrderFilled`: order, price, payment; shown from the seller to the
buyer), a retirement, cancellation or surrender of credits (with the serial range consumed),
an allocation or a surrender of allowances, a consumption of green electricity certificates (a claim
for the holder's organisation, with its serials; counted with the retired units: gone for good).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.assets import ALLOWANCE, TraceRules, by_contract
from ledger_core.db.lists import in_values
from ledger_core.db.models import (
    ChainBalance,
    ChainCreditCancellation,
    ChainCreditRetirement,
    ChainCreditSurrender,
    ChainGecConsumption,
    ChainMember,
    ChainOrderEvent,
    ChainSurrender,
    ChainTransfer,
    IndexCheckpoint,
)
from ledger_service.audit.results import AssetHop, AssetTrace, Holding, OnChain, utc

MARKET = "CarbonMarket"
TRANSFERS = ChainTransfer.__table__


def contract_address(session: Session, contract: str) -> str | None:
    return session.scalar(select(IndexCheckpoint.address).where(IndexCheckpoint.contract == contract))


def _credit_burns(session: Session, txs: list[str], token_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """(tx, holder) -> what a burn of the batch was: retirement, cancellation or surrender."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in session.scalars(select(ChainCreditRetirement).where(
            in_values(session, ChainCreditRetirement.tx_hash, txs), ChainCreditRetirement.batch_id == token_id)):
        out[(r.tx_hash, r.holder)] = {"kind": "retirement", "serial_start": r.serial_start,
                                      "serial_end": r.serial_end, "retirement_id": r.retirement_id}
    for c in session.scalars(select(ChainCreditCancellation).where(
            in_values(session, ChainCreditCancellation.tx_hash, txs), ChainCreditCancellation.batch_id == token_id)):
        out[(c.tx_hash, c.holder)] = {"kind": "cancellation", "serial_start": c.serial_start,
                                      "serial_end": c.serial_end}
    for s in session.scalars(select(ChainCreditSurrender).where(
            in_values(session, ChainCreditSurrender.tx_hash, txs), ChainCreditSurrender.batch_id == token_id)):
        out[(s.tx_hash, s.holder)] = {"kind": "surrender", "serial_start": s.serial_start,
                                      "serial_end": s.serial_end, "compliance_year": s.year}
    return out


def _gec_consumptions(session: Session, txs: list[str], token_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """(tx, holder) -> a consumption claim on the certificate batch, with the serials it consumed."""
    return {(c.tx_hash, c.holder): {"kind": "consumption", "serial_start": c.serial_start, "serial_end": c.serial_end}
            for c in session.scalars(select(ChainGecConsumption).where(
                in_values(session, ChainGecConsumption.tx_hash, txs), ChainGecConsumption.batch_id == token_id))}


def _allocations(session: Session, txs: list[str], token_id: int) -> set[str]:
    """The transactions that allocated the vintage: the AllowanceRegistry mints only by allocating."""
    # Selected by transaction only, the rest checked here: with the token in the condition too, SQLite's planner
    # walks every transfer of the vintage instead of the few rows of these transactions.
    rows = session.execute(select(ChainTransfer.tx_hash, ChainTransfer.token, ChainTransfer.kind,
                                  ChainTransfer.token_id).where(in_values(session, ChainTransfer.tx_hash, txs)))
    return {tx for tx, token, kind, tid in rows if (token, kind, tid) == (ALLOWANCE.contract, "mint", token_id)}


# The lookups an asset kind's trace rules name (`TraceRules.explain_mints` / `explain_burns`): each reads that
# kind's own event rows for the transactions of the trace.
MINT_EXPLAINERS: dict[str, Callable[[Session, list[str], int], set[str]]] = {"allocations": _allocations}
BURN_EXPLAINERS: dict[str, Callable[[Session, list[str], int], dict[tuple[str, str], dict[str, Any]]]] = {
    "credit_burns": _credit_burns, "gec_consumptions": _gec_consumptions,
}


def trace_rules(token: str) -> TraceRules:
    """How `token`'s (a contract name) mints and burns read; plain issuances and burns for a contract that
    describes none."""
    kind = by_contract(token)
    return kind.trace if kind is not None and kind.trace is not None else TraceRules()


def trace_asset(session: Session, token: str, token_id: int, limit: int | None = None) -> AssetTrace:
    """Every movement of `token` id `token_id` in chain order (the first `limit` if given) and its holders."""
    t = TRANSFERS.c
    transfers = session.connection().execute(
        select(t.kind, t.operator, t.from_address, t.to_address, t.amount, t.tx_hash, t.block_number, t.log_index,
               t.block_time, t.pending)
        .where(t.token == token, t.token_id == token_id)
        .order_by(t.block_number, t.log_index, t.sub_index)
        .limit(limit)
    ).all()
    market = contract_address(session, MARKET)
    # Rows as plain tuples (by position): a page has hundreds, and a Row's attributes are looked up by name.
    txs = list({row[5] for row in transfers if row[0] != "transfer"})
    market_txs = list({row[5] for row in transfers if market is not None and market in (row[2], row[3])})
    rules = trace_rules(token)
    allocation_txs: set[str] = set()
    surrenders: dict[tuple[str, str], int] = {}
    burns: dict[tuple[str, str], dict[str, Any]] = {}
    fills: dict[tuple[str, str], ChainOrderEvent] = {}
    if txs and rules.explain_mints is not None:
        allocation_txs = MINT_EXPLAINERS[rules.explain_mints](session, txs, token_id)
    if txs:
        surrenders = {(tx, holder): year for tx, holder, year in session.execute(
            select(ChainSurrender.tx_hash, ChainSurrender.holder, ChainSurrender.compliance_year).where(
                in_values(session, ChainSurrender.tx_hash, txs), ChainSurrender.token == token,
                ChainSurrender.token_id == token_id))}
    if txs:
        for explainer in rules.explain_burns:
            burns.update(BURN_EXPLAINERS[explainer](session, txs, token_id))
    if market_txs:
        fills = {(f.tx_hash, f.buyer or ""): f for f in session.scalars(select(ChainOrderEvent).where(
            in_values(session, ChainOrderEvent.tx_hash, market_txs), ChainOrderEvent.kind == "filled",
            ChainOrderEvent.token_id == token_id))}
    hops: list[AssetHop] = []
    totals = {"issued": 0, "surrendered": 0, "retired": 0, "cancelled": 0}
    for kind, _operator, src, dst, amount, tx_hash, block, log_index, block_time, pending in transfers:
        extra: dict[str, Any] = {}
        if kind == "mint":
            kind = "allocation" if tx_hash in allocation_txs else rules.mint
            totals["issued"] += amount
        elif kind == "burn":
            year = surrenders.get((tx_hash, src))
            burn = burns.get((tx_hash, src))
            if burn is not None:
                extra = dict(burn)
                kind = extra.pop("kind")
            elif year is not None:
                kind, extra = "surrender", {"compliance_year": year}
            else:
                kind = rules.burn
            if kind == "surrender":
                totals["surrendered"] += amount
            elif kind in ("retirement", "consumption"):
                totals["retired"] += amount
            elif kind == "cancellation":
                totals["cancelled"] += amount
        elif market is not None and dst == market:
            kind = "listing"
        elif market is not None and src == market:
            fill = fills.get((tx_hash, dst))
            if fill is not None:
                kind, src = "trade", fill.seller
                extra = {"order_id": fill.order_id, "price": fill.price, "payment": fill.payment}
            else:
                kind = "delisting"
        hops.append(AssetHop(kind, src, dst, amount, OnChain(tx_hash, block, log_index, utc(block_time), pending),
                             **extra))
    holders = [Holding(h, org, amount) for h, org, amount in session.execute(
        select(ChainBalance.holder, ChainMember.org_id, ChainBalance.amount)
        .outerjoin(ChainMember, ChainMember.account == ChainBalance.holder)
        .where(ChainBalance.token == token, ChainBalance.token_id == token_id, ChainBalance.amount != 0)
        .order_by(ChainBalance.amount.desc(), ChainBalance.holder))]
    escrowed = sum(h.amount for h in holders if h.holder == market)
    return AssetTrace(token, token_id, totals["issued"], totals["surrendered"], hops, holders,
                      retired=totals["retired"], cancelled=totals["cancelled"], escrowed=escrowed)

"""Trace an allowance year or a credit batch (a token id of an ERC-1155 registry) from its
issuance or allocation through every transfer, trade, surrender or retirement to its holders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.audit.results import AssetHop, AssetTrace, Holding, OnChain, utc
from ledger_service.db.models import (
    ChainAllocation,
    ChainBalance,
    ChainMember,
    ChainSurrender,
    ChainTransfer,
    IndexCheckpoint,
)

ALLOWANCES = "AllowanceRegistry"
CREDITS = "CreditRegistry"
MARKET = "CarbonMarket"
TRANSFERS = ChainTransfer.__table__


def _market_address(session: Session) -> str | None:
    return session.scalar(select(IndexCheckpoint.address).where(IndexCheckpoint.contract == MARKET))


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
    txs = list({row.tx_hash for row in transfers if row.kind != "transfer"})
    allocation_txs: dict[str, int] = {}
    surrenders: dict[tuple[str, str], int] = {}
    if txs and token == ALLOWANCES:
        allocation_txs = dict(session.execute(select(ChainAllocation.tx_hash, ChainAllocation.amount).where(
            ChainAllocation.tx_hash.in_(txs), ChainAllocation.year == token_id)).all())
    if txs:
        surrenders = {(tx, holder): year for tx, holder, year in session.execute(
            select(ChainSurrender.tx_hash, ChainSurrender.holder, ChainSurrender.compliance_year).where(
                ChainSurrender.tx_hash.in_(txs), ChainSurrender.token == token,
                ChainSurrender.token_id == token_id))}
    market = _market_address(session)
    hops: list[AssetHop] = []
    issued = surrendered = 0
    for kind, operator, src, dst, amount, tx_hash, block, log_index, block_time, pending in transfers:
        year = None
        if kind == "mint":
            kind = "allocation" if tx_hash in allocation_txs else "issuance"
            issued += amount
        elif kind == "burn":
            year = surrenders.get((tx_hash, src))
            if year is not None:
                kind = "surrender"
                surrendered += amount
            else:
                kind = "retraction" if token == ALLOWANCES else "retirement"
        elif market is not None and operator == market:
            kind = "trade"
        hops.append(AssetHop(kind, src, dst, amount, OnChain(tx_hash, block, log_index, utc(block_time), pending),
                             year))
    holders = [Holding(h, org, amount) for h, org, amount in session.execute(
        select(ChainBalance.holder, ChainMember.org_id, ChainBalance.amount)
        .outerjoin(ChainMember, ChainMember.account == ChainBalance.holder)
        .where(ChainBalance.token == token, ChainBalance.token_id == token_id, ChainBalance.amount != 0)
        .order_by(ChainBalance.amount.desc(), ChainBalance.holder))]
    return AssetTrace(token, token_id, issued, surrendered, hops, holders)


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


def _market_address(session: Session) -> str | None:
    return session.scalar(select(IndexCheckpoint.address).where(IndexCheckpoint.contract == MARKET))


def trace_asset(session: Session, token: str, token_id: int, limit: int | None = None) -> AssetTrace:
    """Every movement of `token` id `token_id` in chain order (the first `limit` if given) and its holders."""
    transfers = session.execute(
        select(ChainTransfer.kind, ChainTransfer.operator, ChainTransfer.from_address, ChainTransfer.to_address,
               ChainTransfer.amount, ChainTransfer.tx_hash, ChainTransfer.block_number, ChainTransfer.log_index,
               ChainTransfer.block_time, ChainTransfer.pending)
        .where(ChainTransfer.token == token, ChainTransfer.token_id == token_id)
        .order_by(ChainTransfer.block_number, ChainTransfer.log_index, ChainTransfer.sub_index)
        .limit(limit)
    ).all()
    txs = list({t.tx_hash for t in transfers if t.kind != "transfer"})
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
    for t in transfers:
        year = None
        if t.kind == "mint":
            kind = "allocation" if t.tx_hash in allocation_txs else "issuance"
            issued += t.amount
        elif t.kind == "burn":
            year = surrenders.get((t.tx_hash, t.from_address))
            if year is not None:
                kind = "surrender"
                surrendered += t.amount
            else:
                kind = "retraction" if token == ALLOWANCES else "retirement"
        else:
            kind = "trade" if market is not None and t.operator == market else "transfer"
        hops.append(AssetHop(kind, t.from_address, t.to_address, t.amount,
                             OnChain(t.tx_hash, t.block_number, t.log_index, utc(t.block_time), t.pending), year))
    holders = [Holding(h, org, amount) for h, org, amount in session.execute(
        select(ChainBalance.holder, ChainMember.org_id, ChainBalance.amount)
        .outerjoin(ChainMember, ChainMember.account == ChainBalance.holder)
        .where(ChainBalance.token == token, ChainBalance.token_id == token_id, ChainBalance.amount != 0)
        .order_by(ChainBalance.amount.desc(), ChainBalance.holder))]
    return AssetTrace(token, token_id, issued, surrendered, hops, holders)


"""The carbon market: listings, fills, cancellations and reclaims on the CarbonMarket, the approvals
they need, prices in CNY, and what the index tells about orders and trades.

Prices are per tonne in settlement-token units (fen, 0.01 CNY): the API takes and shows them
as decimal strings with two decimals. The order book lists open orders not yet expired at the
chain's latest block time, best (lowest) price first. A day's close is the volume-weighted
average price of that UTC day's fills, rounded half up to the fen; a day without fills carries
the previous close over.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from eth_utils import keccak
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ledger_core.assets import asset_kind, tradeable
from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from ledger_core.db.models import ChainOrder, ChainOrderEvent
from ledger_service.audit.results import utc

MARKET = "CarbonMarket"
SETTLEMENT = "SettlementToken"
# "migrated": held by the market's next version since an upgrade (the old version's record only).
ORDER_STATUS = {0: "none", 1: "open", 2: "filled", 3: "cancelled", 4: "expired", 5: "migrated"}
MAX_UINT = 2**256 - 1
_ORDER_LISTED = keccak(text="OrderListed(uint256,address,address,uint256,uint256,uint256,uint64)")
CENT = Decimal("0.01")


class InvalidPrice(ValueError):
    pass


def to_units(amount: str) -> int:
    """A CNY amount as a decimal string with at most two decimals -> settlement-token units (fen)."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise InvalidPrice(f"{amount!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise InvalidPrice(f"{amount!r} must be a positive amount")
    if value != value.quantize(CENT):
        raise InvalidPrice(f"{amount!r} has more than two decimals (the tick is CNY 0.01)")
    return int(value * 100)


def to_cny(units: int) -> str:
    """Settlement-token units -> a CNY decimal string with two decimals."""
    return str((Decimal(units) / 100).quantize(CENT))


@dataclass(frozen=True)
class Order:
    """An order as the market holds it or the index mirrors it. `seller` is None where the viewer is not shown
    it; `asset` is the asset's name ("allowance" or "credit") once resolved from its contract address."""

    order_id: int
    seller: str | None
    asset_address: str
    token_id: int
    amount: int
    remaining: int
    price_units: int  # settlement-token units (fen) per tonne
    expires: int  # seconds UTC
    status: str
    asset: str | None = None

    @property
    def price(self) -> str:
        return to_cny(self.price_units)

    @property
    def expiry(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


@dataclass(frozen=True)
class Trade:
    """A fill; parties and transaction are None where the viewer is not shown them."""

    order_id: int
    seller: str | None
    buyer: str | None
    amount: int
    price_units: int
    payment_units: int
    remaining: int
    tx_hash: str | None
    block_number: int
    time: datetime

    @property
    def price(self) -> str:
        return to_cny(self.price_units)

    @property
    def payment(self) -> str:
        return to_cny(self.payment_units)


@dataclass(frozen=True)
class Close:
    day: date
    close_units: int | None
    volume: int
    trades: int
    carried: bool

    @property
    def close(self) -> str | None:
        return to_cny(self.close_units) if self.close_units is not None else None


def asset_contract(name: str) -> str:
    """The contract of a tradeable asset kind by its name; KeyError for any other name."""
    kind = asset_kind(name)  # UnknownAssetKind is a KeyError
    if not kind.tradeable:
        raise KeyError(name)
    return kind.contract


def asset_name(suite: Suite, address: str) -> str | None:
    """The tradeable asset kind's name ("allowance", "credit", ...) for an asset contract address."""
    for kind in tradeable():
        if suite.deployment.addresses.get(kind.contract) == address:
            return kind.name
    return None


# ------------------------------------------------------------------ approvals and intents


def market_address(suite: Suite) -> str:
    return suite.deployment.addresses[MARKET]


def listing_approvals(chain: ChainClient, suite: Suite, seller: str, asset_contract: str) -> list[Intent]:
    """setApprovalForAll(market) on the asset contract, if the seller has not approved the market yet."""
    market = market_address(suite)
    if suite.view(chain, asset_contract, "isApprovedForAll", seller, market):
        return []
    return [Intent(asset_contract, "setApprovalForAll", (market, True), seller, requested_by=seller)]


def payment_approvals(chain: ChainClient, suite: Suite, buyer: str, payment: int) -> list[Intent]:
    """approve(market) on the settlement token, if the buyer's allowance to the market is below `payment`."""
    market = market_address(suite)
    if int(suite.view(chain, SETTLEMENT, "allowance", buyer, market)) >= payment:
        return []
    return [Intent(SETTLEMENT, "approve", (market, MAX_UINT), buyer, requested_by=buyer)]


def call(signer: str, function: str, *args: object) -> Intent:
    return Intent(MARKET, function, args, signer, requested_by=signer)


# ------------------------------------------------------------------ chain views


def order(chain: ChainClient, suite: Suite, order_id: int) -> Order:
    """An order as the market holds it; raises the contract's UnknownOrder."""
    seller, expiry, status, asset, token_id, amount, remaining, price = suite.view(chain, MARKET, "order", order_id)
    return Order(order_id, seller, asset, int(token_id), int(amount), int(remaining), int(price), int(expiry),
                 ORDER_STATUS[int(status)])


def price_band(chain: ChainClient, suite: Suite, asset: str, token_id: int, amount: int) -> tuple[int, int]:
    lower, upper = suite.view(chain, MARKET, "priceBand", asset, token_id, amount)
    return int(lower), int(upper)


def listed_ids(chain: ChainClient, suite: Suite, tx_hash: str, block: int | None = None) -> list[int]:
    """The orders a mined transaction listed (none for one not mined), from its `OrderListed` logs: those of its
    `block` (read from its receipt when not given) that it emitted, where a group commit's other listings may
    share the block."""
    tx_hash = tx_hash.lower()
    if block is None:
        (receipt,) = chain.receipts([tx_hash])
        if receipt is None:
            return []
        block = int(receipt["blockNumber"])
    return [int.from_bytes(log.topics[1], "big")
            for log in chain.logs(market_address(suite), [_ORDER_LISTED], block, block)
            if log.transaction_hash == tx_hash]


def chain_time(chain: ChainClient) -> int:
    """The latest block's timestamp."""
    return int(chain.request(lambda: chain.w3.eth.get_block("latest"))["timestamp"])


def settlement_balance(chain: ChainClient, suite: Suite, address: str) -> int:
    return int(suite.view(chain, SETTLEMENT, "balanceOf", address))


# ------------------------------------------------------------------ index views


def _order(row: ChainOrder) -> Order:
    return Order(row.order_id, row.seller, row.asset, row.token_id, row.amount, row.remaining, row.price,
                 row.expiry, row.status)


def book(session: Session, asset: str, token_id: int, now: int, offset: int, limit: int) -> tuple[list[Order], int]:
    """Open, unexpired orders of a token, best price first (then oldest first)."""
    where = (ChainOrder.asset == asset, ChainOrder.token_id == token_id, ChainOrder.status == "open",
             ChainOrder.expiry > now, ChainOrder.remaining > 0)
    total = session.scalar(select(func.count()).select_from(ChainOrder).where(*where)) or 0
    rows = session.scalars(select(ChainOrder).where(*where).order_by(ChainOrder.price, ChainOrder.order_id)
                           .offset(offset).limit(limit))
    return [_order(r) for r in rows], int(total)


def orders_of(session: Session, sellers: list[str], offset: int, limit: int) -> tuple[list[Order], int]:
    where = ChainOrder.seller.in_(sellers)
    total = session.scalar(select(func.count()).select_from(ChainOrder).where(where)) or 0
    rows = session.scalars(select(ChainOrder).where(where).order_by(ChainOrder.order_id.desc())
                           .offset(offset).limit(limit))
    return [_order(r) for r in rows], int(total)


def _fills(asset: str, token_id: int) -> tuple[ColumnElement[bool], ...]:
    return (ChainOrderEvent.kind == "filled", ChainOrderEvent.asset == asset, ChainOrderEvent.token_id == token_id)


def trades(session: Session, asset: str, token_id: int, offset: int, limit: int) -> tuple[list[Trade], int]:
    """Fills of a token, newest first."""
    where = _fills(asset, token_id)
    total = session.scalar(select(func.count()).select_from(ChainOrderEvent).where(*where)) or 0
    rows = session.scalars(select(ChainOrderEvent).where(*where)
                           .order_by(ChainOrderEvent.block_number.desc(), ChainOrderEvent.log_index.desc())
                           .offset(offset).limit(limit))
    return [Trade(r.order_id, r.seller, r.buyer or "", r.amount or 0, r.price or 0, r.payment or 0, r.remaining or 0,
                  r.tx_hash, r.block_number, utc(r.block_time)) for r in rows], int(total)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def closes(session: Session, asset: str, token_id: int, since: date, until: date) -> list[Close]:
    """Each UTC day's close from `since` to `until`: the VWAP of the day's fills, or the previous close."""
    volume: dict[date, int] = defaultdict(int)
    value: dict[date, int] = defaultdict(int)
    count: dict[date, int] = defaultdict(int)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
    for amount, price, at in session.execute(
        select(ChainOrderEvent.amount, ChainOrderEvent.price, ChainOrderEvent.block_time)
        .where(*_fills(asset, token_id), ChainOrderEvent.block_time < end)
    ):
        day = utc(at).date()
        volume[day] += int(amount or 0)
        value[day] += int(amount or 0) * int(price or 0)
        count[day] += 1
    previous: int | None = None
    out: list[Close] = []
    for day in sorted(volume):
        if day >= since:
            break
        previous = _vwap(value[day], volume[day])
    for day in _days(since, until):
        if volume.get(day):
            previous = _vwap(value[day], volume[day])
            out.append(Close(day, previous, volume[day], count[day], carried=False))
        else:
            out.append(Close(day, previous, 0, 0, carried=previous is not None))
    return out


def _vwap(value: int, volume: int) -> int:
    return int((Decimal(value) / Decimal(volume)).quantize(Decimal(1), rounding=ROUND_HALF_UP))

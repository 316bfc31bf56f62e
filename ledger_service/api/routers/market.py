"""The carbon market: list, fill, cancel and reclaim orders; the order book, trades and daily closes
of an asset (from the index); reference prices (regulator).

Assets are named "allowance" (token id = vintage year) or "credit" (token id = batch). Prices
are CNY per tonne as decimal strings with at most two decimals. Approvals the market needs
(`setApprovalForAll` on the asset, `approve` on the settlement token) are sent for custodial
members before the listing or fill, through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field, field_validator

from ledger_service import market
from ledger_service.api.deps import AnyMember, Caller, PageDep, Regulator, RuntimeDep, member
from ledger_service.api.errors import ApiError
from ledger_service.api.indexing import FreshIndex, viewer
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.sending import require_custodial, send
from ledger_service.api.types import ChainId64, ChainTime, Day, Id64, Price, Tonnes
from ledger_service.audit.access import member_orgs, shows_parties
from ledger_service.chain.outbox import Intent, TxRecord
from ledger_service.db.models.outbox import OutboxStatus
from ledger_service.runtime import Runtime

router = APIRouter(prefix="/market", tags=["market"])
AssetName = Literal["allowance", "credit"]
Amount = Tonnes
TokenId = Annotated[Id64, Field(description="vintage year (allowance) or batch id (credit)")]
Trader = Annotated[Caller, Depends(member("ENTERPRISE", "TRADER", moves_assets=True))]
Wait = Annotated[bool, Query(description="wait for the receipt (otherwise answer 202 once sent)")]
MAX_DAYS = 366


class ListIn(BaseModel):
    asset: AssetName
    token_id: TokenId
    amount: Amount
    price: Price
    expiry: ChainTime = Field(description="when the order stops being fillable (ISO 8601 or Unix seconds; UTC)")

    @field_validator("price")
    @classmethod
    def _positive(cls, value: str) -> str:
        market.to_units(value)
        return value


class FillIn(BaseModel):
    amount: Amount


class ReferencePriceIn(BaseModel):
    asset: AssetName
    token_id: TokenId
    price: Price


class OrderOut(BaseModel):
    order_id: int
    seller: str | None = Field(description="null unless the caller sees the seller's organisation "
                               "(README: What each role sees)")
    asset: str | None = Field(description="allowance or credit")
    asset_address: str
    token_id: int
    amount: int
    remaining: int
    price: str = Field(description="CNY per tonne")
    price_units: int = Field(description="settlement-token units (fen) per tonne")
    expiry: datetime
    status: str = Field(description="open, filled, cancelled or expired (reclaimed)")

    @classmethod
    def of(cls, runtime: Runtime, o: market.Order, named: bool = True) -> OrderOut:
        return cls(order_id=o.order_id, seller=o.seller if named else None,
                   asset=market.asset_name(runtime.suite, o.asset),
                   asset_address=o.asset, token_id=o.token_id, amount=o.amount, remaining=o.remaining,
                   price=market.to_cny(o.price), price_units=o.price, expiry=datetime.fromtimestamp(o.expiry, UTC),
                   status=o.status)


class OrderTx(BaseModel):
    order: OrderOut | None
    transactions: list[TxOut] = Field(description="approvals sent first, if any, then the market call")


class OrderList(BaseModel):
    items: list[OrderOut]
    page: PageInfo


class BookOut(BaseModel):
    asset: str
    token_id: int
    as_of: datetime = Field(description="chain time the expiries are compared with")
    orders: list[OrderOut]
    page: PageInfo


class TradeOut(BaseModel):
    """A fill; seller, buyer and transaction are null unless the caller sees one of the parties' organisations
    (README: What each role sees)."""

    order_id: int
    seller: str | None
    buyer: str | None
    amount: int
    price: str
    payment: str = Field(description="CNY paid by the buyer to the seller")
    payment_units: int
    tx_hash: str | None
    block_number: int
    time: datetime


class TradeList(BaseModel):
    asset: str
    token_id: int
    items: list[TradeOut]
    page: PageInfo


class CloseOut(BaseModel):
    day: date
    close: str | None = Field(description="VWAP of the day's fills, or the previous close carried over")
    volume: int
    trades: int
    carried: bool


class CloseList(BaseModel):
    asset: str
    token_id: int
    closes: list[CloseOut]


def _registry(runtime: Runtime, asset: str) -> tuple[str, str]:
    contract = market.ASSETS[asset]
    return contract, runtime.deployment.addresses[contract]


def _sent(records: list[TxRecord], response: Response) -> list[TxOut]:
    if any(r.status != OutboxStatus.MINED for r in records):
        response.status_code = status.HTTP_202_ACCEPTED
    return [TxOut.of(r) for r in records]


def _approve(runtime: Runtime, caller: Caller, intents: list[Intent], wait: bool) -> list[TxRecord]:
    if not intents:
        return []
    return send(runtime, caller, intents, wait=wait)


def _names(runtime: Runtime, caller: Caller) -> Callable[..., bool]:
    """Whether the caller is shown the parties of a trade or order with these addresses (the rule table of
    `ledger_service.audit.access`: one of them is of an organisation it sees)."""
    sees = viewer(runtime, caller)
    with runtime.sessions() as session:
        orgs = member_orgs(session)
    return lambda *addresses: shows_parties(sees, *(orgs.get(a) for a in addresses))


def _order_after(runtime: Runtime, record: TxRecord, order_id: int) -> OrderOut | None:
    if record.status != OutboxStatus.MINED:
        return None
    return OrderOut.of(runtime, market.order(runtime.chain, runtime.suite, order_id))


# ------------------------------------------------------------------ trading


@router.post("/orders", response_model=OrderTx, status_code=status.HTTP_201_CREATED)
def list_order(body: ListIn, caller: Trader, runtime: RuntimeDep, response: Response,
               wait: Wait = True) -> OrderTx:
    """List units for sale at a fixed price; they move into the market's escrow."""
    require_custodial(runtime, caller)
    contract, address = _registry(runtime, body.asset)
    expiry = body.expiry if body.expiry.tzinfo else body.expiry.replace(tzinfo=UTC)
    approvals = _approve(runtime, caller, market.listing_approvals(runtime.chain, runtime.suite, caller.address,
                                                                   contract), wait)
    (record,) = send(runtime, caller, [market.call(caller.address, "list", address, body.token_id, body.amount,
                                                   market.to_units(body.price), int(expiry.timestamp()))], wait=wait)
    txs = _sent([*approvals, record], response)
    order = None
    if record.status == OutboxStatus.MINED and record.tx_hash:
        (order_id,) = market.listed_ids(runtime.chain, runtime.suite, record.tx_hash)
        order = _order_after(runtime, record, order_id)
    return OrderTx(order=order, transactions=txs)


@router.post("/orders/{order_id}/fill", response_model=OrderTx)
def fill_order(order_id: ChainId64, body: FillIn, caller: Trader, runtime: RuntimeDep,
               response: Response, wait: Wait = True) -> OrderTx:
    """Buy all or part of an open order: payment and delivery in one transaction."""
    require_custodial(runtime, caller)
    current = market.order(runtime.chain, runtime.suite, order_id)
    approvals = _approve(runtime, caller, market.payment_approvals(runtime.chain, runtime.suite, caller.address,
                                                                   body.amount * current.price), wait)
    (record,) = send(runtime, caller, [market.call(caller.address, "fill", order_id, body.amount)], wait=wait)
    return OrderTx(order=_order_after(runtime, record, order_id), transactions=_sent([*approvals, record], response))


@router.post("/orders/{order_id}/cancel", response_model=OrderTx)
def cancel_order(order_id: ChainId64, caller: AnyMember, runtime: RuntimeDep, response: Response,
                 wait: Wait = True) -> OrderTx:
    """Cancel one's own open order; what remains in escrow returns to the seller."""
    (record,) = send(runtime, caller, [market.call(caller.address, "cancel", order_id)], wait=wait)
    return OrderTx(order=_order_after(runtime, record, order_id), transactions=_sent([record], response))


@router.post("/orders/{order_id}/reclaim", response_model=OrderTx)
def reclaim_order(order_id: ChainId64, caller: AnyMember, runtime: RuntimeDep,
                  response: Response, wait: Wait = True) -> OrderTx:
    """Return an expired order's escrow to its seller (anyone may ask)."""
    (record,) = send(runtime, caller, [market.call(caller.address, "reclaimExpired", order_id)], wait=wait)
    return OrderTx(order=_order_after(runtime, record, order_id), transactions=_sent([record], response))


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: ChainId64, caller: AnyMember, runtime: RuntimeDep) -> OrderOut:
    """An order; its seller is named to the seller's organisation and regulators only."""
    found = market.order(runtime.chain, runtime.suite, order_id)
    return OrderOut.of(runtime, found, _names(runtime, caller)(found.seller))


@router.get("/orders", response_model=OrderList)
def my_orders(caller: AnyMember, runtime: FreshIndex, page: PageDep) -> OrderList:
    """The orders of the caller's organisation, newest first."""
    sellers = runtime.directory.member_addresses(caller.member.org_id) or [caller.address]
    with runtime.sessions() as session:
        found, total = market.orders_of(session, sellers, page.offset, page.limit)
    return OrderList(items=[OrderOut.of(runtime, o) for o in found],
                     page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.post("/reference-prices", response_model=TxOut)
def set_reference_price(body: ReferencePriceIn, caller: Regulator, runtime: RuntimeDep, response: Response,
                        wait: Wait = True) -> TxOut:
    """Set the reference price (e.g. the previous close) the price bands are computed from."""
    _, address = _registry(runtime, body.asset)
    (record,) = send(runtime, caller, [market.call(caller.address, "setReferencePrice", address, body.token_id,
                                                   market.to_units(body.price))], wait=wait)
    return _sent([record], response)[0]


# ------------------------------------------------------------------ market data (index)


@router.get("/books/{asset}/{token_id}", response_model=BookOut)
def order_book(asset: AssetName, token_id: ChainId64, caller: AnyMember, runtime: FreshIndex,
               page: PageDep) -> BookOut:
    _, address = _registry(runtime, asset)
    now = market.chain_time(runtime.chain)
    names = _names(runtime, caller)
    with runtime.sessions() as session:
        found, total = market.book(session, address, token_id, now, page.offset, page.limit)
    return BookOut(asset=asset, token_id=token_id, as_of=datetime.fromtimestamp(now, UTC),
                   orders=[OrderOut.of(runtime, o, names(o.seller)) for o in found],
                   page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/trades/{asset}/{token_id}", response_model=TradeList)
def trade_history(asset: AssetName, token_id: ChainId64, caller: AnyMember, runtime: FreshIndex,
                  page: PageDep) -> TradeList:
    """Fills of an asset, newest first: price, amount, payment, parties, transaction and time. Parties and
    transaction are shown of the fills the caller sees a party of (its own, or any for a regulator)."""
    _, address = _registry(runtime, asset)
    names = _names(runtime, caller)
    with runtime.sessions() as session:
        found, total = market.trades(session, address, token_id, page.offset, page.limit)
    items = []
    for t in found:
        named = names(t.seller, t.buyer)
        items.append(TradeOut(order_id=t.order_id, seller=t.seller if named else None,
                              buyer=t.buyer if named else None, amount=t.amount, price=market.to_cny(t.price),
                              payment=market.to_cny(t.payment), payment_units=t.payment,
                              tx_hash=t.tx_hash if named else None, block_number=t.block_number, time=t.block_time))
    return TradeList(asset=asset, token_id=token_id, items=items,
                     page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/closes/{asset}/{token_id}", response_model=CloseList)
def daily_closes(asset: AssetName, token_id: ChainId64, caller: AnyMember, runtime: FreshIndex,
                 since: Annotated[Day | None, Query(alias="from", description="first UTC day (default: until)")]
                 = None,
                 until: Annotated[Day | None, Query(description="last UTC day (default: the chain's today)")] = None,
                 ) -> CloseList:
    """Each UTC day's close: the volume-weighted average price of the day's fills; the previous close
    carries over on days without fills (`carried`)."""
    _, address = _registry(runtime, asset)
    last = until or datetime.fromtimestamp(market.chain_time(runtime.chain), UTC).date()
    first = since or last
    if first > last or last - first > timedelta(days=MAX_DAYS - 1):
        raise ApiError(422, "InvalidRange", f"from must not be after until, and at most {MAX_DAYS} days",
                       {"from": first.isoformat(), "until": last.isoformat()})
    with runtime.sessions() as session:
        found = market.closes(session, address, token_id, first, last)
    return CloseList(asset=asset, token_id=token_id, closes=[
        CloseOut(day=c.day, close=market.to_cny(c.close) if c.close is not None else None, volume=c.volume,
                 trades=c.trades, carried=c.carried) for c in found])


"""The carbon market: list, fill, cancel and reclaim orders; the order book, trades and daily closes
of an asset (from the index); reference prices (regulator).

Assets are named "allowance" (token id = vintage year) or "credit" (token id = batch). Prices
are CNY per tonne as decimal strings with at most two decimals. Approvals the market needs
(`setApprovalForAll` on the asset, `approve` on the settlement token) are sent for custodial
members before the listing or fill, through the outbox.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger_service import market
from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer, one_trip
from ledger_service.api.asset_names import TradeableAsset
from ledger_service.api.deps import AnyMember, Caller, PageDep, Regulator, ServicesDep, member
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.types import ChainId64, ChainTime, Day, Id64, Price, Tonnes
from ledger_service.market import Order
from ledger_service.services.market import Unsigned
from ledger_service.services.outcomes import Sent

router = APIRouter(prefix=f"{API_PREFIX}/market", tags=["market"])
AssetName = TradeableAsset
Amount = Tonnes
TokenId = Annotated[Id64, Field(description="vintage year (allowance) or batch id (credit)")]
Trader = Annotated[Caller, Depends(member("ENTERPRISE", "TRADER", moves_assets=True))]
Wait = Annotated[bool, Query(description="wait for the receipt (otherwise answer 202 once sent)")]


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

    model_config = ConfigDict(from_attributes=True)


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

    model_config = ConfigDict(from_attributes=True)

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
    model_config = ConfigDict(from_attributes=True)

    day: date
    close: str | None = Field(description="VWAP of the day's fills, or the previous close carried over")
    volume: int
    trades: int
    carried: bool


class CloseList(BaseModel):
    asset: str
    token_id: int
    closes: list[CloseOut]


class UnsignedOut(BaseModel):
    contract: str
    function: str
    transaction: dict[str, str] = Field(description="as a wallet's eth_signTransaction takes it: from, to, data, "
                                        "value, nonce, gas, chainId and the fee fields, as hex quantities (type 0x2 "
                                        "with EIP-1559 fees)")


class PreparedOut(BaseModel):
    """Transactions for a member signing with its own key: sign each, then relay them in this order
    (`POST /api/v1/transactions/relay`), which checks signer, chain, contract and role again."""

    account: str
    transactions: list[UnsignedOut] = Field(description="the approvals the market needs and the caller lacks, "
                                            "then the market call; consecutive nonces from the caller's next")


def _prepared(caller: Caller, unsigned: list[Unsigned]) -> PreparedOut:
    return PreparedOut(account=caller.address, transactions=[
        UnsignedOut(contract=u.contract, function=u.function, transaction=u.wallet_fields(caller.address))
        for u in unsigned])


def _order_tx(response: Response, sent: Sent[Order], done: int = status.HTTP_200_OK) -> OrderTx:
    answer(response, *sent.records, done=done)
    return OrderTx(order=OrderOut.model_validate(sent.value) if sent.value else None,
                   transactions=[TxOut.model_validate(r) for r in sent.records])


# ------------------------------------------------------------------ trading


@router.post("/orders", response_model=OrderTx, status_code=status.HTTP_201_CREATED)
async def list_order(body: ListIn, caller: Trader, services: ServicesDep, response: Response,
                     wait: Wait = True) -> OrderTx:
    """List units for sale at a fixed price; they move into the market's escrow."""
    return _order_tx(response, await services.market.list_order_async(
        caller, body.asset, body.token_id, body.amount, market.to_units(body.price), body.expiry, wait),
                     done=status.HTTP_201_CREATED)


@router.post("/orders/{order_id}/fill", response_model=OrderTx)
async def fill_order(order_id: ChainId64, body: FillIn, caller: Trader, services: ServicesDep,
                     response: Response, wait: Wait = True) -> OrderTx:
    """Buy all or part of an open order: payment and delivery in one transaction."""
    return _order_tx(response, await services.market.fill_order_async(caller, order_id, body.amount, wait))


@router.post("/orders/{order_id}/cancel", response_model=OrderTx)
async def cancel_order(order_id: ChainId64, caller: AnyMember, services: ServicesDep, response: Response,
                       wait: Wait = True) -> OrderTx:
    """Cancel one's own open order; what remains in escrow returns to the seller."""
    return _order_tx(response, await services.market.cancel_order_async(caller, order_id, wait))


# ------------------------------------------------------------------ prepared for the member's own key


@router.post("/orders/prepare", response_model=PreparedOut)
def prepare_listing(body: ListIn, caller: Trader, services: ServicesDep) -> PreparedOut:
    """`POST /orders`'s transactions unsigned, for a member that signs its own: the market's approval on the
    asset if missing, then the listing. Run first (eth_call): a listing the market would refuse is refused here,
    its custom error decoded, before anything is signed."""
    return _prepared(caller, services.market.prepare_list(caller, body.asset, body.token_id, body.amount,
                                                          market.to_units(body.price), body.expiry))


@router.post("/orders/{order_id}/fill/prepare", response_model=PreparedOut)
def prepare_fill(order_id: ChainId64, body: FillIn, caller: Trader, services: ServicesDep) -> PreparedOut:
    """`POST /orders/{id}/fill`'s transactions unsigned: the settlement token's approval if too small, then the
    fill."""
    return _prepared(caller, services.market.prepare_fill(caller, order_id, body.amount))


@router.post("/orders/{order_id}/cancel/prepare", response_model=PreparedOut)
def prepare_cancel(order_id: ChainId64, caller: AnyMember, services: ServicesDep) -> PreparedOut:
    """`POST /orders/{id}/cancel`'s transaction unsigned."""
    return _prepared(caller, services.market.prepare_cancel(caller, order_id))


@router.post("/orders/{order_id}/reclaim", response_model=OrderTx)
def reclaim_order(order_id: ChainId64, caller: AnyMember, services: ServicesDep,
                  response: Response, wait: Wait = True) -> OrderTx:
    """Return an expired order's escrow to its seller (anyone may ask)."""
    return _order_tx(response, services.market.reclaim_order(caller, order_id, wait))


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: ChainId64, caller: AnyMember, services: ServicesDep) -> OrderOut:
    """An order; its seller is named to the seller's organisation and regulators only."""
    return OrderOut.model_validate(services.market.order(caller, order_id))


@router.get("/orders", response_model=OrderList)
def my_orders(caller: AnyMember, services: ServicesDep, page: PageDep) -> OrderList:
    """The orders of the caller's organisation, newest first."""
    found, total = services.market.my_orders(caller, page.offset, page.limit)
    return OrderList(items=[OrderOut.model_validate(o) for o in found],
                     page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.post("/reference-prices", response_model=TxOut)
@one_trip
def set_reference_price(body: ReferencePriceIn, caller: Regulator, services: ServicesDep, response: Response,
                        wait: Wait = True) -> TxOut:
    """Set the reference price (e.g. the previous close) the price bands are computed from."""
    sent = services.market.set_reference_price(caller, body.asset, body.token_id, market.to_units(body.price), wait)
    answer(response, *sent.records)
    return TxOut.model_validate(sent.record)


# ------------------------------------------------------------------ market data (index)


@router.get("/books/{asset}/{token_id}", response_model=BookOut)
def order_book(asset: AssetName, token_id: ChainId64, caller: AnyMember, services: ServicesDep,
               page: PageDep) -> BookOut:
    book = services.market.book(caller, asset, token_id, page.offset, page.limit)
    return BookOut(asset=asset, token_id=token_id, as_of=book.as_of_time,
                   orders=[OrderOut.model_validate(o) for o in book.orders],
                   page=PageInfo(offset=page.offset, limit=page.limit, total=book.total))


@router.get("/trades/{asset}/{token_id}", response_model=TradeList)
def trade_history(asset: AssetName, token_id: ChainId64, caller: AnyMember, services: ServicesDep,
                  page: PageDep) -> TradeList:
    """Fills of an asset, newest first: price, amount, payment, parties, transaction and time. Parties and
    transaction are shown of the fills the caller sees a party of (its own, or any for a regulator)."""
    found, total = services.market.trades(caller, asset, token_id, page.offset, page.limit)
    return TradeList(asset=asset, token_id=token_id, items=[TradeOut.model_validate(t) for t in found],
                     page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/closes/{asset}/{token_id}", response_model=CloseList)
def daily_closes(asset: AssetName, token_id: ChainId64, caller: AnyMember, services: ServicesDep,
                 since: Annotated[Day | None, Query(alias="from", description="first UTC day (default: until)")]
                 = None,
                 until: Annotated[Day | None, Query(description="last UTC day (default: the chain's today)")] = None,
                 ) -> CloseList:
    """Each UTC day's close: the volume-weighted average price of the day's fills; the previous close
    carries over on days without fills (`carried`)."""
    found = services.market.closes(asset, token_id, since, until)
    return CloseList(asset=asset, token_id=token_id, closes=[CloseOut.model_validate(c) for c in found])

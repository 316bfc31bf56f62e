"""`carbonledger market`: sell orders, fills, cancellations, the order book, trades and reference prices.

Assets are `allowance` (token id = vintage year) or `credit` (token id = batch); prices are CNY per
tonne as decimal strings with at most two decimals.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger_core.assets import tradeable_names
from ledger_service.cli.asset_names import choices, names_enum
from ledger_service.cli.output import emit
from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    LimitOption,
    NoWaitOption,
    OffsetOption,
    UrlOption,
    seconds,
    service,
    show,
    show_action,
    show_page,
    show_tx,
    whole_tonnes,
)

app = typer.Typer(help="The market: sell, fill, cancel, orders, book, trades, closes, reference price.",
                  no_args_is_help=True)


if TYPE_CHECKING:
    Asset = StrEnum
else:
    Asset = names_enum("Asset", tradeable_names())

AssetArg = Annotated[Asset, typer.Argument(help=f"{choices(tradeable_names())}.")]
TokenArg = Annotated[int, typer.Argument(min=1, help="The vintage year (allowance) or batch id (credit).")]
OrderId = Annotated[int, typer.Argument(min=1, help="The order.")]
ORDER_KEYS = ["order_id", "seller", "asset", "token_id", "amount", "remaining", "price", "expiry", "status"]
TRADE_KEYS = ["time", "order_id", "seller", "buyer", "amount", "price", "payment", "tx_hash"]


def cny(text: str) -> str:
    """A positive CNY price with at most two decimals, as the decimal string the service takes."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"price {text!r} is not a number") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise typer.BadParameter(f"price {text!r}: a positive amount of CNY with at most two decimals")
    return f"{value:.2f}"


def _order(answer: dict[str, Any], as_json: bool, title: str) -> None:
    show_action(answer, "order", as_json, title, ORDER_KEYS)


@app.command()
def sell(
    ctx: typer.Context,
    asset: AssetArg,
    token_id: TokenArg,
    amount: Annotated[str, typer.Argument(help="Whole tonnes.")],
    price: Annotated[str, typer.Argument(help="CNY per tonne, e.g. 58.20.")],
    expires_in: Annotated[int, typer.Option(min=1, help="Seconds until the order expires (chain time).")] = 86_400,
    expiry: Annotated[str | None, typer.Option(help="When the order expires (Unix seconds or ISO, UTC); "
                                               "instead of --expires-in.")] = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """List units for sale at a fixed price (a sell order); they move into the market's escrow."""
    body: dict[str, Any] = {"asset": asset.value, "token_id": token_id, "amount": whole_tonnes(amount),
                            "price": cny(price)}
    with service(ctx, url, api_key) as api:
        if expiry is not None:
            body["expiry"] = seconds(expiry)
        else:
            book = api.get(f"/market/books/{asset.value}/{token_id}", params={"limit": 1})
            as_of = datetime.fromisoformat(str(book["as_of"]).replace("Z", "+00:00"))
            body["expiry"] = int(as_of.timestamp()) + expires_in
        answer = api.post("/market/orders", params={"wait": not no_wait}, json=body)
    _order(answer, as_json, "order listed")


@app.command()
def fill(
    ctx: typer.Context, order_id: OrderId, amount: Annotated[str, typer.Argument(help="Whole tonnes to buy.")],
    no_wait: NoWaitOption = False, url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Buy all or part of an open order: payment and delivery in one transaction."""
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/market/orders/{order_id}/fill", params={"wait": not no_wait},
                          json={"amount": whole_tonnes(amount)})
    _order(answer, as_json, f"order {order_id} filled")


@app.command()
def cancel(ctx: typer.Context, order_id: OrderId, no_wait: NoWaitOption = False, url: UrlOption = DEFAULT,
           api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Cancel one's own open order; what remains in escrow returns to the seller."""
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/market/orders/{order_id}/cancel", params={"wait": not no_wait})
    _order(answer, as_json, f"order {order_id} cancelled")


@app.command()
def reclaim(ctx: typer.Context, order_id: OrderId, no_wait: NoWaitOption = False, url: UrlOption = DEFAULT,
            api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Return an expired order's escrow to its seller."""
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/market/orders/{order_id}/reclaim", params={"wait": not no_wait})
    _order(answer, as_json, f"order {order_id} reclaimed")


@app.command()
def order(ctx: typer.Context, order_id: OrderId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
          as_json: JsonOption = False) -> None:
    """One order."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/market/orders/{order_id}"), as_json, f"order {order_id}", ORDER_KEYS)


@app.command()
def orders(ctx: typer.Context, offset: OffsetOption = 0, limit: LimitOption = 100, url: UrlOption = DEFAULT,
           api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The orders of the caller's organisation, newest first."""
    with service(ctx, url, api_key) as api:
        answer = api.get("/market/orders", params={"offset": offset, "limit": limit})
    show_page(answer, as_json, "orders", ORDER_KEYS)


@app.command()
def book(ctx: typer.Context, asset: AssetArg, token_id: TokenArg, offset: OffsetOption = 0, limit: LimitOption = 100,
         url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The open orders of an asset, cheapest first."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/market/books/{asset.value}/{token_id}", params={"offset": offset, "limit": limit})
    show_page(answer, as_json, f"order book: {asset.value} {token_id} at {answer['as_of']}",
               [k for k in ORDER_KEYS if k not in ("asset", "token_id")], items="orders")


@app.command()
def trades(ctx: typer.Context, asset: AssetArg, token_id: TokenArg, offset: OffsetOption = 0,
           limit: LimitOption = 100, url: UrlOption = DEFAULT, api_key: KeyOption = None,
           as_json: JsonOption = False) -> None:
    """Fills of an asset, newest first."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/market/trades/{asset.value}/{token_id}", params={"offset": offset, "limit": limit})
    show_page(answer, as_json, f"trades: {asset.value} {token_id}", TRADE_KEYS)


@app.command()
def closes(
    ctx: typer.Context, asset: AssetArg, token_id: TokenArg,
    since: Annotated[str | None, typer.Option("--from", help="First UTC day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Last UTC day (default: the chain's today).")] = None,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Each UTC day's close (volume-weighted average price of the day's fills)."""
    params = {k: v for k, v in (("from", since), ("until", until)) if v}
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/market/closes/{asset.value}/{token_id}", params=params)
    if as_json:
        emit(answer, True)
    else:
        show(answer["closes"], False, f"daily closes: {asset.value} {token_id}")


@app.command("reference-price")
def reference_price(
    ctx: typer.Context, asset: AssetArg, token_id: TokenArg,
    price: Annotated[str, typer.Argument(help="CNY per tonne, e.g. 50.00.")],
    no_wait: NoWaitOption = False, url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Set the reference price the price bands are computed from (regulator)."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/market/reference-prices", params={"wait": not no_wait},
                          json={"asset": asset.value, "token_id": token_id, "price": cny(price)})
    show_tx(answer, as_json)

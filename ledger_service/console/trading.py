"""What the market pages show and do, through the same use cases (and the same standing checks) as the market
API (`services.market`) and the relay (`services.transactions.relay`); the page holds no rule of its own.

A member whose key the service holds acts directly. For a member that signs its own transactions the use case
answers `NonCustodialMember`: the page then asks the market for the same transactions unsigned (the approvals it
lacks first), the browser's wallet or the member signs them, and the signed transactions are relayed, which
checks signer, chain, contract and role again. Form values arrive as text and are parsed as the API parses its
body: amounts whole units, prices CNY with at most two decimals (`market.to_units`), expiries UTC."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ledger_core.assets import asset_kind, tradeable_names
from ledger_core.chain.errors import ContractRevert
from ledger_service import market
from ledger_service.api.reverts import describe, http_status
from ledger_service.api.types import DECIMAL_PATTERN, LAST_SECOND, MAX_TONNES
from ledger_service.console import charts
from ledger_service.console.i18n import Locale
from ledger_service.console.views import LISTED
from ledger_service.market import Close, Order, Trade
from ledger_service.services.caller import Caller, require_member
from ledger_service.services.errors import ChainBusy, Refusal, TransactionRefused
from ledger_service.services.market import Book, Unsigned
from ledger_service.services.outcomes import Sent, mined
from ledger_service.services.wiring import Services

TRADES = 50
CLOSE_DAYS = 30
DEFAULT_EXPIRY = timedelta(days=7)
NON_CUSTODIAL = "NonCustodialMember"
TRADING_ROLES = ("ENTERPRISE", "TRADER")  # the API's `Trader` dependency: who lists and fills
AMOUNT = re.compile(r"^[0-9]{1,16}$")
RAW_TX = re.compile(r"^0x(?:[0-9a-fA-F]{2})+$")
TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
DONE = ("listed", "filled", "cancelled", "relayed", "pending")
MAX_RELAYED = 4  # a page prepares at most an approval and its market call
MAX_RAW = 262_144  # the relay API's limit of a signed transaction's hex


def asset_of(name: str) -> str:
    """A tradeable asset's name; any other has no market page (404)."""
    if name not in tradeable_names():
        raise Refusal(404, "UnknownAsset", f"the market trades {', '.join(tradeable_names())}, not {name!r}",
                      {"asset": name})
    return name


def cny(units: int) -> Decimal:
    """Settlement-token units (fen) as CNY, exactly."""
    return Decimal(units) / 100


def unit_of(asset: str) -> str:
    """The unit an amount of the asset is written in: tCO2e, or the kind's own (MWh of green certificates)."""
    return asset_kind(asset).unit


def price_unit_of(asset: str) -> str:
    unit = unit_of(asset)
    return "t" if unit == "tCO2e" else unit


# ------------------------------------------------------------------ the index


@dataclass(frozen=True)
class Tradeable:
    asset: str
    token_id: int
    detail: str = ""  # a credit batch's vintage and project


@dataclass(frozen=True)
class MarketIndex:
    assets: tuple[str, ...]
    tradeables: list[Tradeable]
    mine: list[Order]
    mine_total: int
    units: dict[str, tuple[str, str]]  # asset -> the unit of its amounts, the unit its price is per


def market_index(services: Services, caller: Caller, year: int) -> MarketIndex:
    """The vintages around the compliance year, every credit and green certificate batch the registries list, and
    the caller organisation's orders."""
    require_member(caller)
    names = tradeable_names()
    found: list[Tradeable] = []
    if "allowance" in names:
        found += [Tradeable("allowance", y) for y in (year - 1, year, year + 1)]
    if "credit" in names:
        batches, _ = services.credits.batches(0, LISTED)
        found += [Tradeable("credit", b.batch_id, f"{b.vintage} · {b.project_id[:10]}…") for b in batches]
    if "gec" in names:
        certificates, _ = services.gec.batches(0, LISTED)
        found += [Tradeable("gec", b.batch_id) for b in certificates]
    mine, total = services.market.my_orders(caller, 0, TRADES)
    return MarketIndex(names, found, mine, total, {a: (unit_of(a), price_unit_of(a)) for a in names})


# ------------------------------------------------------------------ an asset's market


@dataclass(frozen=True)
class OrderForm:
    """A listing form as typed (kept on the page when it is refused)."""

    amount: str = ""
    price: str = ""
    expiry: str = ""  # datetime-local, read as UTC


@dataclass(frozen=True)
class Banner:
    done: str  # one of DONE
    order: int | None
    tx: str | None


def banner(done: str | None, order: str | None, tx: str | None) -> Banner | None:
    """The result of the last action, from the redirect's query (anything else in it is ignored)."""
    if done not in DONE:
        return None
    return Banner(done, int(order) if order and order.isascii() and order.isdigit() and len(order) < 19 else None,
                  tx if tx and TX_HASH.match(tx) else None)


@dataclass(frozen=True)
class MarketPage:
    asset: str
    token_id: int
    unit: str
    price_unit: str
    book: Book
    trades: list[Trade]
    trades_total: int
    closes: list[tuple[str, Close]]  # each day as written, its close
    chart: str
    mine: list[Order]
    default_expiry: str  # a week after the chain's time, as datetime-local
    banner: Banner | None = None


def market_page(services: Services, caller: Caller, locale: Locale, asset: str, token_id: int,
                shown: Banner | None = None) -> MarketPage:
    require_member(caller)
    asset = asset_of(asset)
    book = services.market.book(caller, asset, token_id, 0, LISTED)
    trades, total = services.market.trades(caller, asset, token_id, 0, TRADES)
    today = book.as_of_time.date()
    closes = services.market.closes(asset, token_id, today - timedelta(days=CLOSE_DAYS - 1), today)
    days = [day(locale, c.day) for c in closes]
    mine, _ = services.market.my_orders(caller, 0, LISTED)
    unit = price_unit_of(asset)
    chart = charts.line(
        "closes-chart", locale.t("market.chart_title", asset=locale.t(f"market.asset.{asset}"), id=token_id),
        locale.t("market.chart_desc", days=CLOSE_DAYS),
        days,
        [charts.Line(locale.t("market.close"), "line-close",
                     tuple(None if c.close_units is None else cny(c.close_units) for c in closes))],
        lambda v: locale.t("market.price", value=locale.number(v, 2), unit=unit))
    expiry = (book.as_of_time + DEFAULT_EXPIRY).strftime("%Y-%m-%dT%H:%M")
    return MarketPage(asset, token_id, unit_of(asset), unit, book, trades, total, list(zip(days, closes, strict=True)),
                      chart,
                      [o for o in mine if o.asset == asset and o.token_id == token_id], expiry, shown)


def day(locale: Locale, when: date) -> str:
    return locale.t("format.day", month=when.month, day=when.day, month_name=locale.t(f"month.{when.month}"))


# ------------------------------------------------------------------ acting


@dataclass(frozen=True)
class Done:
    """Where the browser goes next: the market page with the result's banner."""

    done: str
    order: int | None = None
    tx: str | None = None

    @property
    def query(self) -> str:
        parts = [f"done={self.done}"]
        if self.order is not None:
            parts.append(f"order={self.order}")
        if self.tx:
            parts.append(f"tx={self.tx}")
        return "&".join(parts)


@dataclass(frozen=True)
class ToSign:
    """The transactions a member signs with its own key, then relays (in this order)."""

    action: str  # "listed", "filled" or "cancelled": what relaying them does
    account: str
    unsigned: list[Unsigned] = field(default_factory=list)
    order: int | None = None  # the order filled or cancelled

    def wallet(self, tx: Unsigned) -> str:
        """The transaction as a wallet's `eth_signTransaction` takes it, as JSON."""
        return json.dumps(tx.wallet_fields(self.account), indent=1)


Outcome = Done | ToSign


def _invalid(name: str, value: str, message: str) -> Refusal:
    return Refusal(422, "ValidationError", f"{name}: {message}", {name: value})


def parse_amount(text: str) -> int:
    value = text.strip()
    if not AMOUNT.match(value) or not 0 < int(value) <= MAX_TONNES:
        raise _invalid("amount", text, f"a whole number of units from 1 to {MAX_TONNES}")
    return int(value)


def parse_price(text: str) -> int:
    value = text.strip()
    if not re.match(DECIMAL_PATTERN, value):
        raise _invalid("price", text, "CNY per unit, digits with at most two decimals (e.g. 58.20)")
    try:
        return market.to_units(value)
    except market.InvalidPrice as exc:
        raise _invalid("price", text, str(exc)) from None


def parse_expiry(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _invalid("expiry", text, "a date and time (UTC), e.g. 2026-12-31T18:00") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not 0 <= moment.timestamp() <= LAST_SECOND:
        raise _invalid("expiry", text, "a time from 1970 to the end of 9998")
    return moment


def _done(action: str, sent: Sent[Order]) -> Done:
    last = sent.record
    return Done(action if mined(last) else "pending", sent.value.order_id if sent.value else None, last.tx_hash)


def place(services: Services, caller: Caller, asset: str, token_id: int, form: OrderForm) -> Outcome:
    """List units for sale (`POST /api/v1/market/orders`), or prepare the listing for the member's own key."""
    require_member(caller, *TRADING_ROLES, moves_assets=True)
    amount, price, expiry = parse_amount(form.amount), parse_price(form.price), parse_expiry(form.expiry)
    try:
        return _done("listed", services.market.list_order(caller, asset, token_id, amount, price, expiry))
    except Refusal as exc:
        if exc.code != NON_CUSTODIAL:
            raise
    return ToSign("listed", caller.address, services.market.prepare_list(caller, asset, token_id, amount, price,
                                                                         expiry))


def fill(services: Services, caller: Caller, order_id: int, amount_text: str) -> Outcome:
    """Buy from an order (`POST /api/v1/market/orders/{id}/fill`), or prepare the fill for the member's own key."""
    require_member(caller, *TRADING_ROLES, moves_assets=True)
    amount = parse_amount(amount_text)
    try:
        return _done("filled", services.market.fill_order(caller, order_id, amount))
    except Refusal as exc:
        if exc.code != NON_CUSTODIAL:
            raise
    return ToSign("filled", caller.address, services.market.prepare_fill(caller, order_id, amount), order_id)


def cancel(services: Services, caller: Caller, order_id: int) -> Outcome:
    """Cancel one's own order (`POST /api/v1/market/orders/{id}/cancel`), or prepare it for the member's key."""
    require_member(caller)
    try:
        return _done("cancelled", services.market.cancel_order(caller, order_id))
    except Refusal as exc:
        if exc.code != NON_CUSTODIAL:
            raise
    return ToSign("cancelled", caller.address, services.market.prepare_cancel(caller, order_id), order_id)


def relay(services: Services, caller: Caller, action: str, order: str, signed: list[str]) -> Done:
    """Relay the member's signed transactions in order (`POST /api/v1/transactions/relay`), each waited for; the
    order a relayed listing made, or the one the form names, goes in the banner."""
    require_member(caller)
    raws = [s.strip() for s in signed]
    if not 0 < len(raws) <= MAX_RELAYED or any(not RAW_TX.match(r) or len(r) > MAX_RAW for r in raws):
        raise Refusal(422, "MalformedTransaction", f"paste each signed transaction (at most {MAX_RELAYED}) as 0x-hex "
                      "(whole bytes)")
    record = [services.transactions.relay(caller, bytes.fromhex(raw[2:])) for raw in raws][-1]  # in order
    shown = banner(action, order, record.tx_hash)
    if record.tx_hash is None or not mined(record):
        return Done("pending", None, record.tx_hash)
    if action == "listed":
        listed = services.market.listed_in(record.tx_hash)
        return Done("listed", listed[0] if listed else None, record.tx_hash)
    return Done(shown.done if shown else "relayed", shown.order if shown else None, record.tx_hash)


def refusing(caller: Caller, act: Callable[[], Outcome]) -> Outcome:
    """What the API answers for a transaction the chain refuses, a call it would refuse, or a chain away, as a
    Refusal the page shows (the custom error decoded, with its HTTP status)."""
    try:
        return act()
    except TransactionRefused as exc:
        record = exc.record
        name = record.error_name or "TransactionFailed"
        args = dict(record.revert.args_by_name if record.revert is not None else (record.error_args or {}))
        raise Refusal(http_status(name, args, exc.caller), name, describe(name, args), args) from None
    except ContractRevert as exc:
        raise Refusal(http_status(exc.error, exc.args_by_name, caller.address), exc.error,
                      describe(exc.error, exc.args_by_name), exc.args_by_name) from None
    except ChainBusy as exc:
        raise Refusal(503, "ChainUnavailable", str(exc), {"outbox_ids": exc.outbox_ids}) from None

"""Market use cases: list, fill, cancel and reclaim orders (with the approvals the market needs, sent first for
custodial members), reference prices (regulator), and the order book, trades and daily closes of an asset.

A member that signs its own transactions gets the same transactions prepared unsigned (`prepare_list`,
`prepare_fill`, `prepare_cancel`): the approvals it lacks, then the market call, each with the fields a wallet
signs (nonce, chain id, gas, fees). It signs them and relays them (`TransactionService.relay`), which checks them
again.

Who is named in orders and trades follows the rule table of `ledger_service.audit.access` (README: What each
role sees): parties and transaction of the rows the caller sees an organisation of, anonymised otherwise."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import GAS_HEADROOM, GAS_MARGIN, Intent, TxRecord
from ledger_core.chain.suite import Suite
from ledger_service import market
from ledger_service.market import Close, Order, Trade
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal
from ledger_service.services.outcomes import Sent, mined
from ledger_service.services.sending import Sender
from ledger_service.services.visibility import IndexedViews

MAX_DAYS = 366
AFTER_APPROVAL_GAS = 500_000
"""Gas limit of a market call prepared behind an approval not yet mined (it cannot be estimated before): far above
what a listing or a fill uses."""


@dataclass(frozen=True)
class Unsigned:
    """A transaction for the member to sign with its own key (the fields an Ethereum wallet signs), then relay."""

    contract: str
    function: str
    to: str
    data: bytes
    nonce: int
    chain_id: int
    gas: int
    fees: dict[str, int]  # maxFeePerGas and maxPriorityFeePerGas, or gasPrice; zeros where gas is free
    value: int = 0

    def wallet_fields(self, account: str) -> dict[str, str]:
        """The transaction as a wallet's `eth_signTransaction` takes it (JSON-RPC quantities in hex; type 2
        with EIP-1559 fees)."""
        fields = {"from": account, "to": self.to, "data": "0x" + self.data.hex(), "value": hex(self.value),
                  "nonce": hex(self.nonce), "gas": hex(self.gas), "chainId": hex(self.chain_id),
                  **{name: hex(value) for name, value in self.fees.items()}}
        if "maxFeePerGas" in self.fees:
            fields["type"] = "0x2"
        return fields


@dataclass(frozen=True)
class Book:
    as_of: int  # the chain time (seconds UTC) the expiries are compared with
    orders: list[Order]
    total: int

    @property
    def as_of_time(self) -> datetime:
        return datetime.fromtimestamp(self.as_of, UTC)


@dataclass(frozen=True)
class MarketService:
    chain: ChainClient
    suite: Suite
    directory: Directory
    sender: Sender
    views: IndexedViews

    def _asset_address(self, asset: str) -> str:
        return self.suite.deployment.addresses[market.asset_contract(asset)]

    def _named(self, order: Order, named: bool = True) -> Order:
        return replace(order, seller=order.seller if named else None,
                       asset=market.asset_name(self.suite, order.asset_address))

    def _approve(self, caller: Caller, intents: list[Intent], wait: bool) -> list[TxRecord]:
        return self.sender.send(caller, intents, wait=wait) if intents else []

    def _after(self, records: list[TxRecord], order_id: int) -> Sent[Order]:
        """The transactions and, once the last is mined, the order as the market holds it."""
        return Sent(tuple(records), self.order_as_held(order_id) if mined(records[-1]) else None)

    # -------------------------------------------------------------- trading

    def list_order(self, caller: Caller, asset: str, token_id: int, amount: int, price_units: int,
                   expiry: datetime, wait: bool = True) -> Sent[Order]:
        """List units for sale at a fixed price (units per tonne); they move into the market's escrow. The
        market's approval on the asset is sent first if the seller has not given it."""
        approvals, listing = self._listing(caller, asset, token_id, amount, price_units, expiry, wait)
        return self._listed(approvals, self.sender.send_one(caller, listing, wait=wait))

    async def list_order_async(self, caller: Caller, asset: str, token_id: int, amount: int, price_units: int,
                               expiry: datetime, wait: bool = True) -> Sent[Order]:
        """`list_order` for a request served on the event loop: the listing joins the group commit without a
        pool thread (`Sender.send_async`); the reads before and after it run in the pool."""
        approvals, listing = await asyncio.to_thread(self._listing, caller, asset, token_id, amount, price_units,
                                                     expiry, wait)
        (record,) = await self.sender.send_async(caller, [listing], wait=wait)
        return await asyncio.to_thread(self._listed, approvals, record)

    def _listing(self, caller: Caller, asset: str, token_id: int, amount: int, price_units: int, expiry: datetime,
                 wait: bool) -> tuple[list[TxRecord], Intent]:
        """The approvals a listing needs, sent, and the listing itself."""
        self.sender.require_custodial(caller)
        contract = market.asset_contract(asset)
        expires = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
        approvals = self._approve(caller, market.listing_approvals(self.chain, self.suite, caller.address, contract),
                                  wait)
        return approvals, market.call(caller.address, "list", self._asset_address(asset), token_id, amount,
                                      price_units, int(expires.timestamp()))

    def _listed(self, approvals: list[TxRecord], record: TxRecord) -> Sent[Order]:
        if not mined(record):
            return Sent((*approvals, record))
        (order_id,) = market.listed_ids(self.chain, self.suite, str(record.tx_hash), record.block_number)
        return self._after([*approvals, record], order_id)

    def fill_order(self, caller: Caller, order_id: int, amount: int, wait: bool = True) -> Sent[Order]:
        """Buy all or part of an open order: payment and delivery in one transaction (the settlement token's
        approval sent first if the buyer's allowance to the market is too small)."""
        approvals, fill = self._filling(caller, order_id, amount, wait)
        return self._after([*approvals, self.sender.send_one(caller, fill, wait=wait)], order_id)

    async def fill_order_async(self, caller: Caller, order_id: int, amount: int, wait: bool = True) -> Sent[Order]:
        """`fill_order` for a request served on the event loop (as `list_order_async`)."""
        approvals, fill = await asyncio.to_thread(self._filling, caller, order_id, amount, wait)
        (record,) = await self.sender.send_async(caller, [fill], wait=wait)
        return await asyncio.to_thread(self._after, [*approvals, record], order_id)

    def _filling(self, caller: Caller, order_id: int, amount: int, wait: bool) -> tuple[list[TxRecord], Intent]:
        """The approval a fill needs, sent, and the fill itself; the contract's UnknownOrder for no such order."""
        self.sender.require_custodial(caller)
        current = market.order(self.chain, self.suite, order_id)
        approvals = self._approve(caller, market.payment_approvals(self.chain, self.suite, caller.address,
                                                                   amount * current.price_units), wait)
        return approvals, market.call(caller.address, "fill", order_id, amount)

    def cancel_order(self, caller: Caller, order_id: int, wait: bool = True) -> Sent[Order]:
        """Cancel one's own open order; what remains in escrow returns to the seller."""
        record = self.sender.send_one(caller, market.call(caller.address, "cancel", order_id), wait=wait)
        return self._after([record], order_id)

    async def cancel_order_async(self, caller: Caller, order_id: int, wait: bool = True) -> Sent[Order]:
        """`cancel_order` for a request served on the event loop (as `list_order_async`)."""
        (record,) = await self.sender.send_async(caller, [market.call(caller.address, "cancel", order_id)], wait=wait)
        return await asyncio.to_thread(self._after, [record], order_id)

    def reclaim_order(self, caller: Caller, order_id: int, wait: bool = True) -> Sent[Order]:
        """Return an expired order's escrow to its seller (anyone may ask)."""
        record = self.sender.send_one(caller, market.call(caller.address, "reclaimExpired", order_id), wait=wait)
        return self._after([record], order_id)

    def set_reference_price(self, caller: Caller, asset: str, token_id: int, price_units: int,
                            wait: bool = True) -> Sent[None]:
        """The reference price the price bands are computed from (regulator)."""
        record = self.sender.send_one(caller, market.call(caller.address, "setReferencePrice",
                                                          self._asset_address(asset), token_id, price_units),
                                      wait=wait)
        return Sent((record,))

    # -------------------------------------------------------------- prepared for the member's own key

    def prepare_list(self, caller: Caller, asset: str, token_id: int, amount: int, price_units: int,
                     expiry: datetime) -> list[Unsigned]:
        """`list_order`'s transactions, unsigned: the market's approval on the asset if missing, then the listing."""
        contract = market.asset_contract(asset)
        expires = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
        approvals = market.listing_approvals(self.chain, self.suite, caller.address, contract)
        return self._prepare(caller, approvals, market.call(caller.address, "list", self._asset_address(asset),
                                                            token_id, amount, price_units, int(expires.timestamp())))

    def prepare_fill(self, caller: Caller, order_id: int, amount: int) -> list[Unsigned]:
        """`fill_order`'s transactions, unsigned: the settlement token's approval if too small, then the fill."""
        current = market.order(self.chain, self.suite, order_id)
        approvals = market.payment_approvals(self.chain, self.suite, caller.address, amount * current.price_units)
        return self._prepare(caller, approvals, market.call(caller.address, "fill", order_id, amount))

    def prepare_cancel(self, caller: Caller, order_id: int) -> list[Unsigned]:
        """`cancel_order`'s transaction, unsigned."""
        return self._prepare(caller, [], market.call(caller.address, "cancel", order_id))

    def listed_in(self, tx_hash: str) -> list[int]:
        """The orders a mined transaction listed (a relayed listing's, for its seller to follow)."""
        return market.listed_ids(self.chain, self.suite, tx_hash)

    def _prepare(self, caller: Caller, approvals: list[Intent], action: Intent) -> list[Unsigned]:
        """Each intent with the caller's next nonces, gas and fees. Every intent that does not wait on an approval
        is run first (eth_call): one the contract would refuse raises its decoded ContractRevert, as the
        preflight refuses a custodial member's."""
        intents = [*approvals, action]
        outbox = self.sender.outbox
        encoded = outbox.encode(intents)
        for i, revert in enumerate(outbox.simulate_encoded(intents, encoded)):
            if revert is not None and (i < len(approvals) or not approvals):
                raise revert
        gas = self._gas(intents, [calldata for calldata, _ in encoded], len(approvals))
        first = outbox.next_nonce(caller.address)
        addresses = self.suite.deployment.addresses
        return [Unsigned(i.contract, i.function, addresses[i.contract], calldata, first + n, self.chain.chain_id,
                         limit, dict(self.chain.fees.fields), i.value)
                for n, (i, (calldata, _), limit) in enumerate(zip(intents, encoded, gas, strict=True))]

    def _gas(self, intents: list[Intent], calldata: list[bytes], waiting_from: int) -> list[int]:
        """The chain's fixed gas limit, or each estimate with the outbox's headroom; an intent behind an
        approval not yet mined gets AFTER_APPROVAL_GAS."""
        if self.chain.gas_limit:
            return [self.chain.gas_limit] * len(intents)
        addresses = self.suite.deployment.addresses
        out = []
        for n, (intent, data) in enumerate(zip(intents, calldata, strict=True)):
            if n >= waiting_from and waiting_from:
                out.append(AFTER_APPROVAL_GAS)
                continue
            (estimate,) = self.chain.estimates([{"from": intent.signer, "to": addresses[intent.contract],
                                                 "data": data, "value": intent.value}])
            if isinstance(estimate, Exception):
                revert = self.sender.outbox.decoder.from_exception(estimate)
                raise revert if revert is not None else estimate
            out.append(int(estimate * GAS_HEADROOM) + GAS_MARGIN)
        return out

    # -------------------------------------------------------------- orders

    def order_as_held(self, order_id: int) -> Order:
        """An order as the market holds it, seller named (for its parties); raises the contract's UnknownOrder."""
        return self._named(market.order(self.chain, self.suite, order_id))

    def order(self, caller: Caller, order_id: int) -> Order:
        """An order; its seller is named to the seller's organisation and regulators only."""
        found = market.order(self.chain, self.suite, order_id)
        return self._named(found, self.views.names_parties(caller)(found.seller))

    def my_orders(self, caller: Caller, offset: int, limit: int) -> tuple[list[Order], int]:
        """The orders of the caller's organisation, newest first."""
        self.views.fresh()
        sellers = self.directory.member_addresses(caller.member.org_id) or [caller.address]
        with self.views.sessions() as session:
            found, total = market.orders_of(session, sellers, offset, limit)
        return [self._named(o) for o in found], total

    # -------------------------------------------------------------- market data (index)

    def book(self, caller: Caller, asset: str, token_id: int, offset: int, limit: int) -> Book:
        """Open, unexpired orders of a token at the chain's time, best price first."""
        self.views.fresh()
        address = self._asset_address(asset)
        now = market.chain_time(self.chain)
        names = self.views.names_parties(caller)
        with self.views.sessions() as session:
            found, total = market.book(session, address, token_id, now, offset, limit)
        return Book(now, [self._named(o, names(o.seller)) for o in found], total)

    def trades(self, caller: Caller, asset: str, token_id: int, offset: int, limit: int) -> tuple[list[Trade], int]:
        """Fills of a token, newest first; parties and transaction of those the caller sees a party of."""
        self.views.fresh()
        address = self._asset_address(asset)
        names = self.views.names_parties(caller)
        with self.views.sessions() as session:
            found, total = market.trades(session, address, token_id, offset, limit)
        return [t if names(t.seller, t.buyer) else replace(t, seller=None, buyer=None, tx_hash=None)
                for t in found], total

    def closes(self, asset: str, token_id: int, since: date | None, until: date | None) -> list[Close]:
        """Each UTC day's close from `since` (default: `until`) to `until` (default: the chain's today), at most
        MAX_DAYS days."""
        self.views.fresh()
        address = self._asset_address(asset)
        last = until or datetime.fromtimestamp(market.chain_time(self.chain), UTC).date()
        first = since or last
        if first > last or last - first > timedelta(days=MAX_DAYS - 1):
            raise Refusal(422, "InvalidRange", f"from must not be after until, and at most {MAX_DAYS} days",
                          {"from": first.isoformat(), "until": last.isoformat()})
        with self.views.sessions() as session:
            return market.closes(session, address, token_id, first, last)

"""Random sequences of issuance, transfers, retirements, cancellations, surrenders, freezes,
listings, fills, order cancellations and settlement-token mints and burns. Every refusal is
predicted by a model (error name and arguments); after every step the batches it changed and
the token supply are compared with the model, and at the end of every example everything is:

* per batch, issued = held by members + held in escrow + retired + cancelled + surrendered;
* what the market holds of a batch is what its open orders have left;
* batch serial ranges never overlap, and each batch's serials are consumed FIFO without overlap;
* settlement-token supply = minted - burned = the sum of all balances.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, ClassVar

from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from web3.types import TxReceipt

from ledger_core.chain.errors import ContractRevert
from tests.support.credits import CNY, approve_market, fund, issue, now, set_obligation
from tests.support.ledger import Ledger

# Random runs of 15 steps each: a bounded number in the suite; set CARBONLEDGER_PROPERTY_EXAMPLES for a longer hunt.
EXAMPLES = int(os.environ.get("CARBONLEDGER_PROPERTY_EXAMPLES", "12"))

HOLDERS = ("enterprise_a", "enterprise_b", "trader", "trader2")
ENTERPRISES = {"enterprise_a": 11, "enterprise_b": 12}
OWNERS = ("enterprise_a", "enterprise_b", "trader")
PROJECTS = {owner: keccak(text=f"property-project:{owner}") for owner in OWNERS}
REFERENCE = 60 * CNY
BAND = REFERENCE // 10  # ordinary band: 10% of the reference price
YEAR = 2024
OBLIGATION = 20_000  # credit cap: 5% = 1,000 t per enterprise
PERIOD_BASE = 1_700_000_000
STATEMENT = keccak(text="property statement")
REASON = keccak(text="property reason")
GAS_LIMIT = 3_000_000

actors = st.sampled_from(HOLDERS)
small = st.integers(min_value=1, max_value=400)
selector = st.integers(min_value=0, max_value=10_000)
shares = st.integers(min_value=1, max_value=120)
prices = st.integers(min_value=-BAND - 200, max_value=BAND + 200)  # offsets from the reference price
FREEZABLE = ("enterprise_b", "trader2")


@dataclass
class BatchModel:
    batch_id: int
    serial_start: int
    serial_end: int
    retired: int = 0
    cancelled: int = 0
    surrendered: int = 0
    consumed: list[tuple[int, int]] = field(default_factory=list)

    @property
    def amount(self) -> int:
        return self.serial_end - self.serial_start + 1

    @property
    def used(self) -> int:
        return self.retired + self.cancelled + self.surrendered


@dataclass
class OrderModel:
    seller: str
    batch_id: int
    remaining: int
    price: int
    open: bool = True


@dataclass(frozen=True)
class Genesis:
    """What every example starts from: batches already issued (id, serial start, serial end,
    owner), settlement-token balances, the chain's last block and the settlement token's
    Minted and Burned totals of every block up to it."""

    batches: tuple[tuple[int, int, int, str], ...]
    cash: dict[str, int]
    block: int
    minted: int
    burned: int


class CreditMarketMachine(RuleBasedStateMachine):
    ledger: ClassVar[Ledger]
    genesis: ClassVar[Genesis]

    def __init__(self) -> None:
        super().__init__()
        self.snap = self.ledger.snapshot()
        self.registry = self.ledger.contract("CreditRegistry").address
        self.market = self.ledger.contract("CarbonMarket").address
        self.batches: list[BatchModel] = []
        self.balances: dict[tuple[str, int], int] = {}
        self.orders: dict[int, OrderModel] = {}
        self.cash: dict[str, int] = dict.fromkeys((*HOLDERS, "bank"), 0)
        self.minted = 0
        self.burned = 0
        self.last_serial = 0
        self.periods = dict.fromkeys(OWNERS, 0)
        self.frozen: set[str] = set()
        self.credits_surrendered = dict.fromkeys(ENTERPRISES, 0)
        self.touched: set[int] = set()
        for batch_id, serial_start, serial_end, owner in self.genesis.batches:
            self.batches.append(BatchModel(batch_id, serial_start, serial_end))
            self.move(None, owner, batch_id, serial_end - serial_start + 1)
            self.last_serial = max(self.last_serial, serial_end)
        self.cash.update(self.genesis.cash)
        self.minted = sum(self.genesis.cash.values())

    def teardown(self) -> None:
        try:
            for batch in self.batches:
                self.check_batch(batch)
            self.check_settlement_balances()
        finally:
            self.ledger.revert(self.snap)

    # ------------------------------------------------------------------ helpers

    def send(
        self, expected: tuple[Any, ...] | None, actor: str, contract: str, fn: str, *args: Any
    ) -> TxReceipt | None:
        """If `expected` names an error (name, *args), the call must revert with exactly it (checked
        with eth_call: a reverted transaction changes nothing); otherwise send the transaction."""
        if expected is None:
            return self.tx(actor, contract, fn, *args)
        try:
            self.ledger.call(contract, fn, *args, sender=actor)
        except ContractRevert as revert:
            name, *values = expected
            assert revert.error == name, f"expected {expected}, got {revert}"
            assert [_norm(v) for v in revert.values] == [_norm(v) for v in values], f"expected {expected}, got {revert}"
            return None
        raise AssertionError(f"{fn} by {actor} should revert with {expected}")

    def tx(self, actor: str, contract: str, fn: str, *args: Any) -> TxReceipt:
        """Send with a fixed gas limit (gas estimation would dominate the run time); a revert fails the test."""
        call = self.ledger.contract(contract).get_function_by_name(fn)(*args)
        return self.ledger.senders[actor].transact(call, gas=GAS_LIMIT)

    def addr(self, actor: str) -> str:
        return self.ledger.address(actor)

    def held(self, actor: str, batch_id: int) -> int:
        return self.balances.get((actor, batch_id), 0)

    def move(self, src: str | None, dst: str | None, batch_id: int, amount: int) -> None:
        self.touched.add(batch_id)
        if src is not None:
            self.balances[(src, batch_id)] = self.held(src, batch_id) - amount
        if dst is not None:
            self.balances[(dst, batch_id)] = self.held(dst, batch_id) + amount

    def frozen_error(self, *accounts: str) -> tuple[Any, ...] | None:
        for account in accounts:
            if account in self.frozen:
                return ("AccountCannotTransact", self.addr(account))
        return None

    def consume(self, batch: BatchModel, amount: int, first: int, last: int) -> None:
        expected_first = batch.serial_start + batch.used
        assert (first, last) == (expected_first, expected_first + amount - 1)
        batch.consumed.append((first, last))

    # ------------------------------------------------------------------ issuance

    @rule(owner=st.sampled_from(OWNERS), amount=small, gap=st.integers(min_value=0, max_value=3))
    def issue(self, owner: str, amount: int, gap: int) -> None:
        period = self.next_period(owner)
        self.tx("verifier", "CreditRegistry", "submitVerification", PROJECTS[owner], *period, amount, STATEMENT)
        serial_start = self.last_serial + 1 + gap
        expected = self.frozen_error(owner)
        receipt = self.send(expected, "regulator", "CreditRegistry", "issueBatch", PROJECTS[owner], *period, YEAR,
                            amount, serial_start)
        if receipt is None:
            return
        (event,) = self.ledger.events(receipt, "CreditRegistry", "BatchIssued")
        assert (event["serialStart"], event["serialEnd"]) == (serial_start, serial_start + amount - 1)
        batch = BatchModel(event["batchId"], serial_start, serial_start + amount - 1)
        self.batches.append(batch)
        self.last_serial = batch.serial_end
        self.move(None, owner, batch.batch_id, amount)
        self.tx("regulator", "CarbonMarket", "setReferencePrice", self.registry, batch.batch_id, REFERENCE)

    @precondition(lambda self: self.last_serial > 0)
    @rule(owner=st.sampled_from(OWNERS), amount=small, back=st.integers(min_value=0, max_value=10_000))
    def issue_overlapping_serials(self, owner: str, amount: int, back: int) -> None:
        period = self.next_period(owner)
        self.tx("verifier", "CreditRegistry", "submitVerification", PROJECTS[owner], *period, amount, STATEMENT)
        serial_start = max(self.last_serial - back, 0)
        self.send(("SerialRangeOverlap", serial_start, self.last_serial), "regulator", "CreditRegistry",
                  "issueBatch", PROJECTS[owner], *period, YEAR, amount, serial_start)

    def next_period(self, owner: str) -> tuple[int, int]:
        k = self.periods[owner]
        self.periods[owner] = k + 1
        return (PERIOD_BASE + 100 * k, PERIOD_BASE + 100 * k + 99)

    # ------------------------------------------------------------------ credits
    # Amounts are drawn as a share (in percent) of what the account holds; shares above 100
    # ask for more than is held and must be refused.

    def positions(self, among: tuple[str, ...] = HOLDERS) -> list[tuple[str, BatchModel]]:
        return [(a, b) for b in self.batches for a in among if self.held(a, b.batch_id) > 0]

    def position(self, pick: int, among: tuple[str, ...] = HOLDERS) -> tuple[str, BatchModel]:
        found = self.positions(among)
        return found[pick % len(found)]

    @precondition(lambda self: self.positions())
    @rule(pick=selector, dst=actors, share=shares)
    def transfer(self, pick: int, dst: str, share: int) -> None:
        src, batch = self.position(pick)
        amount = _share(self.held(src, batch.batch_id), share)
        expected = self.frozen_error(dst, src) or self.balance_error(src, batch, amount)
        if self.send(expected, src, "CreditRegistry", "safeTransferFrom", self.addr(src), self.addr(dst),
                     batch.batch_id, amount, b"") is not None:
            self.move(src, dst, batch.batch_id, amount)

    @precondition(lambda self: self.positions())
    @rule(pick=selector, share=shares)
    def retire(self, pick: int, share: int) -> None:
        holder, batch = self.position(pick)
        amount = _share(self.held(holder, batch.batch_id), share)
        expected = self.frozen_error(holder) or self.balance_error(holder, batch, amount)
        receipt = self.send(expected, holder, "CreditRegistry", "retire", batch.batch_id, amount, "Beneficiary",
                            "Voluntary offset", "CN", 0, 0)
        if receipt is not None:
            (event,) = self.ledger.events(receipt, "CreditRegistry", "CreditsRetired")
            self.consume(batch, amount, event["serialStart"], event["serialEnd"])
            batch.retired += amount
            self.move(holder, None, batch.batch_id, amount)

    @precondition(lambda self: self.positions())
    @rule(pick=selector, share=shares)
    def cancel_credits(self, pick: int, share: int) -> None:
        holder, batch = self.position(pick)
        amount = _share(self.held(holder, batch.batch_id), share)
        receipt = self.send(self.balance_error(holder, batch, amount), "regulator", "CreditRegistry",
                            "cancelCredits", self.addr(holder), batch.batch_id, amount, REASON)
        if receipt is not None:
            (event,) = self.ledger.events(receipt, "CreditRegistry", "CreditsCancelled")
            self.consume(batch, amount, event["serialStart"], event["serialEnd"])
            batch.cancelled += amount
            self.move(holder, None, batch.batch_id, amount)

    @precondition(lambda self: self.positions(tuple(ENTERPRISES)))
    @rule(pick=selector, share=shares)
    def surrender(self, pick: int, share: int) -> None:
        holder, batch = self.position(pick, tuple(ENTERPRISES))
        amount = _share(self.held(holder, batch.batch_id), share)
        org = ENTERPRISES[holder]
        remaining_cap = OBLIGATION * 500 // 10_000 - self.credits_surrendered[holder]
        expected = self.frozen_error(holder) or self.balance_error(holder, batch, amount)
        if expected is None and amount > remaining_cap:
            expected = ("CreditCapExceeded", org, YEAR, amount, remaining_cap)
        receipt = self.send(expected, holder, "CreditRegistry", "surrender", batch.batch_id, amount, YEAR)
        if receipt is not None:
            (event,) = self.ledger.events(receipt, "CreditRegistry", "CreditsSurrendered")
            self.consume(batch, amount, event["serialStart"], event["serialEnd"])
            batch.surrendered += amount
            self.credits_surrendered[holder] += amount
            self.move(holder, None, batch.batch_id, amount)

    @precondition(lambda self: self.batches)
    @rule(holder=actors, pick=selector)
    def use_credits_not_held(self, holder: str, pick: int) -> None:
        batch = self.batches[pick % len(self.batches)]
        amount = self.held(holder, batch.batch_id) + 1
        expected = self.frozen_error(holder) or self.balance_error(holder, batch, amount)
        self.send(expected, holder, "CreditRegistry", "retire", batch.batch_id, amount, "B", "P", "CN", 0, 0)

    def balance_error(self, holder: str, batch: BatchModel, amount: int) -> tuple[Any, ...] | None:
        held = self.held(holder, batch.batch_id)
        if amount > held:
            return ("ERC1155InsufficientBalance", self.addr(holder), held, amount, batch.batch_id)
        return None

    @rule(actor=st.sampled_from(FREEZABLE))
    def toggle_freeze(self, actor: str) -> None:
        if actor in self.frozen:
            self.tx("regulator", "Membership", "unfreeze", self.addr(actor))
            self.frozen.discard(actor)
        else:
            self.tx("regulator", "Membership", "freeze", self.addr(actor), REASON)
            self.frozen.add(actor)

    # ------------------------------------------------------------------ market

    @precondition(lambda self: self.positions())
    @rule(pick=selector, share=shares, offset=prices, buyer=actors, fill_share=shares)
    def list_then_fill(self, pick: int, share: int, offset: int, buyer: str, fill_share: int) -> None:
        listed = self.place_order(pick, share, offset)
        if listed is not None:
            self.fill_order(buyer, listed, fill_share)

    @precondition(lambda self: self.positions())
    @rule(pick=selector, share=shares, offset=prices)
    def list_order(self, pick: int, share: int, offset: int) -> None:
        self.place_order(pick, share, offset)

    def place_order(self, pick: int, share: int, offset: int) -> int | None:
        seller, batch = self.position(pick)
        amount = _share(self.held(seller, batch.batch_id), share)
        price = REFERENCE + offset
        expected = self.frozen_error(seller)
        if expected is None and abs(offset) > BAND:
            expected = ("PriceOutOfBand", price, REFERENCE - BAND, REFERENCE + BAND)
        if expected is None:
            expected = self.balance_error(seller, batch, amount)
        receipt = self.send(expected, seller, "CarbonMarket", "list", self.registry, batch.batch_id, amount, price,
                            now(self.ledger) + 30 * 86_400)
        if receipt is not None:
            (event,) = self.ledger.events(receipt, "CarbonMarket", "OrderListed")
            self.orders[event["orderId"]] = OrderModel(seller, batch.batch_id, amount, price)
            self.move(seller, None, batch.batch_id, amount)
            return int(event["orderId"])
        return None

    @precondition(lambda self: self.orders)
    @rule(buyer=actors, pick=selector, share=shares)
    def fill(self, buyer: str, pick: int, share: int) -> None:
        open_first = sorted(self.orders, key=lambda i: (not self.orders[i].open, i))
        self.fill_order(buyer, open_first[pick % len(open_first)] if pick % 4 else open_first[0], share)

    def fill_order(self, buyer: str, order_id: int, share: int) -> None:
        order = self.orders[order_id]
        amount = _share(order.remaining, share)
        payment = amount * order.price
        expected: tuple[Any, ...] | None = None
        if not order.open:
            expected = ("OrderNotOpen", order_id, self.order_status(order_id))
        elif buyer == order.seller:
            expected = ("SelfFill", order_id)
        else:
            expected = self.frozen_error(buyer, order.seller)
        if expected is None and amount > order.remaining:
            expected = ("FillExceedsRemaining", order_id, amount, order.remaining)
        if expected is None and payment > self.cash[buyer]:
            expected = ("ERC20InsufficientBalance", self.addr(buyer), self.cash[buyer], payment)
        receipt = self.send(expected, buyer, "CarbonMarket", "fill", order_id, amount)
        if receipt is not None:
            (event,) = self.ledger.events(receipt, "CarbonMarket", "OrderFilled")
            assert (event["amount"], event["payment"]) == (amount, payment)
            order.remaining -= amount
            order.open = order.remaining > 0
            self.cash[buyer] -= payment
            self.cash[order.seller] += payment
            self.move(None, buyer, order.batch_id, amount)

    @precondition(lambda self: self.orders)
    @rule(actor=actors, pick=selector, by_seller=st.booleans())
    def cancel_order(self, actor: str, pick: int, by_seller: bool) -> None:
        order_id = sorted(self.orders)[pick % len(self.orders)]
        order = self.orders[order_id]
        caller = order.seller if by_seller else actor
        expected: tuple[Any, ...] | None = None
        if caller != order.seller:
            expected = ("NotOrderSeller", order_id, self.addr(caller))
        elif not order.open:
            expected = ("OrderNotOpen", order_id, self.order_status(order_id))
        else:
            expected = self.frozen_error(order.seller)
        if self.send(expected, caller, "CarbonMarket", "cancel", order_id) is not None:
            self.move(None, order.seller, order.batch_id, order.remaining)
            order.remaining = 0
            order.open = False

    def order_status(self, order_id: int) -> int:
        return int(self.ledger.call("CarbonMarket", "order", order_id)[2])

    # ------------------------------------------------------------------ settlement token

    @rule(to=st.sampled_from((*HOLDERS, "bank")), amount=st.integers(min_value=1, max_value=30_000 * CNY))
    def mint(self, to: str, amount: int) -> None:
        if self.send(self.frozen_error(to), "bank", "SettlementToken", "mint", self.addr(to), amount) is not None:
            self.cash[to] += amount
            self.minted += amount

    @rule(share=shares)
    def bank_burns(self, share: int) -> None:
        amount = _share(self.cash["bank"], share)
        expected = None
        if amount > self.cash["bank"]:
            expected = ("ERC20InsufficientBalance", self.addr("bank"), self.cash["bank"], amount)
        if self.send(expected, "bank", "SettlementToken", "burn", amount) is not None:
            self.cash["bank"] -= amount
            self.burned += amount

    # ------------------------------------------------------------------ invariants
    # Each step re-reads the batches it changed and the token supply; the teardown of every
    # example re-reads every batch and every balance (on-chain calls dominate the run time).

    @invariant()
    def every_changed_batch_is_accounted_for(self) -> None:
        for batch in self.batches:
            if batch.batch_id in self.touched:
                self.check_batch(batch)
        self.touched.clear()

    @invariant()
    def serial_ranges_never_overlap(self) -> None:
        ranges = sorted((b.serial_start, b.serial_end) for b in self.batches)
        assert all(a_end < b_start for (_, a_end), (b_start, _) in pairwise(ranges))
        for batch in self.batches:
            cursor = batch.serial_start
            for first, last in batch.consumed:
                assert first == cursor and first <= last <= batch.serial_end
                cursor = last + 1

    @invariant()
    def settlement_supply_is_minted_less_burned(self) -> None:
        assert self.ledger.call("SettlementToken", "totalSupply") == self.minted - self.burned

    def check_batch(self, batch: BatchModel) -> None:
        """issued = held by members + in escrow + retired + cancelled + surrendered, on chain and in the model."""
        accounts = [self.addr(a) for a in HOLDERS] + [self.market]
        on_chain = self.ledger.call("CreditRegistry", "balanceOfBatch", accounts, [batch.batch_id] * len(accounts))
        members, escrow = on_chain[:-1], on_chain[-1]
        assert list(members) == [self.held(a, batch.batch_id) for a in HOLDERS]
        in_orders = sum(o.remaining for o in self.orders.values() if o.open and o.batch_id == batch.batch_id)
        # The market keeps no escrow counter: its balance is the escrow, and equals the open orders.
        assert escrow == in_orders
        b = self.ledger.call("CreditRegistry", "batch", batch.batch_id)
        # Batch: projectId, vintage, periodStart, periodEnd, verifier, statementHash, amount,
        # serialStart, serialEnd, nextSerial, retired, cancelled, surrendered
        amount, serial_start, serial_end, next_serial, retired, cancelled, surrendered = b[6:]
        assert (serial_start, serial_end) == (batch.serial_start, batch.serial_end)
        assert (retired, cancelled, surrendered) == (batch.retired, batch.cancelled, batch.surrendered)
        assert amount == batch.amount == sum(members) + escrow + retired + cancelled + surrendered
        assert next_serial == batch.serial_start + batch.used

    def check_settlement_balances(self) -> None:
        """Supply = minted - burned (the Minted and Burned events, and the model) = the sum of all balances."""
        supply = self.ledger.call("SettlementToken", "totalSupply")
        # The events from block 0 are the genesis' totals (read once) plus the example's own blocks:
        # the embedded chain reads every block of a range, so a scan from 0 per example dominated the run.
        minted, burned = _minted_and_burned(self.ledger, self.genesis.block + 1)
        minted += self.genesis.minted
        burned += self.genesis.burned
        assert (minted, burned) == (self.minted, self.burned)
        assert supply == minted - burned
        balances = {a: self.ledger.call("SettlementToken", "balanceOf", self.addr(a)) for a in self.cash}
        assert balances == self.cash
        assert sum(balances.values()) == supply
        if self.batches:
            last = max(b.serial_end for b in self.batches)
            assert self.ledger.call("CreditRegistry", "lastSerialEnd") == last


def _minted_and_burned(ledger: Ledger, from_block: int) -> tuple[int, int]:
    """The settlement token's Minted and Burned totals of the blocks from `from_block` to the head."""
    token = ledger.contract("SettlementToken").events
    minted = sum(int(e["args"]["amount"]) for e in token.Minted().get_logs(from_block=from_block))
    burned = sum(int(e["args"]["amount"]) for e in token.Burned().get_logs(from_block=from_block))
    return minted, burned


def _share(held: int, percent: int) -> int:
    """`percent` of `held`, at least 1; above 100 percent it is always more than `held`."""
    return max(1, held * percent // 100) if percent <= 100 else held + 1 + held * (percent - 100) // 100


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def test_credits_and_money_are_conserved_under_random_operations(ledger: Ledger) -> None:
    for owner in OWNERS:
        ledger.tx("regulator", "CreditRegistry", "registerProject", PROJECTS[owner], ledger.address(owner),
                  "CCER-14-001-V01", STATEMENT, "CN-GS")
    for holder in HOLDERS:
        approve_market(ledger, holder)
    ledger.tx("regulator", "ComplianceLedger", "setObligationSource", ledger.address("regulator"), True)
    set_obligation(ledger, ENTERPRISES["enterprise_a"], YEAR, OBLIGATION)
    ledger.tx("regulator", "ComplianceLedger", "setObligation", ENTERPRISES["enterprise_b"], YEAR, OBLIGATION)

    batches = []
    for n, (owner, amount) in enumerate((("enterprise_a", 1_000), ("enterprise_b", 600), ("trader", 800))):
        period = (PERIOD_BASE - 1_000 + 100 * n, PERIOD_BASE - 1_000 + 100 * n + 99)
        ledger.tx("verifier", "CreditRegistry", "submitVerification", PROJECTS[owner], *period, amount, STATEMENT)
        batch = issue(ledger, amount, 1 + 1_000 * n, period, project_id=PROJECTS[owner])
        ledger.tx("regulator", "CarbonMarket", "setReferencePrice", ledger.contract("CreditRegistry").address,
                  batch.batch_id, REFERENCE)
        batches.append((batch.batch_id, batch.serial_start, batch.serial_end, owner))
    cash = {actor: 20_000 * CNY for actor in (*HOLDERS, "bank")}
    for actor, amount in cash.items():
        fund(ledger, actor, amount)

    CreditMarketMachine.ledger = ledger
    block = ledger.w3.eth.block_number
    minted, burned = _minted_and_burned(ledger, 0)
    CreditMarketMachine.genesis = Genesis(tuple(batches), cash, block, minted, burned)
    run_state_machine_as_test(
        CreditMarketMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

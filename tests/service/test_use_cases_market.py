"""Market use cases called directly: listing with the approval it needs, who is named, and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ledger_service import market
from ledger_service.runtime import Runtime
from tests.service.acting import acting, refused, services
from tests.service.cast import YEAR, Cast
from tests.service.credit_steps import chain_now

DAY = 86_400


def test_a_listing_sends_the_approval_first_and_names_the_seller_to_its_organisation(runtime: Runtime, cast: Cast):
    use = services(runtime)
    seller = cast.addresses["enterprise_a"]
    use.allowances.allocate(acting(runtime, cast, "regulator"), YEAR, [(seller, 100)])
    use.market.set_reference_price(acting(runtime, cast, "regulator"), "allowance", YEAR, 5_000)
    expiry = datetime.fromtimestamp(chain_now(runtime) + DAY, UTC)
    sent = use.market.list_order(acting(runtime, cast, "enterprise_a"), "allowance", YEAR, 40, 5_000, expiry)
    assert [(r.function, r.status) for r in sent.records] == [("setApprovalForAll", "mined"), ("list", "mined")]
    order = sent.value
    assert order is not None
    assert (order.seller, order.asset, order.price, order.remaining, order.status) == (
        seller, "allowance", "50.00", 40, "open")
    assert use.market.order(acting(runtime, cast, "enterprise_a2"), order.order_id).seller == seller
    assert use.market.order(acting(runtime, cast, "trader"), order.order_id).seller is None
    book = use.market.book(acting(runtime, cast, "trader"), "allowance", YEAR, 0, 10)
    assert [(o.order_id, o.seller) for o in book.orders] == [(order.order_id, None)]


def test_refusals_before_anything_is_sent(runtime: Runtime, cast: Cast):
    market = services(runtime).market
    expiry = datetime.fromtimestamp(chain_now(runtime) + DAY, UTC)
    refused(409, "NonCustodialMember", market.list_order, acting(runtime, cast, "self_signer"), "allowance", YEAR,
            1, 5_000, expiry)
    refused(422, "InvalidRange", market.closes, "allowance", YEAR, date(2025, 3, 2), date(2025, 3, 1))
    refused(422, "InvalidRange", market.closes, "allowance", YEAR, date(2024, 1, 1), date(2025, 1, 1))


def test_listings_mined_in_one_block_are_each_answered_with_the_order_they_listed(runtime: Runtime, cast: Cast):
    """A network that mines blocks at an interval (Besu QBFT) puts a group's listings in one block: each
    listing's order is the one its own transaction's log names."""
    use = services(runtime)
    sellers = ["enterprise_a", "enterprise_b", "enterprise_c"]
    use.allowances.allocate(acting(runtime, cast, "regulator"), YEAR, [(cast.addresses[s], 100) for s in sellers])
    use.market.set_reference_price(acting(runtime, cast, "regulator"), "allowance", YEAR, 5_000)
    expiry = int(chain_now(runtime) + DAY)
    for seller in sellers:  # each seller's first listing sends its approval of the market
        use.market.list_order(acting(runtime, cast, seller), "allowance", YEAR, 1, 5_000,
                              datetime.fromtimestamp(expiry, UTC))
    registry = runtime.suite.deployment.addresses["AllowanceRegistry"]
    listings = [market.call(cast.addresses[seller], "list", registry, YEAR, amount, 5_000, expiry)
                for seller, amount in zip(sellers, (11, 12, 13), strict=True)]
    assert runtime.chain.embedded is not None
    tester = runtime.chain.embedded.tester
    tester.disable_auto_mine_transactions()
    try:
        records = runtime.outbox.submit(listings, wait=False)
        tester.mine_blocks(1)
    finally:
        tester.enable_auto_mine_transactions()
    receipts = runtime.chain.receipts([str(r.tx_hash) for r in records])
    assert None not in receipts and len({r["blockNumber"] for r in receipts if r is not None}) == 1

    listed = [market.listed_ids(runtime.chain, runtime.suite, str(r.tx_hash)) for r in records]

    assert sorted(ids[0] for ids in listed) == [4, 5, 6] and all(len(ids) == 1 for ids in listed)
    assert [market.order(runtime.chain, runtime.suite, ids[0]).amount for ids in listed] == [11, 12, 13]
    assert market.listed_ids(runtime.chain, runtime.suite, "0x" + "ab" * 32) == []  # not a mined transaction

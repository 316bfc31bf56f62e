"""Market use cases called directly: listing with the approval it needs, who is named, and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime

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

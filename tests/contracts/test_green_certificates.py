"""GreenCertificates: certificates issued from a generator's anchored production (capped, each anchor once, unique
serials), moved and traded like credits, consumed by an enterprise for its own organisation and a period, and the
regulator's market-based Scope 2 rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger_core.chain.deploy import bind
from ledger_core.chain.upgrade import known_accounts
from tests.contracts.helpers import freeze
from tests.contracts.structs import view
from tests.support.cast import ROLES
from tests.support.credits import CNY, MAX_UINT, fund, now
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

GEC = "GreenCertificates"
MOCK = "ProductionAnchorsMock"
GENERATOR_ORG, CONSUMER_ORG = 11, 12
WH = 1_000_000  # per certificate
# Production period: January 2025 [start, end), weekly anchor windows inside it.
JAN = (1_735_689_600, 1_738_368_000)
WEEK = 7 * 86_400
FEB = (1_738_368_000, 1_740_787_200)


@pytest.fixture
def gec(ledger: Ledger) -> Iterator[Ledger]:
    """A GreenCertificates contract reading a mock of MeterAnchor's production anchors, enabled on the market
    (replacing the suite's instance for the test)."""
    deployed = {}
    for name, args in ((MOCK, ()), (GEC, (ledger.contract("Membership").address,))):
        art = ledger.artifacts[name]
        factory = ledger.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = ledger.senders["regulator"].deploy(factory, *args, *((deployed[MOCK],) if name == GEC else ()))
        deployed[name] = str(receipt["contractAddress"])
    suite_gec = ledger.contracts[GEC]
    ledger.contracts.update(bind(ledger.w3, ledger.artifacts, deployed))
    ledger.tx("regulator", "Membership", "addMirror", deployed[GEC])
    ledger.tx("regulator", GEC, "refreshPermissions", known_accounts(ledger))
    ledger.tx("regulator", "CarbonMarket", "setAssetEnabled", deployed[GEC], True)
    yield ledger
    ledger.contracts[GEC] = suite_gec
    del ledger.contracts[MOCK]


def produce(ledger: Ledger, anchor_id: int, wh: int, org: int = GENERATOR_ORG, week: int = 0,
            period: tuple[int, int] = JAN) -> int:
    """Record a production anchor of `org` for week `week` of `period`; returns its id."""
    start = period[0] + week * WEEK
    ledger.tx("regulator", MOCK, "setProduction", anchor_id, org, start, start + WEEK, wh)
    return anchor_id


def issue(ledger: Ledger, anchors: list[int], amount: int, serial_start: int = 1, generator: str = "enterprise_a",
          period: tuple[int, int] = JAN, sender: str = "regulator") -> dict[str, Any]:
    receipt = ledger.tx(sender, GEC, "issue", ledger.address(generator), *period, anchors, amount, serial_start)
    (event,) = ledger.events(receipt, GEC, "CertificatesIssued")
    return event


def consume(ledger: Ledger, holder: str, batch_id: int, amount: int,
            period: tuple[int, int] = FEB) -> dict[str, Any]:
    receipt = ledger.tx(holder, GEC, "consume", batch_id, amount, *period)
    (event,) = ledger.events(receipt, GEC, "CertificatesConsumed")
    return event


def held(ledger: Ledger, actor: str, batch_id: int) -> int:
    return int(ledger.call(GEC, "balanceOf", ledger.address(actor), batch_id))


def transfer(ledger: Ledger, sender: str, to: str, batch_id: int, amount: int) -> None:
    ledger.tx(sender, GEC, "safeTransferFrom", ledger.address(sender), ledger.address(to), batch_id, amount, b"")


def a_batch(ledger: Ledger, mwh: int = 100) -> dict[str, Any]:
    """enterprise_a's batch 1 of `mwh` certificates, serials 1..mwh, from two weekly anchors."""
    produce(ledger, 1, mwh * WH // 2)
    produce(ledger, 2, mwh * WH - mwh * WH // 2, week=1)
    return issue(ledger, [1, 2], mwh)


# ---------------------------------------------------------------------- deployment


def test_the_suite_reads_production_from_the_meter_anchor(ledger: Ledger) -> None:
    assert ledger.call(GEC, "productionAnchors") == ledger.contract("MeterAnchor").address
    assert ledger.call("CarbonMarket", "assetEnabled", ledger.contract(GEC).address) is True
    assert ledger.call(GEC, "WH_PER_CERTIFICATE") == WH


# ---------------------------------------------------------------------- issuance


def test_a_regulator_issues_a_batch_to_the_generator_from_its_anchored_production(gec: Ledger) -> None:
    produce(gec, 7, 60 * WH + 400_000)
    produce(gec, 9, 40 * WH + 700_000, week=1)

    event = issue(gec, [7, 9], 101, serial_start=1_000)

    assert event == {"batchId": 1, "generator": gec.address("enterprise_a"), "generatorOrgId": GENERATOR_ORG,
                     "periodStart": JAN[0], "periodEnd": JAN[1], "amount": 101, "serialStart": 1_000,
                     "serialEnd": 1_100, "anchoredWh": 101_100_000, "anchorIds": [7, 9]}
    assert held(gec, "enterprise_a", 1) == 101
    assert view(gec, GEC, "batch", 1) == {"generatorOrgId": GENERATOR_ORG, "serialStart": 1_000, "serialEnd": 1_100,
                                          "nextSerial": 1_000}
    assert gec.call(GEC, "totalSupply", 1) == 101
    assert [gec.call(GEC, "anchorCertified", a) for a in (7, 8, 9)] == [True, False, True]
    assert (gec.call(GEC, "batchCount"), gec.call(GEC, "lastSerialEnd")) == (1, 1_100)


def test_only_a_regulator_issues(gec: Ledger) -> None:
    produce(gec, 1, 10 * WH)
    for outsider in ("enterprise_a", "verifier", "stranger"):
        with reverts("MissingRole", gec.address(outsider), ROLES["REGULATOR"]):
            issue(gec, [1], 10, sender=outsider)


def test_issuance_is_capped_by_the_anchored_megawatt_hours(gec: Ledger) -> None:
    produce(gec, 1, 10 * WH - 1)
    with reverts("ExceedsAnchoredProduction", 10, 10 * WH - 1):
        issue(gec, [1], 10)
    assert issue(gec, [1], 9)["amount"] == 9


def test_an_anchor_backs_one_batch_only(gec: Ledger) -> None:
    produce(gec, 1, 10 * WH)
    produce(gec, 2, 10 * WH, week=1)
    issue(gec, [1], 5)  # used whole: the other 5 MWh of anchor 1 are not certified later
    with reverts("AnchorAlreadyCertified", 1):
        issue(gec, [2, 1], 15, serial_start=100)
    with reverts("AnchorAlreadyCertified", 2):
        issue(gec, [2, 2], 15, serial_start=100)  # cited twice in one issuance


def test_the_anchors_must_be_the_generators_and_inside_the_production_period(gec: Ledger) -> None:
    produce(gec, 1, 10 * WH, org=CONSUMER_ORG)
    with reverts("AnchorOfAnotherEnterprise", 1, CONSUMER_ORG, GENERATOR_ORG):
        issue(gec, [1], 10)
    start = FEB[0]
    produce(gec, 2, 10 * WH, period=FEB)
    with reverts("AnchorOutsidePeriod", 2, start, start + WEEK):
        issue(gec, [2], 10)


def test_an_unknown_or_emissions_anchor_is_refused_by_the_anchor_registry(gec: Ledger) -> None:
    with reverts("NotProductionAnchor", 404):
        issue(gec, [404], 1)


def test_issuance_needs_an_enterprise_generator_a_period_anchors_an_amount_and_fresh_serials(gec: Ledger) -> None:
    produce(gec, 1, 10 * WH)
    produce(gec, 2, 10 * WH, week=1)
    with reverts("MissingRole", gec.address("trader"), ROLES["ENTERPRISE"]):
        issue(gec, [1], 10, generator="trader")
    with reverts("InvalidPeriod", JAN[1], JAN[0]):
        issue(gec, [1], 10, period=(JAN[1], JAN[0]))
    with reverts("EmptyBatch"):
        issue(gec, [], 10)
    with reverts("ZeroAmount", gec.address("enterprise_a"), 0):
        issue(gec, [1], 0)
    issue(gec, [1], 10, serial_start=50)
    with reverts("SerialRangeOverlap", 59, 59):
        issue(gec, [2], 10, serial_start=59)
    assert issue(gec, [2], 10, serial_start=60)["batchId"] == 2


def test_a_frozen_generator_receives_no_certificates(gec: Ledger) -> None:
    produce(gec, 1, 10 * WH)
    freeze(gec, "enterprise_a")
    with reverts("AccountCannotTransact", gec.address("enterprise_a")):
        issue(gec, [1], 10)


# ---------------------------------------------------------------------- transfer and trade


def test_certificates_move_between_members_but_not_to_strangers_or_frozen_accounts(gec: Ledger) -> None:
    a_batch(gec)
    transfer(gec, "enterprise_a", "trader", 1, 30)
    assert (held(gec, "enterprise_a", 1), held(gec, "trader", 1)) == (70, 30)
    with reverts("AccountCannotTransact", gec.address("stranger")):
        transfer(gec, "enterprise_a", "stranger", 1, 1)
    freeze(gec, "enterprise_b")
    with reverts("AccountCannotTransact", gec.address("enterprise_b")):
        transfer(gec, "trader", "enterprise_b", 1, 1)


def test_certificates_trade_on_the_market_delivery_versus_payment(gec: Ledger) -> None:
    a_batch(gec)
    market = gec.contract("CarbonMarket").address
    token = gec.contract(GEC).address
    gec.tx("regulator", "CarbonMarket", "setReferencePrice", token, 1, 50 * CNY)
    gec.tx("enterprise_a", GEC, "setApprovalForAll", market, True)
    receipt = gec.tx("enterprise_a", "CarbonMarket", "list", token, 1, 40, 50 * CNY, now(gec) + 3_600)
    (listed,) = gec.events(receipt, "CarbonMarket", "OrderListed")
    fund(gec, "enterprise_b", 10_000 * CNY)
    gec.tx("enterprise_b", "SettlementToken", "approve", market, MAX_UINT)

    gec.tx("enterprise_b", "CarbonMarket", "fill", listed["orderId"], 25)

    escrowed = gec.call(GEC, "balanceOf", market, 1)
    assert (held(gec, "enterprise_a", 1), held(gec, "enterprise_b", 1), escrowed) == (60, 25, 15)
    assert gec.call("SettlementToken", "balanceOf", gec.address("enterprise_a")) == 25 * 50 * CNY


# ---------------------------------------------------------------------- consumption


def test_an_enterprise_consumes_certificates_for_its_organisation_and_a_period(gec: Ledger) -> None:
    a_batch(gec)
    transfer(gec, "enterprise_a", "enterprise_b", 1, 40)

    first = consume(gec, "enterprise_b", 1, 15)
    second = consume(gec, "enterprise_b", 1, 5, period=(FEB[0], FEB[0] + WEEK))

    assert first == {"batchId": 1, "holder": gec.address("enterprise_b"), "beneficiaryOrgId": CONSUMER_ORG,
                     "amount": 15, "serialStart": 1, "serialEnd": 15, "consumptionStart": FEB[0],
                     "consumptionEnd": FEB[1]}
    assert (second["serialStart"], second["serialEnd"], second["consumptionEnd"]) == (16, 20, FEB[0] + WEEK)
    assert held(gec, "enterprise_b", 1) == 20
    assert gec.call(GEC, "totalSupply", 1) == 80
    assert view(gec, GEC, "batch", 1)["nextSerial"] == 21


def test_the_generator_may_consume_its_own_certificates(gec: Ledger) -> None:
    a_batch(gec)
    assert consume(gec, "enterprise_a", 1, 100)["beneficiaryOrgId"] == GENERATOR_ORG
    assert gec.call(GEC, "totalSupply", 1) == 0


def test_nobody_consumes_certificates_it_does_not_hold(gec: Ledger) -> None:
    a_batch(gec)
    with reverts("ERC1155InsufficientBalance", gec.address("enterprise_b"), 0, 1, 1):
        consume(gec, "enterprise_b", 1, 1)
    transfer(gec, "enterprise_a", "enterprise_a2", 1, 10)
    with reverts("ERC1155InsufficientBalance", gec.address("enterprise_a2"), 10, 11, 1):
        consume(gec, "enterprise_a2", 1, 11)


def test_only_an_active_unfrozen_enterprise_consumes(gec: Ledger) -> None:
    a_batch(gec)
    transfer(gec, "enterprise_a", "trader", 1, 10)
    with reverts("MissingRole", gec.address("trader"), ROLES["ENTERPRISE"]):
        consume(gec, "trader", 1, 1)
    freeze(gec, "enterprise_a")
    with reverts("AccountCannotTransact", gec.address("enterprise_a")):
        consume(gec, "enterprise_a", 1, 1)


def test_a_consumption_needs_a_period_an_amount_and_a_batch(gec: Ledger) -> None:
    a_batch(gec)
    with reverts("InvalidPeriod", FEB[1], FEB[1]):
        consume(gec, "enterprise_a", 1, 1, period=(FEB[1], FEB[1]))
    with reverts("ZeroAmount", gec.address("enterprise_a"), 1):
        consume(gec, "enterprise_a", 1, 0)
    with reverts("UnknownBatch", 2):
        consume(gec, "enterprise_a", 2, 1)
    with reverts("UnknownBatch", 2):
        gec.call(GEC, "batch", 2)
    assert gec.call(GEC, "totalSupply", 2) == 0


# ---------------------------------------------------------------------- the Scope 2 rule


def test_market_based_scope_2_counts_for_compliance_only_when_the_regulator_says_so(gec: Ledger) -> None:
    assert gec.call(GEC, "marketBasedScope2Counts") is False
    with reverts("MissingRole", gec.address("enterprise_a"), ROLES["REGULATOR"]):
        gec.tx("enterprise_a", GEC, "setMarketBasedScope2Counts", True)

    receipt = gec.tx("regulator2", GEC, "setMarketBasedScope2Counts", True)

    assert gec.events(receipt, GEC, "MarketBasedScope2Set") == [{"counts": True}]
    assert gec.call(GEC, "marketBasedScope2Counts") is True

"""AllowanceRegistry: allocation, retraction, transfers between members and surrender."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.contracts.helpers import (
    KIND_ALLOWANCE,
    KIND_NONE,
    YEAR,
    ZERO_ADDRESS,
    add_stand_in,
    freeze,
    new_member,
    reason,
    revoke,
    set_obligation,
    suspend,
)
from tests.support.cast import ROLES
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

REGULATOR = ROLES["REGULATOR"]
ENTERPRISE = ROLES["ENTERPRISE"]
PREVIOUS, NEXT = YEAR - 1, YEAR + 1
TEMPLATE = "https://registry.carbonledger.example/allowances/{id}.json"

Sanction = Callable[[Ledger, str], None]
SANCTIONS = pytest.mark.parametrize("sanction", [suspend, freeze, revoke], ids=["suspended", "frozen", "revoked"])


def balance(ledger: Ledger, actor: str, year: int = YEAR) -> int:
    return int(ledger.call("AllowanceRegistry", "balanceOf", ledger.address(actor), year))


def supply(ledger: Ledger, year: int | None = None) -> int:
    """Allowances of a vintage in existence; without a vintage, of the three vintages these tests use (the
    registry keeps supply per vintage only)."""
    registry = ledger.contract("AllowanceRegistry")
    if year is None:
        return sum(supply(ledger, y) for y in (PREVIOUS, YEAR, NEXT))
    return int(registry.get_function_by_signature("totalSupply(uint256)")(year).call())


def allocate(ledger: Ledger, year: int, grants: dict[str, int]) -> Any:
    holders = [ledger.address(actor) for actor in grants]
    return ledger.tx("regulator", "AllowanceRegistry", "allocate", year, holders, list(grants.values()))


def transfer(ledger: Ledger, operator: str, source: str, target: str, amount: int, year: int = YEAR) -> Any:
    return ledger.tx(
        operator,
        "AllowanceRegistry",
        "safeTransferFrom",
        ledger.address(source),
        ledger.address(target),
        year,
        amount,
        b"",
    )


def surrender(ledger: Ledger, actor: str, year: int, vintages: list[int], amounts: list[int]) -> Any:
    return ledger.tx(actor, "AllowanceRegistry", "surrender", year, vintages, amounts)


def status(ledger: Ledger, org_id: int, year: int = YEAR) -> tuple[int, int, int, int, bool]:
    return tuple(ledger.call("ComplianceLedger", "complianceStatus", org_id, year))  # type: ignore[return-value]


@pytest.fixture
def allocated(ledger: Ledger) -> None:
    """Enterprise A holds 300 of the previous vintage, 800 of this year's and 100 of next year's;
    A2 (same organisation) holds 200 and B holds 600 of this year's."""
    allocate(ledger, PREVIOUS, {"enterprise_a": 300})
    allocate(ledger, YEAR, {"enterprise_a": 800, "enterprise_a2": 200, "enterprise_b": 600})
    allocate(ledger, NEXT, {"enterprise_a": 100})


@pytest.fixture
def compliance_open(ledger: Ledger, obligation_source: str, allocated: None) -> None:
    """Org 11 owes 1000 t and org 12 owes 500 t for this year, whose compliance window is open."""
    set_obligation(ledger, 11, YEAR, 1_000)
    set_obligation(ledger, 12, YEAR, 500)
    ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", YEAR)


# ---------------------------------------------------------------------- the collection


def test_the_registry_describes_itself(ledger: Ledger) -> None:
    addresses = ledger.deployment.addresses
    assert ledger.call("AllowanceRegistry", "name") == "CarbonLedger Emission Allowance"
    assert ledger.call("AllowanceRegistry", "symbol") == "CEA"
    assert ledger.call("AllowanceRegistry", "uri", YEAR) == TEMPLATE
    assert ledger.call("AllowanceRegistry", "membership") == addresses["Membership"]
    assert ledger.call("AllowanceRegistry", "compliance") == addresses["ComplianceLedger"]


@pytest.mark.parametrize(("interface", "supported"), [("d9b67a26", True), ("0e89341c", True), ("01ffc9a7", True)])
def test_the_registry_advertises_erc1155_with_metadata(ledger: Ledger, interface: str, supported: bool) -> None:
    assert ledger.call("AllowanceRegistry", "supportsInterface", bytes.fromhex(interface)) is supported
    assert not ledger.call("AllowanceRegistry", "supportsInterface", bytes.fromhex("ffffffff"))


def test_regulator_changes_the_metadata_uri(ledger: Ledger) -> None:
    receipt = ledger.tx("regulator", "AllowanceRegistry", "setURI", "ipfs://allowances/{id}")
    assert ledger.events(receipt, "AllowanceRegistry", "BaseURISet") == [{"newUri": "ipfs://allowances/{id}"}]
    assert ledger.call("AllowanceRegistry", "uri", NEXT) == "ipfs://allowances/{id}"


# ---------------------------------------------------------------------- regulator-only functions

REGULATOR_ONLY: dict[str, Callable[[Ledger], list[Any]]] = {
    "allocate": lambda lg: [YEAR, [lg.address("enterprise_a")], [10]],
    "retract": lambda lg: [lg.address("enterprise_a"), YEAR, 10, reason("surplus")],
    "setURI": lambda lg: ["ipfs://elsewhere/{id}"],
}


@pytest.mark.parametrize("function", REGULATOR_ONLY)
@pytest.mark.parametrize("caller", ["stranger", "enterprise_a", "verifier", "trader"])
def test_only_regulators_allocate_retract_and_describe(ledger: Ledger, function: str, caller: str) -> None:
    with reverts("MissingRole", ledger.address(caller), REGULATOR):
        ledger.tx(caller, "AllowanceRegistry", function, *REGULATOR_ONLY[function](ledger))


@pytest.mark.parametrize("function", REGULATOR_ONLY)
@pytest.mark.parametrize("sanction", [suspend, revoke], ids=["suspended", "revoked"])
def test_suspended_or_revoked_regulators_are_refused(ledger: Ledger, function: str, sanction: Sanction) -> None:
    sanction(ledger, "regulator2")
    with reverts("MissingRole", ledger.address("regulator2"), REGULATOR):
        ledger.tx("regulator2", "AllowanceRegistry", function, *REGULATOR_ONLY[function](ledger))


# ---------------------------------------------------------------------- allocation


def test_regulator_allocates_to_several_enterprises_at_once(ledger: Ledger) -> None:
    grants = {"enterprise_a": 800, "enterprise_a2": 200, "enterprise_b": 600}
    receipt = allocate(ledger, YEAR, grants)
    # One `Allocated` for the batch; each holder's allocation is its mint.
    assert ledger.events(receipt, "AllowanceRegistry", "Allocated") == [{"year": YEAR, "holders": 3, "total": 1_600}]
    assert ledger.events(receipt, "AllowanceRegistry", "TransferSingle") == [
        {
            "operator": ledger.address("regulator"),
            "from": ZERO_ADDRESS,
            "to": ledger.address(actor),
            "id": YEAR,
            "value": amount,
        }
        for actor, amount in grants.items()
    ]
    for actor, amount in grants.items():
        assert balance(ledger, actor) == amount
    assert ledger.call("AllowanceRegistry", "allocatedTotal", YEAR) == 1_600
    assert supply(ledger, YEAR) == 1_600
    assert supply(ledger) == 1_600
    assert ledger.call("AllowanceRegistry", "exists", YEAR)
    assert not ledger.call("AllowanceRegistry", "exists", NEXT)


def test_each_vintage_is_its_own_token(ledger: Ledger, allocated: None) -> None:
    holder = ledger.address("enterprise_a")
    balances = ledger.call("AllowanceRegistry", "balanceOfBatch", [holder] * 3, [PREVIOUS, YEAR, NEXT])
    assert balances == [300, 800, 100]
    assert [supply(ledger, y) for y in (PREVIOUS, YEAR, NEXT)] == [300, 1_600, 100]
    assert supply(ledger) == 2_000


def test_allocations_accumulate(ledger: Ledger) -> None:
    allocate(ledger, YEAR, {"enterprise_a": 500})
    allocate(ledger, YEAR, {"enterprise_a": 250})
    assert balance(ledger, "enterprise_a") == 750
    assert ledger.call("AllowanceRegistry", "allocatedTotal", YEAR) == 750


def test_one_transaction_allocates_to_many_enterprises(ledger: Ledger) -> None:
    names = [f"plant_{n:02d}" for n in range(30)]
    holders = [new_member(ledger, name, 12, "ENTERPRISE") for name in names]
    amounts = [1_000 + n for n in range(30)]
    receipt = ledger.tx("regulator", "AllowanceRegistry", "allocate", YEAR, holders, amounts)
    mints = ledger.events(receipt, "AllowanceRegistry", "TransferSingle")
    expected = [(ZERO_ADDRESS, holder, amount) for holder, amount in zip(holders, amounts, strict=True)]
    assert [(e["from"], e["to"], e["value"]) for e in mints] == expected
    assert ledger.events(receipt, "AllowanceRegistry", "Allocated") == [
        {"year": YEAR, "holders": 30, "total": sum(amounts)}
    ]
    assert [balance(ledger, name) for name in names] == amounts
    assert supply(ledger, YEAR) == sum(amounts)


@pytest.mark.parametrize("holder", ["stranger", "trader", "verifier", "regulator"])
def test_only_enterprises_receive_allocations(ledger: Ledger, holder: str) -> None:
    with reverts("MissingRole", ledger.address(holder), ENTERPRISE):
        allocate(ledger, YEAR, {"enterprise_a": 100, holder: 100})
    assert balance(ledger, "enterprise_a") == 0


@pytest.mark.parametrize("sanction", [suspend, revoke], ids=["suspended", "revoked"])
def test_suspended_or_revoked_enterprises_receive_no_allocation(ledger: Ledger, sanction: Sanction) -> None:
    sanction(ledger, "enterprise_b")
    with reverts("MissingRole", ledger.address("enterprise_b"), ENTERPRISE):
        allocate(ledger, YEAR, {"enterprise_a": 100, "enterprise_b": 100})
    assert supply(ledger, YEAR) == 0


def test_a_frozen_enterprise_receives_no_allocation(ledger: Ledger) -> None:
    freeze(ledger, "enterprise_b")
    with reverts("AccountCannotTransact", ledger.address("enterprise_b")):
        allocate(ledger, YEAR, {"enterprise_a": 100, "enterprise_b": 100})
    assert supply(ledger, YEAR) == 0


def test_holders_and_amounts_must_pair_up(ledger: Ledger) -> None:
    holders = [ledger.address("enterprise_a"), ledger.address("enterprise_b")]
    with reverts("LengthMismatch", 2, 1):
        ledger.tx("regulator", "AllowanceRegistry", "allocate", YEAR, holders, [100])


def test_an_empty_allocation_is_refused(ledger: Ledger) -> None:
    with reverts("EmptyBatch"):
        ledger.tx("regulator", "AllowanceRegistry", "allocate", YEAR, [], [])


def test_a_zero_allocation_is_refused(ledger: Ledger) -> None:
    with reverts("ZeroAmount", ledger.address("enterprise_b"), YEAR):
        allocate(ledger, YEAR, {"enterprise_a": 100, "enterprise_b": 0})


def test_year_zero_is_not_a_vintage(ledger: Ledger) -> None:
    with reverts("InvalidYear", 0):
        allocate(ledger, 0, {"enterprise_a": 100})


# ---------------------------------------------------------------------- retraction


def test_regulator_retracts_surplus_of_a_pre_allocation(ledger: Ledger, allocated: None) -> None:
    holder = ledger.address("enterprise_a")
    receipt = ledger.tx("regulator", "AllowanceRegistry", "retract", holder, YEAR, 300, reason("true-up 2025"))
    assert ledger.events(receipt, "AllowanceRegistry", "Retracted") == [
        {"year": YEAR, "holder": holder, "orgId": 11, "amount": 300, "reasonHash": reason("true-up 2025")}
    ]
    assert ledger.events(receipt, "AllowanceRegistry", "TransferSingle") == [
        {"operator": ledger.address("regulator"), "from": holder, "to": ZERO_ADDRESS, "id": YEAR, "value": 300}
    ]
    assert balance(ledger, "enterprise_a") == 500
    assert ledger.call("AllowanceRegistry", "allocatedTotal", YEAR) == 1_300
    assert supply(ledger, YEAR) == 1_300


def test_retraction_reaches_frozen_and_suspended_holders(ledger: Ledger, allocated: None) -> None:
    freeze(ledger, "enterprise_a")
    suspend(ledger, "enterprise_b")
    ledger.tx("regulator", "AllowanceRegistry", "retract", ledger.address("enterprise_a"), YEAR, 100, reason("a"))
    ledger.tx("regulator", "AllowanceRegistry", "retract", ledger.address("enterprise_b"), YEAR, 100, reason("b"))
    assert (balance(ledger, "enterprise_a"), balance(ledger, "enterprise_b")) == (700, 500)


def test_retraction_is_limited_to_what_was_allocated_in_the_vintage(ledger: Ledger, allocated: None) -> None:
    # The chain keeps one allocated total per vintage; each holder's share is in the events.
    ledger.tx("regulator", "AllowanceRegistry", "retract", ledger.address("enterprise_b"), YEAR, 600, reason("b"))
    transfer(ledger, "enterprise_a2", "enterprise_a2", "enterprise_a", 200)
    holder = ledger.address("enterprise_a")
    with reverts("RetractExceedsAllocation", holder, YEAR, 1_001, 1_000):
        ledger.tx("regulator", "AllowanceRegistry", "retract", holder, YEAR, 1_001, reason("too much"))
    with reverts("RetractExceedsAllocation", ledger.address("trader"), YEAR + 5, 1, 0):
        ledger.tx("regulator", "AllowanceRegistry", "retract", ledger.address("trader"), YEAR + 5, 1, reason("x"))


def test_retraction_is_limited_to_the_holders_balance(ledger: Ledger, allocated: None) -> None:
    transfer(ledger, "enterprise_a", "enterprise_a", "trader", 700)
    holder = ledger.address("enterprise_a")
    with reverts("ERC1155InsufficientBalance", holder, 100, 200, YEAR):
        ledger.tx("regulator", "AllowanceRegistry", "retract", holder, YEAR, 200, reason("surplus"))


def test_a_zero_retraction_is_refused(ledger: Ledger, allocated: None) -> None:
    with reverts("ZeroAmount", ledger.address("enterprise_a"), YEAR):
        ledger.tx("regulator", "AllowanceRegistry", "retract", ledger.address("enterprise_a"), YEAR, 0, reason("x"))


# ---------------------------------------------------------------------- transfers


def test_members_transfer_allowances(ledger: Ledger, allocated: None) -> None:
    receipt = transfer(ledger, "enterprise_a", "enterprise_a", "trader", 250)
    assert ledger.events(receipt, "AllowanceRegistry", "TransferSingle") == [
        {
            "operator": ledger.address("enterprise_a"),
            "from": ledger.address("enterprise_a"),
            "to": ledger.address("trader"),
            "id": YEAR,
            "value": 250,
        }
    ]
    assert (balance(ledger, "enterprise_a"), balance(ledger, "trader")) == (550, 250)
    assert supply(ledger, YEAR) == 1_600


def test_members_transfer_several_vintages_at_once(ledger: Ledger, allocated: None) -> None:
    source, target = ledger.address("enterprise_a"), ledger.address("enterprise_b")
    receipt = ledger.tx(
        "enterprise_a", "AllowanceRegistry", "safeBatchTransferFrom", source, target, [PREVIOUS, NEXT], [100, 40], b""
    )
    assert ledger.events(receipt, "AllowanceRegistry", "TransferBatch") == [
        {"operator": source, "from": source, "to": target, "ids": [PREVIOUS, NEXT], "values": [100, 40]}
    ]
    assert balance(ledger, "enterprise_b", PREVIOUS) == 100
    assert balance(ledger, "enterprise_b", NEXT) == 40


def test_an_approved_member_moves_allowances_for_the_holder(ledger: Ledger, allocated: None) -> None:
    receipt = ledger.tx("enterprise_a", "AllowanceRegistry", "setApprovalForAll", ledger.address("trader"), True)
    assert ledger.events(receipt, "AllowanceRegistry", "ApprovalForAll") == [
        {"account": ledger.address("enterprise_a"), "operator": ledger.address("trader"), "approved": True}
    ]
    assert ledger.call(
        "AllowanceRegistry", "isApprovedForAll", ledger.address("enterprise_a"), ledger.address("trader")
    )
    transfer(ledger, "trader", "enterprise_a", "trader2", 100)
    assert (balance(ledger, "enterprise_a"), balance(ledger, "trader2")) == (700, 100)


def test_an_escrow_agent_holds_and_releases_allowances(ledger: Ledger, allocated: None) -> None:
    market = add_stand_in(ledger, "market")
    ledger.tx("regulator", "Membership", "setEscrowAgent", market, True)
    ledger.tx("enterprise_a", "AllowanceRegistry", "setApprovalForAll", market, True)
    transfer(ledger, "market", "enterprise_a", "market", 300)
    assert balance(ledger, "market") == 300
    transfer(ledger, "market", "market", "trader2", 300)
    assert (balance(ledger, "market"), balance(ledger, "trader2"), balance(ledger, "enterprise_a")) == (0, 300, 500)


def test_an_operator_needs_the_holders_approval(ledger: Ledger, allocated: None) -> None:
    with reverts("ERC1155MissingApprovalForAll", ledger.address("trader"), ledger.address("enterprise_a")):
        transfer(ledger, "trader", "enterprise_a", "trader", 100)


def test_allowances_cannot_go_to_a_stranger(ledger: Ledger, allocated: None) -> None:
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        transfer(ledger, "enterprise_a", "enterprise_a", "stranger", 100)
    source, stranger = ledger.address("enterprise_a"), ledger.address("stranger")
    with reverts("AccountCannotTransact", stranger):
        ledger.tx("enterprise_a", "AllowanceRegistry", "safeBatchTransferFrom", source, stranger, [YEAR], [1], b"")
    assert balance(ledger, "stranger") == 0


def test_allowances_cannot_be_sent_to_nobody(ledger: Ledger, allocated: None) -> None:
    with reverts("ERC1155InvalidReceiver", ZERO_ADDRESS):
        ledger.tx(
            "enterprise_a",
            "AllowanceRegistry",
            "safeTransferFrom",
            ledger.address("enterprise_a"),
            ZERO_ADDRESS,
            YEAR,
            1,
            b"",
        )


@SANCTIONS
def test_a_sanctioned_holder_cannot_send(ledger: Ledger, allocated: None, sanction: Sanction) -> None:
    sanction(ledger, "enterprise_a")
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        transfer(ledger, "enterprise_a", "enterprise_a", "trader", 100)
    assert balance(ledger, "enterprise_a") == 800


@SANCTIONS
def test_a_sanctioned_member_cannot_receive(ledger: Ledger, allocated: None, sanction: Sanction) -> None:
    sanction(ledger, "trader")
    with reverts("AccountCannotTransact", ledger.address("trader")):
        transfer(ledger, "enterprise_a", "enterprise_a", "trader", 100)
    assert balance(ledger, "trader") == 0


@SANCTIONS
def test_a_sanctioned_operator_cannot_move_a_holders_allowances(
    ledger: Ledger, allocated: None, sanction: Sanction
) -> None:
    ledger.tx("enterprise_a", "AllowanceRegistry", "setApprovalForAll", ledger.address("trader"), True)
    sanction(ledger, "trader")
    with reverts("AccountCannotTransact", ledger.address("trader")):
        transfer(ledger, "trader", "enterprise_a", "trader2", 100)


def test_a_stranger_cannot_operate_even_when_approved(ledger: Ledger, allocated: None) -> None:
    ledger.tx("enterprise_a", "AllowanceRegistry", "setApprovalForAll", ledger.address("stranger"), True)
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        transfer(ledger, "stranger", "enterprise_a", "trader", 100)


def test_a_dismissed_escrow_agent_can_no_longer_hold(ledger: Ledger, allocated: None) -> None:
    market = add_stand_in(ledger, "market")
    ledger.tx("regulator", "Membership", "setEscrowAgent", market, True)
    ledger.tx("regulator", "Membership", "setEscrowAgent", market, False)
    with reverts("AccountCannotTransact", market):
        transfer(ledger, "enterprise_a", "enterprise_a", "market", 100)


def test_an_unfrozen_holder_may_send_again(ledger: Ledger, allocated: None) -> None:
    freeze(ledger, "enterprise_a")
    ledger.tx("regulator", "Membership", "unfreeze", ledger.address("enterprise_a"))
    transfer(ledger, "enterprise_a", "enterprise_a", "trader", 100)
    assert balance(ledger, "trader") == 100


# ---------------------------------------------------------------------- surrender


def test_an_enterprise_surrenders_allowances_towards_its_obligation(ledger: Ledger, compliance_open: None) -> None:
    holder = ledger.address("enterprise_a")
    receipt = surrender(ledger, "enterprise_a", YEAR, [PREVIOUS, YEAR], [300, 500])
    assert ledger.events(receipt, "AllowanceRegistry", "Surrendered") == [
        {"orgId": 11, "complianceYear": YEAR, "holder": holder, "vintage": PREVIOUS, "amount": 300},
        {"orgId": 11, "complianceYear": YEAR, "holder": holder, "vintage": YEAR, "amount": 500},
    ]
    assert ledger.events(receipt, "AllowanceRegistry", "TransferBatch") == [
        {"operator": holder, "from": holder, "to": ZERO_ADDRESS, "ids": [PREVIOUS, YEAR], "values": [300, 500]}
    ]
    assert ledger.events(receipt, "ComplianceLedger", "SurrenderRecorded") == [
        {
            "orgId": 11,
            "year": YEAR,
            "kind": KIND_ALLOWANCE,
            "registry": ledger.contract("AllowanceRegistry").address,
            "tonnes": 800,
        }
    ]
    assert (balance(ledger, "enterprise_a", PREVIOUS), balance(ledger, "enterprise_a")) == (0, 300)
    assert (supply(ledger, PREVIOUS), supply(ledger, YEAR)) == (0, 1_100)
    assert not ledger.call("AllowanceRegistry", "exists", PREVIOUS)
    assert status(ledger, 11) == (1_000, 800, 0, 200, True)


def test_every_account_of_an_enterprise_surrenders_for_the_same_obligation(
    ledger: Ledger, compliance_open: None
) -> None:
    surrender(ledger, "enterprise_a", YEAR, [YEAR], [800])
    surrender(ledger, "enterprise_a2", YEAR, [YEAR], [200])
    assert status(ledger, 11) == (1_000, 1_000, 0, 0, True)
    assert status(ledger, 12) == (500, 0, 0, 500, True)


def test_earlier_vintages_may_be_banked_into_a_later_year(ledger: Ledger, compliance_open: None) -> None:
    set_obligation(ledger, 11, NEXT, 150)
    ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", NEXT)
    surrender(ledger, "enterprise_a", NEXT, [PREVIOUS, YEAR, NEXT], [20, 30, 100])
    assert status(ledger, 11, NEXT) == (150, 150, 0, 0, True)
    assert [balance(ledger, "enterprise_a", y) for y in (PREVIOUS, YEAR, NEXT)] == [280, 770, 0]


def test_a_later_vintage_cannot_serve_an_earlier_year(ledger: Ledger, compliance_open: None) -> None:
    with reverts("VintageAfterComplianceYear", NEXT, YEAR):
        surrender(ledger, "enterprise_a", YEAR, [YEAR, NEXT], [100, 10])
    assert balance(ledger, "enterprise_a", NEXT) == 100
    assert status(ledger, 11) == (1_000, 0, 0, 1_000, True)


def test_the_same_vintage_may_appear_twice_in_a_surrender(ledger: Ledger, compliance_open: None) -> None:
    receipt = surrender(ledger, "enterprise_b", YEAR, [YEAR, YEAR], [100, 50])
    assert [e["amount"] for e in ledger.events(receipt, "AllowanceRegistry", "Surrendered")] == [100, 50]
    assert balance(ledger, "enterprise_b") == 450
    assert status(ledger, 12) == (500, 150, 0, 350, True)


def test_no_more_than_the_outstanding_obligation_is_surrendered(ledger: Ledger, compliance_open: None) -> None:
    with reverts("SurrenderExceedsObligation", 11, YEAR, 1_001, 1_000):
        surrender(ledger, "enterprise_a", YEAR, [PREVIOUS, YEAR], [300, 701])
    assert (balance(ledger, "enterprise_a", PREVIOUS), balance(ledger, "enterprise_a")) == (300, 800)
    surrender(ledger, "enterprise_a", YEAR, [YEAR], [800])
    with reverts("SurrenderExceedsObligation", 11, YEAR, 201, 200):
        surrender(ledger, "enterprise_a", YEAR, [PREVIOUS], [201])


def test_no_more_than_the_holders_balance_is_surrendered(ledger: Ledger, compliance_open: None) -> None:
    with reverts("ERC1155InsufficientBalance", ledger.address("enterprise_a2"), 200, 201, YEAR):
        surrender(ledger, "enterprise_a2", YEAR, [YEAR], [201])


def test_surrender_needs_an_open_window(ledger: Ledger, compliance_open: None) -> None:
    ledger.tx("regulator", "ComplianceLedger", "closeComplianceWindow", YEAR)
    with reverts("ComplianceWindowNotOpen", YEAR):
        surrender(ledger, "enterprise_a", YEAR, [YEAR], [100])
    assert balance(ledger, "enterprise_a") == 800


def test_surrender_needs_a_finalized_obligation(ledger: Ledger, compliance_open: None) -> None:
    ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", NEXT)
    with reverts("ObligationNotFinalized", 12, NEXT):
        surrender(ledger, "enterprise_b", NEXT, [YEAR], [100])
    assert balance(ledger, "enterprise_b") == 600


def test_surrender_needs_the_registry_to_be_counted_by_the_ledger(ledger: Ledger, compliance_open: None) -> None:
    registry = ledger.contract("AllowanceRegistry").address
    ledger.tx("regulator", "ComplianceLedger", "setAssetRegistry", registry, KIND_NONE)
    with reverts("NotAssetRegistry", registry):
        surrender(ledger, "enterprise_a", YEAR, [YEAR], [100])


@pytest.mark.parametrize("caller", ["stranger", "trader", "verifier", "regulator"])
def test_only_enterprises_surrender(ledger: Ledger, compliance_open: None, caller: str) -> None:
    with reverts("MissingRole", ledger.address(caller), ENTERPRISE):
        surrender(ledger, caller, YEAR, [YEAR], [1])


@pytest.mark.parametrize("sanction", [suspend, revoke], ids=["suspended", "revoked"])
def test_suspended_or_revoked_enterprises_cannot_surrender(
    ledger: Ledger, compliance_open: None, sanction: Sanction
) -> None:
    sanction(ledger, "enterprise_a")
    with reverts("MissingRole", ledger.address("enterprise_a"), ENTERPRISE):
        surrender(ledger, "enterprise_a", YEAR, [YEAR], [100])


def test_a_frozen_enterprise_cannot_surrender(ledger: Ledger, compliance_open: None) -> None:
    freeze(ledger, "enterprise_a")
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        surrender(ledger, "enterprise_a", YEAR, [YEAR], [100])


def test_vintages_and_amounts_must_pair_up(ledger: Ledger, compliance_open: None) -> None:
    with reverts("LengthMismatch", 2, 1):
        surrender(ledger, "enterprise_a", YEAR, [PREVIOUS, YEAR], [100])


def test_an_empty_surrender_is_refused(ledger: Ledger, compliance_open: None) -> None:
    with reverts("EmptyBatch"):
        surrender(ledger, "enterprise_a", YEAR, [], [])


def test_a_zero_surrender_is_refused(ledger: Ledger, compliance_open: None) -> None:
    with reverts("ZeroAmount", ledger.address("enterprise_a"), PREVIOUS):
        surrender(ledger, "enterprise_a", YEAR, [YEAR, PREVIOUS], [100, 0])


def test_membership_checks_a_batch_of_holders_in_one_call(ledger: Ledger) -> None:
    holders = [ledger.address(a) for a in ("enterprise_a", "enterprise_b", "trader", "enterprise_a2")]
    assert ledger.call("Membership", "firstLackingRole", holders[:2], ENTERPRISE) == 0
    assert ledger.call("Membership", "firstLackingRole", holders, ENTERPRISE) == 3
    freeze(ledger, "enterprise_b")
    assert ledger.call("Membership", "firstLackingRole", holders, ENTERPRISE) == 2
    with reverts("AccountCannotTransact", ledger.address("enterprise_b")):
        allocate(ledger, YEAR, {"enterprise_a": 100, "enterprise_b": 100, "trader": 100})

"""ComplianceLedger: obligations, compliance windows, surrenders and the offset-credit cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.contracts.helpers import (
    KIND_ALLOWANCE,
    KIND_CREDIT,
    KIND_NONE,
    YEAR,
    ZERO_ADDRESS,
    add_stand_in,
    freeze,
    revoke,
    set_obligation,
    suspend,
)
from tests.support.cast import ROLES
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

REGULATOR = ROLES["REGULATOR"]
ORG_A = 11
ORG_B = 12


def status(ledger: Ledger, org_id: int, year: int = YEAR) -> tuple[int, int, int, int, bool]:
    """(obligation, allowances surrendered, credits surrendered, shortfall, finalized)."""
    return tuple(ledger.call("ComplianceLedger", "complianceStatus", org_id, year))  # type: ignore[return-value]


def open_window(ledger: Ledger, year: int = YEAR) -> None:
    ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", year)


# ---------------------------------------------------------------------- deployment


def test_the_deployed_suite_is_wired_into_the_ledger(ledger: Ledger) -> None:
    addresses = ledger.deployment.addresses
    assert ledger.call("ComplianceLedger", "membership") == addresses["Membership"]
    assert ledger.call("ComplianceLedger", "obligationSource", addresses["EmissionRegistry"])
    assert ledger.call("ComplianceLedger", "assetRegistryKind", addresses["AllowanceRegistry"]) == KIND_ALLOWANCE
    assert ledger.call("ComplianceLedger", "assetRegistryKind", addresses["CreditRegistry"]) == KIND_CREDIT
    assert ledger.call("ComplianceLedger", "creditCapBps") == 500
    assert ledger.call("ComplianceLedger", "MAX_BPS") == 10_000


def test_an_untouched_account_is_empty_and_not_finalized(ledger: Ledger) -> None:
    assert status(ledger, ORG_A) == (0, 0, 0, 0, False)
    assert not ledger.call("ComplianceLedger", "complianceWindowOpen", YEAR)


# ---------------------------------------------------------------------- regulator-only functions

REGULATOR_ONLY: dict[str, Callable[[Ledger], list[Any]]] = {
    "setObligationSource": lambda lg: [lg.address("oracle"), True],
    "setAssetRegistry": lambda lg: [lg.address("oracle"), KIND_CREDIT],
    "setCreditCapBps": lambda lg: [800],
    "openComplianceWindow": lambda lg: [YEAR],
    "closeComplianceWindow": lambda lg: [YEAR],
}


@pytest.mark.parametrize("function", REGULATOR_ONLY)
@pytest.mark.parametrize("caller", ["stranger", "enterprise_a", "verifier", "oracle"])
def test_only_regulators_configure_the_ledger(ledger: Ledger, function: str, caller: str) -> None:
    with reverts("MissingRole", ledger.address(caller), REGULATOR):
        ledger.tx(caller, "ComplianceLedger", function, *REGULATOR_ONLY[function](ledger))


@pytest.mark.parametrize("function", REGULATOR_ONLY)
@pytest.mark.parametrize("sanction", [suspend, revoke])
def test_suspended_or_revoked_regulators_cannot_configure_the_ledger(
    ledger: Ledger, function: str, sanction: Callable[[Ledger, str], None]
) -> None:
    sanction(ledger, "regulator2")
    with reverts("MissingRole", ledger.address("regulator2"), REGULATOR):
        ledger.tx("regulator2", "ComplianceLedger", function, *REGULATOR_ONLY[function](ledger))


def test_a_frozen_regulator_still_configures_the_ledger(ledger: Ledger) -> None:
    freeze(ledger, "regulator2")
    ledger.tx("regulator2", "ComplianceLedger", "openComplianceWindow", YEAR)
    assert ledger.call("ComplianceLedger", "complianceWindowOpen", YEAR)


# ---------------------------------------------------------------------- wiring


def test_regulator_admits_and_withdraws_an_obligation_source(ledger: Ledger) -> None:
    source = add_stand_in(ledger, "obligation_source")
    receipt = ledger.tx("regulator", "ComplianceLedger", "setObligationSource", source, True)
    assert ledger.events(receipt, "ComplianceLedger", "ObligationSourceSet") == [{"source": source, "allowed": True}]
    assert ledger.call("ComplianceLedger", "obligationSource", source)
    ledger.tx("regulator", "ComplianceLedger", "setObligationSource", source, False)
    assert not ledger.call("ComplianceLedger", "obligationSource", source)


def test_regulator_registers_and_removes_an_asset_registry(ledger: Ledger) -> None:
    registry = add_stand_in(ledger, "registry")
    receipt = ledger.tx("regulator", "ComplianceLedger", "setAssetRegistry", registry, KIND_CREDIT)
    assert ledger.events(receipt, "ComplianceLedger", "AssetRegistrySet") == [
        {"registry": registry, "kind": KIND_CREDIT}
    ]
    assert ledger.call("ComplianceLedger", "assetRegistryKind", registry) == KIND_CREDIT
    ledger.tx("regulator", "ComplianceLedger", "setAssetRegistry", registry, KIND_NONE)
    assert ledger.call("ComplianceLedger", "assetRegistryKind", registry) == KIND_NONE


@pytest.mark.parametrize(
    ("function", "args"), [("setObligationSource", [ZERO_ADDRESS, True]), ("setAssetRegistry", [ZERO_ADDRESS, 1])]
)
def test_wiring_needs_a_real_address(ledger: Ledger, function: str, args: list[Any]) -> None:
    with reverts("ZeroAddress"):
        ledger.tx("regulator", "ComplianceLedger", function, *args)


@pytest.mark.parametrize("bps", [0, 800, 10_000])
def test_regulator_sets_the_credit_cap(ledger: Ledger, bps: int) -> None:
    receipt = ledger.tx("regulator", "ComplianceLedger", "setCreditCapBps", bps)
    assert ledger.events(receipt, "ComplianceLedger", "CreditCapSet") == [{"bps": bps}]
    assert ledger.call("ComplianceLedger", "creditCapBps") == bps


def test_the_credit_cap_cannot_exceed_the_whole_obligation(ledger: Ledger) -> None:
    with reverts("InvalidBps", 10_001):
        ledger.tx("regulator", "ComplianceLedger", "setCreditCapBps", 10_001)
    assert ledger.call("ComplianceLedger", "creditCapBps") == 500


# ---------------------------------------------------------------------- compliance windows


def test_regulator_opens_and_closes_a_compliance_window(ledger: Ledger) -> None:
    receipt = ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", YEAR)
    assert ledger.events(receipt, "ComplianceLedger", "ComplianceWindowOpened") == [{"year": YEAR}]
    assert ledger.call("ComplianceLedger", "complianceWindowOpen", YEAR)
    assert not ledger.call("ComplianceLedger", "complianceWindowOpen", YEAR + 1)
    receipt = ledger.tx("regulator", "ComplianceLedger", "closeComplianceWindow", YEAR)
    assert ledger.events(receipt, "ComplianceLedger", "ComplianceWindowClosed") == [{"year": YEAR}]
    assert not ledger.call("ComplianceLedger", "complianceWindowOpen", YEAR)


def test_a_window_is_opened_once_and_closed_once(ledger: Ledger) -> None:
    with reverts("ComplianceWindowNotOpen", YEAR):
        ledger.tx("regulator", "ComplianceLedger", "closeComplianceWindow", YEAR)
    open_window(ledger)
    with reverts("ComplianceWindowAlreadyOpen", YEAR):
        ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", YEAR)


def test_a_closed_window_can_be_reopened(ledger: Ledger) -> None:
    open_window(ledger)
    ledger.tx("regulator", "ComplianceLedger", "closeComplianceWindow", YEAR)
    open_window(ledger)
    assert ledger.call("ComplianceLedger", "complianceWindowOpen", YEAR)


# ---------------------------------------------------------------------- obligations


def test_an_obligation_source_finalizes_an_obligation(ledger: Ledger, obligation_source: str) -> None:
    receipt = ledger.tx(obligation_source, "ComplianceLedger", "setObligation", ORG_A, YEAR, 1_000)
    assert ledger.events(receipt, "ComplianceLedger", "ObligationSet") == [
        {"orgId": ORG_A, "year": YEAR, "tonnes": 1_000}
    ]
    assert status(ledger, ORG_A) == (1_000, 0, 0, 1_000, True)
    assert status(ledger, ORG_A, YEAR + 1) == (0, 0, 0, 0, False)
    assert status(ledger, ORG_B) == (0, 0, 0, 0, False)


def test_a_zero_obligation_is_finalized_with_nothing_to_surrender(ledger: Ledger, obligation_source: str) -> None:
    set_obligation(ledger, ORG_A, YEAR, 0)
    assert status(ledger, ORG_A) == (0, 0, 0, 0, True)


@pytest.mark.parametrize("caller", ["regulator", "enterprise_a", "verifier", "stranger"])
def test_only_an_obligation_source_sets_obligations(ledger: Ledger, caller: str) -> None:
    with reverts("NotObligationSource", ledger.address(caller)):
        ledger.tx(caller, "ComplianceLedger", "setObligation", ORG_A, YEAR, 1_000)


def test_a_withdrawn_source_sets_no_more_obligations(ledger: Ledger, obligation_source: str) -> None:
    source = ledger.address(obligation_source)
    ledger.tx("regulator", "ComplianceLedger", "setObligationSource", source, False)
    with reverts("NotObligationSource", source):
        set_obligation(ledger, ORG_A, YEAR, 1_000)


def test_an_obligation_is_final_once_set(ledger: Ledger, obligation_source: str) -> None:
    set_obligation(ledger, ORG_A, YEAR, 1_000)
    with reverts("ObligationAlreadySet", ORG_A, YEAR):
        set_obligation(ledger, ORG_A, YEAR, 900)
    assert status(ledger, ORG_A)[0] == 1_000


# ---------------------------------------------------------------------- surrenders


@pytest.fixture
def open_year(ledger: Ledger, obligation_source: str) -> None:
    """Org 11 owes 1000 t and org 12 owes 99 t for YEAR, whose window is open."""
    set_obligation(ledger, ORG_A, YEAR, 1_000)
    set_obligation(ledger, ORG_B, YEAR, 99)
    open_window(ledger)


def test_allowances_surrendered_reduce_the_shortfall(ledger: Ledger, open_year: None, allowance_desk: str) -> None:
    receipt = ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 600)
    desk = ledger.address(allowance_desk)
    assert ledger.events(receipt, "ComplianceLedger", "SurrenderRecorded") == [
        {"orgId": ORG_A, "year": YEAR, "kind": KIND_ALLOWANCE, "registry": desk, "tonnes": 600}
    ]
    assert status(ledger, ORG_A) == (1_000, 600, 0, 400, True)
    ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 400)
    assert status(ledger, ORG_A) == (1_000, 1_000, 0, 0, True)


def test_credits_are_counted_apart_from_allowances(ledger: Ledger, open_year: None, credit_desk: str) -> None:
    receipt = ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 50)
    assert ledger.events(receipt, "ComplianceLedger", "SurrenderRecorded") == [
        {"orgId": ORG_A, "year": YEAR, "kind": KIND_CREDIT, "registry": ledger.address(credit_desk), "tonnes": 50}
    ]
    assert status(ledger, ORG_A) == (1_000, 0, 50, 950, True)


@pytest.mark.parametrize("caller", ["regulator", "enterprise_a", "stranger"])
def test_only_a_registered_asset_registry_records_surrenders(ledger: Ledger, open_year: None, caller: str) -> None:
    with reverts("NotAssetRegistry", ledger.address(caller)):
        ledger.tx(caller, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 10)


def test_a_removed_asset_registry_records_no_more_surrenders(
    ledger: Ledger, open_year: None, allowance_desk: str
) -> None:
    desk = ledger.address(allowance_desk)
    ledger.tx("regulator", "ComplianceLedger", "setAssetRegistry", desk, KIND_NONE)
    with reverts("NotAssetRegistry", desk):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 10)


def test_a_surrender_of_nothing_is_refused(ledger: Ledger, open_year: None, allowance_desk: str) -> None:
    with reverts("ZeroAmount"):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 0)


def test_surrenders_need_an_open_window(ledger: Ledger, obligation_source: str, allowance_desk: str) -> None:
    set_obligation(ledger, ORG_A, YEAR, 1_000)
    with reverts("ComplianceWindowNotOpen", YEAR):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 10)
    open_window(ledger)
    ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 10)
    ledger.tx("regulator", "ComplianceLedger", "closeComplianceWindow", YEAR)
    with reverts("ComplianceWindowNotOpen", YEAR):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 10)
    assert status(ledger, ORG_A) == (1_000, 10, 0, 990, True)


def test_surrenders_need_a_finalized_obligation(ledger: Ledger, open_year: None, allowance_desk: str) -> None:
    open_window(ledger, YEAR + 1)
    with reverts("ObligationNotFinalized", ORG_A, YEAR + 1):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR + 1, 10)


def test_a_surrender_may_not_exceed_what_is_outstanding(ledger: Ledger, open_year: None, allowance_desk: str) -> None:
    with reverts("SurrenderExceedsObligation", ORG_A, YEAR, 1_001, 1_000):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 1_001)
    ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 1_000)
    with reverts("SurrenderExceedsObligation", ORG_A, YEAR, 1, 0):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 1)


def test_a_zero_obligation_accepts_no_surrender(ledger: Ledger, obligation_source: str, allowance_desk: str) -> None:
    set_obligation(ledger, ORG_A, YEAR, 0)
    open_window(ledger)
    with reverts("SurrenderExceedsObligation", ORG_A, YEAR, 1, 0):
        ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 1)


# ---------------------------------------------------------------------- the offset-credit cap


def test_credits_may_cover_at_most_five_percent_by_default(ledger: Ledger, open_year: None, credit_desk: str) -> None:
    ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 30)
    with reverts("CreditCapExceeded", ORG_A, YEAR, 21, 20):
        ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 21)
    ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 20)
    assert status(ledger, ORG_A) == (1_000, 0, 50, 950, True)
    with reverts("CreditCapExceeded", ORG_A, YEAR, 1, 0):
        ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 1)


def test_the_credit_cap_rounds_down(ledger: Ledger, open_year: None, credit_desk: str) -> None:
    # 5% of 99 t is 4.95 t: four whole tonnes.
    with reverts("CreditCapExceeded", ORG_B, YEAR, 5, 4):
        ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_B, YEAR, 5)
    ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_B, YEAR, 4)
    assert status(ledger, ORG_B) == (99, 0, 4, 95, True)


def test_the_cap_follows_the_regulators_setting(ledger: Ledger, open_year: None, credit_desk: str) -> None:
    ledger.tx("regulator", "ComplianceLedger", "setCreditCapBps", 1_000)
    ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 100)
    assert status(ledger, ORG_A) == (1_000, 0, 100, 900, True)
    ledger.tx("regulator", "ComplianceLedger", "setCreditCapBps", 200)
    with reverts("CreditCapExceeded", ORG_A, YEAR, 1, 0):
        ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 1)


def test_a_zero_cap_refuses_every_credit(ledger: Ledger, open_year: None, credit_desk: str) -> None:
    ledger.tx("regulator", "ComplianceLedger", "setCreditCapBps", 0)
    with reverts("CreditCapExceeded", ORG_A, YEAR, 1, 0):
        ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 1)


def test_the_cap_does_not_limit_allowances(
    ledger: Ledger, open_year: None, allowance_desk: str, credit_desk: str
) -> None:
    ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 50)
    ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 950)
    assert status(ledger, ORG_A) == (1_000, 950, 50, 0, True)


def test_credits_beyond_the_outstanding_amount_are_refused_before_the_cap(
    ledger: Ledger, open_year: None, allowance_desk: str, credit_desk: str
) -> None:
    ledger.tx(allowance_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 990)
    with reverts("SurrenderExceedsObligation", ORG_A, YEAR, 20, 10):
        ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 20)
    ledger.tx(credit_desk, "ComplianceLedger", "recordSurrender", ORG_A, YEAR, 10)
    assert status(ledger, ORG_A) == (1_000, 990, 10, 0, True)

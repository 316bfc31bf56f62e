"""Membership: organisations, members and their roles, freezes, and Besu's account rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_utils import keccak

from tests.contracts.helpers import (
    ACTIVE,
    NONE,
    REVOKED,
    SUSPENDED,
    ZERO_ADDRESS,
    add_stand_in,
    freeze,
    new_member,
    reason,
    revoke,
    suspend,
)
from tests.support.cast import AUTHORITY, ENTERPRISE, PARK, ROLES, TRADING_FIRM
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

REGULATOR = ROLES["REGULATOR"]
DEFAULT_ADMIN_ROLE = b"\x00" * 32


def member_of(ledger: Ledger, actor: str) -> tuple[int, int, bool]:
    org_id, status, frozen = ledger.call("Membership", "memberOf", ledger.address(actor))
    return org_id, status, frozen


# ---------------------------------------------------------------------- deployment


def test_the_deployer_is_the_first_regulator_of_the_authority(ledger: Ledger) -> None:
    regulator = ledger.address("regulator")
    assert member_of(ledger, "regulator") == (1, ACTIVE, False)
    assert ledger.call("Membership", "hasRole", REGULATOR, regulator)
    assert ledger.call("Membership", "organisation", 1) == [0, AUTHORITY, "Carbon Market Authority"]
    assert ledger.call("Membership", "systemAccount", regulator)


def test_role_constants_are_the_hashes_of_their_names_and_regulators_administer_them(ledger: Ledger) -> None:
    for name, role in ROLES.items():
        assert ledger.call("Membership", f"{name}_ROLE") == role
        assert ledger.call("Membership", "getRoleAdmin", role) == REGULATOR


def test_membership_advertises_access_control_and_erc165(ledger: Ledger) -> None:
    assert ledger.call("Membership", "supportsInterface", bytes.fromhex("7965db0b"))
    assert ledger.call("Membership", "supportsInterface", bytes.fromhex("01ffc9a7"))
    assert not ledger.call("Membership", "supportsInterface", bytes.fromhex("ffffffff"))


# ---------------------------------------------------------------------- regulator-only functions

# function name -> arguments, given the ledger; every one of them is reserved to active regulators.
REGULATOR_ONLY: dict[str, Callable[[Ledger], list[Any]]] = {
    "registerOrganisation": lambda lg: [60, 0, TRADING_FIRM, "Late Trading"],
    "admit": lambda lg: [lg.address("stranger"), 30, [ROLES["TRADER"]]],
    "suspend": lambda lg: [lg.address("trader"), reason("x")],
    "reinstate": lambda lg: [lg.address("trader")],
    "revoke": lambda lg: [lg.address("trader"), reason("x")],
    "freeze": lambda lg: [lg.address("trader"), reason("x")],
    "unfreeze": lambda lg: [lg.address("trader")],
    "setSystemAccount": lambda lg: [lg.address("stranger"), True],
    "setEscrowAgent": lambda lg: [lg.address("stranger"), True],
}


@pytest.mark.parametrize("function", REGULATOR_ONLY)
@pytest.mark.parametrize("caller", ["stranger", "enterprise_a", "verifier", "bank"])
def test_only_regulators_may_govern(ledger: Ledger, function: str, caller: str) -> None:
    with reverts("AccessControlUnauthorizedAccount", ledger.address(caller), REGULATOR):
        ledger.tx(caller, "Membership", function, *REGULATOR_ONLY[function](ledger))


@pytest.mark.parametrize("function", REGULATOR_ONLY)
def test_a_suspended_regulator_may_not_govern(ledger: Ledger, function: str) -> None:
    suspend(ledger, "regulator2")
    with reverts("MemberNotActive", ledger.address("regulator2"), SUSPENDED):
        ledger.tx("regulator2", "Membership", function, *REGULATOR_ONLY[function](ledger))


@pytest.mark.parametrize("function", REGULATOR_ONLY)
def test_a_revoked_regulator_may_not_govern(ledger: Ledger, function: str) -> None:
    revoke(ledger, "regulator2")
    with reverts("AccessControlUnauthorizedAccount", ledger.address("regulator2"), REGULATOR):
        ledger.tx("regulator2", "Membership", function, *REGULATOR_ONLY[function](ledger))


def test_a_suspended_regulator_cannot_reinstate_itself(ledger: Ledger) -> None:
    suspend(ledger, "regulator2")
    with reverts("MemberNotActive", ledger.address("regulator2"), SUSPENDED):
        ledger.tx("regulator2", "Membership", "reinstate", ledger.address("regulator2"))
    ledger.tx("regulator", "Membership", "reinstate", ledger.address("regulator2"))
    ledger.tx("regulator2", "Membership", "freeze", ledger.address("trader"), reason("order"))
    assert ledger.call("Membership", "isFrozen", ledger.address("trader"))


def test_a_frozen_regulator_keeps_its_authority_because_a_freeze_restrains_assets(ledger: Ledger) -> None:
    freeze(ledger, "regulator2")
    ledger.tx("regulator2", "Membership", "suspend", ledger.address("trader"), reason("x"))
    assert member_of(ledger, "trader")[1] == SUSPENDED


# ---------------------------------------------------------------------- organisations


def test_regulator_registers_an_organisation_under_a_parent(ledger: Ledger) -> None:
    receipt = ledger.tx("regulator", "Membership", "registerOrganisation", 13, 10, ENTERPRISE, "Delta Glass")
    assert ledger.events(receipt, "Membership", "OrganisationRegistered") == [
        {"orgId": 13, "parentId": 10, "kind": ENTERPRISE, "name": "Delta Glass"}
    ]
    assert ledger.call("Membership", "organisation", 13) == [10, ENTERPRISE, "Delta Glass"]
    assert ledger.call("Membership", "organisationExists", 13)
    assert ledger.call("Membership", "parentOf", 13) == 10


def test_a_top_level_organisation_has_parent_zero(ledger: Ledger) -> None:
    ledger.tx("regulator", "Membership", "registerOrganisation", 60, 0, PARK, "Coastal Park")
    assert ledger.call("Membership", "parentOf", 60) == 0
    assert ledger.call("Membership", "parentOf", 11) == 10


def test_an_organisation_id_is_registered_once(ledger: Ledger) -> None:
    with reverts("OrganisationExists", 11):
        ledger.tx("regulator", "Membership", "registerOrganisation", 11, 10, ENTERPRISE, "Riverside Steel again")


def test_organisation_zero_cannot_be_registered(ledger: Ledger) -> None:
    with reverts("InvalidOrganisationId"):
        ledger.tx("regulator", "Membership", "registerOrganisation", 0, 0, PARK, "Nowhere")


def test_the_parent_must_be_a_registered_organisation(ledger: Ledger) -> None:
    with reverts("InvalidParent", 61, 999):
        ledger.tx("regulator", "Membership", "registerOrganisation", 61, 999, ENTERPRISE, "Orphan Works")
    assert not ledger.call("Membership", "organisationExists", 61)


def test_an_organisation_cannot_be_its_own_parent(ledger: Ledger) -> None:
    with reverts("InvalidParent", 62, 62):
        ledger.tx("regulator", "Membership", "registerOrganisation", 62, 62, ENTERPRISE, "Ouroboros")


def test_unknown_organisations_are_reported(ledger: Ledger) -> None:
    assert not ledger.call("Membership", "organisationExists", 999)
    with reverts("UnknownOrganisation", 999):
        ledger.call("Membership", "organisation", 999)
    with reverts("UnknownOrganisation", 999):
        ledger.call("Membership", "parentOf", 999)


# ---------------------------------------------------------------------- admission


def test_regulator_admits_a_member_with_roles(ledger: Ledger) -> None:
    newcomer = add_stand_in(ledger, "newcomer")
    roles = [ROLES["TRADER"], ROLES["ENTERPRISE"]]
    receipt = ledger.tx("regulator", "Membership", "admit", newcomer, 30, roles)
    assert ledger.events(receipt, "Membership", "MemberAdmitted") == [
        {"account": newcomer, "orgId": 30, "roles": roles}
    ]
    granted = ledger.events(receipt, "Membership", "RoleGranted")
    assert [(e["role"], e["account"]) for e in granted] == [(r, newcomer) for r in roles]
    assert member_of(ledger, "newcomer") == (30, ACTIVE, False)
    assert ledger.call("Membership", "orgOf", newcomer) == 30
    assert ledger.call("Membership", "isActive", newcomer)
    assert ledger.call("Membership", "canTransact", newcomer)
    assert ledger.call("Membership", "hasActiveRole", ROLES["TRADER"], newcomer)
    assert ledger.call("Membership", "hasActiveRole", ROLES["ENTERPRISE"], newcomer)
    assert not ledger.call("Membership", "hasActiveRole", ROLES["VERIFIER"], newcomer)


def test_a_member_may_be_admitted_without_roles(ledger: Ledger) -> None:
    observer = new_member(ledger, "observer", 10)
    assert ledger.call("Membership", "isActive", observer)
    assert not any(ledger.call("Membership", "hasRole", role, observer) for role in ROLES.values())


def test_admission_needs_a_real_account(ledger: Ledger) -> None:
    with reverts("ZeroAddress"):
        ledger.tx("regulator", "Membership", "admit", ZERO_ADDRESS, 30, [ROLES["TRADER"]])


def test_admission_needs_a_registered_organisation(ledger: Ledger) -> None:
    with reverts("UnknownOrganisation", 999):
        ledger.tx("regulator", "Membership", "admit", ledger.address("stranger"), 999, [ROLES["TRADER"]])


def test_an_account_is_admitted_once(ledger: Ledger) -> None:
    with reverts("AlreadyMember", ledger.address("trader")):
        ledger.tx("regulator", "Membership", "admit", ledger.address("trader"), 31, [ROLES["TRADER"]])


def test_a_revoked_account_cannot_be_readmitted(ledger: Ledger) -> None:
    revoke(ledger, "trader")
    with reverts("AlreadyMember", ledger.address("trader")):
        ledger.tx("regulator", "Membership", "admit", ledger.address("trader"), 30, [ROLES["TRADER"]])


@pytest.mark.parametrize("role", [DEFAULT_ADMIN_ROLE, keccak(text="AUDITOR")])
def test_only_the_six_member_roles_can_be_granted(ledger: Ledger, role: bytes) -> None:
    with reverts("InvalidRole", role):
        ledger.tx("regulator", "Membership", "admit", ledger.address("stranger"), 30, [ROLES["TRADER"], role])
    assert member_of(ledger, "stranger") == (0, NONE, False)


@pytest.mark.parametrize("function", ["grantRole", "revokeRole", "renounceRole"])
@pytest.mark.parametrize("caller", ["regulator", "trader"])
def test_roles_change_only_through_admission_and_revocation(ledger: Ledger, function: str, caller: str) -> None:
    with reverts("RolesOnlyThroughMembership"):
        ledger.tx(caller, "Membership", function, ROLES["TRADER"], ledger.address("trader"))
    assert ledger.call("Membership", "hasRole", ROLES["TRADER"], ledger.address("trader"))


# ---------------------------------------------------------------------- suspension and reinstatement


def test_a_suspended_member_keeps_its_roles_but_cannot_use_them(ledger: Ledger) -> None:
    trader = ledger.address("trader")
    receipt = ledger.tx("regulator", "Membership", "suspend", trader, reason("late reporting"))
    assert ledger.events(receipt, "Membership", "MemberSuspended") == [
        {"account": trader, "reasonHash": reason("late reporting")}
    ]
    assert member_of(ledger, "trader") == (30, SUSPENDED, False)
    assert not ledger.call("Membership", "isActive", trader)
    assert not ledger.call("Membership", "canTransact", trader)
    assert not ledger.call("Membership", "hasActiveRole", ROLES["TRADER"], trader)
    assert ledger.call("Membership", "hasRole", ROLES["TRADER"], trader)


def test_only_an_active_member_can_be_suspended(ledger: Ledger) -> None:
    with reverts("NotMember", ledger.address("stranger")):
        ledger.tx("regulator", "Membership", "suspend", ledger.address("stranger"), reason("x"))
    suspend(ledger, "trader")
    with reverts("MemberNotActive", ledger.address("trader"), SUSPENDED):
        ledger.tx("regulator", "Membership", "suspend", ledger.address("trader"), reason("x"))
    revoke(ledger, "trader2")
    with reverts("MemberNotActive", ledger.address("trader2"), REVOKED):
        ledger.tx("regulator", "Membership", "suspend", ledger.address("trader2"), reason("x"))


def test_reinstating_restores_a_suspended_member(ledger: Ledger) -> None:
    trader = ledger.address("trader")
    suspend(ledger, "trader")
    receipt = ledger.tx("regulator", "Membership", "reinstate", trader)
    assert ledger.events(receipt, "Membership", "MemberReinstated") == [{"account": trader}]
    assert member_of(ledger, "trader") == (30, ACTIVE, False)
    assert ledger.call("Membership", "hasActiveRole", ROLES["TRADER"], trader)


def test_only_a_suspended_member_can_be_reinstated(ledger: Ledger) -> None:
    with reverts("NotMember", ledger.address("stranger")):
        ledger.tx("regulator", "Membership", "reinstate", ledger.address("stranger"))
    with reverts("MemberNotSuspended", ledger.address("trader"), ACTIVE):
        ledger.tx("regulator", "Membership", "reinstate", ledger.address("trader"))
    revoke(ledger, "trader2")
    with reverts("MemberNotSuspended", ledger.address("trader2"), REVOKED):
        ledger.tx("regulator", "Membership", "reinstate", ledger.address("trader2"))


# ---------------------------------------------------------------------- revocation


def test_revocation_is_final_and_removes_every_role(ledger: Ledger) -> None:
    multi = new_member(ledger, "multi", 30, "TRADER", "ENTERPRISE")
    receipt = ledger.tx("regulator", "Membership", "revoke", multi, reason("fraud"))
    assert ledger.events(receipt, "Membership", "MemberRevoked") == [{"account": multi, "reasonHash": reason("fraud")}]
    revoked_roles = {e["role"] for e in ledger.events(receipt, "Membership", "RoleRevoked")}
    assert revoked_roles == {ROLES["TRADER"], ROLES["ENTERPRISE"]}
    assert member_of(ledger, "multi") == (30, REVOKED, False)
    assert not any(ledger.call("Membership", "hasRole", role, multi) for role in ROLES.values())
    with reverts("MemberNotSuspended", multi, REVOKED):
        ledger.tx("regulator", "Membership", "reinstate", multi)


def test_a_suspended_member_can_be_revoked(ledger: Ledger) -> None:
    suspend(ledger, "trader")
    revoke(ledger, "trader")
    assert member_of(ledger, "trader") == (30, REVOKED, False)


def test_revocation_needs_a_member_not_yet_revoked(ledger: Ledger) -> None:
    with reverts("NotMember", ledger.address("stranger")):
        ledger.tx("regulator", "Membership", "revoke", ledger.address("stranger"), reason("x"))
    revoke(ledger, "trader")
    with reverts("MemberNotActive", ledger.address("trader"), REVOKED):
        ledger.tx("regulator", "Membership", "revoke", ledger.address("trader"), reason("x"))


# ---------------------------------------------------------------------- freezes


def test_a_frozen_member_stays_active_but_cannot_transact(ledger: Ledger) -> None:
    enterprise = ledger.address("enterprise_a")
    receipt = ledger.tx("regulator", "Membership", "freeze", enterprise, reason("court order 7"))
    assert ledger.events(receipt, "Membership", "AccountFrozen") == [
        {"account": enterprise, "reasonHash": reason("court order 7")}
    ]
    assert member_of(ledger, "enterprise_a") == (11, ACTIVE, True)
    assert ledger.call("Membership", "isFrozen", enterprise)
    assert ledger.call("Membership", "isActive", enterprise)
    assert ledger.call("Membership", "hasActiveRole", ROLES["ENTERPRISE"], enterprise)
    assert not ledger.call("Membership", "canTransact", enterprise)


def test_an_account_is_frozen_once(ledger: Ledger) -> None:
    freeze(ledger, "enterprise_a")
    with reverts("AlreadyFrozen", ledger.address("enterprise_a")):
        ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), reason("again"))
    with reverts("NotMember", ledger.address("stranger")):
        ledger.tx("regulator", "Membership", "freeze", ledger.address("stranger"), reason("x"))


def test_unfreezing_lets_the_member_transact_again(ledger: Ledger) -> None:
    enterprise = ledger.address("enterprise_a")
    freeze(ledger, "enterprise_a")
    receipt = ledger.tx("regulator", "Membership", "unfreeze", enterprise)
    assert ledger.events(receipt, "Membership", "AccountUnfrozen") == [{"account": enterprise}]
    assert member_of(ledger, "enterprise_a") == (11, ACTIVE, False)
    assert ledger.call("Membership", "canTransact", enterprise)


def test_only_a_frozen_account_can_be_unfrozen(ledger: Ledger) -> None:
    with reverts("NotFrozen", ledger.address("enterprise_a")):
        ledger.tx("regulator", "Membership", "unfreeze", ledger.address("enterprise_a"))
    with reverts("NotMember", ledger.address("stranger")):
        ledger.tx("regulator", "Membership", "unfreeze", ledger.address("stranger"))


# ---------------------------------------------------------------------- system accounts and escrow agents


def test_regulator_allows_and_withdraws_a_system_account(ledger: Ledger) -> None:
    operator = add_stand_in(ledger, "node_operator")
    receipt = ledger.tx("regulator", "Membership", "setSystemAccount", operator, True)
    assert ledger.events(receipt, "Membership", "SystemAccountSet") == [{"account": operator, "allowed": True}]
    assert ledger.call("Membership", "systemAccount", operator)
    ledger.tx("regulator", "Membership", "setSystemAccount", operator, False)
    assert not ledger.call("Membership", "systemAccount", operator)


def test_regulator_appoints_and_dismisses_an_escrow_agent(ledger: Ledger) -> None:
    market = add_stand_in(ledger, "market")
    assert not ledger.call("Membership", "isEscrowAgent", market)
    receipt = ledger.tx("regulator", "Membership", "setEscrowAgent", market, True)
    assert ledger.events(receipt, "Membership", "EscrowAgentSet") == [{"account": market, "allowed": True}]
    assert ledger.call("Membership", "isEscrowAgent", market)
    ledger.tx("regulator", "Membership", "setEscrowAgent", market, False)
    assert not ledger.call("Membership", "isEscrowAgent", market)


def test_the_suite_market_is_an_escrow_agent(ledger: Ledger) -> None:
    assert ledger.call("Membership", "isEscrowAgent", ledger.contract("CarbonMarket").address)


@pytest.mark.parametrize("function", ["setSystemAccount", "setEscrowAgent"])
def test_system_accounts_and_escrow_agents_need_a_real_address(ledger: Ledger, function: str) -> None:
    with reverts("ZeroAddress"):
        ledger.tx("regulator", "Membership", function, ZERO_ADDRESS, True)


# ---------------------------------------------------------------------- views of strangers


def test_a_stranger_has_no_membership(ledger: Ledger) -> None:
    stranger = ledger.address("stranger")
    assert member_of(ledger, "stranger") == (0, NONE, False)
    assert ledger.call("Membership", "orgOf", stranger) == 0
    assert not ledger.call("Membership", "isActive", stranger)
    assert not ledger.call("Membership", "isFrozen", stranger)
    assert not ledger.call("Membership", "canTransact", stranger)
    assert not ledger.call("Membership", "hasActiveRole", ROLES["TRADER"], stranger)
    assert not ledger.call("Membership", "isEscrowAgent", stranger)
    assert not ledger.call("Membership", "systemAccount", stranger)


# ---------------------------------------------------------------------- Besu account rules


def allowed(ledger: Ledger, sender: str) -> bool:
    target = ledger.contract("AllowanceRegistry").address
    return bool(ledger.call("Membership", "transactionAllowed", sender, target, 0, 0, 21_000, b""))


def test_active_members_may_send_transactions(ledger: Ledger) -> None:
    assert allowed(ledger, ledger.address("enterprise_a"))
    assert allowed(ledger, ledger.address("regulator"))


def test_strangers_may_not_send_transactions(ledger: Ledger) -> None:
    assert not allowed(ledger, ledger.address("stranger"))


def test_suspended_and_revoked_members_may_not_send_transactions(ledger: Ledger) -> None:
    suspend(ledger, "trader")
    revoke(ledger, "trader2")
    assert not allowed(ledger, ledger.address("trader"))
    assert not allowed(ledger, ledger.address("trader2"))
    ledger.tx("regulator", "Membership", "reinstate", ledger.address("trader"))
    assert allowed(ledger, ledger.address("trader"))


def test_a_frozen_member_may_still_send_transactions(ledger: Ledger) -> None:
    freeze(ledger, "enterprise_a")
    assert allowed(ledger, ledger.address("enterprise_a"))


def test_system_accounts_may_send_transactions_without_membership(ledger: Ledger) -> None:
    operator = add_stand_in(ledger, "node_operator")
    assert not allowed(ledger, operator)
    ledger.tx("regulator", "Membership", "setSystemAccount", operator, True)
    assert allowed(ledger, operator)
    ledger.tx("regulator", "Membership", "setSystemAccount", operator, False)
    assert not allowed(ledger, operator)


@pytest.mark.parametrize("function", ["suspend", "revoke", "freeze"])
def test_a_regulator_cannot_suspend_revoke_or_freeze_itself(ledger: Ledger, function: str) -> None:
    """Otherwise the last active regulator could lock the registry out of governance."""
    me = ledger.address("regulator")
    with reverts("CannotActOnSelf", me):
        ledger.tx("regulator", "Membership", function, me, reason("self"))
    assert list(ledger.call("Membership", "memberOf", me)) == [1, ACTIVE, False]


# ---------------------------------------------------------------------- one-call permission checks

ROLE_BITS = {"REGULATOR": 1, "VERIFIER": 2, "ORACLE": 4, "ENTERPRISE": 8, "TRADER": 16, "SETTLEMENT_BANK": 32}


def permissions(ledger: Ledger, address: str) -> dict[str, int]:
    """`permissionsOf` unpacked: bits 0-63 org, 64-71 status, 72-79 frozen, 80-87 roles, 88-95 escrow agent."""
    word = int(ledger.call("Membership", "permissionsOf", address))
    return {"org": word & (2**64 - 1), "status": (word >> 64) & 0xFF, "frozen": (word >> 72) & 0xFF,
            "roles": (word >> 80) & 0xFF, "escrow": (word >> 88) & 0xFF, "rest": word >> 96}


def test_one_word_answers_every_permission_check_of_a_member(ledger: Ledger) -> None:
    address = new_member(ledger, "desk", 11, "ENTERPRISE", "TRADER")
    assert permissions(ledger, address) == {
        "org": 11, "status": ACTIVE, "frozen": 0, "roles": ROLE_BITS["ENTERPRISE"] | ROLE_BITS["TRADER"],
        "escrow": 0, "rest": 0,
    }
    assert tuple(ledger.call("Membership", "accountOf", address)) == (
        11, ACTIVE, False, ROLE_BITS["ENTERPRISE"] | ROLE_BITS["TRADER"], False
    )


def test_the_permission_word_follows_freezes_suspensions_and_revocation(ledger: Ledger) -> None:
    address = new_member(ledger, "desk", 11, "ENTERPRISE")
    ledger.tx("regulator", "Membership", "freeze", address, reason("order"))
    assert (permissions(ledger, address)["frozen"], permissions(ledger, address)["status"]) == (1, ACTIVE)
    ledger.tx("regulator", "Membership", "suspend", address, reason("suspend"))
    assert permissions(ledger, address)["status"] == SUSPENDED
    assert not ledger.call("Membership", "hasActiveRole", ROLES["ENTERPRISE"], address)
    ledger.tx("regulator", "Membership", "revoke", address, reason("revoke"))
    assert (permissions(ledger, address)["status"], permissions(ledger, address)["roles"]) == (REVOKED, 0)


def test_the_role_bitmap_agrees_with_the_role_sets(ledger: Ledger) -> None:
    for role, bit in ROLE_BITS.items():
        address = new_member(ledger, f"holder-{role.lower()}", 11, role)
        assert permissions(ledger, address)["roles"] == bit
        assert all(ledger.call("Membership", "hasRole", ROLES[r], address) == (r == role) for r in ROLE_BITS)
        assert all(ledger.call("Membership", "hasActiveRole", ROLES[r], address) == (r == role) for r in ROLE_BITS)


def test_a_stranger_has_an_empty_word_and_an_escrow_agent_only_its_flag(ledger: Ledger) -> None:
    assert permissions(ledger, ledger.address("stranger"))["rest"] == 0
    assert int(ledger.call("Membership", "permissionsOf", ledger.address("stranger"))) == 0
    market = ledger.contract("CarbonMarket").address
    assert permissions(ledger, market) == {"org": 0, "status": NONE, "frozen": 0, "roles": 0, "escrow": 1, "rest": 0}

"""Permission mirrors: every gated contract checks a local copy of Membership's permission words. Membership
pushes each change to every registered mirror in the same transaction (a refusing mirror reverts the change), a
mirror added later refuses everyone until its words are copied from Membership, and a copy never says more than
Membership does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_utils import keccak

from ledger_core.chain.deploy import MIRRORS, bind
from tests.contracts.helpers import freeze, new_member, revoke, suspend
from tests.support.cast import ROLES
from tests.support.credits import CNY, fund
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

DOC = keccak(text="document")
KIND = keccak(text="DOCUMENT")
ZERO = b"\x00" * 32
LATE = "LateNotary"


def mirrored_everywhere(ledger: Ledger, actor: str) -> bool:
    """Every registered mirror holds exactly Membership's word of the actor."""
    account = ledger.address(actor)
    word = ledger.call("Membership", "permissionsOf", account)
    mirrors = ledger.call("Membership", "mirrors")
    return len(mirrors) == len(MIRRORS) and all(
        ledger.w3.eth.contract(address=m, abi=ledger.artifacts["Notary"].abi)  # type: ignore[call-overload]
        .functions.mirroredPermissions(account).call() == word for m in mirrors)


def deploy_notary(ledger: Ledger, membership: str | None = None) -> str:
    """A further Notary (as a new contract or a new version would be), bound as `LATE`; not yet a mirror."""
    art = ledger.artifacts["Notary"]
    factory = ledger.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = ledger.senders["regulator"].deploy(factory, membership or ledger.contract("Membership").address)
    address = str(receipt["contractAddress"])
    ledger.contracts[LATE] = bind(ledger.w3, ledger.artifacts, {LATE: address}, {LATE: "Notary"})[LATE]
    return address


def test_the_suite_registers_every_gated_contract_as_a_mirror(ledger: Ledger) -> None:
    registered = set(ledger.call("Membership", "mirrors"))
    assert registered == {ledger.contract(name).address for name in MIRRORS}
    assert all(ledger.call("Membership", "isMirror", address) for address in registered)
    assert not ledger.call("Membership", "isMirror", ledger.contract("Membership").address)
    for actor in ("regulator", "enterprise_a", "oracle", "bank"):
        assert mirrored_everywhere(ledger, actor)


# (actor, the Membership change, the refused call, the error's name and arguments)
Refusal = tuple[str, Callable[[Ledger, str], None], Callable[[Ledger], Any], Callable[[Ledger], tuple[Any, ...]]]
REFUSALS: dict[str, Refusal] = {
    "suspended member notarizes": (
        "enterprise_a", suspend, lambda lg: lg.tx("enterprise_a", "Notary", "notarize", DOC, KIND, ZERO),
        lambda lg: ("InactiveMember", lg.address("enterprise_a"))),
    "revoked oracle anchors": (
        "oracle", revoke, lambda lg: lg.tx("oracle", "MeterAnchor", "anchor", 11, 0, 1, 2, ZERO, DOC, 1, 1),
        lambda lg: ("MissingRole", lg.address("oracle"), ROLES["ORACLE"])),
    "frozen trader pays": (
        "trader", freeze, lambda lg: lg.tx("trader", "SettlementToken", "transfer", lg.address("trader2"), 1),
        lambda lg: ("AccountCannotTransact", lg.address("trader"))),
    "frozen bank mints": (
        "bank", freeze, lambda lg: fund(lg, "trader", 1),
        lambda lg: ("AccountCannotTransact", lg.address("bank"))),
    "suspended regulator governs the compliance ledger": (
        "regulator2", suspend,
        lambda lg: lg.tx("regulator2", "ComplianceLedger", "setObligationSource", lg.address("oracle"), True),
        lambda lg: ("MissingRole", lg.address("regulator2"), ROLES["REGULATOR"])),
    "revoked regulator proposes an upgrade": (
        "regulator2", revoke,
        lambda lg: lg.tx("regulator2", "Upgrades", "propose", "CarbonMarket", lg.contract("CarbonMarket").address,
                         lg.address("trader"), 2),
        lambda lg: ("MissingRole", lg.address("regulator2"), ROLES["REGULATOR"])),
    "suspended enterprise registers a device": (
        "enterprise_a", suspend,
        lambda lg: lg.tx("enterprise_a", "MeterAnchor", "registerDevice", DOC, 11, KIND, KIND, DOC),
        lambda lg: ("MissingRole", lg.address("enterprise_a"), ROLES["ENTERPRISE"])),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_membership_change_is_refused_at_once_by_every_kind_of_contract(ledger: Ledger, case: str) -> None:
    """No refresh: the change reached every mirror in Membership's own transaction."""
    actor, change, call, error = REFUSALS[case]
    fund(ledger, "trader", 10 * CNY)
    change(ledger, actor)
    assert mirrored_everywhere(ledger, actor)
    with reverts(*error(ledger)):
        call(ledger)


def test_reinstating_and_unfreezing_reach_the_mirrors_too(ledger: Ledger) -> None:
    suspend(ledger, "enterprise_a")
    ledger.tx("regulator", "Membership", "reinstate", ledger.address("enterprise_a"))
    freeze(ledger, "enterprise_a")
    ledger.tx("regulator", "Membership", "unfreeze", ledger.address("enterprise_a"))
    assert mirrored_everywhere(ledger, "enterprise_a")
    ledger.tx("enterprise_a", "Notary", "notarize", DOC, KIND, ZERO)
    assert ledger.call("Notary", "isNotarized", DOC)


def test_only_membership_pushes_words(ledger: Ledger) -> None:
    active_regulator = ledger.call("Membership", "permissionsOf", ledger.address("regulator"))
    for actor in ("regulator", "stranger"):
        with reverts("NotMembership", ledger.address(actor)):
            ledger.tx(actor, "Notary", "syncPermissions", ledger.address("stranger"), active_regulator)
    with reverts("NotMembership", ledger.address("regulator")):
        ledger.tx("regulator", "CarbonMarket", "syncPermissions", ledger.address("regulator2"), 0)
    assert ledger.call("Notary", "mirroredPermissions", ledger.address("stranger")) == 0


def test_a_mirror_added_later_refuses_until_refreshed_then_accepts(ledger: Ledger) -> None:
    late = deploy_notary(ledger)
    try:
        with reverts("InactiveMember", ledger.address("enterprise_a")):
            ledger.tx("enterprise_a", LATE, "notarize", DOC, KIND, ZERO)
        receipt = ledger.tx("regulator", "Membership", "addMirror", late)
        assert ledger.events(receipt, "Membership", "MirrorAdded") == [{"mirror": late}]
        # Registered but not backfilled: still refused (fail closed); a member admitted now is pushed.
        with reverts("InactiveMember", ledger.address("enterprise_a")):
            ledger.tx("enterprise_a", LATE, "notarize", DOC, KIND, ZERO)
        new_member(ledger, "newcomer", 11, "ENTERPRISE")
        ledger.tx("newcomer", LATE, "notarize", keccak(text="newcomer's"), KIND, ZERO)
        # Anyone may copy Membership's words in.
        receipt = ledger.tx("stranger", LATE, "refreshPermissions", [ledger.address("enterprise_a")])
        word = ledger.call("Membership", "permissionsOf", ledger.address("enterprise_a"))
        assert ledger.events(receipt, LATE, "PermissionsRefreshed") == [
            {"account": ledger.address("enterprise_a"), "word": word}]
        ledger.tx("enterprise_a", LATE, "notarize", DOC, KIND, ZERO)
        assert ledger.call(LATE, "isNotarized", DOC)
    finally:
        del ledger.contracts[LATE]


def test_removing_a_mirror_stops_the_pushes(ledger: Ledger) -> None:
    late = deploy_notary(ledger)
    try:
        ledger.tx("regulator", "Membership", "addMirror", late)
        ledger.tx("regulator", LATE, "refreshPermissions", [ledger.address("enterprise_a")])
        active = ledger.call(LATE, "mirroredPermissions", ledger.address("enterprise_a"))
        receipt = ledger.tx("regulator", "Membership", "removeMirror", late)
        assert ledger.events(receipt, "Membership", "MirrorRemoved") == [{"mirror": late}]
        assert not ledger.call("Membership", "isMirror", late)
        assert late not in ledger.call("Membership", "mirrors")
        suspend(ledger, "enterprise_a")
        assert ledger.call(LATE, "mirroredPermissions", ledger.address("enterprise_a")) == active
        assert mirrored_everywhere(ledger, "enterprise_a")
    finally:
        del ledger.contracts[LATE]


def test_the_mirror_list_is_the_regulators_and_each_mirror_is_listed_once(ledger: Ledger) -> None:
    late = deploy_notary(ledger)
    del ledger.contracts[LATE]
    with reverts("AccessControlUnauthorizedAccount", ledger.address("enterprise_a"), ROLES["REGULATOR"]):
        ledger.tx("enterprise_a", "Membership", "addMirror", late)
    with reverts("AlreadyMirror", ledger.contract("Notary").address):
        ledger.tx("regulator", "Membership", "addMirror", ledger.contract("Notary").address)
    with reverts("NotMirror", late):
        ledger.tx("regulator", "Membership", "removeMirror", late)
    with reverts("ZeroAddress"):
        ledger.tx("regulator", "Membership", "addMirror", "0x" + "00" * 20)


def test_a_mirror_that_refuses_the_push_reverts_the_membership_change(ledger: Ledger) -> None:
    """A Notary built for another registry refuses Membership's pushes, so no member of this one can change."""
    foreign = deploy_notary(ledger, membership=ledger.address("stranger"))
    del ledger.contracts[LATE]
    ledger.tx("regulator", "Membership", "addMirror", foreign)
    with reverts("NotMembership", ledger.contract("Membership").address):
        suspend(ledger, "enterprise_a")
    assert ledger.call("Membership", "isActive", ledger.address("enterprise_a"))
    ledger.tx("regulator", "Membership", "removeMirror", foreign)
    suspend(ledger, "enterprise_a")
    assert not ledger.call("Membership", "isActive", ledger.address("enterprise_a"))


def test_a_refresh_copies_only_what_membership_says(ledger: Ledger) -> None:
    suspend(ledger, "enterprise_b")
    accounts = [ledger.address(a) for a in ("stranger", "enterprise_b", "trader")]
    ledger.tx("stranger", "Notary", "refreshPermissions", accounts)
    for account in accounts:
        assert ledger.call("Notary", "mirroredPermissions", account) == ledger.call(
            "Membership", "permissionsOf", account)
    with reverts("InactiveMember", ledger.address("stranger")):
        ledger.tx("stranger", "Notary", "notarize", DOC, KIND, ZERO)
    with reverts("InactiveMember", ledger.address("enterprise_b")):
        ledger.tx("enterprise_b", "Notary", "notarize", DOC, KIND, ZERO)
    # Revoked: the copy keeps no role either.
    revoke(ledger, "trader")
    ledger.tx("trader", "Notary", "refreshPermissions", [ledger.address("trader")])
    assert ledger.call("Notary", "mirroredPermissions", ledger.address("trader")) == ledger.call(
        "Membership", "permissionsOf", ledger.address("trader"))
    assert ledger.call("Membership", "permissionsOf", ledger.address("trader")) >> 80 & 0xff == 0

"""Upgrades under two regulators: a proposal and an approval by another regulator in the Upgrades registry;
only the approved successor seals the old market and takes its state, once."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_core.chain.upgrade import (
    UpgradeError,
    approve_upgrade,
    known_accounts,
    propose_upgrade,
    read_proposal,
    run_upgrade,
)
from tests.support.cast import ROLES
from tests.support.credits import now
from tests.support.ledger import Ledger
from tests.support.reverts import reverts
from tests.support.upgrades import V2, first_deployment_restored, proposed

DAY = 86_400


def market_at(ledger: Ledger, address: str, artifact: str = "CarbonMarket") -> Any:
    return ledger.w3.eth.contract(address=address, abi=ledger.artifacts[artifact].abi)  # type: ignore[call-overload]


def backfilled(ledger: Ledger, address: str) -> Any:
    """The proposed market with the members' permissions copied in (as `run_upgrade` does before the import)."""
    new = market_at(ledger, address, V2)
    ledger.senders["regulator"].transact(new.functions.refreshPermissions(known_accounts(ledger)))
    return new


def test_a_proposal_names_both_addresses_and_the_version(ledger: Ledger) -> None:
    proposal = proposed(ledger)
    assert (proposal.name, proposal.current, proposal.version) == ("CarbonMarket", ledger.contract(
        "CarbonMarket").address, 2)
    assert proposal.proposer == ledger.address("regulator") and proposal.approver is None
    assert ledger.call("Upgrades", "approvedSuccessor", proposal.current) == "0x" + "0" * 40


def test_a_second_regulator_approves_and_the_successor_is_recorded(ledger: Ledger) -> None:
    proposal = proposed(ledger)
    approved = approve_upgrade(ledger.senders["regulator2"], ledger, proposal.id)
    assert approved.approver == ledger.address("regulator2")
    assert ledger.call("Upgrades", "approvedSuccessor", proposal.current) == proposal.next
    with reverts("AlreadyApproved", proposal.id, ledger.address("regulator2")):
        approve_upgrade(ledger.senders["regulator"], ledger, proposal.id)


def test_the_proposer_cannot_approve_its_own_proposal(ledger: Ledger) -> None:
    proposal = proposed(ledger)
    with reverts("SelfApproval", proposal.id, ledger.address("regulator")):
        approve_upgrade(ledger.senders["regulator"], ledger, proposal.id)
    assert read_proposal(ledger, proposal.id).approver is None


def test_only_regulators_propose_and_approve(ledger: Ledger) -> None:
    with reverts("MissingRole", ledger.address("trader"), ROLES["REGULATOR"]):
        proposed(ledger, proposer="trader")
    proposal = proposed(ledger)
    with reverts("MissingRole", ledger.address("enterprise_a"), ROLES["REGULATOR"]):
        approve_upgrade(ledger.senders["enterprise_a"], ledger, proposal.id)


def test_a_proposal_must_name_a_deployed_contract_and_a_later_version(ledger: Ledger) -> None:
    market = ledger.contract("CarbonMarket").address
    with reverts("InvalidUpgrade", market, market, 2):
        ledger.tx("regulator", "Upgrades", "propose", "CarbonMarket", market, market, 2)
    with reverts("InvalidUpgrade", market, ledger.address("trader"), 2):
        ledger.tx("regulator", "Upgrades", "propose", "CarbonMarket", market, ledger.address("trader"), 2)
    with reverts("UnknownProposal", 9):
        approve_upgrade(ledger.senders["regulator2"], ledger, 9)


def test_a_contract_without_a_migrator_is_not_proposed_and_nothing_is_deployed(ledger: Ledger) -> None:
    nonce = ledger.w3.eth.get_transaction_count(ledger.address("regulator"))
    with pytest.raises(UpgradeError, match="no migrator for MeterAnchor"):
        propose_upgrade(ledger.senders["regulator"], ledger, "MeterAnchor")
    with pytest.raises(UpgradeError, match="not a contract of the suite"):
        propose_upgrade(ledger.senders["regulator"], ledger, "Nothing")
    assert ledger.w3.eth.get_transaction_count(ledger.address("regulator")) == nonce


def test_the_migration_refuses_to_run_without_approval(ledger: Ledger) -> None:
    proposal = proposed(ledger)
    with pytest.raises(UpgradeError, match="not approved"):
        run_upgrade(ledger.senders["regulator"], ledger, proposal.id, V2)
    new = backfilled(ledger, proposal.next)
    with reverts("UpgradeNotApproved", proposal.current, proposal.next):
        ledger.senders["regulator"].transact(new.functions.beginImport(proposal.current, []))


def test_only_the_approved_successor_seals_the_market(ledger: Ledger) -> None:
    with reverts("UpgradeNotApproved", ledger.contract("CarbonMarket").address, ledger.address("regulator")):
        ledger.tx("regulator", "CarbonMarket", "seal", [])
    with reverts("NotSuccessor", ledger.address("regulator")):
        ledger.tx("regulator", "CarbonMarket", "handOverOrders", [1])


def test_a_non_regulator_cannot_begin_the_import(ledger: Ledger) -> None:
    proposal = proposed(ledger)
    approve_upgrade(ledger.senders["regulator2"], ledger, proposal.id)
    new = backfilled(ledger, proposal.next)
    with reverts("MissingRole", ledger.address("trader"), ROLES["REGULATOR"]):
        ledger.senders["trader"].transact(new.functions.beginImport(proposal.current, []))


def test_only_the_migrator_continues_an_import(ledger: Ledger) -> None:
    proposal = proposed(ledger)
    approve_upgrade(ledger.senders["regulator2"], ledger, proposal.id)
    new = backfilled(ledger, proposal.next)
    ledger.senders["regulator"].transact(new.functions.beginImport(proposal.current, []))
    with reverts("NotMigrator", ledger.address("regulator2")):
        ledger.senders["regulator2"].transact(new.functions.finishImport())


def test_a_market_is_migrated_once(ledger: Ledger) -> None:
    with first_deployment_restored(ledger):
        first = proposed(ledger)
        approve_upgrade(ledger.senders["regulator2"], ledger, first.id)
        record, _ = run_upgrade(ledger.senders["regulator"], ledger, first.id, V2)
        new = market_at(ledger, first.next, V2)
        with reverts("NotImporting", 2):
            ledger.senders["regulator"].transact(new.functions.importOrders([]))
        with reverts("ImportNotAllowed", 2, 0):
            ledger.senders["regulator"].transact(new.functions.beginImport(first.current, []))
        with pytest.raises(UpgradeError, match="CarbonMarket is at"):
            ledger.follow(record)
            run_upgrade(ledger.senders["regulator"], ledger, first.id, V2)
    # A second successor approved for the same (now sealed) market cannot take it over again.
    with first_deployment_restored(ledger):
        second = proposed(ledger)
        approve_upgrade(ledger.senders["regulator2"], ledger, second.id)
        with reverts("MarketSealed", first.next):
            run_upgrade(ledger.senders["regulator"], ledger, second.id, V2)


def test_a_sealed_market_refuses_every_change(ledger: Ledger, market: dict[str, Any]) -> None:
    registry, batch = market["registry"], market["id"]
    listed = ledger.tx("enterprise_a", "CarbonMarket", "list", registry, batch, 100, 6_000, now(ledger) + DAY)
    (order_id,) = [e["orderId"] for e in ledger.events(listed, "CarbonMarket", "OrderListed")]
    old = ledger.contract("CarbonMarket")
    with first_deployment_restored(ledger):
        proposal = proposed(ledger)
        approve_upgrade(ledger.senders["regulator2"], ledger, proposal.id)
        run_upgrade(ledger.senders["regulator"], ledger, proposal.id, V2)
    assert ledger.contract("CarbonMarket").address == old.address
    # Listing and filling: every asset is disabled on the sealed market; its open orders moved on.
    with reverts("AssetNotEnabled", registry):
        ledger.tx("enterprise_a", "CarbonMarket", "list", registry, batch, 100, 6_000, now(ledger) + DAY)
    with reverts("OrderNotOpen", order_id, 5):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 10)
    with reverts("OrderNotOpen", order_id, 5):
        ledger.tx("enterprise_a", "CarbonMarket", "cancel", order_id)
    with reverts("OrderNotOpen", order_id, 5):
        ledger.tx("regulator", "CarbonMarket", "cancelEscrowedCredits", order_id, b"\x00" * 32)
    for function, args in (("setAssetEnabled", (registry, True)), ("setReferencePrice", (registry, batch, 1)),
                           ("setPriceBands", (500, 1000)), ("setBlockTradeThreshold", (10,))):
        with reverts("MarketSealed", proposal.next):
            ledger.tx("regulator", "CarbonMarket", function, *args)


def test_the_new_market_mirrors_every_members_permissions_and_the_old_one_is_no_longer_pushed_to(
        ledger: Ledger) -> None:
    old = ledger.contract("CarbonMarket").address
    with first_deployment_restored(ledger):
        proposal = proposed(ledger)
        approve_upgrade(ledger.senders["regulator2"], ledger, proposal.id)
        run_upgrade(ledger.senders["regulator"], ledger, proposal.id, V2)
        new = market_at(ledger, proposal.next, V2)
        assert ledger.call("Membership", "isMirror", proposal.next)
        assert not ledger.call("Membership", "isMirror", old)
        for account in known_accounts(ledger):
            assert new.functions.mirroredPermissions(account).call() == ledger.call(
                "Membership", "permissionsOf", account)
        ledger.tx("regulator", "Membership", "suspend", ledger.address("trader"), b"\x01" * 32)
        suspended = ledger.call("Membership", "permissionsOf", ledger.address("trader"))
        assert new.functions.mirroredPermissions(ledger.address("trader")).call() == suspended
        assert ledger.call("CarbonMarket", "mirroredPermissions", ledger.address("trader")) != suspended

"""MeterAnchor: the device registry, oracle authorisation, chained anchors and reading proofs."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from oracles import merkle_sum as ms
from oracles.anchor_records import (
    AnchorReader,
    AnchorRecord,
    anchor_id_of,
    batch_proof,
    batch_root,
    decode_records,
    event_record,
)
from tests.contracts.proofs import ENTERPRISE, as_abi, b32, deep_proof, steps, subtotals
from tests.contracts.structs import view
from tests.support.cast import ENTERPRISE as ENTERPRISE_KIND
from tests.support.cast import OPERATOR, ROLES
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

MA = "MeterAnchor"
DEVICE = ms.labelled_id("ENT11-F1-W2-D07")
FACILITY = ms.labelled_id("ENT11-F1")
WORKSHOP = ms.labelled_id("ENT11-F1-W2")
KEY = keccak(text="device key 1")
KEY2 = keccak(text="device key 2")
FACTORS = ms.labelled_id("CN-2023-v1")
ZERO = b"\x00" * 32
REASON = keccak(text="decision")

FACILITIES_ROOT = b32(ENTERPRISE["facilitiesRoot"]["hash"])
TOTAL_MG = int(ENTERPRISE["facilitiesRoot"]["sum"])
COUNT = int(ENTERPRISE["facilitiesRoot"]["count"])
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
HOUR = 3_600


def _register(ledger: Ledger, actor: str = "enterprise_a", device: bytes = DEVICE, org: int = 11) -> Any:
    return ledger.tx(actor, MA, "registerDevice", device, org, FACILITY, WORKSHOP, KEY)


def _authorise(ledger: Ledger, org: int = 11, oracle: str = "oracle") -> None:
    if org == 13:  # a third enterprise of the park, for batches
        ledger.tx("regulator", "Membership", "registerOrganisation", 13, 10, ENTERPRISE_KIND, "Lakeside Glass")
    ledger.tx("regulator", MA, "setOracleAuthorisation", ledger.address(oracle), org, True)


EMISSIONS = 0
PRODUCTION = 1
COUNTS = 2  # units of product from production counters


def aid(org: int, sequence: int, measure: int = EMISSIONS) -> int:
    """The id of an enterprise's `sequence`-th anchor of a measure."""
    return anchor_id_of(org, measure, sequence)


A1 = aid(11, 1)  # enterprise 11's first emissions anchor


def _anchor(ledger: Ledger, start: int = T0, end: int = T0 + HOUR, org: int = 11, actor: str = "oracle",
            measure: int = EMISSIONS, total: int = TOTAL_MG) -> Any:
    factors = FACTORS if measure == EMISSIONS else ZERO
    return ledger.tx(actor, MA, "anchor", org, measure, start, end, factors, FACILITIES_ROOT, total, COUNT)


# ====================================================================== devices


class TestRegisterDevice:
    def test_an_enterprise_member_registers_a_device_of_its_own_organisation(self, ledger: Ledger) -> None:
        receipt = _register(ledger)
        assert ledger.events(receipt, MA, "DeviceRegistered") == [
            {
                "deviceId": DEVICE,
                "enterpriseOrgId": 11,
                "facilityId": FACILITY,
                "workshopId": WORKSHOP,
                "publicKeyHash": KEY,
                "registeredBy": ledger.address("enterprise_a"),
            }
        ]
        assert view(ledger, MA, "getDevice", DEVICE) == {
            "enterpriseOrgId": 11,
            "facilityId": FACILITY,
            "workshopId": WORKSHOP,
            "publicKeyHash": KEY,
            "active": True,
        }

    def test_a_regulator_registers_a_device_for_any_enterprise(self, ledger: Ledger) -> None:
        _register(ledger, actor="regulator", org=12)
        assert view(ledger, MA, "getDevice", DEVICE)["enterpriseOrgId"] == 12

    def test_a_frozen_enterprise_member_still_registers_devices(self, ledger: Ledger) -> None:
        ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), REASON)
        _register(ledger)
        assert view(ledger, MA, "getDevice", DEVICE)["active"]

    def test_an_enterprise_member_cannot_register_for_another_enterprise(self, ledger: Ledger) -> None:
        with reverts("NotOrganisationMember", ledger.address("enterprise_a"), 12):
            _register(ledger, org=12)

    @pytest.mark.parametrize("actor", ["stranger", "trader", "oracle", "verifier"])
    def test_non_enterprise_accounts_cannot_register(self, ledger: Ledger, actor: str) -> None:
        with reverts("MissingRole", ledger.address(actor), ROLES["ENTERPRISE"]):
            _register(ledger, actor=actor)

    @pytest.mark.parametrize("action", ["suspend", "revoke"])
    def test_a_suspended_or_revoked_enterprise_member_cannot_register(self, ledger: Ledger, action: str) -> None:
        ledger.tx("regulator", "Membership", action, ledger.address("enterprise_a"), REASON)
        with reverts("MissingRole", ledger.address("enterprise_a"), ROLES["ENTERPRISE"]):
            _register(ledger)

    def test_a_suspended_regulator_cannot_register(self, ledger: Ledger) -> None:
        ledger.tx("regulator", "Membership", "suspend", ledger.address("regulator2"), REASON)
        with reverts("MissingRole", ledger.address("regulator2"), ROLES["ENTERPRISE"]):
            _register(ledger, actor="regulator2")

    def test_a_device_id_is_registered_once(self, ledger: Ledger) -> None:
        _register(ledger)
        with reverts("DeviceAlreadyRegistered", DEVICE, 11):
            _register(ledger, actor="enterprise_a2")
        with reverts("DeviceAlreadyRegistered", DEVICE, 11):
            _register(ledger, actor="enterprise_b", org=12)

    def test_zero_device_id_and_zero_key_are_refused(self, ledger: Ledger) -> None:
        with reverts("InvalidDeviceId"):
            _register(ledger, device=ZERO)
        with reverts("InvalidPublicKeyHash"):
            ledger.tx("enterprise_a", MA, "registerDevice", DEVICE, 11, FACILITY, WORKSHOP, ZERO)

    def test_a_regulator_cannot_register_for_an_unknown_organisation(self, ledger: Ledger) -> None:
        with reverts("UnknownOrganisation", 999):
            _register(ledger, actor="regulator", org=999)

    def test_an_unknown_device_cannot_be_read(self, ledger: Ledger) -> None:
        with reverts("UnknownDevice", DEVICE):
            ledger.call(MA, "getDevice", DEVICE)


class TestSetDeviceActive:
    def test_members_of_the_owning_enterprise_deactivate_and_reactivate(self, ledger: Ledger) -> None:
        _register(ledger)
        receipt = ledger.tx("enterprise_a2", MA, "setDeviceActive", DEVICE, False)
        assert ledger.events(receipt, MA, "DeviceActiveSet") == [
            {"deviceId": DEVICE, "enterpriseOrgId": 11, "active": False, "setBy": ledger.address("enterprise_a2")}
        ]
        assert not view(ledger, MA, "getDevice", DEVICE)["active"]
        ledger.tx("enterprise_a", MA, "setDeviceActive", DEVICE, True)
        assert view(ledger, MA, "getDevice", DEVICE)["active"]

    def test_a_regulator_deactivates_any_device(self, ledger: Ledger) -> None:
        _register(ledger)
        ledger.tx("regulator2", MA, "setDeviceActive", DEVICE, False)
        assert not view(ledger, MA, "getDevice", DEVICE)["active"]

    def test_another_enterprise_cannot_touch_the_device(self, ledger: Ledger) -> None:
        _register(ledger)
        with reverts("NotOrganisationMember", ledger.address("enterprise_b"), 11):
            ledger.tx("enterprise_b", MA, "setDeviceActive", DEVICE, False)

    @pytest.mark.parametrize("actor", ["stranger", "oracle"])
    def test_non_enterprise_accounts_cannot_touch_the_device(self, ledger: Ledger, actor: str) -> None:
        _register(ledger)
        with reverts("MissingRole", ledger.address(actor), ROLES["ENTERPRISE"]):
            ledger.tx(actor, MA, "setDeviceActive", DEVICE, False)

    def test_a_suspended_member_of_the_owning_enterprise_cannot_touch_the_device(self, ledger: Ledger) -> None:
        _register(ledger)
        ledger.tx("regulator", "Membership", "suspend", ledger.address("enterprise_a2"), REASON)
        with reverts("MissingRole", ledger.address("enterprise_a2"), ROLES["ENTERPRISE"]):
            ledger.tx("enterprise_a2", MA, "setDeviceActive", DEVICE, False)

    def test_an_unknown_device_is_refused(self, ledger: Ledger) -> None:
        with reverts("UnknownDevice", DEVICE):
            ledger.tx("regulator", MA, "setDeviceActive", DEVICE, False)


class TestRotateDeviceKey:
    def test_the_owning_enterprise_rotates_the_key(self, ledger: Ledger) -> None:
        _register(ledger)
        receipt = ledger.tx("enterprise_a2", MA, "rotateDeviceKey", DEVICE, KEY2)
        assert ledger.events(receipt, MA, "DeviceKeyRotated") == [
            {
                "deviceId": DEVICE,
                "enterpriseOrgId": 11,
                "previousKeyHash": KEY,
                "newKeyHash": KEY2,
                "rotatedBy": ledger.address("enterprise_a2"),
            }
        ]
        assert view(ledger, MA, "getDevice", DEVICE)["publicKeyHash"] == KEY2

    def test_an_inactive_device_can_be_rekeyed_and_stays_inactive(self, ledger: Ledger) -> None:
        _register(ledger)
        ledger.tx("enterprise_a", MA, "setDeviceActive", DEVICE, False)
        ledger.tx("regulator", MA, "rotateDeviceKey", DEVICE, KEY2)
        device = view(ledger, MA, "getDevice", DEVICE)
        assert (device["publicKeyHash"], device["active"]) == (KEY2, False)

    def test_another_enterprise_cannot_rotate(self, ledger: Ledger) -> None:
        _register(ledger)
        with reverts("NotOrganisationMember", ledger.address("enterprise_b"), 11):
            ledger.tx("enterprise_b", MA, "rotateDeviceKey", DEVICE, KEY2)

    def test_a_stranger_cannot_rotate(self, ledger: Ledger) -> None:
        _register(ledger)
        with reverts("MissingRole", ledger.address("stranger"), ROLES["ENTERPRISE"]):
            ledger.tx("stranger", MA, "rotateDeviceKey", DEVICE, KEY2)

    def test_a_revoked_member_cannot_rotate(self, ledger: Ledger) -> None:
        _register(ledger)
        ledger.tx("regulator", "Membership", "revoke", ledger.address("enterprise_a"), REASON)
        with reverts("MissingRole", ledger.address("enterprise_a"), ROLES["ENTERPRISE"]):
            ledger.tx("enterprise_a", MA, "rotateDeviceKey", DEVICE, KEY2)

    def test_the_same_or_a_zero_key_is_refused(self, ledger: Ledger) -> None:
        _register(ledger)
        with reverts("DeviceKeyUnchanged", DEVICE):
            ledger.tx("enterprise_a", MA, "rotateDeviceKey", DEVICE, KEY)
        with reverts("InvalidPublicKeyHash"):
            ledger.tx("enterprise_a", MA, "rotateDeviceKey", DEVICE, ZERO)

    def test_an_unknown_device_is_refused(self, ledger: Ledger) -> None:
        with reverts("UnknownDevice", DEVICE):
            ledger.tx("regulator", MA, "rotateDeviceKey", DEVICE, KEY2)


# ====================================================================== oracle authorisation


class TestOracleAuthorisation:
    def test_a_regulator_authorises_an_oracle_per_enterprise_and_withdraws_it(self, ledger: Ledger) -> None:
        oracle = ledger.address("oracle")
        assert not ledger.call(MA, "isOracleAuthorised", oracle, 11)
        receipt = ledger.tx("regulator", MA, "setOracleAuthorisation", oracle, 11, True)
        assert ledger.events(receipt, MA, "OracleAuthorisationSet") == [
            {"oracle": oracle, "enterpriseOrgId": 11, "authorised": True, "setBy": ledger.address("regulator")}
        ]
        assert ledger.call(MA, "isOracleAuthorised", oracle, 11)
        assert not ledger.call(MA, "isOracleAuthorised", oracle, 12)
        receipt = ledger.tx("regulator2", MA, "setOracleAuthorisation", oracle, 11, False)
        assert ledger.events(receipt, MA, "OracleAuthorisationSet")[0]["authorised"] is False
        assert not ledger.call(MA, "isOracleAuthorised", oracle, 11)

    @pytest.mark.parametrize("actor", ["stranger", "enterprise_a", "oracle", "verifier"])
    def test_only_a_regulator_sets_authorisations(self, ledger: Ledger, actor: str) -> None:
        with reverts("MissingRole", ledger.address(actor), ROLES["REGULATOR"]):
            ledger.tx(actor, MA, "setOracleAuthorisation", ledger.address("oracle"), 11, True)

    def test_a_suspended_regulator_cannot_set_authorisations(self, ledger: Ledger) -> None:
        ledger.tx("regulator", "Membership", "suspend", ledger.address("regulator2"), REASON)
        with reverts("MissingRole", ledger.address("regulator2"), ROLES["REGULATOR"]):
            ledger.tx("regulator2", MA, "setOracleAuthorisation", ledger.address("oracle"), 11, True)

    @pytest.mark.parametrize("account", ["trader", "enterprise_a", "stranger"])
    def test_only_oracle_members_can_be_authorised(self, ledger: Ledger, account: str) -> None:
        with reverts("MissingRole", ledger.address(account), ROLES["ORACLE"]):
            ledger.tx("regulator", MA, "setOracleAuthorisation", ledger.address(account), 11, True)

    def test_a_suspended_oracle_cannot_be_authorised_but_can_be_withdrawn(self, ledger: Ledger) -> None:
        _authorise(ledger)
        ledger.tx("regulator", "Membership", "suspend", ledger.address("oracle"), REASON)
        with reverts("MissingRole", ledger.address("oracle"), ROLES["ORACLE"]):
            _authorise(ledger, org=12)
        ledger.tx("regulator", MA, "setOracleAuthorisation", ledger.address("oracle"), 11, False)
        assert not ledger.call(MA, "isOracleAuthorised", ledger.address("oracle"), 11)

    def test_every_active_oracle_of_the_serving_organisation_anchors(self, ledger: Ledger) -> None:
        # An oracle organisation rotates its keys without a new authorisation per enterprise.
        ledger.tx("regulator", "Membership", "admit", ledger.address("stranger"), 50, [ROLES["ORACLE"]])
        _authorise(ledger)
        assert ledger.call(MA, "oracleOrganisationOf", 11) == 50
        assert ledger.call(MA, "isOracleAuthorised", ledger.address("stranger"), 11)
        _anchor(ledger, actor="stranger")
        _anchor(ledger, start=T0 + HOUR, end=T0 + 2 * HOUR)
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [aid(11, 2), T0 + HOUR, T0 + 2 * HOUR]

    def test_authorising_an_oracle_of_another_organisation_replaces_the_serving_one(self, ledger: Ledger) -> None:
        ledger.tx("regulator", "Membership", "registerOrganisation", 51, 10, OPERATOR, "Second Metering Oracle")
        ledger.tx("regulator", "Membership", "admit", ledger.address("stranger"), 51, [ROLES["ORACLE"]])
        _authorise(ledger)
        _authorise(ledger, oracle="stranger")
        assert ledger.call(MA, "oracleOrganisationOf", 11) == 51
        assert not ledger.call(MA, "isOracleAuthorised", ledger.address("oracle"), 11)
        with reverts("OracleNotAuthorised", ledger.address("oracle"), 11):
            _anchor(ledger)
        # Withdrawing an oracle that no longer serves the enterprise changes nothing.
        ledger.tx("regulator", MA, "setOracleAuthorisation", ledger.address("oracle"), 11, False)
        assert ledger.call(MA, "oracleOrganisationOf", 11) == 51
        _anchor(ledger, actor="stranger", measure=PRODUCTION, total=4_200)  # the serving organisation: both measures
        ledger.tx("regulator", MA, "setOracleAuthorisation", ledger.address("stranger"), 11, False)
        assert ledger.call(MA, "oracleOrganisationOf", 11) == 0
        with reverts("OracleNotAuthorised", ledger.address("stranger"), 11):
            _anchor(ledger, actor="stranger")

    def test_an_enterprise_whose_id_is_beyond_the_anchor_ids_cannot_be_authorised(self, ledger: Ledger) -> None:
        too_big = ledger.call(MA, "MAX_ENTERPRISE_ORG_ID") + 1
        assert too_big == 1 << 21  # ids below 2^53: exact as JSON numbers
        ledger.tx("regulator", "Membership", "registerOrganisation", too_big, 10, ENTERPRISE_KIND, "Far Away Works")
        with reverts("EnterpriseIdOutOfRange", too_big):
            _authorise(ledger, org=too_big)

    def test_an_unknown_enterprise_cannot_be_authorised(self, ledger: Ledger) -> None:
        with reverts("UnknownOrganisation", 999):
            _authorise(ledger, org=999)


# ====================================================================== anchors


def _record(ledger: Ledger, receipt: Any) -> AnchorRecord:
    """The record of the anchor a transaction created, as its `Anchored` event states it."""
    return event_record(ledger.events(receipt, MA, "Anchored")[0])


def _window(org: int = 11, start: int = T0, end: int = T0 + HOUR, measure: int = EMISSIONS,
            total: int = TOTAL_MG) -> tuple[Any, ...]:
    """A window as `anchorBatch` takes it (the arguments of `anchor`)."""
    return (org, measure, start, end, FACTORS if measure == EMISSIONS else ZERO, FACILITIES_ROOT, total, COUNT)


def _batch(ledger: Ledger, windows: list[tuple[Any, ...]], actor: str = "oracle") -> tuple[Any, list[AnchorRecord]]:
    """Anchor a batch; the receipt and the records its `BatchAnchored` event packs."""
    receipt = ledger.tx(actor, MA, "anchorBatch", windows)
    (event,) = ledger.events(receipt, MA, "BatchAnchored")
    return receipt, decode_records(event["oracle"], event["records"])


class TestAnchor:
    def test_an_authorised_oracle_anchors_a_window_and_the_contract_keeps_the_hash_of_its_record(
        self, ledger: Ledger
    ) -> None:
        _authorise(ledger)
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [0, 0, 0]
        receipt = _anchor(ledger)
        root = b32(ENTERPRISE["root"]["hash"])
        oracle = ledger.address("oracle")
        assert ledger.events(receipt, MA, "Anchored") == [
            {
                "anchorId": aid(11, 1),
                "enterpriseOrgId": 11,
                "windowStart": T0,
                "windowEnd": T0 + HOUR,
                "root": root,
                "totalMg": TOTAL_MG,
                "readingCount": COUNT,
                "factorSetId": FACTORS,
                "oracle": oracle,
            }
        ]
        # The event leaves out what the id says: the measure, and the previous anchor (none for the first).
        record = AnchorRecord(aid(11, 1), 11, EMISSIONS, T0, T0 + HOUR, root, TOTAL_MG, COUNT, FACTORS, 0, oracle)
        assert ledger.call(MA, "commitmentOf", aid(11, 1)) == record.commitment()
        assert ledger.call(MA, "anchorCommitment", record.as_abi()) == record.commitment()
        assert ledger.call(MA, "isAnchored", record.as_abi(), aid(11, 1), [])
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [aid(11, 1), T0, T0 + HOUR]

    def test_a_record_that_differs_in_any_field_is_not_anchored(self, ledger: Ledger) -> None:
        _authorise(ledger)
        record = _record(ledger, _anchor(ledger))
        for field, forged in (("root", b"\x01" * 32), ("total", record.total + 1), ("reading_count", 1),
                              ("window_end", T0 + 2 * HOUR), ("measure", PRODUCTION), ("factor_set_id", ZERO),
                              ("previous_anchor_id", 7), ("oracle", ledger.address("stranger"))):
            assert not ledger.call(MA, "isAnchored", record._replace(**{field: forged}).as_abi(), record.anchor_id, [])

    def test_the_anchored_root_is_the_level_four_node_of_the_reference_implementation(self, ledger: Ledger) -> None:
        _authorise(ledger, org=12)
        record = _record(ledger, _anchor(ledger, org=12))
        expected = ms.level_node(ms.LEVEL_ENTERPRISE, ms.enterprise_id(12), ms.Node(FACILITIES_ROOT, TOTAL_MG, COUNT))
        assert record.root == expected.hash

    def test_anchors_of_an_enterprise_form_a_chain_numbered_per_enterprise_and_measure(self, ledger: Ledger) -> None:
        _authorise(ledger)
        _authorise(ledger, org=12)
        first = _record(ledger, _anchor(ledger))
        other = _record(ledger, _anchor(ledger, org=12))  # another enterprise may anchor the same window
        adjacent = _record(ledger, _anchor(ledger, start=T0 + HOUR, end=T0 + 2 * HOUR))
        after_gap = _record(ledger, _anchor(ledger, start=T0 + 5 * HOUR, end=T0 + 6 * HOUR))  # a gap is allowed
        assert [r.anchor_id for r in (first, other, adjacent, after_gap)] == [aid(11, 1), aid(12, 1), aid(11, 2),
                                                                              aid(11, 3)]
        assert aid(11, 1) == 11 << 32 | 1 and aid(12, 1, PRODUCTION) == 12 << 32 | 1 << 31 | 1
        assert [r.previous_anchor_id for r in (first, other, adjacent, after_gap)] == [0, 0, aid(11, 1), aid(11, 2)]
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [aid(11, 3), T0 + 5 * HOUR, T0 + 6 * HOUR]
        assert ledger.call(MA, "headOf", 12, EMISSIONS) == [aid(12, 1), T0, T0 + HOUR]
        assert ledger.call(MA, "anchorIdOf", 11, EMISSIONS, 3) == aid(11, 3)
        assert AnchorReader(ledger.contract(MA)).anchor_ids([11, 12, 13]) == [aid(11, 1), aid(11, 2), aid(11, 3),
                                                                              aid(12, 1)]

    def test_a_frozen_oracle_still_anchors(self, ledger: Ledger) -> None:
        _authorise(ledger)
        ledger.tx("regulator", "Membership", "freeze", ledger.address("oracle"), REASON)
        _anchor(ledger)
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [aid(11, 1), T0, T0 + HOUR]

    def test_the_latest_window_again_is_a_duplicate_naming_its_anchor_and_an_earlier_one_overlaps(
        self, ledger: Ledger
    ) -> None:
        _authorise(ledger)
        _anchor(ledger)
        _anchor(ledger, start=T0 + HOUR, end=T0 + 2 * HOUR)
        with reverts("DuplicateWindow", 11, T0 + HOUR, T0 + 2 * HOUR, aid(11, 2)):
            _anchor(ledger, start=T0 + HOUR, end=T0 + 2 * HOUR)
        # Only the head is kept on chain: an earlier window is refused as overlapping the head.
        with reverts("WindowOverlap", 11, T0, aid(11, 2), T0 + 2 * HOUR):
            _anchor(ledger)

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (T0 + HOUR // 2, T0 + 2 * HOUR),  # starts inside the latest window
            (T0, T0 + 2 * HOUR),  # same start, longer
            (T0 + 60, T0 + 120),  # inside the latest window
            (T0 - HOUR, T0),  # before the latest window, even though it does not intersect it
        ],
    )
    def test_a_window_starting_before_the_end_of_the_latest_is_refused(
        self, ledger: Ledger, start: int, end: int
    ) -> None:
        _authorise(ledger)
        _anchor(ledger)
        with reverts("WindowOverlap", 11, start, aid(11, 1), T0 + HOUR):
            _anchor(ledger, start=start, end=end)

    @pytest.mark.parametrize(("start", "end"), [(T0, T0), (T0 + 1, T0)])
    def test_an_empty_or_inverted_window_is_refused(self, ledger: Ledger, start: int, end: int) -> None:
        _authorise(ledger)
        with reverts("InvalidWindow", start, end):
            _anchor(ledger, start=start, end=end)

    def test_a_window_that_has_not_closed_yet_is_refused(self, ledger: Ledger) -> None:
        _authorise(ledger)
        now = int(ledger.chain.tester.get_block_by_number("pending")["timestamp"])
        with reverts("WindowNotClosed", windowEnd=now + HOUR):
            _anchor(ledger, start=now, end=now + HOUR)

    def test_an_anchor_without_readings_is_refused(self, ledger: Ledger) -> None:
        _authorise(ledger)
        with reverts("EmptyAnchor"):
            ledger.tx("oracle", MA, "anchor", 11, EMISSIONS, T0, T0 + HOUR, FACTORS, FACILITIES_ROOT, 0, 0)

    def test_an_oracle_not_authorised_for_the_enterprise_is_refused(self, ledger: Ledger) -> None:
        _authorise(ledger)
        with reverts("OracleNotAuthorised", ledger.address("oracle"), 12):
            _anchor(ledger, org=12)

    def test_a_withdrawn_authorisation_stops_anchoring(self, ledger: Ledger) -> None:
        _authorise(ledger)
        ledger.tx("regulator", MA, "setOracleAuthorisation", ledger.address("oracle"), 11, False)
        with reverts("OracleNotAuthorised", ledger.address("oracle"), 11):
            _anchor(ledger)

    @pytest.mark.parametrize("action", ["suspend", "revoke"])
    def test_a_suspended_or_revoked_oracle_is_refused_despite_its_authorisation(
        self, ledger: Ledger, action: str
    ) -> None:
        _authorise(ledger)
        ledger.tx("regulator", "Membership", action, ledger.address("oracle"), REASON)
        with reverts("MissingRole", ledger.address("oracle"), ROLES["ORACLE"]):
            _anchor(ledger)

    @pytest.mark.parametrize("actor", ["stranger", "enterprise_a", "regulator"])
    def test_non_oracles_cannot_anchor(self, ledger: Ledger, actor: str) -> None:
        with reverts("MissingRole", ledger.address(actor), ROLES["ORACLE"]):
            _anchor(ledger, actor=actor)

    def test_nothing_is_kept_for_an_unknown_anchor(self, ledger: Ledger) -> None:
        assert ledger.call(MA, "commitmentOf", aid(11, 1)) == ZERO
        oracle = ledger.address("oracle")
        record = AnchorRecord(aid(11, 1), 11, EMISSIONS, T0, T0 + HOUR, ZERO, 1, 1, FACTORS, 0, oracle)
        with reverts("UnknownAnchor", aid(11, 1)):
            ledger.call(MA, "isAnchored", record.as_abi(), aid(11, 1), [])
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [0, 0, 0]


class TestBatchAnchor:
    def test_one_transaction_anchors_windows_of_several_enterprises_under_one_batch_root(
        self, ledger: Ledger
    ) -> None:
        for org in (11, 12, 13):
            _authorise(ledger, org=org)
        _anchor(ledger)  # enterprise 11's first window, anchored alone
        receipt, records = _batch(ledger, [_window(11, T0 + HOUR, T0 + 2 * HOUR), _window(12), _window(13),
                                           _window(11, T0 + 2 * HOUR, T0 + 3 * HOUR)])
        assert ledger.events(receipt, MA, "Anchored") == []  # the records are packed in BatchAnchored
        assert [(r.anchor_id, r.enterprise_org_id, r.window_start, r.previous_anchor_id) for r in records] == [
            (aid(11, 2), 11, T0 + HOUR, aid(11, 1)), (aid(12, 1), 12, T0, 0), (aid(13, 1), 13, T0, 0),
            (aid(11, 3), 11, T0 + 2 * HOUR, aid(11, 2))]
        expected_root = ms.level_node(ms.LEVEL_ENTERPRISE, ms.enterprise_id(12),
                                      ms.Node(FACILITIES_ROOT, TOTAL_MG, COUNT)).hash
        assert records[1].root == expected_root
        assert all(r.oracle == ledger.address("oracle") and r.total == TOTAL_MG for r in records)
        leaves = [r.commitment() for r in records]
        (event,) = ledger.events(receipt, MA, "BatchAnchored")
        assert event["batchRoot"] == batch_root(leaves)
        assert event["batchId"] == aid(11, 2)  # the batch's first window's id
        assert ledger.call(MA, "commitmentOf", aid(11, 2)) == batch_root(leaves)
        assert [ledger.call(MA, "commitmentOf", r.anchor_id) for r in records[1:]] == [ZERO] * 3
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [aid(11, 3), T0 + 2 * HOUR, T0 + 3 * HOUR]
        assert ledger.call(MA, "headOf", 13, EMISSIONS) == [aid(13, 1), T0, T0 + HOUR]

    def test_each_window_of_a_batch_proves_into_the_batch_root_and_no_other_position(self, ledger: Ledger) -> None:
        for org in (11, 12, 13):
            _authorise(ledger, org=org)
        _, records = _batch(ledger, [_window(11), _window(12), _window(13)])
        leaves = [r.commitment() for r in records]
        for i, record in enumerate(records):
            proof = list(batch_proof(leaves, i))
            batch_id = aid(11, 1)
            assert ledger.call(MA, "isAnchored", record.as_abi(), batch_id, proof)
            assert not ledger.call(MA, "isAnchored", record._replace(total=record.total + 1).as_abi(), batch_id, proof)
            assert not ledger.call(MA, "isAnchored", record._replace(anchor_id=aid(11, 9)).as_abi(), batch_id, proof)
        # A window of a batch is kept under the batch's first id only.
        with reverts("UnknownAnchor", aid(12, 1)):
            ledger.call(MA, "isAnchored", records[1].as_abi(), aid(12, 1), [])

    def test_a_batch_checks_every_window_as_a_single_anchor_does_and_refuses_whole(self, ledger: Ledger) -> None:
        _authorise(ledger)
        _authorise(ledger, org=12)
        with reverts("OracleNotAuthorised", ledger.address("oracle"), 13):
            _batch(ledger, [_window(11), _window(13)])
        with reverts("WindowOverlap", 11, T0 + 60, aid(11, 1), T0 + HOUR):
            _batch(ledger, [_window(11), _window(12), _window(11, T0 + 60, T0 + 120)])
        with reverts("EmptyBatch"):
            _batch(ledger, [])
        with reverts("MissingRole", ledger.address("stranger"), ROLES["ORACLE"]):
            _batch(ledger, [_window(11)], actor="stranger")
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [0, 0, 0]
        assert ledger.call(MA, "headOf", 12, EMISSIONS) == [0, 0, 0]

    def test_production_windows_of_a_batch_are_readable_by_other_contracts(self, ledger: Ledger) -> None:
        _authorise(ledger)
        _authorise(ledger, org=12)
        _batch(ledger, [_window(11), _window(11, measure=PRODUCTION, total=4_200), _window(12)])
        assert ledger.call(MA, "productionOf", aid(11, 1, PRODUCTION)) == [11, T0, T0 + HOUR, 4_200]
        with reverts("NotProductionAnchor", aid(12, 1)):
            ledger.call(MA, "productionOf", aid(12, 1))


class TestProductionAnchors:
    def test_a_production_window_is_chained_apart_from_the_emissions_of_the_same_enterprise(
        self, ledger: Ledger
    ) -> None:
        _authorise(ledger)
        _anchor(ledger)  # emissions of [T0, T0 + 1h)
        record = _record(ledger, _anchor(ledger, measure=PRODUCTION, total=5_000_000))  # the same window, produced Wh
        assert (record.anchor_id, record.measure, record.previous_anchor_id) == (aid(11, 1, PRODUCTION), PRODUCTION, 0)
        assert ledger.call(MA, "headOf", 11, EMISSIONS) == [aid(11, 1), T0, T0 + HOUR]
        assert ledger.call(MA, "headOf", 11, PRODUCTION) == [aid(11, 1, PRODUCTION), T0, T0 + HOUR]
        assert AnchorReader(ledger.contract(MA)).find(11, PRODUCTION, T0, T0 + HOUR) == aid(11, 1, PRODUCTION)
        with reverts("DuplicateWindow", 11, T0, T0 + HOUR, aid(11, 1, PRODUCTION)):
            _anchor(ledger, measure=PRODUCTION, total=5_000_000)
        record = _record(ledger, _anchor(ledger, start=T0 + HOUR, end=T0 + 2 * HOUR, measure=PRODUCTION, total=7))
        assert record.previous_anchor_id == aid(11, 1, PRODUCTION)

    def test_other_contracts_read_the_enterprise_window_and_wh_of_a_production_anchor(self, ledger: Ledger) -> None:
        _authorise(ledger)
        _anchor(ledger, measure=PRODUCTION, total=5_000_000)
        assert ledger.call(MA, "productionOf", aid(11, 1, PRODUCTION)) == [11, T0, T0 + HOUR, 5_000_000]

    def test_an_emissions_or_unknown_anchor_has_no_production(self, ledger: Ledger) -> None:
        _authorise(ledger)
        _anchor(ledger)
        with reverts("NotProductionAnchor", aid(11, 1)):
            ledger.call(MA, "productionOf", aid(11, 1))
        with reverts("NotProductionAnchor", aid(11, 2, PRODUCTION)):
            ledger.call(MA, "productionOf", aid(11, 2, PRODUCTION))

    def test_an_unknown_measure_or_production_beyond_uint64_wh_is_refused(self, ledger: Ledger) -> None:
        _authorise(ledger)
        with reverts("UnknownMeasure", 3):
            _anchor(ledger, measure=3)
        with reverts("ProductionOutOfRange", 1 << 64):
            _anchor(ledger, measure=PRODUCTION, total=1 << 64)


class TestProductCountAnchors:
    def test_the_ids_of_emissions_and_production_anchors_are_those_of_the_single_measure_bit(
        self, ledger: Ledger
    ) -> None:
        for sequence in (1, 5, (1 << 30) - 1):
            assert ledger.call(MA, "anchorIdOf", 11, EMISSIONS, sequence) == 11 << 32 | sequence
            assert ledger.call(MA, "anchorIdOf", 11, PRODUCTION, sequence) == 11 << 32 | 1 << 31 | sequence
            assert ledger.call(MA, "anchorIdOf", 11, COUNTS, sequence) == 11 << 32 | 3 << 30 | sequence
            assert ledger.call(MA, "anchorIdOf", 11, COUNTS, sequence) == aid(11, sequence, COUNTS)
        assert ledger.call(MA, "anchorIdOf", 11, EMISSIONS, (1 << 31) - 1) == aid(11, (1 << 31) - 1)

    def test_a_count_window_is_chained_apart_and_anchored_by_the_oracle_serving_the_enterprise(
        self, ledger: Ledger
    ) -> None:
        _authorise(ledger)
        _anchor(ledger)
        _anchor(ledger, measure=PRODUCTION, total=4_200)
        record = _record(ledger, _anchor(ledger, measure=COUNTS, total=1_500_000))  # 1,500 t in milli tonnes
        assert (record.anchor_id, record.measure, record.previous_anchor_id) == (aid(11, 1, COUNTS), COUNTS, 0)
        assert ledger.call(MA, "headOf", 11, COUNTS) == [aid(11, 1, COUNTS), T0, T0 + HOUR]
        record = _record(ledger, _anchor(ledger, start=T0 + HOUR, end=T0 + 2 * HOUR, measure=COUNTS, total=7))
        assert (record.anchor_id, record.previous_anchor_id) == (aid(11, 2, COUNTS), aid(11, 1, COUNTS))
        with reverts("NotProductionAnchor", aid(11, 1, COUNTS)):  # counts are not electricity for certificates
            ledger.call(MA, "productionOf", aid(11, 1, COUNTS))
        with reverts("OracleNotAuthorised", ledger.address("oracle"), 12):  # 12 is served by no oracle
            _anchor(ledger, org=12, measure=COUNTS)

    def test_a_production_reading_proves_into_its_anchor_with_its_wh_subtotals(self, ledger: Ledger) -> None:
        leaves = [ms.leaf(keccak(text=f"generated {i}"), wh) for i, wh in enumerate((1_250, 980, 1_400))]
        device = ms.LabelledTree.build(ms.LEVEL_DEVICE, DEVICE, leaves)
        workshop = ms.LabelledTree.build(ms.LEVEL_WORKSHOP, WORKSHOP, [device.node])
        facility = ms.LabelledTree.build(ms.LEVEL_FACILITY, FACILITY, [workshop.node])
        enterprise = ms.LabelledTree.build(ms.LEVEL_ENTERPRISE, ms.enterprise_id(11), [facility.node])
        proof = device.steps(1) + workshop.steps(0) + facility.steps(0) + enterprise.steps(0)
        _authorise(ledger)
        node = facility.node
        ledger.tx("oracle", MA, "anchor", 11, PRODUCTION, T0, T0 + HOUR, ZERO, node.hash, node.sum, node.count)
        assert ledger.call(MA, "productionOf", aid(11, 1, PRODUCTION)) == [11, T0, T0 + HOUR, 3_630]
        valid, got = view(ledger, MA, "verifyReading", *_args(ledger, aid(11, 1, PRODUCTION)),
                          keccak(text="generated 1"), 980, as_abi(proof))
        assert valid
        assert [(t["level"], t["sum"]) for t in got] == [(1, 3_630), (2, 3_630), (3, 3_630), (4, 3_630)]


# ====================================================================== reading proofs


@pytest.fixture
def anchored(ledger: Ledger) -> Ledger:
    """Enterprise 11's vector tree anchored as its first anchor, `A1`."""
    _authorise(ledger)
    _anchor(ledger)
    return ledger


def _args(ledger: Ledger, anchor_id: int) -> tuple[Any, ...]:
    """`verifyReading`'s leading arguments for an anchor: its record (from its event), batch id and batch proof.
    Read once per chain head (by its hash: a reverted snapshot may reach the same height with other blocks): a test
    proves many readings of one anchor."""
    head = (bytes(ledger.w3.eth.get_block("latest")["hash"]), anchor_id)
    if head not in _ARGS:
        window = AnchorReader(ledger.contract(MA)).window(anchor_id)
        assert window is not None
        _ARGS.clear()
        _ARGS[head] = window.proof_args()
    return _ARGS[head]


_ARGS: dict[tuple[bytes, int], tuple[Any, ...]] = {}


def _verify(ledger: Ledger, anchor_id: int, reading: dict[str, Any], value: int | None = None) -> tuple[bool, list]:
    value = int(reading["value"]) if value is None else value
    return view(ledger, MA, "verifyReading", *_args(ledger, anchor_id), b32(reading["digest"]), value,
                steps(reading["proof"]))


class TestVerifyReading:
    def test_every_reading_of_the_anchored_tree_verifies_with_its_subtotals(self, anchored: Ledger) -> None:
        for reading in ENTERPRISE["readings"]:
            assert _verify(anchored, A1, reading) == (True, subtotals(reading["subtotals"]))

    def test_the_subtotals_open_the_device_workshop_facility_and_enterprise_totals(self, anchored: Ledger) -> None:
        reading = next(r for r in ENTERPRISE["readings"] if r["device"] == "F1-W1-D1")
        valid, got = _verify(anchored, A1, reading)
        assert valid
        assert [t["level"] for t in got] == [1, 2, 3, 4]
        assert got[0]["id"] == ms.labelled_id("F1-W1-D1")
        assert (got[0]["sum"], got[0]["count"]) == (557_000 + 0 + 1_113_600, 3)
        assert got[-1] == {"level": 4, "id": ms.enterprise_id(11), "sum": TOTAL_MG, "count": COUNT}

    def test_a_forged_value_does_not_verify_and_opens_no_subtotals(self, anchored: Ledger) -> None:
        reading = ENTERPRISE["readings"][0]
        assert _verify(anchored, A1, reading, value=int(reading["value"]) + 1) == (False, [])

    def test_a_forged_sibling_does_not_verify(self, anchored: Ledger) -> None:
        reading = ENTERPRISE["readings"][3]
        proof = steps(reading["proof"])
        i = next(i for i, s in enumerate(proof) if s[0] != ms.STEP_LEVEL)
        kind, level, data, total, count = proof[i]
        for forged_step in ((kind, level, data, total + 1, count), (kind, level, b"\x00" * 32, total, count)):
            forged = [*proof[:i], forged_step, *proof[i + 1 :]]
            valid, _ = anchored.call(MA, "verifyReading", *_args(anchored, A1), b32(reading["digest"]),
                                     int(reading["value"]), forged)
            assert not valid

    def test_a_proof_into_another_enterprise_does_not_verify(self, anchored: Ledger) -> None:
        _authorise(anchored, org=12)
        _anchor(anchored, org=12)  # the same facilities root, but enterprise 12
        assert _verify(anchored, aid(12, 1), ENTERPRISE["readings"][0]) == (False, [])

    def test_a_proof_that_goes_beyond_the_enterprise_level_does_not_verify(self, anchored: Ledger) -> None:
        reading = ENTERPRISE["readings"][0]
        proof = [*steps(reading["proof"]), (ms.STEP_LEVEL, ms.LEVEL_PERIOD, ms.enterprise_id(11), 0, 0)]
        valid, _ = anchored.call(MA, "verifyReading", *_args(anchored, A1), b32(reading["digest"]),
                                 int(reading["value"]), proof)
        assert not valid

    def test_a_malformed_proof_is_refused(self, anchored: Ledger) -> None:
        reading = ENTERPRISE["readings"][0]
        proof = steps(reading["proof"])
        last = len(proof) - 1
        reordered = [*proof[:last], (ms.STEP_LEVEL, ms.LEVEL_DEVICE, proof[last][2], 0, 0)]
        with reverts("LevelOutOfOrder", last, 1, 3):
            anchored.call(MA, "verifyReading", *_args(anchored, A1), b32(reading["digest"]), int(reading["value"]),
                          reordered)
        with reverts("UnknownStepKind", 0, 7):
            anchored.call(MA, "verifyReading", *_args(anchored, A1), b32(reading["digest"]), 1, [(7, 0, ZERO, 0, 0)])

    def test_an_unknown_anchor_is_refused(self, anchored: Ledger) -> None:
        record, _, _ = _args(anchored, A1)
        reading = ENTERPRISE["readings"][0]
        with reverts("UnknownAnchor", aid(11, 2)):
            anchored.call(MA, "verifyReading", (aid(11, 2), *record[1:]), aid(11, 2), [], b32(reading["digest"]),
                          int(reading["value"]), steps(reading["proof"]))

    def test_a_record_that_is_not_the_anchored_one_opens_nothing(self, anchored: Ledger) -> None:
        record, batch_id, path = _args(anchored, A1)
        reading = ENTERPRISE["readings"][0]
        forged = (*record[:6], record[6] + 1, *record[7:])  # the total, as if the index had been tampered with
        assert view(anchored, MA, "verifyReading", forged, batch_id, path, b32(reading["digest"]),
                    int(reading["value"]), steps(reading["proof"])) == (False, [])

    def test_a_reading_of_a_window_anchored_in_a_batch_proves_through_the_batch_root(self, ledger: Ledger) -> None:
        _authorise(ledger)
        _authorise(ledger, org=12)
        _batch(ledger, [_window(12), _window(11)])  # enterprise 11's vector window is the second leaf
        window = AnchorReader(ledger.contract(MA)).window(A1)
        assert window is not None and window.batch_id == aid(12, 1) and len(window.batch_proof) == 1
        for reading in ENTERPRISE["readings"]:
            assert _verify(ledger, A1, reading) == (True, subtotals(reading["subtotals"]))
        reading = ENTERPRISE["readings"][0]
        record, _, _ = window.proof_args()
        wrong_path = view(ledger, MA, "verifyReading", record, aid(12, 1), [b"\x00" * 32], b32(reading["digest"]),
                          int(reading["value"]), steps(reading["proof"]))
        assert wrong_path == (False, [])

    def test_a_twenty_step_proof_verifies(self, ledger: Ledger) -> None:
        digest, value, proof, facilities = deep_proof()
        assert len(proof) == 20
        _authorise(ledger)
        ledger.tx("oracle", MA, "anchor", 11, EMISSIONS, T0, T0 + HOUR, FACTORS, facilities.hash, facilities.sum,
                  facilities.count)
        valid, got = view(ledger, MA, "verifyReading", *_args(ledger, A1), digest, value, as_abi(proof))
        _, expected = ms.fold(ms.leaf(digest, value), proof)
        assert valid
        assert got == [t._asdict() for t in expected]
        call = ledger.contract(MA).functions.verifyReading(*_args(ledger, A1), digest, value, as_abi(proof))
        gas = call.estimate_gas()
        assert gas < 150_000, gas

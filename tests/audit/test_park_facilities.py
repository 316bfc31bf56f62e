"""Meter data of the park organisation itself: a shared facility (here a substation and a
wastewater plant's meters) registered by a member of the park with the ENTERPRISE role, anchored by
an oracle authorised for the park. The drill-down shows it as the park's own node, checked against
its anchors like an enterprise; a member of the park sees that node, an enterprise's member its own."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import update

from ledger_core.chain.errors import ContractRevert
from ledger_core.db.models import CommittedNode, MeterBatch
from ledger_service.audit.access import AccessDenied, Viewer, drill_down_for, require_in_park, viewer_of
from ledger_service.audit.drilldown import PARK_FACILITIES, drill_down_year
from oracles.anchoring import MeterAnchorClient, anchor_pending, register_devices_on_chain
from oracles.batches import build_closed_batches
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.simulator import simulate_messages, simulate_park
from tests.indexer.conftest import indexer_for
from tests.support.cast import ROLES
from tests.support.story import HOUR, LATER, START, YEAR

PARK, STEEL, CEMENT, OTHER_PARK = 10, 11, 12, 60
DEVICES = 3


@pytest.fixture
def park_facility(ledger, story, session, index_engine):
    """Two hours of one-minute readings of the park's own three devices, anchored and indexed."""
    ledger.add_actor("park_operator", Account.from_key(keccak(text="carbonledger-test-actor:park_operator")))
    ledger.tx("regulator", "Membership", "admit", ledger.address("park_operator"), PARK, [ROLES["ENTERPRISE"]])
    layout = simulate_park(enterprises=1, devices_per_enterprise=DEVICES, seed=9, park_org_id=PARK,
                           first_enterprise_org_id=PARK)
    register_devices(session, layout.device_infos())
    session.commit()
    anchor = ledger.contract("MeterAnchor")
    register_devices_on_chain(anchor, ledger.senders["park_operator"], layout.device_infos())
    ledger.tx("regulator", "MeterAnchor", "setOracleAuthorisation", ledger.address("oracle"), PARK, True)
    ingest_messages(session, simulate_messages(layout, START, 120, readings_per_message=30),
                    factor_set=get_factor_set("CN-2023-v1"), window_seconds=HOUR, now=LATER)
    session.commit()
    build_closed_batches(session, LATER)
    anchor_pending(session, MeterAnchorClient(anchor, ledger.senders["oracle"]))
    indexer_for(ledger, index_engine).sync()
    return layout


def test_the_park_organisations_own_devices_are_a_node_of_the_drill_down_checked_against_anchors(
    park_facility, session
):
    park = drill_down_year(session, PARK, YEAR, verify_roots=True)
    assert [(c.level, c.label) for c in park.children] == [(PARK_FACILITIES, "10"), ("enterprise", "11"),
                                                           ("enterprise", "12")]
    own = park.children[0]
    assert own.count == DEVICES * 120 and own.sum_mg > 0
    assert (own.anchored_mg, own.anchored_count) == (own.sum_mg, own.count) and own.matches_anchored
    devices = [d for f in own.children for w in f.children for d in w.children]
    assert sorted(d.label for d in devices) == sorted(d.device_id for d in park_facility.devices)
    assert all(d.matches_anchored for d in devices) and sum(d.count for d in devices) == own.count
    assert (park.sum_mg, park.count) == (sum(c.sum_mg for c in park.children), sum(c.count for c in park.children))
    assert park.count == (DEVICES + 8) * 120 and park.matches_anchored
    assert park.anchored_mg == park.sum_mg


def test_a_tampered_park_device_subtotal_is_flagged_on_that_device_of_the_parks_own_node_only(park_facility,
                                                                                               session):
    park_batches = [b for (b,) in session.query(MeterBatch.id).filter(MeterBatch.enterprise_org_id == PARK)]
    session.execute(update(CommittedNode).where(CommittedNode.batch_id == park_batches[0], CommittedNode.level == 1,
                                                CommittedNode.label == park_facility.devices[0].device_id)
                    .values(sum_mg=CommittedNode.sum_mg + 5))
    session.commit()
    park = drill_down_year(session, PARK, YEAR, verify_roots=True)
    own, *enterprises = park.children
    assert own.matches_anchored  # its total comes from the facility nodes, which still add up
    below = [n for f in own.children for n in (f, *f.children, *(d for w in f.children for d in w.children))]
    # The readings still rebuild the anchored root: only the row that no longer agrees with them is marked.
    assert [(n.level, n.label) for n in below if not n.matches_anchored] == [
        ("device", park_facility.devices[0].device_id)]
    tampered = next(d for f in own.children for w in f.children for d in w.children
                    if d.label == park_facility.devices[0].device_id)
    assert tampered.sum_mg == sum(n.sum_mg for n in session.query(CommittedNode).filter(
        CommittedNode.label == tampered.label))
    assert all(f.matches_anchored for e in enterprises for f in e.children)


def test_a_park_administrator_sees_the_whole_park_and_an_enterprise_member_its_enterprise_and_the_total(
    ledger, park_facility, session
):
    park = drill_down_year(session, PARK, YEAR)
    operator = viewer_of(session, ledger.address("park_operator"))
    assert operator == Viewer(ledger.address("park_operator"), PARK, False, park_id=PARK)
    assert operator.park_administrator
    assert drill_down_for(operator, park) is park
    assert (park.children[0].level, park.children[0].label) == (PARK_FACILITIES, "10")
    cement = viewer_of(session, ledger.address("enterprise_b"))
    mine = drill_down_for(cement, park)
    assert [c.label for c in mine.children] == ["12"]
    assert (mine.sum_mg, mine.count, mine.anchored_mg) == (park.sum_mg, park.count, park.anchored_mg)
    assert drill_down_for(viewer_of(session, ledger.address("regulator")), park) is park


def test_who_may_drill_down_into_which_park():
    operator, steel = Viewer("0xoperator", PARK, False, park_id=PARK), Viewer("0xsteel", STEEL, False, park_id=PARK)
    verifier = Viewer("0xverifier", 20, False, verifier=True, attested=frozenset({STEEL}))
    require_in_park(Viewer("0xregulator", 1, True), PARK)
    require_in_park(operator, PARK)
    require_in_park(steel, PARK)
    require_in_park(verifier, PARK, [STEEL, CEMENT])
    for viewer in (operator, steel, Viewer("0xtrader", 30, False), verifier):
        with pytest.raises(AccessDenied):
            require_in_park(viewer, OTHER_PARK, [61])


def test_a_park_member_registers_devices_only_for_the_park(ledger, park_facility):
    with pytest.raises(ContractRevert) as refused:
        ledger.tx("park_operator", "MeterAnchor", "registerDevice", keccak(text="steel-device"), STEEL,
                  keccak(text="F"), keccak(text="W"), keccak(text="key"))
    assert refused.value.error == "NotOrganisationMember"

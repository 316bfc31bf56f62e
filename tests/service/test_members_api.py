"""Organisations and members through the API: the regulator registers, admits and sanctions; members look up."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, PARK, Cast
from tests.service.helpers import V1, sanction


def test_the_regulator_registers_an_organisation_under_a_park(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/organisations", headers=cast.auth("regulator"),
                        json={"org_id": 13, "parent_id": PARK, "kind": "enterprise", "name": "Northern Glass"})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["organisation"] == {"org_id": 13, "parent_id": PARK, "kind": "enterprise", "name": "Northern Glass"}
    assert body["transaction"]["status"] == "mined"


def test_registering_an_existing_organisation_is_a_conflict_named_by_the_contract(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/organisations", headers=cast.auth("regulator"),
                        json={"org_id": ENTERPRISE_A, "kind": "enterprise", "name": "Again"})
    assert reply.status_code == 409
    body = reply.json()
    assert body["error"] == "OrganisationExists"
    assert body["args"] == {"orgId": ENTERPRISE_A}
    assert "already registered" in body["message"]
    assert body["status"] == "rejected"  # found by the preflight call: no nonce spent


def test_an_unknown_parent_is_a_validation_error(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/organisations", headers=cast.auth("regulator"),
                        json={"org_id": 99, "parent_id": 98, "kind": "enterprise", "name": "Orphan"})
    assert reply.status_code == 422
    assert reply.json()["error"] == "InvalidParent"


def test_an_unknown_organisation_kind_is_refused_before_the_chain(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/organisations", headers=cast.auth("regulator"),
                        json={"org_id": 99, "kind": "castle", "name": "Nope"})
    assert reply.status_code == 422
    assert reply.json()["error"] == "ValidationError"


@pytest.mark.parametrize("actor", ["enterprise_a", "verifier", "trader"])
def test_only_a_regulator_registers_organisations(client: TestClient, cast: Cast, actor: str):
    reply = client.post(f"{V1}/organisations", headers=cast.auth(actor),
                        json={"org_id": 99, "kind": "enterprise", "name": "Nope"})
    assert reply.status_code == 403
    assert reply.json()["error"] == "MissingRole"


def test_any_member_reads_an_organisation_and_the_hierarchy(client: TestClient, cast: Cast):
    org = client.get(f"{V1}/organisations/{ENTERPRISE_A}", headers=cast.auth("trader")).json()
    assert org == {"org_id": ENTERPRISE_A, "parent_id": PARK, "kind": "enterprise", "name": "Riverside Steel"}
    tree = client.get(f"{V1}/organisations/{ENTERPRISE_A}/hierarchy", headers=cast.auth("trader")).json()
    assert [a["org_id"] for a in tree["ancestors"]] == [PARK]
    park = client.get(f"{V1}/organisations/{PARK}/hierarchy", headers=cast.auth("trader")).json()
    assert [c["organisation"]["org_id"] for c in park["descendants"]] == [ENTERPRISE_A, ENTERPRISE_B]


def test_an_unknown_organisation_is_not_found(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/organisations/4242", headers=cast.auth("trader"))
    assert reply.status_code == 404
    assert reply.json()["error"] == "UnknownOrganisation"


def test_members_of_an_organisation_are_listed_a_page_at_a_time(client: TestClient, cast: Cast):
    first = client.get(f"{V1}/organisations/{ENTERPRISE_A}/members", params={"limit": 1},
                       headers=cast.auth("trader")).json()
    second = client.get(f"{V1}/organisations/{ENTERPRISE_A}/members", params={"offset": 1, "limit": 1},
                        headers=cast.auth("trader")).json()
    assert first["page"]["total"] == 2
    assert [m["address"] for m in first["items"] + second["items"]] == [cast.addresses["enterprise_a"],
                                                                          cast.addresses["enterprise_a2"]]


def test_a_member_is_looked_up_with_status_roles_and_custody(client: TestClient, cast: Cast):
    body = client.get(f"{V1}/members/{cast.addresses['self_signer']}", headers=cast.auth("trader")).json()
    assert body == {"address": cast.addresses["self_signer"], "org_id": ENTERPRISE_B, "status": "active",
                    "frozen": False, "roles": ["ENTERPRISE"], "custodial": False}


def test_a_stranger_is_not_a_member(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/members/{cast.addresses['stranger']}", headers=cast.auth("trader"))
    assert reply.status_code == 404


def test_the_regulator_admits_a_custodial_member_whose_key_the_service_keeps(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/members", headers=cast.auth("regulator"),
                        json={"org_id": ENTERPRISE_A, "roles": ["ENTERPRISE"], "custodial": True})
    assert reply.status_code == 201, reply.text
    member = reply.json()["member"]
    assert member["status"] == "active" and member["custodial"] is True
    looked_up = client.get(f"{V1}/members/{member['address']}", headers=cast.auth("regulator")).json()
    assert looked_up["custodial"] is True


def test_admitting_needs_either_an_address_or_custody(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/members", headers=cast.auth("regulator"), json={"org_id": 11, "roles": ["ENTERPRISE"]})
    assert reply.status_code == 422


def test_admitting_a_member_twice_is_a_conflict(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/members", headers=cast.auth("regulator"),
                        json={"org_id": ENTERPRISE_A, "roles": ["ENTERPRISE"], "address": cast.addresses["trader"]})
    assert reply.status_code == 409
    assert reply.json()["error"] == "AlreadyMember"


@pytest.mark.parametrize(("action", "expected"), [("suspend", ("suspended", False)), ("freeze", ("active", True)),
                                                  ("revoke", ("revoked", False))])
def test_the_regulator_sanctions_a_member(client: TestClient, cast: Cast, action: str, expected: tuple[str, bool]):
    reply = client.post(f"{V1}/members/{cast.addresses['trader']}/{action}", headers=cast.auth("regulator"),
                        json={"reason": "order 2025/17"})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["member"]["status"], reply.json()["member"]["frozen"]) == expected


def test_reinstating_and_unfreezing_undo_suspension_and_freeze(client: TestClient, cast: Cast):
    sanction(client, cast, "trader", "suspend")
    sanction(client, cast, "trader", "reinstate")
    sanction(client, cast, "trader", "freeze")
    sanction(client, cast, "trader", "unfreeze")
    body = client.get(f"{V1}/members/{cast.addresses['trader']}", headers=cast.auth("trader")).json()
    assert (body["status"], body["frozen"]) == ("active", False)


def test_reinstating_an_active_member_is_a_conflict(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/members/{cast.addresses['trader']}/reinstate", headers=cast.auth("regulator"))
    assert reply.status_code == 409
    assert reply.json()["error"] == "MemberNotSuspended"
    assert reply.json()["args"]["status"] == 1


def test_a_regulator_cannot_sanction_itself(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/members/{cast.addresses['regulator']}/freeze", headers=cast.auth("regulator"),
                        json={"reason": "self"})
    assert reply.status_code == 409
    assert reply.json()["error"] == "CannotActOnSelf"


def test_sanctioning_a_stranger_is_not_found(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/members/{cast.addresses['stranger']}/suspend", headers=cast.auth("regulator"),
                        json={"reason": "x"})
    assert reply.status_code == 404
    assert reply.json()["error"] == "NotMember"


@pytest.mark.parametrize("actor", ["enterprise_a", "verifier"])
def test_only_a_regulator_sanctions(client: TestClient, cast: Cast, actor: str):
    reply = client.post(f"{V1}/members/{cast.addresses['trader']}/suspend", headers=cast.auth(actor),
                        json={"reason": "x"})
    assert reply.status_code == 403


def test_a_suspended_regulator_is_refused_although_its_key_is_valid(client: TestClient, cast: Cast):
    sanction(client, cast, "regulator2", "suspend")
    reply = client.post(f"{V1}/members/{cast.addresses['trader']}/suspend", headers=cast.auth("regulator2"),
                        json={"reason": "x"})
    assert reply.status_code == 403
    assert reply.json()["error"] == "MemberNotActive"


@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_a_suspended_or_revoked_member_cannot_read_anything(client: TestClient, cast: Cast, action: str):
    sanction(client, cast, "trader", action)
    reply = client.get(f"{V1}/organisations/{PARK}", headers=cast.auth("trader"))
    assert reply.status_code == 403
    assert reply.json()["error"] == "MemberNotActive"


def test_a_non_member_with_a_key_is_refused(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/organisations/{PARK}", headers=cast.auth("stranger"))
    assert reply.status_code == 403

"""Member, organisation and API key use cases called directly."""

from __future__ import annotations

from ledger_service.membership import MemberStatus, OrgKind
from ledger_service.runtime import Runtime
from tests.service.acting import acting, refused, services
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, PARK, Cast


def test_a_regulator_admits_a_custodial_member_and_sanctions_it(runtime: Runtime, cast: Cast):
    members = services(runtime).members
    regulator = acting(runtime, cast, "regulator")
    admitted = members.admit(regulator, ENTERPRISE_A, ["ENTERPRISE"])
    assert admitted.custodial is True and admitted.record.status == "mined"
    assert (admitted.member.org_id, admitted.member.status, admitted.member.roles) == (
        ENTERPRISE_A, MemberStatus.ACTIVE, frozenset({"ENTERPRISE"}))
    assert members.member(admitted.member.address).custodial is True
    frozen = members.sanction(regulator, admitted.member.address, "freeze", "unpaid fees")
    assert frozen.member.frozen is True and frozen.record.function == "freeze"


def test_refusals_before_anything_is_sent(runtime: Runtime, cast: Cast):
    members = services(runtime).members
    regulator = acting(runtime, cast, "regulator")
    refused(404, "NotMember", members.member, cast.addresses["stranger"])
    refused(422, "ValidationError", members.sanction, regulator, cast.addresses["trader"], "suspend")
    refused(422, "ValidationError", members.sanction, regulator, "0x1234", "reinstate")
    refused(422, "ValidationError", members.admit, regulator, ENTERPRISE_A, ["MAYOR"])


def test_an_organisation_s_hierarchy_and_members(runtime: Runtime, cast: Cast):
    organisations = services(runtime).organisations
    tree = organisations.hierarchy(ENTERPRISE_A, 3)
    assert [a.org_id for a in tree.ancestors] == [PARK] and tree.descendants == []
    park = organisations.hierarchy(PARK, 1)
    assert {n.organisation.org_id for n in park.descendants} >= {ENTERPRISE_A, ENTERPRISE_B}
    listed = organisations.members(ENTERPRISE_A, 0, 1)
    assert listed.total == 2 and [m.address for m in listed.items] == [cast.addresses["enterprise_a"]]
    refused(404, "UnknownOrganisation", organisations.organisation, 999_999)
    registered = organisations.register(acting(runtime, cast, "regulator"), 777, PARK, OrgKind.ENTERPRISE, "New Mill")
    assert (registered.organisation.parent_id, registered.organisation.kind) == (PARK, OrgKind.ENTERPRISE)


def test_api_keys_are_issued_to_members_only_and_the_last_regulator_key_stays(runtime: Runtime, cast: Cast,
                                                                              keys_restored: None):
    keys = services(runtime).api_keys
    regulator = acting(runtime, cast, "regulator")
    issued = keys.issue(regulator, cast.addresses["trader"], "desk", 7)
    assert runtime.api_keys.authenticate(issued.token).member == cast.addresses["trader"]
    refused(404, "NotMember", keys.issue, regulator, cast.addresses["stranger"])
    refused(404, "UnknownApiKey", keys.rotate, regulator, "nosuchkey")
    regulator_keys = [k for k in keys.list(None, 0, 500) if k.revoked_at is None
                      and k.member in (cast.addresses["regulator"], cast.addresses["regulator2"])]
    *others, last = regulator_keys
    for key in others:
        keys.revoke(regulator, key.key_id)
    refused(409, "LastRegulatorKey", keys.revoke, regulator, last.key_id)

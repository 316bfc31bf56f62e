"""The people of the story: the park's organisations registered and its members admitted by the regulator,
through the same use cases as `POST /api/v1/organisations` and `POST /api/v1/members` with `custodial: true`
(every member's key created and kept sealed in the runtime's custodial key store); the regulator is the runtime's
bootstrap regulator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledger_core.chain.errors import ContractRevert
from ledger_service.membership import OrgKind
from ledger_service.runtime import Runtime
from ledger_service.services.caller import Caller
from ledger_service.services.errors import TransactionRefused
from ledger_service.services.wiring import build_services
from oracles.simulator import ParkLayout

PARK = 10
FIRST_ENTERPRISE = 11
VERIFIERS, TRADING_A, TRADING_B, FORESTRY, BANK, ORACLES = 20, 30, 31, 32, 40, 50

OTHER_ORGS = (
    (VERIFIERS, 0, OrgKind.VERIFICATION_BODY, "Certa Verification"),
    (TRADING_A, 0, OrgKind.TRADING_FIRM, "Harbour Carbon Trading"),
    (TRADING_B, 0, OrgKind.TRADING_FIRM, "Summit Commodities"),
    (FORESTRY, 0, OrgKind.TRADING_FIRM, "Green Hills Forestry Carbon"),
    (BANK, 0, OrgKind.BANK, "Settlement Bank"),
    (ORACLES, PARK, OrgKind.OPERATOR, "Park Metering Oracle"),
)
# actor -> (organisation, role)
OTHER_MEMBERS = {
    "verifier": (VERIFIERS, "VERIFIER"),
    "trader_a": (TRADING_A, "TRADER"),
    "trader_b": (TRADING_B, "TRADER"),
    "forestry": (FORESTRY, "TRADER"),
    "bank": (BANK, "SETTLEMENT_BANK"),
    "oracle": (ORACLES, "ORACLE"),
}


@dataclass
class Cast:
    """Who is who: actor name -> address, organisation and role; the enterprises in park order."""

    addresses: dict[str, str] = field(default_factory=dict)
    orgs: dict[str, int] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    enterprises: list[int] = field(default_factory=list)

    def enterprise(self, org_id: int) -> str:
        return f"enterprise-{org_id}"

    def __getitem__(self, actor: str) -> str:
        return self.addresses[actor]


def caller(runtime: Runtime, address: str) -> Caller:
    """A cast member acting through the use cases with the key the service keeps for it."""
    return Caller(address, "local", None, runtime.directory.member(address))


def refusal(use_case: Callable[[], object]) -> ContractRevert | None:
    """Run a use case the chain may refuse (its preflight costs no nonce); the decoded custom error if it did."""
    try:
        use_case()
    except TransactionRefused as exc:
        record = exc.record
        return record.revert or ContractRevert(record.error_name or "Unknown", record.error_args or {})
    return None


def admit(runtime: Runtime, layout: ParkLayout) -> Cast:
    """Register the park, its enterprises and the other organisations; admit one custodial member each."""
    regulator = runtime.bootstrap_regulator
    assert regulator is not None, "the demo runs on the embedded chain, with its bootstrap regulator"
    cast = Cast()
    cast.addresses["regulator"], cast.orgs["regulator"], cast.roles["regulator"] = regulator, 1, "REGULATOR"
    orgs: list[tuple[int, int, OrgKind, str]] = [(PARK, 0, OrgKind.PARK, "Green Valley Industrial Park")]
    orgs += [(org, PARK, OrgKind.ENTERPRISE, name) for org, name in layout.enterprises]
    orgs += list(OTHER_ORGS)
    members: dict[str, tuple[int, str]] = dict(OTHER_MEMBERS)
    for org, _ in layout.enterprises:
        members[cast.enterprise(org)] = (org, "ENTERPRISE")
        cast.enterprises.append(org)
    cast.names = {org: name for org, _, _, name in orgs}
    services = build_services(runtime)
    acting = caller(runtime, regulator)
    for org_id, parent, kind, name in orgs:
        services.organisations.register(acting, org_id, parent, kind, name)
    for actor, (org_id, role) in members.items():
        admitted = services.members.admit(acting, org_id, [role])
        cast.addresses[actor], cast.orgs[actor], cast.roles[actor] = admitted.member.address, org_id, role
    return cast


def actors_of(cast: Cast, roles: Sequence[str]) -> list[str]:
    return [a for a, r in cast.roles.items() if r in roles]

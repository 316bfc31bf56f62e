"""The people of the story: the park's organisations and members, admitted through the runtime's outbox.

Every member's key is created and kept sealed in the runtime's custodial key store, as
`POST /api/v1/members` with `custodial: true` does; the regulator is the runtime's bootstrap regulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger_service.chain.errors import ContractRevert
from ledger_service.chain.outbox import Intent, TxRecord
from ledger_service.db.models.outbox import OutboxStatus
from ledger_service.membership import ROLE_IDS, OrgKind
from ledger_service.runtime import Runtime
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


class Refused(RuntimeError):
    """A transaction of the story the chain refused when it should not have."""


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


def send(runtime: Runtime, *intents: Intent) -> list[TxRecord]:
    """Through the runtime's outbox; every transaction must be mined."""
    if not intents:
        return []
    records = runtime.outbox.submit(list(intents), timeout=runtime.settings.receipt_timeout_seconds)
    for record in records:
        if record.status != OutboxStatus.MINED:
            raise Refused(f"{record.contract}.{record.function} was {record.status}: {record.error_name} "
                          f"{record.error_args or ''}")
    return records


def attempt(runtime: Runtime, intent: Intent) -> tuple[TxRecord, ContractRevert | None]:
    """Send one transaction that may be refused: it is first run as a call (the service's preflight), so a
    refusal costs no nonce; the decoded custom error if it was refused."""
    (record,) = runtime.outbox.submit([intent], preflight=True, timeout=runtime.settings.receipt_timeout_seconds)
    if record.status == OutboxStatus.MINED:
        return record, None
    return record, record.revert or ContractRevert(record.error_name or "Unknown", record.error_args or {})


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
    for actor, (org, role) in members.items():
        account = runtime.keystore.create(label=f"{actor} ({cast.names[org]})")
        cast.addresses[actor], cast.orgs[actor], cast.roles[actor] = account.address, org, role
    embedded = runtime.chain.embedded
    assert embedded is not None
    with runtime.chain.exclusive():
        embedded.fund([cast.addresses[a] for a in members])
    intents = [Intent("Membership", "registerOrganisation", (o, p, int(k), n), regulator, requested_by=regulator)
               for o, p, k, n in orgs]
    intents += [Intent("Membership", "admit", (cast.addresses[a], org, [ROLE_IDS[role]]), regulator,
                       requested_by=regulator) for a, (org, role) in members.items()]
    send(runtime, *intents)
    return cast


def actors_of(cast: Cast, roles: Sequence[str]) -> list[str]:
    return [a for a, r in cast.roles.items() if r in roles]

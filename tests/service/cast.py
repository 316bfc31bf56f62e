"""The service's test cast: organisations, members (custodial unless noted) and their API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger_core.chain.outbox import Intent
from ledger_service.membership import ROLE_IDS, OrgKind
from ledger_service.runtime import Runtime

YEAR = 2025
PARK, ENTERPRISE_A, ENTERPRISE_B, VERIFIERS, TRADERS, OTHER_PARK, ENTERPRISE_C = 10, 11, 12, 20, 30, 60, 61
ORACLES = 40

ORGS = (
    (PARK, 0, OrgKind.PARK, "Green Valley Industrial Park"),
    (ENTERPRISE_A, PARK, OrgKind.ENTERPRISE, "Riverside Steel"),
    (ENTERPRISE_B, PARK, OrgKind.ENTERPRISE, "Eastern Cement"),
    (VERIFIERS, 0, OrgKind.VERIFICATION_BODY, "Certa Verification"),
    (TRADERS, 0, OrgKind.TRADING_FIRM, "Harbour Carbon Trading"),
    (OTHER_PARK, 0, OrgKind.PARK, "Lakeside Park"),
    (ENTERPRISE_C, OTHER_PARK, OrgKind.ENTERPRISE, "Lakeside Glass"),
    (ORACLES, 0, OrgKind.OPERATOR, "Park Metering Oracle"),
)

# name -> (organisation, roles, custodial)
MEMBERS: dict[str, tuple[int, tuple[str, ...], bool]] = {
    "regulator2": (1, ("REGULATOR",), True),
    "enterprise_a": (ENTERPRISE_A, ("ENTERPRISE",), True),
    "enterprise_a2": (ENTERPRISE_A, ("ENTERPRISE",), True),
    "enterprise_b": (ENTERPRISE_B, ("ENTERPRISE",), True),
    "enterprise_c": (ENTERPRISE_C, ("ENTERPRISE",), True),
    "verifier": (VERIFIERS, ("VERIFIER",), True),
    "trader": (TRADERS, ("TRADER",), True),
    "oracle": (ORACLES, ("ORACLE",), True),
    "self_signer": (ENTERPRISE_B, ("ENTERPRISE",), False),
}


def account_of(name: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"carbonledger-service-actor:{name}"))


@dataclass
class Cast:
    addresses: dict[str, str]
    tokens: dict[str, str]
    accounts: dict[str, LocalAccount]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def admit_cast(runtime: Runtime) -> Cast:
    """Register the organisations, admit the members (keys kept by the service unless non-custodial),
    allocate allowances and issue one API key per actor (the stranger's member is never admitted)."""
    regulator = runtime.bootstrap_regulator
    assert regulator is not None and runtime.chain.embedded is not None
    accounts = {name: account_of(name) for name in (*MEMBERS, "stranger")}
    for name, (_, _, custodial) in MEMBERS.items():
        if custodial:
            runtime.keystore.store(accounts[name], label=name)
    runtime.chain.embedded.fund(a.address for a in accounts.values())
    intents = [Intent("Membership", "registerOrganisation", (o, p, int(k), n), regulator) for o, p, k, n in ORGS]
    intents += [Intent("Membership", "admit", (accounts[name].address, org, [ROLE_IDS[r] for r in roles]), regulator)
                for name, (org, roles, _) in MEMBERS.items()]
    records = runtime.outbox.submit(intents)
    assert all(r.status == "mined" for r in records), records
    addresses = {name: a.address for name, a in accounts.items()}
    addresses["regulator"] = regulator
    tokens = {name: runtime.api_keys.issue(addresses[name], timedelta(days=1), label=name).token
              for name in (*MEMBERS, "stranger")}
    assert runtime.bootstrap_api_key is not None
    tokens["regulator"] = runtime.bootstrap_api_key.token
    return Cast(addresses, tokens, accounts)

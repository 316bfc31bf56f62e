"""The standard cast of organisations and members that every contract test starts from."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

ROLE_NAMES = ("REGULATOR", "VERIFIER", "ORACLE", "ENTERPRISE", "TRADER", "SETTLEMENT_BANK")
ROLES = {name: keccak(text=name) for name in ROLE_NAMES}

# OrgKind enum of IMembership.
AUTHORITY, PARK, ENTERPRISE, VERIFICATION_BODY, TRADING_FIRM, BANK, OPERATOR = range(7)


@dataclass(frozen=True)
class Org:
    org_id: int
    parent_id: int
    kind: int
    name: str


# The authority (org 1) is registered by the Membership constructor.
ORGS = (
    Org(10, 0, PARK, "Green Valley Industrial Park"),
    Org(11, 10, ENTERPRISE, "Riverside Steel"),
    Org(12, 10, ENTERPRISE, "Eastern Cement"),
    Org(20, 0, VERIFICATION_BODY, "Certa Verification"),
    Org(30, 0, TRADING_FIRM, "Harbour Carbon Trading"),
    Org(31, 0, TRADING_FIRM, "Northwind Capital"),
    Org(40, 0, BANK, "Settlement Bank"),
    Org(50, 10, OPERATOR, "Park Metering Oracle"),
)

# actor name -> (organisation, roles). "regulator" is the deployer; "stranger" is never admitted.
MEMBERS: dict[str, tuple[int, tuple[str, ...]]] = {
    "regulator2": (1, ("REGULATOR",)),
    "verifier": (20, ("VERIFIER",)),
    "oracle": (50, ("ORACLE",)),
    "enterprise_a": (11, ("ENTERPRISE",)),
    "enterprise_a2": (11, ("ENTERPRISE",)),
    "enterprise_b": (12, ("ENTERPRISE",)),
    "trader": (30, ("TRADER",)),
    "trader2": (31, ("TRADER",)),
    "bank": (40, ("SETTLEMENT_BANK",)),
}

ACTORS = ("regulator", *MEMBERS, "stranger")


def actor_account(name: str) -> LocalAccount:
    """A deterministic key per actor, so failures are reproducible."""
    return Account.from_key(keccak(text=f"carbonledger-test-actor:{name}"))

"""Shared helpers for the contract tests: enum values, stand-in accounts, membership actions."""

from __future__ import annotations

from eth_utils import keccak

from tests.support.cast import ROLES, actor_account
from tests.support.ledger import Ledger

ZERO_ADDRESS = "0x" + "00" * 20

# MemberStatus enum of IMembership.
NONE, ACTIVE, SUSPENDED, REVOKED = range(4)
# AssetKind enum of IComplianceLedger.
KIND_NONE, KIND_ALLOWANCE, KIND_CREDIT = range(3)

YEAR = 2025
# The reference price of the market tests' credit batch: 60.00 CNY per tonne, in fen.
MARKET_REFERENCE_PRICE = 60 * 100


def reason(text: str) -> bytes:
    """A decision document's hash, as the regulator would pass it."""
    return keccak(text=text)


def add_stand_in(ledger: Ledger, name: str) -> str:
    """A funded non-member account standing in for a contract of the suite; returns its address."""
    ledger.add_actor(name, actor_account(name))
    return ledger.address(name)


def set_obligation(ledger: Ledger, org_id: int, year: int, tonnes: int) -> None:
    """Finalize an obligation through the `obligation_source` stand-in (the fixture must be active)."""
    ledger.tx("obligation_source", "ComplianceLedger", "setObligation", org_id, year, tonnes)


def suspend(ledger: Ledger, actor: str) -> None:
    ledger.tx("regulator", "Membership", "suspend", ledger.address(actor), reason(f"suspend {actor}"))


def revoke(ledger: Ledger, actor: str) -> None:
    ledger.tx("regulator", "Membership", "revoke", ledger.address(actor), reason(f"revoke {actor}"))


def freeze(ledger: Ledger, actor: str) -> None:
    ledger.tx("regulator", "Membership", "freeze", ledger.address(actor), reason(f"freeze {actor}"))


def new_member(ledger: Ledger, name: str, org_id: int, *roles: str) -> str:
    """Admit a fresh, funded account as `name`; returns its address."""
    address = add_stand_in(ledger, name)
    ledger.tx("regulator", "Membership", "admit", address, org_id, [ROLES[r] for r in roles])
    return address

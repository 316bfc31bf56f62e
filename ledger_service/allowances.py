"""Allowances: what the service checks and reads around the AllowanceRegistry and ComplianceLedger.

Transfers are checked before anything is written or signed, with the same custom errors
the contract would raise: every receiver must be able to hold allowances (active,
unfrozen member) and the sender's balance of each vintage must cover the batch. One
`balanceOfBatch` call covers a whole batch. The contract checks again when mined.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from ledger_core.assets import ALLOWANCE
from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from ledger_service.membership import Directory, OrgKind

REGISTRY = ALLOWANCE.contract
LEDGER = "ComplianceLedger"
_BALANCE_OF_BATCH = function_signature_to_4byte_selector("balanceOfBatch(address[],uint256[])")


@dataclass(frozen=True)
class Transfer:
    to: str
    year: int
    amount: int


@dataclass(frozen=True)
class ComplianceStatus:
    org_id: int
    year: int
    obligation: int
    allowances_surrendered: int
    credits_surrendered: int
    shortfall: int
    finalized: bool


def balances(chain: ChainClient, suite: Suite, address: str, years: Sequence[int]) -> dict[int, int]:
    data = _BALANCE_OF_BATCH + abi_encode(["address[]", "uint256[]"], [[address] * len(years), list(years)])
    (values,) = abi_decode(["uint256[]"], chain.call_data(suite.deployment.addresses[REGISTRY], data))
    return {year: int(v) for year, v in zip(years, values, strict=True)}


def check_transfers(chain: ChainClient, suite: Suite, directory: Directory, sender: str,
                    transfers: Sequence[Transfer]) -> None:
    """Raise the contract's own error for the first transfer that would fail on receiver or balance."""
    for receiver in dict.fromkeys(t.to for t in transfers):
        if not directory.member(receiver).can_transact:
            raise ContractRevert("AccountCannotTransact", {"account": receiver})
    needed: dict[int, int] = defaultdict(int)
    for t in transfers:
        needed[t.year] += t.amount
    held = balances(chain, suite, sender, list(needed))
    for year, amount in needed.items():
        if held[year] < amount:
            raise ContractRevert("ERC1155InsufficientBalance",
                                 {"sender": sender, "balance": held[year], "needed": amount, "tokenId": year})


def transfer_intents(sender: str, transfers: Sequence[Transfer], requested_by: str) -> list[Intent]:
    return [Intent(REGISTRY, "safeTransferFrom", (sender, t.to, t.year, t.amount, b""), sender,
                   requested_by=requested_by) for t in transfers]


def compliance_status(chain: ChainClient, suite: Suite, org_id: int, year: int) -> ComplianceStatus:
    obligation, allowances, credits, shortfall, finalized = suite.view(chain, LEDGER, "complianceStatus", org_id, year)
    return ComplianceStatus(org_id, year, int(obligation), int(allowances), int(credits), int(shortfall),
                            bool(finalized))


def window_open(chain: ChainClient, suite: Suite, year: int) -> bool:
    """Whether the regulator keeps the year's compliance window open (surrenders for it accepted)."""
    return bool(suite.view(chain, LEDGER, "complianceWindowOpen", year))


def window_intent(signer: str, year: int, open_: bool) -> Intent:
    """Open or close a year's compliance window (regulator)."""
    return Intent(LEDGER, "openComplianceWindow" if open_ else "closeComplianceWindow", (year,), signer,
                  requested_by=signer)


def park_status(chain: ChainClient, suite: Suite, directory: Directory, park_id: int,
                year: int) -> tuple[ComplianceStatus, list[ComplianceStatus]]:
    """The park's total (org id = the park's) and each enterprise's status, read from the chain."""
    enterprises = [o for o in directory.children(park_id) if o.kind == OrgKind.ENTERPRISE]
    each = [compliance_status(chain, suite, o.org_id, year) for o in enterprises]
    total = ComplianceStatus(
        park_id, year,
        obligation=sum(s.obligation for s in each),
        allowances_surrendered=sum(s.allowances_surrendered for s in each),
        credits_surrendered=sum(s.credits_surrendered for s in each),
        shortfall=sum(s.shortfall for s in each),
        finalized=all(s.finalized for s in each) if each else False,
    )
    return total, each

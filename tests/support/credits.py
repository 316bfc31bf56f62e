"""Shared steps for credit, settlement and market tests: projects, verified batches, money, approvals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from tests.support.ledger import Ledger

PROJECT = keccak(text="CCER-1234-WIND-GANSU")
METHODOLOGY = "CCER-14-001-V01"
PDD_HASH = keccak(text="project design document v3")
LOCATION = "CN-GS"
STATEMENT = keccak(text="verification statement 2024")

# Monitoring periods as inclusive unix-second bounds.
YEAR_2023 = (1_672_531_200, 1_704_067_199)
YEAR_2024 = (1_704_067_200, 1_735_689_599)
H1_2024 = (1_704_067_200, 1_719_791_999)
H2_2024 = (1_719_792_000, 1_735_689_599)

CNY = 100  # settlement-token units per yuan (2 decimals)
MAX_UINT = 2**256 - 1


@dataclass(frozen=True)
class IssuedBatch:
    batch_id: int
    serial_start: int
    serial_end: int


def register_project(
    ledger: Ledger, project_id: bytes = PROJECT, owner: str = "enterprise_a", location: str = LOCATION
) -> None:
    ledger.tx("regulator", "CreditRegistry", "registerProject", project_id, ledger.address(owner), METHODOLOGY,
              PDD_HASH, location)


def verify(
    ledger: Ledger,
    period: tuple[int, int] = YEAR_2024,
    tonnes: int = 1_000,
    project_id: bytes = PROJECT,
    statement: bytes = STATEMENT,
) -> None:
    ledger.tx("verifier", "CreditRegistry", "submitVerification", project_id, *period, tonnes, statement)


def issue(
    ledger: Ledger,
    amount: int,
    serial_start: int,
    period: tuple[int, int] = YEAR_2024,
    vintage: int = 2024,
    project_id: bytes = PROJECT,
) -> IssuedBatch:
    receipt = ledger.tx("regulator", "CreditRegistry", "issueBatch", project_id, *period, vintage, amount,
                        serial_start)
    (event,) = ledger.events(receipt, "CreditRegistry", "BatchIssued")
    return IssuedBatch(event["batchId"], event["serialStart"], event["serialEnd"])


def verified_batch(
    ledger: Ledger,
    amount: int = 1_000,
    owner: str = "enterprise_a",
    serial_start: int = 1,
    project_id: bytes = PROJECT,
    period: tuple[int, int] = YEAR_2024,
) -> IssuedBatch:
    """Register a project for `owner`, verify one period and issue its batch."""
    register_project(ledger, project_id, owner)
    verify(ledger, period, amount, project_id)
    return issue(ledger, amount, serial_start, period, project_id=project_id)


def view_struct(ledger: Ledger, contract: str, function: str, *args: Any) -> dict[str, Any]:
    """Call a view that returns one struct; its fields by name."""
    abi = next(i for i in ledger.artifacts[contract].abi if i.get("type") == "function" and i["name"] == function)
    names = [c["name"] for c in abi["outputs"][0]["components"]]
    return dict(zip(names, ledger.call(contract, function, *args), strict=True))


def credits(ledger: Ledger, actor: str, batch_id: int) -> int:
    return int(ledger.call("CreditRegistry", "balanceOf", ledger.address(actor), batch_id))


def supply(ledger: Ledger, batch_id: int) -> int:
    """Units of a batch in existence (ERC1155Supply's `totalSupply(uint256)`, an overloaded name)."""
    fn = ledger.contract("CreditRegistry").get_function_by_signature("totalSupply(uint256)")
    return int(fn(batch_id).call())


def cash(ledger: Ledger, actor: str) -> int:
    return int(ledger.call("SettlementToken", "balanceOf", ledger.address(actor)))


def fund(ledger: Ledger, actor: str, amount: int) -> None:
    """The settlement bank mints `amount` settlement-token units to `actor`."""
    ledger.tx("bank", "SettlementToken", "mint", ledger.address(actor), amount)


def approve_market(ledger: Ledger, actor: str) -> None:
    """Let the market take `actor`'s credits into escrow and its settlement tokens as payment."""
    market = ledger.contract("CarbonMarket").address
    ledger.tx(actor, "CreditRegistry", "setApprovalForAll", market, True)
    ledger.tx(actor, "SettlementToken", "approve", market, MAX_UINT)


def now(ledger: Ledger) -> int:
    """Timestamp the next block will carry (at least)."""
    return int(ledger.chain.tester.get_block_by_number("pending")["timestamp"])


def travel(ledger: Ledger, seconds: int) -> None:
    ledger.chain.tester.time_travel(now(ledger) + seconds)


def set_obligation(ledger: Ledger, org_id: int, year: int, tonnes: int, open_window: bool = True) -> None:
    """Give an organisation a finalized obligation (the regulator acts as obligation source)."""
    ledger.tx("regulator", "ComplianceLedger", "setObligationSource", ledger.address("regulator"), True)
    ledger.tx("regulator", "ComplianceLedger", "setObligation", org_id, year, tonnes)
    if open_window:
        ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", year)

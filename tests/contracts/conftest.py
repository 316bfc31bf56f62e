"""Fixtures standing in for contracts of the suite that other engineers are building."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.contracts.helpers import KIND_ALLOWANCE, KIND_CREDIT, MARKET_REFERENCE_PRICE, add_stand_in
from tests.support.credits import CNY, approve_market, fund, verified_batch
from tests.support.ledger import Ledger


@pytest.fixture
def obligation_source(ledger: Ledger) -> str:
    """An account the ComplianceLedger accepts obligations from (in place of the EmissionRegistry)."""
    add_stand_in(ledger, "obligation_source")
    ledger.tx("regulator", "ComplianceLedger", "setObligationSource", ledger.address("obligation_source"), True)
    return "obligation_source"


@pytest.fixture
def allowance_desk(ledger: Ledger) -> str:
    """An account the ComplianceLedger counts surrenders from as allowances."""
    add_stand_in(ledger, "allowance_desk")
    ledger.tx("regulator", "ComplianceLedger", "setAssetRegistry", ledger.address("allowance_desk"), KIND_ALLOWANCE)
    return "allowance_desk"


@pytest.fixture
def credit_desk(ledger: Ledger) -> str:
    """An account the ComplianceLedger counts surrenders from as offset credits."""
    add_stand_in(ledger, "credit_desk")
    ledger.tx("regulator", "ComplianceLedger", "setAssetRegistry", ledger.address("credit_desk"), KIND_CREDIT)
    return "credit_desk"


@pytest.fixture(scope="module")
def _market_state(_session_ledger: Ledger) -> Iterator[dict[str, Any]]:
    """Set up once for the module: enterprise_a holds batch 1 (300,000 t) with a reference
    price of 60.00; enterprise_a and both traders approved the market; traders hold cash."""
    ledger = _session_ledger
    snap = ledger.snapshot()
    batch = verified_batch(ledger, amount=300_000)
    registry = ledger.contract("CreditRegistry").address
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", registry, batch.batch_id, MARKET_REFERENCE_PRICE)
    for actor in ("enterprise_a", "trader", "trader2"):
        approve_market(ledger, actor)
    fund(ledger, "trader", 10_000_000 * CNY)
    fund(ledger, "trader2", 10_000_000 * CNY)
    yield {"registry": registry, "id": batch.batch_id, "address": ledger.contract("CarbonMarket").address}
    ledger.revert(snap)


@pytest.fixture
def market(_market_state: dict[str, Any], ledger: Ledger) -> dict[str, Any]:
    """The market set-up of `_market_state`; each test's changes are undone by `ledger`."""
    return _market_state

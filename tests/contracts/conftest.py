"""Fixtures standing in for contracts of the suite that other engineers are building."""

from __future__ import annotations

import pytest

from tests.contracts.helpers import KIND_ALLOWANCE, KIND_CREDIT, add_stand_in
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

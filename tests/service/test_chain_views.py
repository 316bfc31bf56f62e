"""Reading a view in one bare eth_call (`Suite.view`) answers exactly what web3's contract call answers:
several outputs as a list, a struct as a tuple, addresses checksummed, arrays as lists, and a revert as
the contract's own error."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.suite import Suite
from ledger_service.notary import label_hash, lookup, notarize_intent
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, PARK, YEAR, Cast

DOCUMENT = b"\x5a" * 32


def both(suite: Suite, runtime: Runtime, contract: str, function: str, *args: Any) -> tuple[Any, Any]:
    return suite.view(runtime.chain, contract, function, *args), suite.call(contract, function, *args)


@pytest.fixture
def notarized(runtime: Runtime, cast: Cast) -> None:
    signer = cast.addresses["enterprise_a"]
    (record,) = runtime.outbox.submit([notarize_intent(signer, DOCUMENT, "REPORT", "ref-1")])
    assert record.status == "mined"


@pytest.mark.parametrize(("contract", "function", "args"), [
    ("Membership", "organisation", (ENTERPRISE_A,)),  # several outputs, a string among them
    ("Membership", "organisationExists", (PARK,)),
    ("Membership", "memberOf", ("enterprise_a",)),
    ("EmissionRegistry", "reportVersions", (ENTERPRISE_A, YEAR)),  # an array
    ("AllowanceRegistry", "balanceOf", ("enterprise_a", YEAR)),
    ("AllowanceRegistry", "totalSupply(uint256)", (YEAR,)),  # an overload, by its signature
    ("Notary", "getNotarization", (DOCUMENT,)),  # a struct with an address
])
def test_a_view_read_in_one_bare_call_answers_what_web3_answers(runtime: Runtime, cast: Cast, notarized: None,
                                                                 contract: str, function: str, args: tuple[Any, ...]):
    args = tuple(cast.addresses.get(a, a) if isinstance(a, str) else a for a in args)
    fast, web3 = both(runtime.suite, runtime, contract, function, *args)
    assert fast == web3
    assert type(fast) is type(web3)


def test_a_struct_comes_back_as_a_tuple_with_its_address_checksummed(runtime: Runtime, cast: Cast, notarized: None):
    notary, timestamp, block = runtime.suite.view(runtime.chain, "Notary", "getNotarization", DOCUMENT)
    assert notary == cast.addresses["enterprise_a"] and timestamp > 0 and block > 0


def test_a_view_that_reverts_raises_the_contracts_own_error(runtime: Runtime):
    with pytest.raises(ContractRevert) as refused:
        runtime.suite.view(runtime.chain, "Notary", "getNotarization", b"\x01" * 32)
    assert refused.value.error == "NotNotarized"


def test_the_notary_answers_a_lookup_from_its_slot_and_its_event(runtime: Runtime, cast: Cast, notarized: None):
    found = lookup(runtime.chain, runtime.suite, DOCUMENT)
    assert found is not None
    assert (found.notary, found.org_id) == (cast.addresses["enterprise_a"], ENTERPRISE_A)
    assert found.kind == "0x" + label_hash("REPORT").hex() and found.reference == "0x" + label_hash("ref-1").hex()
    assert found.block_number > 0

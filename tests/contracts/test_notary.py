"""Notary: proof of existence, once per document hash, by any active member."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from tests.contracts.structs import view
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

NOTARY = "Notary"
DOC = keccak(text="verification statement 2024")
KIND = keccak(text="VERIFICATION_STATEMENT")
REF = (42).to_bytes(32, "big")
ZERO = b"\x00" * 32
REASON = keccak(text="decision")


def test_a_member_notarizes_a_document_and_the_record_names_it(ledger: Ledger) -> None:
    """The chain keeps who and when per hash; the organisation, kind and reference are in the event."""
    assert not ledger.call(NOTARY, "isNotarized", DOC)
    receipt = ledger.tx("verifier", NOTARY, "notarize", DOC, KIND, REF)
    block = ledger.w3.eth.get_block(receipt["blockNumber"])
    verifier = ledger.address("verifier")
    assert ledger.events(receipt, NOTARY, "Notarized") == [
        {
            "documentHash": DOC,
            "notary": verifier,
            "orgId": 20,
            "kind": KIND,
            "referenceId": REF,
        }
    ]
    assert view(ledger, NOTARY, "getNotarization", DOC) == {
        "notary": verifier,
        "timestamp": block["timestamp"],
        "blockNumber": receipt["blockNumber"],
    }
    assert ledger.call(NOTARY, "isNotarized", DOC)


@pytest.mark.parametrize("actor", ["regulator", "enterprise_b", "trader", "bank", "oracle"])
def test_any_active_member_may_notarize(ledger: Ledger, actor: str) -> None:
    ledger.tx(actor, NOTARY, "notarize", DOC, KIND, ZERO)
    assert view(ledger, NOTARY, "getNotarization", DOC)["notary"] == ledger.address(actor)


def test_a_frozen_member_may_notarize(ledger: Ledger) -> None:
    ledger.tx("regulator", "Membership", "freeze", ledger.address("trader"), REASON)
    ledger.tx("trader", NOTARY, "notarize", DOC, KIND, REF)
    assert ledger.call(NOTARY, "isNotarized", DOC)


def test_a_hash_is_notarized_once_and_the_refusal_names_the_existing_record(ledger: Ledger) -> None:
    receipt = ledger.tx("enterprise_a", NOTARY, "notarize", DOC, KIND, REF)
    timestamp = ledger.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    for actor in ("enterprise_a", "regulator"):
        with reverts("AlreadyNotarized", DOC, ledger.address("enterprise_a"), timestamp):
            ledger.tx(actor, NOTARY, "notarize", DOC, keccak(text="OTHER"), ZERO)
    assert view(ledger, NOTARY, "getNotarization", DOC) == {
        "notary": ledger.address("enterprise_a"),
        "timestamp": timestamp,
        "blockNumber": receipt["blockNumber"],
    }
    notarized = ledger.contract(NOTARY).events.Notarized.get_logs(from_block=0)
    assert [(e["args"]["documentHash"], e["args"]["kind"]) for e in notarized] == [(DOC, KIND)]


def test_a_stranger_cannot_notarize(ledger: Ledger) -> None:
    with reverts("InactiveMember", ledger.address("stranger")):
        ledger.tx("stranger", NOTARY, "notarize", DOC, KIND, REF)


@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_a_suspended_or_revoked_member_cannot_notarize(ledger: Ledger, action: str) -> None:
    ledger.tx("regulator", "Membership", action, ledger.address("trader"), REASON)
    with reverts("InactiveMember", ledger.address("trader")):
        ledger.tx("trader", NOTARY, "notarize", DOC, KIND, REF)


def test_a_zero_hash_is_refused(ledger: Ledger) -> None:
    with reverts("MissingDocumentHash"):
        ledger.tx("trader", NOTARY, "notarize", ZERO, KIND, REF)


def test_an_unknown_hash_has_no_record(ledger: Ledger) -> None:
    with reverts("NotNotarized", DOC):
        ledger.call(NOTARY, "getNotarization", DOC)

"""On a node, views are read with bare JSON-RPC (`Suite.view`, `ChainClient.logs`): the service's answers are
the ones web3's contract calls give, and a document notarized through the API is looked up from its slot
and its event."""

from __future__ import annotations

import hashlib

import pytest

from ledger_core.chain.errors import ContractRevert
from tests.chain.node_service import PARK, STEEL, NodeService


def test_views_read_bare_on_a_node_answer_what_web3_answers_and_a_notarized_document_is_found(
        service: NodeService):
    service.serve_cast()
    runtime, client = service.runtime, service.client
    assert runtime is not None and client is not None
    suite, chain, steel = runtime.suite, runtime.chain, service.addresses["steel"]
    for contract, function, args in (("Membership", "organisation", (STEEL,)), ("Membership", "memberOf", (steel,)),
                                     ("Membership", "organisationExists", (PARK,))):
        assert suite.view(chain, contract, function, *args) == suite.call(contract, function, *args)
    with pytest.raises(ContractRevert) as refused:
        suite.view(chain, "Membership", "organisation", 999)
    assert refused.value.error == "UnknownOrganisation"
    assert runtime.directory.organisation(999) is None
    assert runtime.directory.organisation(STEEL) is not None

    document = b"an emissions report, signed"
    created = client.post("/api/v1/notary/documents", headers=service.auth("steel"),
                          files={"document": ("report.txt", document)}, data={"kind": "REPORT", "reference": "r-7"})
    assert created.status_code == 201, created.text
    digest = "0x" + hashlib.sha256(document).hexdigest()
    found = service.get("cement", f"/notary/documents/{digest}")
    assert found == created.json()["record"]
    assert (found["notary"], found["org_id"]) == (steel, STEEL)
    slot = suite.call("Notary", "getNotarization", bytes.fromhex(digest[2:]))
    assert (found["timestamp"], found["block_number"]) == (slot[1], slot[2])
    unknown = client.get(f"/api/v1/notary/documents/0x{hashlib.sha256(b'never sent').hexdigest()}",
                         headers=service.auth("cement"))
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotNotarized"

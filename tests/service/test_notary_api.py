"""Notary through the API: a document's SHA-256 is notarized once; anyone authenticated can verify a document."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.helpers import V1, sanction

REPORT = b"Riverside Steel annual emission report 2025\n"


def notarize(client: TestClient, cast: Cast, name: str, content: bytes = REPORT, kind: str = "EMISSION_REPORT"):
    return client.post(f"{V1}/notary/documents", headers=cast.auth(name), files={"document": ("r.txt", content)},
                       data={"kind": kind, "reference": "2025"})


def test_a_member_notarizes_a_document_and_anyone_verifies_it(client: TestClient, cast: Cast):
    reply = notarize(client, cast, "enterprise_a")
    assert reply.status_code == 201, reply.text
    record = reply.json()["record"]
    assert record["document_hash"] == "0x" + hashlib.sha256(REPORT).hexdigest()
    assert (record["notary"], record["org_id"]) == (cast.addresses["enterprise_a"], ENTERPRISE_A)
    verified = client.post(f"{V1}/notary/verifications", headers=cast.auth("verifier"),
                           files={"document": ("copy.txt", REPORT)})
    assert verified.status_code == 200
    assert verified.json() == record
    by_hash = client.get(f"{V1}/notary/documents/{record['document_hash']}", headers=cast.auth("trader"))
    assert by_hash.json() == record


def test_an_altered_document_is_not_found(client: TestClient, cast: Cast):
    notarize(client, cast, "enterprise_a")
    reply = client.post(f"{V1}/notary/verifications", headers=cast.auth("verifier"),
                        files={"document": ("r.txt", REPORT + b" ")})
    assert reply.status_code == 404
    assert reply.json()["error"] == "NotNotarized"


def test_a_document_is_notarized_once(client: TestClient, cast: Cast):
    notarize(client, cast, "enterprise_a")
    reply = notarize(client, cast, "enterprise_b")
    assert reply.status_code == 409
    assert reply.json()["error"] == "AlreadyNotarized"
    assert reply.json()["args"]["notary"] == cast.addresses["enterprise_a"]


def test_a_frozen_member_still_notarizes_but_a_suspended_one_does_not(client: TestClient, cast: Cast):
    sanction(client, cast, "enterprise_a", "freeze")
    assert notarize(client, cast, "enterprise_a").status_code == 201
    sanction(client, cast, "enterprise_b", "suspend")
    assert notarize(client, cast, "enterprise_b", b"other").status_code == 403


def test_a_document_is_required(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/notary/documents", headers=cast.auth("enterprise_a"), data={"kind": "X"})
    assert reply.status_code == 422


def test_verifying_needs_authentication(client: TestClient):
    assert client.post(f"{V1}/notary/verifications", files={"document": ("r.txt", REPORT)}).status_code == 401

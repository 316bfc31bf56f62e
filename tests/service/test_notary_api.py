"""Notary through the API: a document's SHA-256 is notarized once; anyone authenticated can verify a document."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.runtime import Runtime
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


def newest_row(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.max(OutboxTransaction.id))) or 0)


def test_concurrent_notarizations_share_groups_and_a_document_notarized_before_records_nothing(
        served: str, client: TestClient, cast: Cast, runtime: Runtime):
    """Notarizations are served on the event loop and join the group commit: each caller gets its own record,
    and the one the chain would refuse is found by the group's simulation and refused before it takes a nonce
    (recorded as rejected, as a blocking caller's is), failing no one else."""
    assert notarize(client, cast, "enterprise_a").status_code == 201
    documents = [f"board minutes {n}".encode() for n in range(6)] + [REPORT]
    last_row, groups_before = newest_row(runtime), runtime.outbox.group.groups

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=served, timeout=60) as http:
            return await asyncio.gather(*(
                http.post(f"{V1}/notary/documents", headers=cast.auth("enterprise_b"),
                          files={"document": ("d.txt", content)}, data={"kind": "MINUTES"}) for content in documents))

    replies = asyncio.run(send_all())

    assert [r.status_code for r in replies] == [201] * 6 + [409]
    assert replies[-1].json()["error"] == "AlreadyNotarized"
    assert [r.json()["record"]["document_hash"] for r in replies[:6]] == [
        "0x" + hashlib.sha256(content).hexdigest() for content in documents[:6]]
    assert {r.json()["record"]["notary"] for r in replies[:6]} == {cast.addresses["enterprise_b"]}
    with runtime.sessions() as session:
        written = session.execute(select(OutboxTransaction.status, OutboxTransaction.nonce)
                                  .where(OutboxTransaction.id > last_row)).all()
    assert sorted(status for status, _ in written) == ["mined"] * 6 + ["rejected"]
    assert [nonce for status, nonce in written if status == "rejected"] == [None]
    assert runtime.outbox.group.groups - groups_before < 6

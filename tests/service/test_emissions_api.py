"""Emission reports through the API: the enterprise submits (document sealed off chain, its SHA-256 on chain with
the commitment to the meter anchors), a verifier verifies or rejects, a regulator finalizes; documents are
downloaded decrypted by the enterprise's members, verifiers and regulators only."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain.client import SendResult
from ledger_core.db.models import StoredDocument
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, YEAR, Cast
from tests.service.helpers import V1, sanction
from tests.service.metering import clear_meter_data

DOCUMENT = b"Riverside Steel: annual emission report 2025, 12,345 kgCO2e\n"
ROOT = "0x" + "ab" * 32
EXPLICIT = {"anchors_root": ROOT, "anchored_mg": 12_345_000_000, "reading_count": 7}


@pytest.fixture(autouse=True)
def _documents(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def submit(client: TestClient, cast: Cast, name: str = "enterprise_a", content: bytes = DOCUMENT,
           **form: Any) -> Any:
    data = {"year": YEAR, "reported_kg_co2e": 12_345, **EXPLICIT, **form}
    return client.post(f"{V1}/emissions/reports", headers=cast.auth(name), files={"document": ("r.pdf", content)},
                       data={k: v for k, v in data.items() if v is not None})


def submitted(client: TestClient, cast: Cast, name: str = "enterprise_a", **form: Any) -> int:
    reply = submit(client, cast, name, **form)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["report"]["report_id"])


def verify(client: TestClient, cast: Cast, report_id: int, name: str = "verifier", kg: int = 12_400,
           statement: bytes | None = b"statement", **form: Any) -> Any:
    files = {"statement": ("s.pdf", statement)} if statement is not None else None
    return client.post(f"{V1}/emissions/reports/{report_id}/verification", headers=cast.auth(name), files=files,
                       data={"verified_kg_co2e": kg, **form})


def reject(client: TestClient, cast: Cast, report_id: int, name: str = "verifier", **form: Any) -> Any:
    return client.post(f"{V1}/emissions/reports/{report_id}/rejection", headers=cast.auth(name),
                       data={"reason_hash": "0x" + "0e" * 32, **form})


def finalize(client: TestClient, cast: Cast, report_id: int, name: str = "regulator") -> Any:
    return client.post(f"{V1}/emissions/reports/{report_id}/finalization", headers=cast.auth(name))


def download(client: TestClient, cast: Cast, report_id: int, name: str, kind: str = "report") -> Any:
    return client.get(f"{V1}/emissions/reports/{report_id}/documents/{kind}", headers=cast.auth(name))


# ---------------------------------------------------------------------- submit


def test_an_enterprise_submits_its_report_and_the_document_is_sealed_off_chain(client: TestClient, cast: Cast,
                                                                               runtime: Runtime):
    reply = submit(client, cast)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    report = body["report"]
    assert (report["org_id"], report["year"], report["version"], report["status"]) == (ENTERPRISE_A, YEAR, 1,
                                                                                      "submitted")
    assert report["document_hash"] == "0x" + hashlib.sha256(DOCUMENT).hexdigest()
    assert (report["anchors_root"], report["anchored_mg"], report["reading_count"]) == (ROOT, "12345000000", 7)
    assert report["reported_kg_co2e"] == "12345" and report["documents"]["report"] is True
    assert body["commitment"]["source"] == "caller" and body["transaction"]["function"] == "submitReport"
    with runtime.sessions() as session:
        row = session.scalar(select(StoredDocument))
        assert row is not None and DOCUMENT not in row.ciphertext and row.org_id == ENTERPRISE_A
    for name in ("enterprise_a2", "verifier", "regulator"):
        got = download(client, cast, report["report_id"], name)
        assert got.status_code == 200 and got.content == DOCUMENT
        assert got.headers["x-document-sha256"] == report["document_hash"]


def test_documents_and_reports_are_refused_to_other_members(client: TestClient, cast: Cast):
    report_id = submitted(client, cast)
    for name in ("enterprise_b", "trader", "oracle"):
        assert download(client, cast, report_id, name).json()["error"] == "NotYourData"
        assert client.get(f"{V1}/emissions/reports/{report_id}", headers=cast.auth(name)).status_code == 403
    assert client.get(f"{V1}/emissions/reports/{report_id}").status_code == 401
    absent = download(client, cast, report_id, "regulator", "statement")
    assert absent.status_code == 404 and absent.json()["error"] == "DocumentNotStored"
    assert download(client, cast, report_id, "regulator", "bogus").status_code == 422


def test_without_anchored_meter_data_the_commitment_must_be_given(client: TestClient, cast: Cast):
    reply = submit(client, cast, anchors_root=None, anchored_mg=None, reading_count=None)
    assert reply.status_code == 409 and reply.json()["error"] == "NoAnchoredData"
    partial = submit(client, cast, anchored_mg=None)
    assert partial.status_code == 422 and partial.json()["error"] == "IncompleteCommitment"
    zero = submit(client, cast, anchors_root="0x" + "00" * 32, anchored_mg=0, reading_count=0)
    assert zero.status_code == 201 and zero.json()["report"]["reading_count"] == 0


def test_submission_refusals(client: TestClient, cast: Cast):
    assert submit(client, cast, "verifier").json()["error"] == "MissingRole"
    assert submit(client, cast, "regulator").json()["error"] == "MissingRole"
    assert submit(client, cast, content=b"").json()["error"] == "EmptyDocument"
    assert submit(client, cast, year=0).status_code == 422
    assert submit(client, cast, reported_kg_co2e=-1).status_code == 422
    assert submit(client, cast, anchors_root="0x12").status_code == 422
    submitted(client, cast)
    open_already = submit(client, cast, "enterprise_a2")
    assert open_already.status_code == 409 and open_already.json()["error"] == "ReportAlreadyOpen"
    non_custodial = submit(client, cast, "self_signer")
    assert non_custodial.status_code == 409 and non_custodial.json()["error"] == "NonCustodialMember"
    sanction(client, cast, "enterprise_b", "suspend")
    assert submit(client, cast, "enterprise_b").json()["error"] == "MemberNotActive"


def test_a_frozen_enterprise_still_reports(client: TestClient, cast: Cast):
    sanction(client, cast, "enterprise_b", "freeze")
    assert submit(client, cast, "enterprise_b").status_code == 201


# ---------------------------------------------------------------------- review and finalization


def test_a_verifier_verifies_with_a_statement_and_the_regulator_finalizes(client: TestClient, cast: Cast):
    report_id = submitted(client, cast)
    reply = verify(client, cast, report_id, kg=12_499)
    assert reply.status_code == 200, reply.text
    report = reply.json()["report"]
    assert (report["status"], report["verifier"], report["verified_kg_co2e"]) == (
        "verified", cast.addresses["verifier"], "12499")
    assert report["statement_hash"] == "0x" + hashlib.sha256(b"statement").hexdigest()
    assert download(client, cast, report_id, "enterprise_a", "statement").content == b"statement"
    done = finalize(client, cast, report_id)
    assert done.status_code == 200 and done.json()["report"]["status"] == "finalized"
    assert done.json()["report"]["obligation_tonnes"] == 12  # 12,499 kg rounds half up to 12 t
    status = client.get(f"{V1}/compliance/enterprises/{ENTERPRISE_A}/{YEAR}", headers=cast.auth("enterprise_a"))
    assert status.json()["obligation"] == 12


def test_a_statement_may_be_given_by_its_hash(client: TestClient, cast: Cast):
    report_id = submitted(client, cast)
    reply = verify(client, cast, report_id, statement=None, statement_hash="0x" + "5a" * 32)
    assert reply.status_code == 200 and reply.json()["report"]["statement_hash"] == "0x" + "5a" * 32
    assert reply.json()["report"]["documents"]["statement"] is False


def test_verification_refusals(client: TestClient, cast: Cast):
    report_id = submitted(client, cast)
    assert verify(client, cast, report_id, "enterprise_b").json()["error"] == "MissingRole"
    assert verify(client, cast, report_id, "regulator").json()["error"] == "MissingRole"
    both = verify(client, cast, report_id, statement_hash="0x" + "5a" * 32)
    assert both.status_code == 422 and both.json()["error"] == "DocumentOrHashRequired"
    neither = verify(client, cast, report_id, statement=None)
    assert neither.status_code == 422 and neither.json()["error"] == "DocumentOrHashRequired"
    unknown = verify(client, cast, 999)
    assert unknown.status_code == 404 and unknown.json()["error"] == "UnknownReport"
    assert verify(client, cast, report_id).status_code == 200
    twice = verify(client, cast, report_id)
    assert twice.status_code == 409 and twice.json()["error"] == "InvalidReportStatus"
    sanction(client, cast, "verifier", "suspend")
    assert reject(client, cast, report_id).json()["error"] == "MemberNotActive"


def test_a_rejected_report_is_resubmitted_as_a_new_version_with_its_history(client: TestClient, cast: Cast):
    first = submitted(client, cast)
    neither = client.post(f"{V1}/emissions/reports/{first}/rejection", headers=cast.auth("verifier"))
    assert neither.status_code == 422 and neither.json()["error"] == "DocumentOrHashRequired"
    assert reject(client, cast, first, "trader").json()["error"] == "MissingRole"
    rejected = client.post(f"{V1}/emissions/reports/{first}/rejection", headers=cast.auth("verifier"),
                           files={"reason": ("why.txt", b"the boundary misses facility 2")})
    assert rejected.status_code == 200 and rejected.json()["report"]["status"] == "rejected"
    assert download(client, cast, first, "enterprise_a", "reason").content == b"the boundary misses facility 2"
    second = submitted(client, cast, content=DOCUMENT + b"corrected")
    report = client.get(f"{V1}/emissions/reports/{second}", headers=cast.auth("enterprise_a")).json()
    assert (report["version"], report["previous_report_id"]) == (2, first)
    versions = client.get(f"{V1}/emissions/enterprises/{ENTERPRISE_A}/reports", params={"year": YEAR},
                          headers=cast.auth("verifier")).json()
    assert [r["report_id"] for r in versions["reports"]] == [first, second] and versions["page"]["total"] == 2
    assert verify(client, cast, second).status_code == 200
    assert finalize(client, cast, second).status_code == 200
    history = client.get(f"{V1}/emissions/reports/{first}/history", headers=cast.auth("regulator")).json()
    assert history["latest_report_id"] == second
    assert [(e["report_id"], e["event"]) for e in history["events"]] == [
        (first, "submitted"), (first, "rejected"), (second, "submitted"), (second, "verified"),
        (second, "finalized")]
    assert client.get(f"{V1}/emissions/enterprises/{ENTERPRISE_A}/reports", params={"year": YEAR},
                      headers=cast.auth("enterprise_b")).json()["error"] == "NotYourData"
    assert client.get(f"{V1}/emissions/enterprises/{ENTERPRISE_B + 1000}/reports", params={"year": YEAR},
                      headers=cast.auth("regulator")).status_code == 404


def test_finalization_refusals(client: TestClient, cast: Cast):
    report_id = submitted(client, cast)
    early = finalize(client, cast, report_id)
    assert early.status_code == 409 and early.json()["error"] == "InvalidReportStatus"
    verify(client, cast, report_id)
    assert finalize(client, cast, report_id, "verifier").json()["error"] == "MissingRole"
    assert finalize(client, cast, report_id, "enterprise_a").json()["error"] == "MissingRole"
    assert finalize(client, cast, 999).json()["error"] == "UnknownReport"
    assert finalize(client, cast, report_id, "regulator2").status_code == 200


def test_a_submission_still_on_its_way_answers_202_with_its_transaction_and_no_report_yet(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.settings, "receipt_timeout_seconds", 0.5)
    monkeypatch.setattr(runtime.chain, "send_raw",  # the node turns the transaction away for now: it stays signed
                        lambda raws, hashes: [SendResult(h, "transaction underpriced") for h in hashes])
    reply = submit(client, cast)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["report"] is None and body["commitment"]["source"] == "caller"
    assert (body["transaction"]["status"], body["transaction"]["function"]) == ("signed", "submitReport")
    with runtime.sessions() as session:  # kept: the transaction is sent later
        assert session.scalar(select(StoredDocument.document_hash)) == hashlib.sha256(DOCUMENT).digest()

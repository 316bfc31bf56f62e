"""Emission report use cases called directly: a submission seals the document and commits to the meter data; a
refused one keeps nothing; reports are read only by those who may."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ledger_core.db.models import StoredDocument
from ledger_service.documents import DocumentKind
from ledger_service.emissions import Commitment, ReportStatus
from ledger_service.runtime import Runtime
from ledger_service.services.emissions import Upload
from ledger_service.services.errors import TransactionRefused
from tests.service.acting import acting, refused, services
from tests.service.cast import ENTERPRISE_A, YEAR, Cast
from tests.service.metering import clear_meter_data

DOCUMENT = Upload(b"Riverside Steel: emission report 2025\n", "report.pdf", "application/pdf")
GIVEN = Commitment(b"\xab" * 32, 12_345_000_000, 7, (), "caller")


@pytest.fixture(autouse=True)
def _documents(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def _documents_kept(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(StoredDocument)) or 0)


def test_a_submitted_report_keeps_its_document_and_is_verified(runtime: Runtime, cast: Cast):
    emissions = services(runtime).emissions
    done = emissions.submit(acting(runtime, cast, "enterprise_a"), YEAR, 12_345, DOCUMENT, GIVEN)
    assert done.record.status == "mined" and done.report is not None
    report = done.report
    assert (report.org_id, report.year, report.status, report.reported_kg) == (ENTERPRISE_A, YEAR,
                                                                             ReportStatus.SUBMITTED, 12_345)
    assert report.documents == {"report": True, "statement": False, "reason": False}
    verified = emissions.verify(acting(runtime, cast, "verifier"), report.report_id, 12_400,
                                statement_hash=b"\x0e" * 32)
    assert verified.report.status == ReportStatus.VERIFIED and verified.report.verified_kg == 12_400
    opened = emissions.document(acting(runtime, cast, "enterprise_a2"), report.report_id, DocumentKind.REPORT)
    assert opened.content == DOCUMENT.content


def test_a_refused_submission_keeps_no_document(runtime: Runtime, cast: Cast):
    emissions = services(runtime).emissions
    with pytest.raises(TransactionRefused):  # the chain: a verifier submits no report
        emissions.submit(acting(runtime, cast, "verifier"), YEAR, 1, DOCUMENT, GIVEN)
    assert _documents_kept(runtime) == 0
    refused(409, "NoAnchoredData", emissions.submit, acting(runtime, cast, "enterprise_a"), YEAR, 1, DOCUMENT)


def test_a_review_needs_a_document_or_its_hash_and_reports_are_not_for_everyone(runtime: Runtime, cast: Cast):
    emissions = services(runtime).emissions
    report = emissions.submit(acting(runtime, cast, "enterprise_a"), YEAR, 12_345, DOCUMENT, GIVEN).report
    assert report is not None
    verifier = acting(runtime, cast, "verifier")
    refused(422, "DocumentOrHashRequired", emissions.verify, verifier, report.report_id, 1)
    refused(422, "DocumentOrHashRequired", emissions.reject, verifier, report.report_id, DOCUMENT, b"\x0e" * 32)
    refused(403, "NotYourData", emissions.report, acting(runtime, cast, "enterprise_b"), report.report_id)
    refused(403, "NotYourData", emissions.versions, acting(runtime, cast, "trader"), ENTERPRISE_A, YEAR, 0, 10)
    assert emissions.history(verifier, report.report_id).latest_report_id == report.report_id

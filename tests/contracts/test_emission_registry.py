"""EmissionRegistry: submitted, verified, rejected and finalized emission reports, versions never overwritten."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from ledger_service.emissions import read_report, review_hash, submission_hash
from oracles import merkle_sum as ms
from tests.contracts.structs import view
from tests.support.cast import ROLES
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

ER = "EmissionRegistry"
YEAR = 2024
DOC = keccak(text="report 2024 v1")
DOC2 = keccak(text="report 2024 v2")
STATEMENT = keccak(text="verification statement")
REASON = keccak(text="rejection reasons")
ZERO = b"\x00" * 32
REPORTED_KG = 1_234_567
VERIFIED_KG = 1_240_499

# The level-5 report commitment over two anchors of enterprise 11 (COMMITMENTS.md, "The report commitment").
_ANCHORS = [
    ms.Node(keccak(text="anchor root 1"), 600_000_000, 700),
    ms.Node(keccak(text="anchor root 2"), 634_567_000, 812),
]
PERIOD = ms.level_node(ms.LEVEL_PERIOD, ms.enterprise_id(11), ms.root(_ANCHORS))


class Status(IntEnum):
    NONE = 0
    SUBMITTED = 1
    VERIFIED = 2
    REJECTED = 3
    FINALIZED = 4


def _submit(ledger: Ledger, actor: str = "enterprise_a", year: int = YEAR, doc: bytes = DOC) -> Any:
    return ledger.tx(actor, ER, "submitReport", year, doc, REPORTED_KG, PERIOD.hash, PERIOD.sum, PERIOD.count)


def _report(ledger: Ledger, report_id: int) -> dict[str, Any]:
    """A report version as the registry's state and its events give it (`read_report`), named as the record's
    fields; what has not happened yet reads as zero."""
    r = read_report(ledger, report_id)
    none = "0x" + "00" * 20
    return {
        "orgId": r.org_id,
        "year": r.year,
        "version": r.version,
        "previousReportId": r.previous_report_id,
        "submitter": r.submitter,
        "documentHash": r.document_hash,
        "reportedKgCO2e": r.reported_kg,
        "anchorsRoot": r.anchors_root,
        "anchoredMg": r.anchored_mg,
        "readingCount": r.reading_count,
        "status": r.status,
        "verifier": r.verifier or none,
        "verifiedKgCO2e": r.verified_kg,
        "statementHash": r.statement_hash or ZERO,
        "reasonHash": r.reason_hash or ZERO,
        "finalizer": r.finalizer or none,
        "obligationTonnes": r.obligation_tonnes,
        "submittedAt": r.submitted_at,
        "reviewedAt": r.reviewed_at or 0,
        "finalizedAt": r.finalized_at or 0,
    }


def _timestamp(ledger: Ledger, receipt: Any) -> int:
    return int(ledger.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def _admit_verifier_in_org_11(ledger: Ledger) -> str:
    ledger.add_actor("verifier_11", Account.from_key(keccak(text="carbonledger-test-actor:verifier_11")))
    ledger.tx("regulator", "Membership", "admit", ledger.address("verifier_11"), 11, [ROLES["VERIFIER"]])
    return "verifier_11"


# ====================================================================== submit


class TestSubmitReport:
    def test_an_enterprise_member_submits_its_organisations_report(self, ledger: Ledger) -> None:
        receipt = _submit(ledger)
        submitter = ledger.address("enterprise_a")
        assert ledger.events(receipt, ER, "ReportSubmitted") == [
            {
                "reportId": 1,
                "orgId": 11,
                "year": YEAR,
                "version": 1,
                "previousReportId": 0,
                "submitter": submitter,
                "documentHash": DOC,
                "reportedKgCO2e": REPORTED_KG,
                "anchorsRoot": PERIOD.hash,
                "anchoredMg": PERIOD.sum,
                "readingCount": PERIOD.count,
            }
        ]
        assert _report(ledger, 1) == {
            "orgId": 11,
            "year": YEAR,
            "version": 1,
            "previousReportId": 0,
            "submitter": submitter,
            "documentHash": DOC,
            "reportedKgCO2e": REPORTED_KG,
            "anchorsRoot": PERIOD.hash,
            "anchoredMg": PERIOD.sum,
            "readingCount": PERIOD.count,
            "status": Status.SUBMITTED,
            "verifier": "0x" + "00" * 20,
            "verifiedKgCO2e": 0,
            "statementHash": ZERO,
            "reasonHash": ZERO,
            "finalizer": "0x" + "00" * 20,
            "obligationTonnes": 0,
            "submittedAt": _timestamp(ledger, receipt),
            "reviewedAt": 0,
            "finalizedAt": 0,
        }
        assert ledger.call(ER, "latestReportId", 11, YEAR) == 1
        assert ledger.call(ER, "reportVersions", 11, YEAR) == [1]
        assert ledger.call(ER, "reportCount") == 1

    def test_the_chain_keeps_the_state_and_a_commitment_to_the_submitted_record(self, ledger: Ledger) -> None:
        _submit(ledger)
        commitment = submission_hash(ledger.address("enterprise_a"), DOC, REPORTED_KG, PERIOD.hash, PERIOD.sum,
                                     PERIOD.count)
        assert view(ledger, ER, "getReport", 1) == {
            "orgId": 11,
            "year": YEAR,
            "version": 1,
            "status": Status.SUBMITTED,
            "previousReportId": 0,
            "submissionHash": commitment,
            "reviewHash": ZERO,
            "verifiedKgCO2e": 0,
        }
        assert ledger.call(ER, "submissionHash", ledger.address("enterprise_a"), DOC, REPORTED_KG, PERIOD.hash,
                           PERIOD.sum, PERIOD.count) == commitment

    def test_organisations_and_years_are_independent(self, ledger: Ledger) -> None:
        _submit(ledger)
        _submit(ledger, actor="enterprise_b")
        _submit(ledger, year=YEAR + 1)
        assert ledger.call(ER, "latestReportId", 12, YEAR) == 2
        assert ledger.call(ER, "latestReportId", 11, YEAR + 1) == 3
        assert _report(ledger, 2)["orgId"] == 12
        assert ledger.call(ER, "latestReportId", 12, YEAR + 1) == 0
        assert ledger.call(ER, "reportVersions", 12, YEAR + 1) == []

    def test_a_frozen_enterprise_member_must_still_report(self, ledger: Ledger) -> None:
        ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), REASON)
        _submit(ledger)
        assert _report(ledger, 1)["status"] == Status.SUBMITTED

    def test_a_second_report_while_one_is_open_is_refused_even_from_a_colleague(self, ledger: Ledger) -> None:
        _submit(ledger)
        with reverts("ReportAlreadyOpen", 11, YEAR, 1, Status.SUBMITTED):
            _submit(ledger, actor="enterprise_a2", doc=DOC2)

    def test_no_new_report_once_verified_or_finalized(self, ledger: Ledger) -> None:
        _submit(ledger)
        ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)
        with reverts("ReportAlreadyOpen", 11, YEAR, 1, Status.VERIFIED):
            _submit(ledger, doc=DOC2)
        ledger.tx("regulator", ER, "finalizeReport", 1)
        with reverts("ReportAlreadyOpen", 11, YEAR, 1, Status.FINALIZED):
            _submit(ledger, doc=DOC2)

    @pytest.mark.parametrize("actor", ["stranger", "trader", "verifier", "oracle", "regulator"])
    def test_only_enterprise_members_submit(self, ledger: Ledger, actor: str) -> None:
        with reverts("MissingRole", ledger.address(actor), ROLES["ENTERPRISE"]):
            _submit(ledger, actor=actor)

    @pytest.mark.parametrize("action", ["suspend", "revoke"])
    def test_a_suspended_or_revoked_member_cannot_submit(self, ledger: Ledger, action: str) -> None:
        ledger.tx("regulator", "Membership", action, ledger.address("enterprise_a"), REASON)
        with reverts("MissingRole", ledger.address("enterprise_a"), ROLES["ENTERPRISE"]):
            _submit(ledger)

    def test_year_zero_and_a_missing_document_are_refused(self, ledger: Ledger) -> None:
        with reverts("InvalidYear", 0):
            _submit(ledger, year=0)
        with reverts("MissingDocumentHash"):
            _submit(ledger, doc=ZERO)


# ====================================================================== verify / reject


class TestVerifyReport:
    def test_a_verifier_verifies_a_submitted_report(self, ledger: Ledger) -> None:
        _submit(ledger)
        receipt = ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)
        verifier = ledger.address("verifier")
        assert ledger.events(receipt, ER, "ReportVerified") == [
            {
                "reportId": 1,
                "orgId": 11,
                "year": YEAR,
                "verifier": verifier,
                "verifiedKgCO2e": VERIFIED_KG,
                "statementHash": STATEMENT,
            }
        ]
        report = _report(ledger, 1)
        assert report["status"] == Status.VERIFIED
        assert (report["verifier"], report["verifiedKgCO2e"], report["statementHash"]) == (
            verifier,
            VERIFIED_KG,
            STATEMENT,
        )
        assert report["reviewedAt"] == _timestamp(ledger, receipt)
        assert report["reportedKgCO2e"] == REPORTED_KG
        kept = view(ledger, ER, "getReport", 1)
        assert kept["reviewHash"] == review_hash(verifier, VERIFIED_KG, STATEMENT)
        assert kept["reviewHash"] == ledger.call(ER, "reviewHash", verifier, VERIFIED_KG, STATEMENT)
        assert kept["verifiedKgCO2e"] == VERIFIED_KG

    @pytest.mark.parametrize(
        ("setup", "status"),
        [("verifyReport", Status.VERIFIED), ("rejectReport", Status.REJECTED)],
    )
    def test_only_a_submitted_report_can_be_verified(self, ledger: Ledger, setup: str, status: Status) -> None:
        _submit(ledger)
        ledger.tx("verifier", ER, setup, 1, *((VERIFIED_KG, STATEMENT) if setup == "verifyReport" else (REASON,)))
        with reverts("InvalidReportStatus", 1, status, Status.SUBMITTED):
            ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)

    def test_a_finalized_report_cannot_be_verified_again(self, ledger: Ledger) -> None:
        _submit(ledger)
        ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)
        ledger.tx("regulator", ER, "finalizeReport", 1)
        with reverts("InvalidReportStatus", 1, Status.FINALIZED, Status.SUBMITTED):
            ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)

    @pytest.mark.parametrize("actor", ["stranger", "enterprise_a", "regulator", "oracle"])
    def test_only_verifiers_verify(self, ledger: Ledger, actor: str) -> None:
        _submit(ledger)
        with reverts("MissingRole", ledger.address(actor), ROLES["VERIFIER"]):
            ledger.tx(actor, ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)

    def test_a_suspended_verifier_cannot_verify(self, ledger: Ledger) -> None:
        _submit(ledger)
        ledger.tx("regulator", "Membership", "suspend", ledger.address("verifier"), REASON)
        with reverts("MissingRole", ledger.address("verifier"), ROLES["VERIFIER"]):
            ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)

    def test_a_verifier_of_the_reporting_organisation_has_a_conflict_of_interest(self, ledger: Ledger) -> None:
        _submit(ledger)
        insider = _admit_verifier_in_org_11(ledger)
        with reverts("ConflictOfInterest", ledger.address(insider), 11):
            ledger.tx(insider, ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)
        with reverts("ConflictOfInterest", ledger.address(insider), 11):
            ledger.tx(insider, ER, "rejectReport", 1, REASON)

    def test_a_missing_statement_is_refused(self, ledger: Ledger) -> None:
        _submit(ledger)
        with reverts("MissingDocumentHash"):
            ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, ZERO)

    def test_an_unknown_report_is_refused(self, ledger: Ledger) -> None:
        with reverts("UnknownReport", 7):
            ledger.tx("verifier", ER, "verifyReport", 7, VERIFIED_KG, STATEMENT)


class TestRejectReport:
    def test_a_verifier_rejects_a_submitted_report(self, ledger: Ledger) -> None:
        _submit(ledger)
        receipt = ledger.tx("verifier", ER, "rejectReport", 1, REASON)
        verifier = ledger.address("verifier")
        assert ledger.events(receipt, ER, "ReportRejected") == [
            {"reportId": 1, "orgId": 11, "year": YEAR, "verifier": verifier, "reasonHash": REASON}
        ]
        report = _report(ledger, 1)
        assert (report["status"], report["verifier"], report["reasonHash"]) == (Status.REJECTED, verifier, REASON)
        assert report["reviewedAt"] == _timestamp(ledger, receipt)
        assert view(ledger, ER, "getReport", 1)["reviewHash"] == review_hash(verifier, 0, REASON)

    def test_only_a_submitted_report_can_be_rejected(self, ledger: Ledger) -> None:
        _submit(ledger)
        ledger.tx("verifier", ER, "rejectReport", 1, REASON)
        with reverts("InvalidReportStatus", 1, Status.REJECTED, Status.SUBMITTED):
            ledger.tx("verifier", ER, "rejectReport", 1, REASON)

    def test_a_verified_report_cannot_be_rejected(self, ledger: Ledger) -> None:
        _submit(ledger)
        ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)
        with reverts("InvalidReportStatus", 1, Status.VERIFIED, Status.SUBMITTED):
            ledger.tx("verifier", ER, "rejectReport", 1, REASON)

    @pytest.mark.parametrize("actor", ["stranger", "enterprise_b", "regulator"])
    def test_only_verifiers_reject(self, ledger: Ledger, actor: str) -> None:
        _submit(ledger)
        with reverts("MissingRole", ledger.address(actor), ROLES["VERIFIER"]):
            ledger.tx(actor, ER, "rejectReport", 1, REASON)

    def test_a_missing_reason_is_refused(self, ledger: Ledger) -> None:
        _submit(ledger)
        with reverts("MissingDocumentHash"):
            ledger.tx("verifier", ER, "rejectReport", 1, ZERO)

    def test_an_unknown_report_is_refused(self, ledger: Ledger) -> None:
        with reverts("UnknownReport", 1):
            ledger.tx("verifier", ER, "rejectReport", 1, REASON)


# ====================================================================== versions


class TestVersions:
    def test_a_rejected_report_is_followed_by_a_new_linked_version_and_kept_unchanged(self, ledger: Ledger) -> None:
        _submit(ledger)
        ledger.tx("verifier", ER, "rejectReport", 1, REASON)
        first = _report(ledger, 1)
        receipt = _submit(ledger, actor="enterprise_a2", doc=DOC2)
        event = ledger.events(receipt, ER, "ReportSubmitted")[0]
        assert (event["reportId"], event["version"], event["previousReportId"]) == (2, 2, 1)
        second = _report(ledger, 2)
        assert (second["version"], second["previousReportId"], second["documentHash"]) == (2, 1, DOC2)
        assert second["submitter"] == ledger.address("enterprise_a2")
        assert second["status"] == Status.SUBMITTED
        assert _report(ledger, 1) == first
        assert ledger.call(ER, "latestReportId", 11, YEAR) == 2
        assert ledger.call(ER, "reportVersions", 11, YEAR) == [1, 2]

    def test_versions_continue_until_one_is_finalized(self, ledger: Ledger) -> None:
        _submit(ledger)  # 1
        _submit(ledger, actor="enterprise_b")  # 2, another organisation in between
        ledger.tx("verifier", ER, "rejectReport", 1, REASON)
        _submit(ledger, doc=DOC2)  # 3
        ledger.tx("verifier", ER, "rejectReport", 3, REASON)
        _submit(ledger, doc=keccak(text="v3"))  # 4
        ledger.tx("verifier", ER, "verifyReport", 4, VERIFIED_KG, STATEMENT)
        ledger.tx("regulator", ER, "finalizeReport", 4)
        assert ledger.call(ER, "reportVersions", 11, YEAR) == [1, 3, 4]
        assert [(_report(ledger, i)["version"], _report(ledger, i)["previousReportId"]) for i in (1, 3, 4)] == [
            (1, 0),
            (2, 1),
            (3, 3),
        ]
        assert [_report(ledger, i)["status"] for i in (1, 3, 4)] == [Status.REJECTED, Status.REJECTED, Status.FINALIZED]
        assert ledger.call(ER, "reportVersions", 12, YEAR) == [2]


# ====================================================================== finalize


def _verified(ledger: Ledger, kg: int = VERIFIED_KG) -> None:
    _submit(ledger)
    ledger.tx("verifier", ER, "verifyReport", 1, kg, STATEMENT)


class TestFinalizeReport:
    def test_a_regulator_finalizes_and_the_obligation_is_set(self, ledger: Ledger) -> None:
        _verified(ledger)
        receipt = ledger.tx("regulator2", ER, "finalizeReport", 1)
        regulator = ledger.address("regulator2")
        assert ledger.events(receipt, ER, "ReportFinalized") == [
            {
                "reportId": 1,
                "orgId": 11,
                "year": YEAR,
                "finalizer": regulator,
                "verifiedKgCO2e": VERIFIED_KG,
                "obligationTonnes": 1_240,
            }
        ]
        assert ledger.events(receipt, "ComplianceLedger", "ObligationSet") == [
            {"orgId": 11, "year": YEAR, "tonnes": 1_240}
        ]
        report = _report(ledger, 1)
        assert (report["status"], report["finalizer"], report["obligationTonnes"]) == (
            Status.FINALIZED,
            regulator,
            1_240,
        )
        assert report["finalizedAt"] == _timestamp(ledger, receipt)
        obligation, _, _, shortfall, finalized = ledger.call("ComplianceLedger", "complianceStatus", 11, YEAR)
        assert (obligation, shortfall, finalized) == (1_240, 1_240, True)

    @pytest.mark.parametrize(
        ("kg", "tonnes"),
        [(0, 0), (499, 0), (500, 1), (1_000, 1), (1_499, 1), (1_500, 2), (2_345_678_500, 2_345_679)],
    )
    def test_the_obligation_is_the_verified_kilograms_rounded_half_up_to_tonnes(
        self, ledger: Ledger, kg: int, tonnes: int
    ) -> None:
        _verified(ledger, kg)
        ledger.tx("regulator", ER, "finalizeReport", 1)
        assert ledger.call("ComplianceLedger", "complianceStatus", 11, YEAR)[0] == tonnes

    def test_rounding_does_not_overflow(self, ledger: Ledger) -> None:
        top = 2**256 - 1
        assert ledger.call(ER, "roundToTonnes", top) == (top + 500) // 1000

    @pytest.mark.parametrize("reviewed", ["none", "rejectReport"])
    def test_only_a_verified_report_can_be_finalized(self, ledger: Ledger, reviewed: str) -> None:
        _submit(ledger)
        status = Status.SUBMITTED
        if reviewed == "rejectReport":
            ledger.tx("verifier", ER, "rejectReport", 1, REASON)
            status = Status.REJECTED
        with reverts("InvalidReportStatus", 1, status, Status.VERIFIED):
            ledger.tx("regulator", ER, "finalizeReport", 1)

    def test_a_report_is_finalized_once(self, ledger: Ledger) -> None:
        _verified(ledger)
        ledger.tx("regulator", ER, "finalizeReport", 1)
        with reverts("InvalidReportStatus", 1, Status.FINALIZED, Status.VERIFIED):
            ledger.tx("regulator", ER, "finalizeReport", 1)

    @pytest.mark.parametrize("actor", ["stranger", "enterprise_a", "verifier"])
    def test_only_a_regulator_finalizes(self, ledger: Ledger, actor: str) -> None:
        _verified(ledger)
        with reverts("MissingRole", ledger.address(actor), ROLES["REGULATOR"]):
            ledger.tx(actor, ER, "finalizeReport", 1)

    def test_a_revoked_regulator_cannot_finalize(self, ledger: Ledger) -> None:
        _verified(ledger)
        ledger.tx("regulator", "Membership", "revoke", ledger.address("regulator2"), REASON)
        with reverts("MissingRole", ledger.address("regulator2"), ROLES["REGULATOR"]):
            ledger.tx("regulator2", ER, "finalizeReport", 1)

    def test_an_unknown_report_is_refused(self, ledger: Ledger) -> None:
        with reverts("UnknownReport", 1):
            ledger.tx("regulator", ER, "finalizeReport", 1)
        with reverts("UnknownReport", 1):
            ledger.call(ER, "getReport", 1)


class TestReadingAReportFromItsBlocks:
    """`read_report(near=...)` reads the blocks it is told first (a node without a log index scans every block
    of a range) and falls back to the whole range when they do not hold what the commitments say."""

    def _ranges(self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
        asked: list[tuple[Any, Any]] = []
        real = ledger.w3.eth.get_logs

        def spy(params: Any) -> Any:
            asked.append((params["fromBlock"], params["toBlock"]))
            return real(params)

        monkeypatch.setattr(ledger.w3.eth, "get_logs", spy)
        return asked

    def test_the_blocks_of_its_events_are_read_and_nothing_else(self, ledger: Ledger,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
        submitted = _submit(ledger)["blockNumber"]
        verified = ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)["blockNumber"]
        whole = read_report(ledger, 1)
        asked = self._ranges(ledger, monkeypatch)
        assert read_report(ledger, 1, near=[verified, submitted]) == whole
        assert asked == [(submitted, submitted), (verified, verified)]

    def test_blocks_that_miss_an_event_fall_back_to_the_whole_range(self, ledger: Ledger,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        submitted = _submit(ledger)["blockNumber"]
        ledger.tx("verifier", ER, "verifyReport", 1, VERIFIED_KG, STATEMENT)
        whole = read_report(ledger, 1)
        asked = self._ranges(ledger, monkeypatch)
        # The review's block is missing (an index behind the chain): its commitment does not match, so all is read.
        assert read_report(ledger, 1, near=[submitted]) == whole
        assert asked == [(submitted, submitted), (ledger.deployment.block, "latest")]

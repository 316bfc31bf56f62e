// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {IComplianceLedger} from "./interfaces/IComplianceLedger.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";

/// @title EmissionRegistry
/// @notice Verified emission records. An enterprise submits its annual emission report,
/// committing to the document and to the meter data it is built from (the level-5 report
/// commitment of `contracts/COMMITMENTS.md` over the enterprise's MeterAnchor roots); an
/// accredited verifier verifies or rejects it; a regulator finalizes the verified figure,
/// which sets the enterprise's compliance obligation. Reports are never overwritten: a
/// resubmission after a rejection is a new version linked to the previous one.
/// @dev Freezing a member does not stop reporting: a freeze stops assets from moving, not
/// the obligation to report emissions.
contract EmissionRegistry is MembershipGated {
    /// @notice Lifecycle of a report version. `None` marks an id that does not exist.
    enum ReportStatus {
        None,
        Submitted,
        Verified,
        Rejected,
        Finalized
    }

    /// @notice What the chain keeps of one version of an enterprise's emission report: what the
    /// registry itself checks later (organisation and year, version chain, status) in one slot, and
    /// the commitments to the records in the events (see `contracts/COMMITMENTS.md`).
    /// @dev The submitted record (submitter, document hash, reported kgCO2e, the meter-data
    /// commitment) is in `ReportSubmitted`, the review (verifier, statement or reasons) in
    /// `ReportVerified` / `ReportRejected`, the finalization in `ReportFinalized`.
    struct Report {
        uint64 orgId;
        uint16 year;
        uint32 version;
        ReportStatus status;
        uint64 previousReportId;
        /// `submissionHash(submitter, documentHash, reportedKgCO2e, anchorsRoot, anchoredMg, readingCount)`.
        bytes32 submissionHash;
        /// `reviewHash(verifier, verifiedKgCO2e, statementHash)`, or `reviewHash(verifier, 0, reasonHash)`
        /// for a rejection; zero until reviewed.
        bytes32 reviewHash;
        /// The verified emissions a finalization turns into the obligation; zero until verified.
        uint256 verifiedKgCO2e;
    }

    /// @dev A submitted record, as `ReportSubmitted` carries it and `submissionHash` commits to it.
    struct Submission {
        address submitter;
        bytes32 documentHash;
        uint256 reportedKgCO2e;
        bytes32 anchorsRoot;
        uint128 anchoredMg;
        uint64 readingCount;
    }

    /// @notice The ComplianceLedger that receives finalized obligations.
    IComplianceLedger public immutable compliance;

    mapping(uint256 reportId => Report) private _reports;
    /// @dev The latest version per organisation and year; earlier ones are reached through `previousReportId`.
    mapping(uint64 orgId => mapping(uint16 year => uint256 reportId)) private _latest;
    uint256 private _reportCount;

    /// @dev No report has this id.
    error UnknownReport(uint256 reportId);
    /// @dev The organisation's latest report for the year is still open or already final.
    error ReportAlreadyOpen(uint64 orgId, uint16 year, uint256 latestReportId, ReportStatus status);
    /// @dev The report is not in the status the action requires.
    error InvalidReportStatus(uint256 reportId, ReportStatus status, ReportStatus required);
    /// @dev A verifier may not review a report of its own organisation.
    error ConflictOfInterest(address verifier, uint64 orgId);

    /// @notice A report version was submitted; `previousReportId` is the rejected version it replaces, or 0.
    event ReportSubmitted(
        uint256 indexed reportId,
        uint64 indexed orgId,
        uint16 indexed year,
        uint32 version,
        uint256 previousReportId,
        address submitter,
        bytes32 documentHash,
        uint256 reportedKgCO2e,
        bytes32 anchorsRoot,
        uint128 anchoredMg,
        uint64 readingCount
    );
    /// @notice A verifier verified a report at `verifiedKgCO2e`, with its statement.
    event ReportVerified(
        uint256 indexed reportId,
        uint64 indexed orgId,
        uint16 indexed year,
        address verifier,
        uint256 verifiedKgCO2e,
        bytes32 statementHash
    );
    /// @notice A verifier rejected a report, with its reasons; the enterprise may submit a new version.
    event ReportRejected(
        uint256 indexed reportId, uint64 indexed orgId, uint16 indexed year, address verifier, bytes32 reasonHash
    );
    /// @notice A regulator finalized a report; `obligationTonnes` was set in the ComplianceLedger.
    event ReportFinalized(
        uint256 indexed reportId,
        uint64 indexed orgId,
        uint16 indexed year,
        address finalizer,
        uint256 verifiedKgCO2e,
        uint256 obligationTonnes
    );

    constructor(IMembership membership_, IComplianceLedger compliance_) MembershipGated(membership_) {
        if (address(compliance_) == address(0)) revert Errors.ZeroAddress();
        compliance = compliance_;
    }

    // ------------------------------------------------------------------ lifecycle

    /// @notice Submit the caller's organisation's emission report for a year. Only an active
    /// ENTERPRISE member, for its own organisation. Allowed when the organisation has no report
    /// for the year or its latest one was rejected; a resubmission becomes the next version,
    /// linked to the rejected one.
    /// @param year Compliance year (non-zero).
    /// @param documentHash Non-zero hash of the report document.
    /// @param reportedKgCO2e Emissions the enterprise reports, in kgCO2e.
    /// @param anchorsRoot Hash of the level-5 report commitment over the enterprise's anchor roots
    /// (checked off chain against MeterAnchor by the audit service).
    /// @param anchoredMg Sum of that commitment: the anchored emissions in mgCO2e.
    /// @param readingCount Count of that commitment: the number of anchored readings.
    /// @return reportId The new report's id (ids start at 1 and are global).
    function submitReport(
        uint16 year,
        bytes32 documentHash,
        uint256 reportedKgCO2e,
        bytes32 anchorsRoot,
        uint128 anchoredMg,
        uint64 readingCount
    ) external returns (uint256 reportId) {
        uint64 orgId = _orgId(_requireActiveRole(Roles.ENTERPRISE, msg.sender));
        if (year == 0) revert Errors.InvalidYear(year);
        if (documentHash == bytes32(0)) revert Errors.MissingDocumentHash();
        uint256 previousReportId = _latest[orgId][year];
        uint32 version = 1;
        if (previousReportId != 0) {
            Report storage previous = _reports[previousReportId];
            if (previous.status != ReportStatus.Rejected) {
                revert ReportAlreadyOpen(orgId, year, previousReportId, previous.status);
            }
            version = previous.version + 1;
        }

        reportId = ++_reportCount;
        Submission memory record =
            Submission(msg.sender, documentHash, reportedKgCO2e, anchorsRoot, anchoredMg, readingCount);
        Report storage r = _reports[reportId];
        r.orgId = orgId;
        r.year = year;
        r.version = version;
        r.status = ReportStatus.Submitted;
        r.previousReportId = uint64(previousReportId);
        r.submissionHash = keccak256(abi.encode(record));
        _latest[orgId][year] = reportId;
        _emitSubmitted(reportId, orgId, year, version, previousReportId, record);
    }

    /// @notice Verify a submitted report. Only an active VERIFIER of another organisation than
    /// the reporting one.
    /// @param reportId The report (status Submitted).
    /// @param verifiedKgCO2e The verified emissions in kgCO2e.
    /// @param statementHash Non-zero hash of the verification statement.
    function verifyReport(uint256 reportId, uint256 verifiedKgCO2e, bytes32 statementHash)
        external
    {
        Report storage r = _requireReviewable(reportId);
        if (statementHash == bytes32(0)) revert Errors.MissingDocumentHash();
        r.status = ReportStatus.Verified;
        r.reviewHash = reviewHash(msg.sender, verifiedKgCO2e, statementHash);
        r.verifiedKgCO2e = verifiedKgCO2e;
        emit ReportVerified(reportId, r.orgId, r.year, msg.sender, verifiedKgCO2e, statementHash);
    }

    /// @notice Reject a submitted report; the enterprise may then submit a new version. Only an
    /// active VERIFIER of another organisation than the reporting one.
    /// @param reportId The report (status Submitted).
    /// @param reasonHash Non-zero hash of the reasons for rejection.
    function rejectReport(uint256 reportId, bytes32 reasonHash) external {
        Report storage r = _requireReviewable(reportId);
        if (reasonHash == bytes32(0)) revert Errors.MissingDocumentHash();
        r.status = ReportStatus.Rejected;
        r.reviewHash = reviewHash(msg.sender, 0, reasonHash);
        emit ReportRejected(reportId, r.orgId, r.year, msg.sender, reasonHash);
    }

    /// @notice Finalize a verified report and set the enterprise's obligation for the year in
    /// the ComplianceLedger. Regulator only.
    /// @dev The obligation is the verified emissions rounded half up to whole tonnes:
    /// `tonnes = (verifiedKgCO2e + 500) / 1000`, computed without overflow as
    /// `kg / 1000 + (kg % 1000 >= 500 ? 1 : 0)`; e.g. 1,499 kg -> 1 t, 1,500 kg -> 2 t.
    /// @param reportId The report (status Verified).
    function finalizeReport(uint256 reportId) external onlyRegulator {
        Report storage r = _requireReport(reportId);
        if (r.status != ReportStatus.Verified) {
            revert InvalidReportStatus(reportId, r.status, ReportStatus.Verified);
        }
        uint256 verifiedKgCO2e = r.verifiedKgCO2e;
        uint256 tonnes = roundToTonnes(verifiedKgCO2e);
        r.status = ReportStatus.Finalized;
        emit ReportFinalized(reportId, r.orgId, r.year, msg.sender, verifiedKgCO2e, tonnes);
        compliance.setObligation(r.orgId, r.year, tonnes);
    }

    // ------------------------------------------------------------------ views

    /// @notice What the chain keeps of one report version; reverts with `UnknownReport` if none.
    /// The records are in the version's events, checked with `submissionHash` and `reviewHash`.
    /// @param reportId The report.
    function getReport(uint256 reportId) external view returns (Report memory) {
        return _requireReport(reportId);
    }

    /// @notice The organisation's latest report version for the year, 0 if none.
    /// @param orgId The enterprise.
    /// @param year The compliance year.
    function latestReportId(uint64 orgId, uint16 year) external view returns (uint256) {
        return _latest[orgId][year];
    }

    /// @notice Every report version of the organisation for the year, oldest first.
    /// @dev Walks the version chain back from the latest version (views only: no transaction pays it).
    /// @param orgId The enterprise.
    /// @param year The compliance year.
    function reportVersions(uint64 orgId, uint16 year) external view returns (uint256[] memory ids) {
        uint256 latest = _latest[orgId][year];
        if (latest == 0) return ids;
        ids = new uint256[](_reports[latest].version);
        for (uint256 id = latest; id != 0; id = _reports[id].previousReportId) {
            ids[_reports[id].version - 1] = id;
        }
    }

    /// @notice The commitment a report version keeps to its submitted record.
    function submissionHash(
        address submitter,
        bytes32 documentHash,
        uint256 reportedKgCO2e,
        bytes32 anchorsRoot,
        uint128 anchoredMg,
        uint64 readingCount
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encode(Submission(submitter, documentHash, reportedKgCO2e, anchorsRoot, anchoredMg, readingCount))
        );
    }

    /// @notice The commitment a report version keeps to its review: the verifier, the verified
    /// kgCO2e (0 for a rejection) and the statement's (or the reasons') document hash.
    function reviewHash(address verifier, uint256 verifiedKgCO2e, bytes32 documentHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(verifier, verifiedKgCO2e, documentHash));
    }

    /// @notice The number of reports of all organisations (also the highest report id).
    function reportCount() external view returns (uint256) {
        return _reportCount;
    }

    /// @notice Kilograms to whole tonnes, rounded half up: `(kg + 500) / 1000`.
    /// @param kg An amount in kgCO2e.
    function roundToTonnes(uint256 kg) public pure returns (uint256) {
        return kg / 1000 + (kg % 1000 >= 500 ? 1 : 0);
    }

    // ------------------------------------------------------------------ internals

    function _requireReport(uint256 reportId) private view returns (Report storage r) {
        r = _reports[reportId];
        if (r.status == ReportStatus.None) revert UnknownReport(reportId);
    }

    /// @dev A Submitted report that the caller, an active verifier, has no conflict of interest with.
    function _requireReviewable(uint256 reportId) private view returns (Report storage r) {
        uint64 verifierOrg = _orgId(_requireActiveRole(Roles.VERIFIER, msg.sender));
        r = _requireReport(reportId);
        if (r.status != ReportStatus.Submitted) {
            revert InvalidReportStatus(reportId, r.status, ReportStatus.Submitted);
        }
        if (verifierOrg == r.orgId) revert ConflictOfInterest(msg.sender, r.orgId);
    }

    function _emitSubmitted(
        uint256 reportId,
        uint64 orgId,
        uint16 year,
        uint32 version,
        uint256 previousReportId,
        Submission memory s
    ) private {
        emit ReportSubmitted(
            reportId,
            orgId,
            year,
            version,
            previousReportId,
            s.submitter,
            s.documentHash,
            s.reportedKgCO2e,
            s.anchorsRoot,
            s.anchoredMg,
            s.readingCount
        );
    }
}

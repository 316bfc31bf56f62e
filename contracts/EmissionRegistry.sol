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

    /// @notice One version of an enterprise's emission report for a year.
    struct Report {
        uint64 orgId;
        uint16 year;
        uint32 version;
        uint256 previousReportId;
        address submitter;
        bytes32 documentHash;
        uint256 reportedKgCO2e;
        bytes32 anchorsRoot;
        uint128 anchoredMg;
        uint64 readingCount;
        ReportStatus status;
        address verifier;
        uint256 verifiedKgCO2e;
        bytes32 statementHash;
        bytes32 reasonHash;
        address finalizer;
        uint256 obligationTonnes;
        uint64 submittedAt;
        uint64 reviewedAt;
        uint64 finalizedAt;
    }

    /// @notice The ComplianceLedger that receives finalized obligations.
    IComplianceLedger public immutable compliance;

    mapping(uint256 reportId => Report) private _reports;
    mapping(uint64 orgId => mapping(uint16 year => uint256[] reportIds)) private _versions;
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
        uint256[] storage versions = _versions[orgId][year];
        uint256 previousReportId = versions.length == 0 ? 0 : versions[versions.length - 1];
        if (previousReportId != 0) {
            ReportStatus latest = _reports[previousReportId].status;
            if (latest != ReportStatus.Rejected) revert ReportAlreadyOpen(orgId, year, previousReportId, latest);
        }

        reportId = ++_reportCount;
        Report storage r = _reports[reportId];
        r.orgId = orgId;
        r.year = year;
        r.version = uint32(versions.length + 1);
        r.previousReportId = previousReportId;
        r.submitter = msg.sender;
        r.documentHash = documentHash;
        r.reportedKgCO2e = reportedKgCO2e;
        r.anchorsRoot = anchorsRoot;
        r.anchoredMg = anchoredMg;
        r.readingCount = readingCount;
        r.status = ReportStatus.Submitted;
        r.submittedAt = uint64(block.timestamp);
        versions.push(reportId);
        _emitSubmitted(reportId, r);
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
        r.verifier = msg.sender;
        r.verifiedKgCO2e = verifiedKgCO2e;
        r.statementHash = statementHash;
        r.reviewedAt = uint64(block.timestamp);
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
        r.verifier = msg.sender;
        r.reasonHash = reasonHash;
        r.reviewedAt = uint64(block.timestamp);
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
        uint256 tonnes = roundToTonnes(r.verifiedKgCO2e);
        r.status = ReportStatus.Finalized;
        r.finalizer = msg.sender;
        r.obligationTonnes = tonnes;
        r.finalizedAt = uint64(block.timestamp);
        emit ReportFinalized(reportId, r.orgId, r.year, msg.sender, r.verifiedKgCO2e, tonnes);
        compliance.setObligation(r.orgId, r.year, tonnes);
    }

    // ------------------------------------------------------------------ views

    /// @notice One report version; reverts with `UnknownReport` if none.
    /// @param reportId The report.
    function getReport(uint256 reportId) external view returns (Report memory) {
        return _requireReport(reportId);
    }

    /// @notice The organisation's latest report version for the year, 0 if none.
    /// @param orgId The enterprise.
    /// @param year The compliance year.
    function latestReportId(uint64 orgId, uint16 year) external view returns (uint256) {
        uint256[] storage versions = _versions[orgId][year];
        return versions.length == 0 ? 0 : versions[versions.length - 1];
    }

    /// @notice Every report version of the organisation for the year, oldest first.
    /// @param orgId The enterprise.
    /// @param year The compliance year.
    function reportVersions(uint64 orgId, uint16 year) external view returns (uint256[] memory) {
        return _versions[orgId][year];
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

    function _emitSubmitted(uint256 reportId, Report storage r) private {
        emit ReportSubmitted(
            reportId,
            r.orgId,
            r.year,
            r.version,
            r.previousReportId,
            r.submitter,
            r.documentHash,
            r.reportedKgCO2e,
            r.anchorsRoot,
            r.anchoredMg,
            r.readingCount
        );
    }
}

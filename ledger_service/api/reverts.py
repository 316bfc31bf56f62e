"""Custom errors of the suite as HTTP answers: a status and a plain-language message each.

403: the caller lacks a role or membership, or an account is frozen; 404: an unknown
id; 409: a duplicate or a conflict with the current state; 422: invalid input. An
error not listed is classed by its name (Unknown* -> 404, Already*/Duplicate* -> 409,
Invalid*/Zero*/Empty* -> 422) and otherwise answered with 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger_service.membership import ROLE_IDS, MemberStatus

_ROLE_BY_ID = {v: k for k, v in ROLE_IDS.items()}

# error name -> (status, message; {name} fields are the error's arguments)
REVERTS: dict[str, tuple[int, str]] = {
    # permissions
    "MissingRole": (403, "{account} does not hold the {role} role as an active member"),
    "AccountCannotTransact": (403, "{account} cannot move assets: it is not an active member or it is frozen"),
    "InactiveMember": (403, "{account} is not an active member"),
    "NotMembership": (403, "only Membership pushes permissions, not {caller}"),
    "AccessControlUnauthorizedAccount": (403, "{account} does not hold the {neededRole} role"),
    "AccessControlBadConfirmation": (403, "roles cannot be renounced"),
    "RolesOnlyThroughMembership": (403, "roles are granted by admission and removed by revocation only"),
    "NotObligationSource": (403, "{caller} may not set obligations"),
    "NotAssetRegistry": (403, "{caller} is not an asset registry"),
    "ConflictOfInterest": (403, "verifier {verifier} may not review organisation {orgId}"),
    "OracleNotAuthorised": (403, "oracle {oracle} is not authorised for organisation {enterpriseOrgId}"),
    "EnterpriseIdOutOfRange": (422, "enterprise {enterpriseOrgId} is beyond the ids whose meter data can be anchored"),
    "AnchorSequenceExhausted": (409, "enterprise {enterpriseOrgId} has used every anchor id of measure {measure}"),
    "NotOrganisationMember": (403, "{account} is not a member of organisation {orgId}"),
    "ERC1155MissingApprovalForAll": (403, "{operator} is not approved to move the assets of {owner}"),
    "NotOrderSeller": (403, "{account} is not the seller of order {orderId}"),
    "CannotCancelEscrow": (403, "credits held in escrow by {holder} cannot be cancelled"),
    "UnsolicitedTransfer": (403, "the market takes assets only through its own orders (operator {operator})"),
    "NotEscrowAgent": (403, "{account} is not an escrow agent of the suite"),
    "ERC20InsufficientAllowance": (403, "{spender} may spend {allowance} of the settlement token, {needed} needed"),
    # unknown ids
    "UnknownOrganisation": (404, "organisation {orgId} is not registered"),
    "NotMember": (404, "{account} is not a member"),
    "NotNotarized": (404, "document {documentHash} has not been notarized"),
    "UnknownReport": (404, "report {reportId} does not exist"),
    "UnknownDevice": (404, "device {deviceId} is not registered"),
    "UnknownAnchor": (404, "anchor {anchorId} does not exist"),
    "NotProductionAnchor": (404, "anchor {anchorId} is not a production anchor"),
    "UnknownProject": (404, "project {projectId} is not registered"),
    "UnknownBatch": (404, "batch {batchId} does not exist"),  # a credit or a certificate batch
    "UnknownRetirement": (404, "retirement {retirementId} does not exist"),
    "UnknownOrder": (404, "order {orderId} does not exist"),
    "NoVerification": (404, "no verification of project {projectId} for [{periodStart}, {periodEnd}]"),
    # duplicates and state conflicts
    "OrganisationExists": (409, "organisation {orgId} is already registered"),
    "AlreadyMember": (409, "{account} is already a member"),
    "MemberNotActive": (409, "{account} is not active (status: {status})"),
    "MemberNotSuspended": (409, "{account} is not suspended (status: {status})"),
    "AlreadyFrozen": (409, "{account} is already frozen"),
    "NotFrozen": (409, "{account} is not frozen"),
    "AlreadyMirror": (409, "{mirror} is already a permission mirror"),
    "NotMirror": (409, "{mirror} is not a permission mirror"),
    "CannotActOnSelf": (409, "a regulator cannot suspend, revoke or freeze itself"),
    "AlreadyNotarized": (409, "document {documentHash} was already notarized by {notary}"),
    "ERC1155InsufficientBalance": (409, "{sender} holds {balance} of vintage {tokenId}, fewer than {needed}"),
    "RetractExceedsAllocation": (409, "{requested} of vintage {year} cannot be retracted from {holder}: only "
                                 "{allocated} remain allocated in the vintage (all holders, net of retractions)"),
    "ObligationAlreadySet": (409, "the obligation of organisation {orgId} for {year} is already set"),
    "ObligationNotFinalized": (409, "the obligation of organisation {orgId} for {year} is not finalized yet"),
    "ComplianceWindowNotOpen": (409, "the compliance window of {year} is not open"),
    "ComplianceWindowAlreadyOpen": (409, "the compliance window of {year} is already open"),
    "SurrenderExceedsObligation": (
        409,
        "surrendering {requested} exceeds the {outstanding} outstanding for organisation {orgId} in {year}",
    ),
    "CreditCapExceeded": (409, "only {remainingCap} more credits may count for organisation {orgId} in {year}"),
    "ReportAlreadyOpen": (409, "organisation {orgId} already has report {latestReportId} open for {year}"),
    "InvalidReportStatus": (409, "report {reportId} is {status}, it must be {required}"),
    "DeviceAlreadyRegistered": (409, "device {deviceId} is already registered"),
    "DeviceKeyUnchanged": (409, "device {deviceId} already has this key"),
    "DuplicateWindow": (409, "organisation {enterpriseOrgId} already anchored this window"),
    "WindowOverlap": (409, "the window overlaps anchor {latestAnchorId}"),
    "TransactionFailed": (409, "the transaction failed on chain"),
    "RefusedByNode": (409, "the node refused the transaction {attempts} times: {message}"),
    "NonceTooLow": (409, "nonce {nonce} of {account} is used already; its next nonce is {next}"),
    "NonceGap": (409, "nonce {nonce} of {account} would leave a gap: its next nonce is {next}"),
    "ReplacementUnderpriced": (409, "nonce {nonce} of {account} is held by {replaces}, still pending; a "
                               "replacement must offer at least {max_fee_per_gas} wei per gas and a tip of "
                               "{max_priority_fee_per_gas}"),
    "NonceInUse": (409, "nonce {nonce} of {account} is held by a transaction the service signed"),
    "TooManyPendingRelays": (429, "{member} has {pending} relayed transactions pending, the limit is {limit}"),
    "InsufficientGasFunds": (409, "{account} holds {balance} wei, fewer than the {needed} wei its transactions' gas "
                             "costs on this network"),
    "WindowNotClosed": (409, "the window ends at {windowEnd}, after the current block time {blockTime}"),
    "ProjectExists": (409, "project {projectId} is already registered"),
    "ProjectNotActive": (409, "project {projectId} is suspended"),
    "ProjectNotSuspended": (409, "project {projectId} is not suspended"),
    "VerificationExists": (409, "project {projectId} already has a verification for [{periodStart}, {periodEnd}]"),
    "PeriodAlreadyIssued": (409, "credits for project {projectId}, [{periodStart}, {periodEnd}] were already issued"),
    "MonitoringPeriodOverlap": (
        409,
        "the period starting {periodStart} overlaps project {projectId}'s last issued "
        "period, which ended {lastPeriodEnd}",
    ),
    "SerialRangeOverlap": (409, "serial {serialStart} is not above the last issued serial {lastSerialEnd}"),
    "SerialOutOfRange": (422, "{amount} serials from {serialStart} would end beyond the last serial, 2^48 - 1"),
    "ExceedsVerifiedAmount": (409, "{amount} t exceeds the verified {verifiedTonnes} t"),
    "AnchorAlreadyCertified": (409, "production anchor {anchorId} already backs a batch of certificates"),
    "AnchorOfAnotherEnterprise": (
        409, "production anchor {anchorId} is of organisation {anchorOrgId}, not the generator's {generatorOrgId}"),
    "AnchorOutsidePeriod": (
        409, "production anchor {anchorId} covers [{windowStart}, {windowEnd}), outside the production period"),
    "ExceedsAnchoredProduction": (409, "{amount} MWh exceeds the {anchoredWh} Wh the cited anchors hold"),
    "AssetNotEnabled": (409, "asset {asset} is not enabled for trading"),
    "NoReferencePrice": (409, "asset {asset} id {tokenId} has no reference price, so it cannot trade"),
    "PriceOutOfBand": (409, "price {price} is outside the allowed band [{lower}, {upper}]"),
    "OrderNotOpen": (409, "order {orderId} is not open (status {status})"),
    "OrderExpired": (409, "order {orderId} expired at {expiry}"),
    "OrderNotExpired": (409, "order {orderId} does not expire until {expiry}"),
    "FillExceedsRemaining": (409, "order {orderId} has {remaining} t left, {requested} t asked"),
    "SafeCastOverflowedUintDowncast": (422, "{value} does not fit in {bits} bits"),
    "SelfFill": (409, "a seller cannot fill its own order {orderId}"),
    "SellerCanTransact": (409, "the seller {seller} of order {orderId} can still act: it cancels the order itself"),
    "RecipientOutsideSellerOrganisation": (
        409, "recovered escrow goes to the seller's organisation {sellerOrgId}, not to {recipient} "
             "of {recipientOrgId}"),
    "ERC20InsufficientBalance": (409, "{sender} holds {balance} of the settlement token, {needed} needed"),
    "SafeERC20FailedOperation": (409, "the settlement token {token} refused the payment"),
    "ReentrancyGuardReentrantCall": (409, "a reentrant call was refused"),
    # product footprints
    "PcrVersionNotIncreasing": (409, "PCR {pcrId} is at version {latest}: a new version must be above it, not "
                                "{version}"),
    "ProductExists": (409, "organisation {ownerOrgId} already registered product {productId}"),
    "OutputPeriodOverlap": (409, "output of product {productId} is recorded up to {lastOutputEnd}: a period "
                            "starting {periodStart} overlaps it"),
    "EpdNotPublished": (409, "EPD {epdId} is not published (status {epdStatus}: 2 superseded, 3 withdrawn)"),
    "AlreadyAttested": (409, "draft {draftCommitment} was attested already (by organisation {verifierOrgId})"),
    "DraftNotAttested": (409, "no verifier attested draft {draftCommitment} (or it was published already)"),
    "AttestedForAnotherOrganisation": (409, "draft {draftCommitment} was attested for organisation {ownerOrgId}"),
    "CitedEpdNotValid": (409, "cited EPD {epdId} is valid in [{validFrom}, {validUntil}): not over the whole "
                         "reference period, or expired"),
    "SupersedesAnotherProduct": (409, "EPD {epdId} is of product {productId}: a new version supersedes an EPD of "
                                 "its own product"),
    "NothingToFlag": (409, "every EPD that EPD {epdId} cites is still published and valid"),
    "AlreadyFlagged": (409, "EPD {epdId} is flagged already"),
    "UnknownPcrVersion": (404, "PCR {pcrId} has no version {version}"),
    "UnknownProduct": (404, "product {productId} is not registered"),
    "UnknownEpd": (404, "EPD {epdId} does not exist"),
    "InvalidPcrId": (422, "a PCR id is required"),
    "InvalidPerMille": (422, "{value} per mille is out of range"),
    "InvalidShare": (422, "{perMille} per mille is out of range"),
    "MissingProductField": (422, "the product's {field} is required"),
    "MissingProvenance": (422, "a provenance commitment is required"),
    "DeclaredUnitMismatch": (422, "{declaredUnit} is not the declared unit of product {productId}"),
    "PcrDoesNotCoverPeriod": (422, "PCR {pcrId} version {version} is valid in [{validFrom}, {validUntil}), not over "
                              "the whole reference period"),
    "TooManyCitations": (422, "{count} cited EPDs: at most {max}"),
    "CitationsMismatch": (422, "the cited list is not the one EPD {epdId} was published with"),
    "ValueOutOfRange": (422, "{value} is above {max}, the largest figure or time the ledger indexes"),
    # upgrades (versioned deployments)
    "MarketSealed": (409, "this market was sealed: {successor} holds its state now"),
    "UpgradeNotApproved": (409, "two regulators have not approved {next} as the successor of {current}"),
    "NotSuccessor": (403, "only this market's approved successor may take its state, not {caller}"),
    "NotMigrator": (403, "only the regulator that began the import continues it, not {caller}"),
    "ImportNotAllowed": (409, "this market cannot import a predecessor (import stage {stage}, {orderCount} orders)"),
    "NotImporting": (409, "no import is in progress (import stage {stage})"),
    "OrderNotImportable": (409, "order {orderId} cannot be imported"),
    "UnknownProposal": (404, "there is no upgrade proposal {id}"),
    "AlreadyApproved": (409, "upgrade proposal {id} was already approved by {approver}"),
    "SelfApproval": (409, "{regulator} proposed upgrade {id}: another regulator approves it"),
    "InvalidUpgrade": (422, "an upgrade replaces {current} by another deployed contract ({next}) as version 2 or "
                            "later ({version})"),
    # validation
    "InvalidParent": (422, "organisation {orgId} cannot have parent {parentId}"),
    "InvalidRole": (422, "{role} is not a member role"),
    "UnknownMeasure": (422, "measure {measure} is neither emissions (0) nor production (1)"),
    "ProductionOutOfRange": (422, "{totalWh} Wh exceeds what a production anchor records (2^64 - 1)"),
    "InvalidOrganisationId": (422, "organisation id 0 is reserved"),
    "ZeroAddress": (422, "the zero address is not allowed here"),
    "LengthMismatch": (422, "lists of different lengths ({left} and {right})"),
    "EmptyBatch": (422, "the batch is empty"),
    "EmptyList": (422, "the list is empty"),
    "InvalidYear": (422, "{year} is not a compliance year"),
    "ZeroAmount": (422, "amounts must be positive"),
    "VintageAfterComplianceYear": (422, "vintage {vintage} cannot count towards {complianceYear}"),
    "MissingDocumentHash": (422, "a document hash is required"),
    "InvalidBps": (422, "{bps} basis points is out of range"),
    "ERC1155InvalidReceiver": (422, "{receiver} cannot receive allowances"),
    "ERC1155InvalidSender": (422, "{sender} cannot send allowances"),
    "ERC1155InvalidArrayLength": (422, "lists of different lengths ({idsLength} and {valuesLength})"),
    "ERC1155InvalidApprover": (422, "{approver} cannot approve"),
    "ERC1155InvalidOperator": (422, "{operator} cannot be an operator"),
    "EmptyAnchor": (422, "an anchor must commit to at least one reading"),
    "InvalidDeviceId": (422, "a device id is required"),
    "InvalidPublicKeyHash": (422, "a device public-key hash is required"),
    "InvalidWindow": (422, "the window [{windowStart}, {windowEnd}) is empty or reversed"),
    "LevelOutOfOrder": (422, "proof step {index} is at level {level}, after level {previousLevel}"),
    "SumOverflow": (422, "the proof's sums overflow"),
    "SerialRangeTooLarge": (422, "{amount} certificates from serial {serialStart} run past the last serial number"),
    "UnknownStepKind": (422, "proof step {index} has an unknown kind {kind}"),
    "Panic": (422, "the contract stopped: {meaning}"),
    "Error": (422, "{reason}"),
    "InvalidPeriod": (422, "the period [{periodStart}, {periodEnd}] is empty or reversed"),
    "InvalidBands": (422, "bands must satisfy ordinary ({ordinaryBps}) <= block ({blockBps}) <= 10000 bps"),
    "ExpiryInPast": (422, "expiry {expiry} is not after the current time {timestamp}"),
    "NotERC1155": (422, "{asset} is not an ERC-1155 asset contract"),
    "ZeroPrice": (422, "the price must be positive"),
    "ZeroProjectId": (422, "the project id must not be zero"),
    "ERC20InvalidApprover": (422, "{approver} cannot approve"),
    "ERC20InvalidReceiver": (422, "{receiver} cannot receive the settlement token"),
    "ERC20InvalidSender": (422, "{sender} cannot send the settlement token"),
    "ERC20InvalidSpender": (422, "{spender} cannot be a spender"),
}


def _by_name(error: str) -> int:
    if error.startswith("Unknown"):
        return 404
    if error.startswith(("Already", "Duplicate")):
        return 409
    if error.startswith(("Invalid", "Zero", "Empty", "Missing")):
        return 422
    return 409


def _shown(name: str, value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        value = bytes(value)
        if value in _ROLE_BY_ID:
            return _ROLE_BY_ID[value]
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        role = _ROLE_BY_ID.get(bytes.fromhex(value[2:]))
        if role:
            return role
    if name == "status" and isinstance(value, int) and 0 <= value <= 3:
        return MemberStatus(value).label
    return str(value)


def http_status(error: str, args: Mapping[str, Any], caller: str | None = None) -> int:
    """The HTTP status of a revert; a membership-status error about the caller itself is a 403."""
    if error == "MemberNotActive" and caller is not None and str(args.get("account", "")).lower() == caller.lower():
        return 403
    if error in REVERTS:
        return REVERTS[error][0]
    return _by_name(error)


def describe(error: str, args: Mapping[str, Any]) -> str:
    """A sentence for people."""
    template = REVERTS.get(error, (0, ""))[1]
    if not template:
        return f"the ledger refused the transaction ({error})"
    try:
        return template.format(**{k: _shown(k, v) for k, v in args.items()})
    except (KeyError, IndexError):
        return template

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Errors
/// @notice The custom errors shared by several CarbonLedger contracts, declared once so that
/// every contract reverts with the same selector and arguments for the same mistake.
library Errors {
    /// @dev The zero address was given where a contract or account is required.
    error ZeroAddress();
    /// @dev A zero amount of token `id` was given for `account` (`id` 0 for an asset without ids).
    error ZeroAmount(address account, uint256 id);
    /// @dev Two parallel arrays of a call have different lengths.
    error LengthMismatch(uint256 left, uint256 right);
    /// @dev A batch call was given no entries.
    error EmptyBatch();
    /// @dev Year 0 is not a compliance year.
    error InvalidYear(uint16 year);
    /// @dev A document, statement or reason hash of zero was given.
    error MissingDocumentHash();
    /// @dev No organisation with this id is registered in Membership.
    error UnknownOrganisation(uint64 orgId);
    /// @dev A period `[periodStart, periodEnd)` that is empty or reversed (or starts at 0 where that means unset).
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);
    /// @dev `account` holds the role, but as a member of another organisation than `orgId`.
    error NotOrganisationMember(address account, uint64 orgId);
    /// @dev A verifier may not verify the work of its own organisation `orgId`.
    error ConflictOfInterest(address verifier, uint64 orgId);
    /// @dev A figure or time above `max`: the largest the event index keeps exactly (a signed 64-bit column).
    error ValueOutOfRange(uint256 value, uint256 max);

    /// @dev The largest figure or time a record may carry, so that every indexed column holds it (2^63 - 1).
    uint256 internal constant MAX_INDEXED = uint256(type(uint64).max) >> 1;

    /// @dev Reverts `ValueOutOfRange` when `value` is above `MAX_INDEXED`.
    function requireIndexable(uint256 value) internal pure {
        if (value > MAX_INDEXED) revert ValueOutOfRange(value, MAX_INDEXED);
    }
}

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
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IEscrowCancellable
/// @notice An asset registry whose units an escrow agent of the suite (the market) may cancel
/// from its own escrow, on a regulator's decision (e.g. credits invalidated while listed).
interface IEscrowCancellable {
    /// @notice Burn `amount` units of `tokenId` held in the caller's escrow, as a cancellation.
    /// @param tokenId The token id (a credit batch).
    /// @param amount Units to cancel.
    /// @param reasonHash Hash of the regulator's decision document.
    /// @return serialStart First serial cancelled.
    /// @return serialEnd Last serial cancelled.
    function cancelEscrowed(uint256 tokenId, uint256 amount, bytes32 reasonHash)
        external
        returns (uint256 serialStart, uint256 serialEnd);
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC165Checker} from "@openzeppelin/contracts/utils/introspection/ERC165Checker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IEscrowCancellable} from "./interfaces/IEscrowCancellable.sol";
import {IUpgrades} from "./interfaces/IUpgrades.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";

/// @title CarbonMarket
/// @notice An escrow market for carbon assets held as ERC-1155 tokens (allowances, offset
/// credits), settled delivery versus payment in the settlement token. A seller lists an
/// amount of one token at a fixed price per tonne; the units move into escrow at listing.
/// Buyers fill all or part of an order: payment to the seller and delivery from escrow
/// happen in the same transaction or not at all.
/// @dev Price limits follow China's national carbon market: every order and every fill must
/// lie within a band around the regulator's reference price for the token (e.g. the
/// previous close): `ordinaryBandBps` (±10%) for ordinary trades and `blockBandBps` (±30%)
/// for block trades, i.e. trades of at least `blockTradeThreshold` tonnes. The band is
/// chosen by the size of the trade: the order's amount at listing and the fill's amount at
/// execution, both against the reference price current at that moment. Bounds round
/// inwards (lower up, upper down), so an accepted price never lies outside the band.
/// An order is live while `block.timestamp < expiry`.
contract CarbonMarket is MembershipGated, ReentrancyGuardTransient, ERC1155Holder {
    using SafeERC20 for IERC20;

    enum OrderStatus {
        None,
        Open,
        Filled,
        Cancelled,
        Expired,
        Migrated
    }

    /// @dev Three slots: (seller, expiry, status, price), (asset, amount, remaining), tokenId. What a
    /// fill and a cancellation check; 48 bits hold any price per tonne (2.8e14 settlement units)
    /// and any amount (2.8e14 tonnes), 40 bits any expiry (the year 36812).
    struct Order {
        address seller;
        uint40 expiry;
        OrderStatus status;
        uint48 price;
        address asset;
        uint48 amount;
        uint48 remaining;
        uint256 tokenId;
    }

    /// @notice An order as `order` returns it (the stable layout clients read).
    struct OrderInfo {
        address seller;
        uint64 expiry;
        OrderStatus status;
        address asset;
        uint256 tokenId;
        uint256 amount;
        uint256 remaining;
        uint256 price;
    }

    uint16 public constant MAX_BPS = 10_000;

    /// @notice The ERC-20 token trades are paid in.
    IERC20 public immutable settlementToken;

    // The band settings share one slot: a fill reads them together.
    /// @notice Band around the reference price for ordinary trades, in basis points.
    uint16 public ordinaryBandBps = 1000;
    /// @notice Band around the reference price for block trades, in basis points.
    uint16 public blockBandBps = 3000;
    /// @notice Smallest trade, in tonnes, that counts as a block trade.
    uint128 public blockTradeThreshold = 100_000;
    /// @notice Number of orders listed; order ids run from 1 to `orderCount`.
    uint256 public orderCount;

    /// @notice Asset contracts the regulator has enabled for trading.
    mapping(address asset => bool) public assetEnabled;
    /// @notice Reference price per tonne of a token, in settlement-token units (0 = none).
    mapping(address asset => mapping(uint256 tokenId => uint256)) public referencePrice;
    // Units in escrow are the market's own balance on the asset contract (every unit it holds
    // belongs to an open order: it accepts none outside a listing), so no counter is kept here.

    mapping(uint256 orderId => Order) private _orders;

    error ZeroPrice();
    error NotERC1155(address asset);
    error AssetNotEnabled(address asset);
    error NoReferencePrice(address asset, uint256 tokenId);
    error PriceOutOfBand(uint256 price, uint256 lower, uint256 upper);
    error InvalidBands(uint16 ordinaryBps, uint16 blockBps);
    error ExpiryInPast(uint64 expiry, uint256 timestamp);
    error UnknownOrder(uint256 orderId);
    error OrderNotOpen(uint256 orderId, OrderStatus status);
    error OrderExpired(uint256 orderId, uint64 expiry);
    error OrderNotExpired(uint256 orderId, uint64 expiry);
    error NotOrderSeller(uint256 orderId, address account);
    error SelfFill(uint256 orderId);
    error FillExceedsRemaining(uint256 orderId, uint256 requested, uint256 remaining);
    error UnsolicitedTransfer(address operator);
    /// @dev The seller can still transact, so it cancels its own order; escrow is recovered only when stuck.
    error SellerCanTransact(uint256 orderId, address seller);
    /// @dev Recovered escrow goes back to the seller's organisation only.
    error RecipientOutsideSellerOrganisation(address recipient, uint64 recipientOrgId, uint64 sellerOrgId);

    event AssetEnabled(address indexed asset, bool enabled);
    event ReferencePriceSet(address indexed asset, uint256 indexed tokenId, uint256 price);
    event PriceBandsSet(uint16 ordinaryBps, uint16 blockBps);
    event BlockTradeThresholdSet(uint256 tonnes);
    event OrderListed(
        uint256 indexed orderId,
        address indexed seller,
        address indexed asset,
        uint256 tokenId,
        uint256 amount,
        uint256 price,
        uint64 expiry
    );
    event OrderFilled(
        uint256 indexed orderId,
        address indexed seller,
        address indexed buyer,
        address asset,
        uint256 tokenId,
        uint256 amount,
        uint256 price,
        uint256 payment,
        uint256 remaining
    );
    event OrderCancelled(uint256 indexed orderId, address indexed seller, uint256 returned);
    /// @notice A regulator closed the open order of a seller that can no longer transact and moved
    /// its escrow (`returned` units) to `recipient`, an account of the seller's organisation.
    event EscrowRecovered(
        uint256 indexed orderId,
        address indexed seller,
        address indexed recipient,
        address regulator,
        uint256 returned,
        bytes32 reasonHash
    );
    /// @notice A regulator closed an open order and cancelled its escrowed credits (`returned` units).
    event EscrowCancelled(
        uint256 indexed orderId, address indexed seller, address indexed regulator, uint256 returned, bytes32 reasonHash
    );
    event OrderExpiredReclaimed(
        uint256 indexed orderId, address indexed seller, address indexed caller, uint256 returned
    );

    constructor(IMembership membership_, address settlementToken_, IUpgrades upgrades_) MembershipGated(membership_) {
        if (settlementToken_ == address(0) || address(upgrades_) == address(0)) revert Errors.ZeroAddress();
        settlementToken = IERC20(settlementToken_);
        upgrades = upgrades_;
    }

    // ------------------------------------------------------------------ parameters (regulator)

    /// @notice Enable or disable an ERC-1155 asset contract for trading. Disabling stops
    /// listings and fills; open orders can still be cancelled or reclaimed.
    /// @param asset The asset contract.
    /// @param enabled Whether it may trade.
    function setAssetEnabled(address asset, bool enabled) external onlyRegulator {
        _requireLive();
        if (enabled && !ERC165Checker.supportsInterface(asset, type(IERC1155).interfaceId)) {
            revert NotERC1155(asset);
        }
        assetEnabled[asset] = enabled;
        emit AssetEnabled(asset, enabled);
    }

    /// @notice Set the reference price of a token (e.g. the previous close); 0 halts its trading.
    /// @param asset The asset contract.
    /// @param tokenId The token id.
    /// @param price Price per tonne in settlement-token units.
    function setReferencePrice(address asset, uint256 tokenId, uint256 price) external onlyRegulator {
        _requireLive();
        referencePrice[asset][tokenId] = price;
        emit ReferencePriceSet(asset, tokenId, price);
    }

    /// @notice Set the price bands for ordinary and block trades.
    /// @param ordinaryBps Band for ordinary trades, in basis points (at most `blockBps`).
    /// @param blockBps Band for block trades, in basis points (at most 10,000).
    function setPriceBands(uint16 ordinaryBps, uint16 blockBps) external onlyRegulator {
        _requireLive();
        if (ordinaryBps > blockBps || blockBps > MAX_BPS) revert InvalidBands(ordinaryBps, blockBps);
        ordinaryBandBps = ordinaryBps;
        blockBandBps = blockBps;
        emit PriceBandsSet(ordinaryBps, blockBps);
    }

    /// @notice Set the smallest trade, in tonnes, that counts as a block trade.
    /// @param tonnes The threshold (non-zero).
    function setBlockTradeThreshold(uint256 tonnes) external onlyRegulator {
        _requireLive();
        if (tonnes == 0) revert Errors.ZeroAmount(msg.sender, 0);
        blockTradeThreshold = SafeCast.toUint128(tonnes);
        emit BlockTradeThresholdSet(tonnes);
    }

    // ------------------------------------------------------------------ trading

    /// @notice List units for sale at a fixed price; they move into escrow now. The caller
    /// must have approved this market as an operator on the asset contract.
    /// @param asset An enabled ERC-1155 asset contract.
    /// @param tokenId The token id (a credit batch, an allowance year).
    /// @param amount Units (tonnes) to sell.
    /// @param price Price per tonne in settlement-token units, within the band for `amount`.
    /// @param expiry Time from which the order can no longer be filled.
    /// @return orderId The new order.
    function list(address asset, uint256 tokenId, uint256 amount, uint256 price, uint64 expiry)
        external
        nonReentrant
        returns (uint256 orderId)
    {
        _requireCanTransact(msg.sender);
        if (!assetEnabled[asset]) revert AssetNotEnabled(asset);
        if (amount == 0) revert Errors.ZeroAmount(msg.sender, tokenId);
        if (price == 0) revert ZeroPrice();
        if (expiry <= block.timestamp) revert ExpiryInPast(expiry, block.timestamp);
        _requireWithinBand(asset, tokenId, amount, price);

        orderId = ++orderCount;
        _orders[orderId] = Order({
            seller: msg.sender,
            expiry: SafeCast.toUint40(expiry),
            status: OrderStatus.Open,
            price: SafeCast.toUint48(price),
            asset: asset,
            amount: SafeCast.toUint48(amount),
            remaining: uint48(amount),
            tokenId: tokenId
        });
        emit OrderListed(orderId, msg.sender, asset, tokenId, amount, price, expiry);
        IERC1155(asset).safeTransferFrom(msg.sender, address(this), tokenId, amount, "");
    }

    /// @notice Buy all or part of an open order: the payment (`amount * price`) goes from the
    /// caller to the seller and the units from escrow to the caller, atomically. The caller
    /// must have approved this market for the payment on the settlement token.
    /// @param orderId The order.
    /// @param amount Units (tonnes) to buy, at most what remains.
    /// @return payment Settlement-token units paid to the seller.
    function fill(uint256 orderId, uint256 amount) external nonReentrant returns (uint256 payment) {
        Order storage o = _order(orderId);
        if (o.status != OrderStatus.Open) revert OrderNotOpen(orderId, o.status);
        if (block.timestamp >= o.expiry) revert OrderExpired(orderId, o.expiry);
        if (msg.sender == o.seller) revert SelfFill(orderId);
        _requireCanTransact(msg.sender);
        _requireCanTransact(o.seller);
        if (!assetEnabled[o.asset]) revert AssetNotEnabled(o.asset);
        if (amount == 0) revert Errors.ZeroAmount(msg.sender, o.tokenId);
        if (amount > o.remaining) revert FillExceedsRemaining(orderId, amount, o.remaining);
        _requireWithinBand(o.asset, o.tokenId, amount, o.price);

        payment = amount * o.price;
        uint256 remaining = o.remaining - amount;
        o.remaining = uint48(remaining);
        if (remaining == 0) o.status = OrderStatus.Filled;
        emit OrderFilled(orderId, o.seller, msg.sender, o.asset, o.tokenId, amount, o.price, payment, remaining);

        settlementToken.safeTransferFrom(msg.sender, o.seller, payment);
        IERC1155(o.asset).safeTransferFrom(address(this), msg.sender, o.tokenId, amount, "");
    }

    /// @notice Cancel an open order; the units left in escrow return to the seller.
    /// @param orderId The order (the caller must be its seller).
    function cancel(uint256 orderId) external nonReentrant {
        Order storage o = _order(orderId);
        if (msg.sender != o.seller) revert NotOrderSeller(orderId, msg.sender);
        if (o.status != OrderStatus.Open) revert OrderNotOpen(orderId, o.status);
        o.status = OrderStatus.Cancelled;
        uint256 returned = _release(o);
        emit OrderCancelled(orderId, o.seller, returned);
        IERC1155(o.asset).safeTransferFrom(address(this), o.seller, o.tokenId, returned, "");
    }

    /// @notice Return the escrow of an expired order to its seller; anyone may ask.
    /// @param orderId The order.
    function reclaimExpired(uint256 orderId) external nonReentrant {
        Order storage o = _order(orderId);
        if (o.status != OrderStatus.Open) revert OrderNotOpen(orderId, o.status);
        if (block.timestamp < o.expiry) revert OrderNotExpired(orderId, o.expiry);
        o.status = OrderStatus.Expired;
        uint256 returned = _release(o);
        emit OrderExpiredReclaimed(orderId, o.seller, msg.sender, returned);
        IERC1155(o.asset).safeTransferFrom(address(this), o.seller, o.tokenId, returned, "");
    }

    // ------------------------------------------------------------------ stuck escrow

    /// @notice Close the open (or expired) order of a seller that can no longer transact
    /// (revoked, suspended or frozen) and move its escrow to `recipient`, an account of the
    /// seller's organisation that may hold the asset. Regulator only.
    /// @param orderId The order.
    /// @param recipient Where the escrowed units go (the seller's organisation).
    /// @param reasonHash Hash of the regulator's decision document.
    function recoverEscrow(uint256 orderId, address recipient, bytes32 reasonHash)
        external
        onlyRegulator
        nonReentrant
    {
        Order storage o = _order(orderId);
        if (o.status != OrderStatus.Open) revert OrderNotOpen(orderId, o.status);
        address seller = o.seller;
        uint256 sellerPermissions = _permissions(seller);
        if (_canTransact(sellerPermissions)) revert SellerCanTransact(orderId, seller);
        uint64 recipientOrg = _orgId(_permissions(recipient));
        if (recipientOrg != _orgId(sellerPermissions)) {
            revert RecipientOutsideSellerOrganisation(recipient, recipientOrg, _orgId(sellerPermissions));
        }
        o.status = OrderStatus.Cancelled;
        uint256 returned = _release(o);
        emit EscrowRecovered(orderId, seller, recipient, msg.sender, returned, reasonHash);
        IERC1155(o.asset).safeTransferFrom(address(this), recipient, o.tokenId, returned, "");
    }

    /// @notice Close an open (or expired) order and cancel its escrowed credits, e.g. credits
    /// invalidated while listed. Regulator only; the asset must support escrow cancellation.
    /// @param orderId The order.
    /// @param reasonHash Hash of the regulator's decision document.
    function cancelEscrowedCredits(uint256 orderId, bytes32 reasonHash) external onlyRegulator nonReentrant {
        Order storage o = _order(orderId);
        if (o.status != OrderStatus.Open) revert OrderNotOpen(orderId, o.status);
        o.status = OrderStatus.Cancelled;
        uint256 returned = _release(o);
        emit EscrowCancelled(orderId, o.seller, msg.sender, returned, reasonHash);
        IEscrowCancellable(o.asset).cancelEscrowed(o.tokenId, returned, reasonHash);
    }

    // ------------------------------------------------------------------ views

    /// @notice An order: seller, expiry, status, asset, token id, listed and remaining amounts, price.
    /// An order closed before an upgrade is answered by the predecessor that holds it.
    /// @param orderId The order.
    function order(uint256 orderId) external view returns (OrderInfo memory) {
        if (_orders[orderId].status == OrderStatus.None && predecessor != address(0)) {
            return CarbonMarket(predecessor).order(orderId);
        }
        Order storage o = _order(orderId);
        return OrderInfo(o.seller, o.expiry, o.status, o.asset, o.tokenId, o.amount, o.remaining, o.price);
    }

    /// @notice The prices accepted for a trade of `amount` units of a token now.
    /// @param asset The asset contract.
    /// @param tokenId The token id.
    /// @param amount Size of the trade in tonnes (decides ordinary or block band).
    /// @return lower Lowest accepted price per tonne.
    /// @return upper Highest accepted price per tonne.
    function priceBand(address asset, uint256 tokenId, uint256 amount)
        public
        view
        returns (uint256 lower, uint256 upper)
    {
        uint256 ref = referencePrice[asset][tokenId];
        if (ref == 0) revert NoReferencePrice(asset, tokenId);
        uint256 bps = amount >= blockTradeThreshold ? blockBandBps : ordinaryBandBps;
        lower = (ref * (MAX_BPS - bps) + MAX_BPS - 1) / MAX_BPS;
        upper = (ref * (MAX_BPS + bps)) / MAX_BPS;
    }

    // ------------------------------------------------------------------ ERC-1155 receiver

    /// @notice Accepts units only when this market moves them itself (listing), or from the
    /// predecessor handing over its escrow during an import (a batch of one token arrives here),
    /// so nothing can be stranded in escrow outside an order.
    function onERC1155Received(address operator, address, uint256, uint256, bytes memory)
        public
        view
        override
        returns (bytes4)
    {
        if (operator == address(this)) return this.onERC1155Received.selector;
        if (operator != predecessor || importStage != ImportStage.Importing) revert UnsolicitedTransfer(operator);
        return this.onERC1155Received.selector;
    }

    /// @notice Batch transfers into escrow are solicited only from the predecessor handing over its
    /// escrow while this market imports its state.
    function onERC1155BatchReceived(address operator, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        view
        override
        returns (bytes4)
    {
        if (operator != predecessor || importStage != ImportStage.Importing) revert UnsolicitedTransfer(operator);
        return this.onERC1155BatchReceived.selector;
    }

    // ------------------------------------------------------------------ internals

    function _requireWithinBand(address asset, uint256 tokenId, uint256 amount, uint256 price) private view {
        (uint256 lower, uint256 upper) = priceBand(asset, tokenId, amount);
        if (price < lower || price > upper) revert PriceOutOfBand(price, lower, upper);
    }

    function _release(Order storage o) private returns (uint256 returned) {
        returned = o.remaining;
        o.remaining = 0;
    }

    function _order(uint256 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == OrderStatus.None) revert UnknownOrder(orderId);
    }

    // ------------------------------------------------------------------ upgrades (versioned deployments)
    // A new version of the market takes over in one approved migration: it seals this market
    // (listings and fills stop: every asset is disabled here, so `list` and `fill` refuse without
    // an extra storage read), takes over its open orders with their ids (here they become
    // `Migrated`, so `cancel` and the escrow functions refuse them), its escrow in one batch
    // transfer per asset, its reference prices, bands and enabled assets. Only the successor two
    // regulators approved in `upgrades` may do so, and only once.

    /// @notice Where an import of a predecessor's state stands.
    enum ImportStage {
        None,
        Importing,
        Done
    }

    /// @notice The registry of approved upgrades this market follows.
    IUpgrades public immutable upgrades;
    /// @notice The market that took over from this one (zero while this one is live).
    address public successor;
    /// @notice The market this one took over from (zero for a first version).
    address public predecessor;
    /// @notice The regulator running the import, while it lasts.
    address public migrator;
    /// @notice Where the import of the predecessor's state stands.
    ImportStage public importStage;

    address[] private _importedAssets;

    /// @dev This market was sealed: its successor holds its state now.
    error MarketSealed(address successor);
    /// @dev Two regulators have not approved `next` as the successor of `current`.
    error UpgradeNotApproved(address current, address next);
    /// @dev Only this market's successor may take its state.
    error NotSuccessor(address caller);
    /// @dev Only the regulator that began the import may continue it.
    error NotMigrator(address caller);
    /// @dev This market already imported (or is importing) a predecessor, or already has orders of its own.
    error ImportNotAllowed(ImportStage stage, uint256 orderCount);
    /// @dev The import is not in progress.
    error NotImporting(ImportStage stage);
    /// @dev The order cannot be imported: unknown to the predecessor's numbering, or already here.
    error OrderNotImportable(uint256 orderId);

    /// @notice This market was sealed; `successor` takes over its state.
    event MarketSealedBy(address indexed successor, uint256 orderCount);
    /// @notice An open order moved to the successor with its id, seller, price, expiry and remaining units.
    event OrderMigrated(uint256 indexed orderId, address indexed seller, address indexed successor, uint256 remaining);
    /// @notice The escrow of `asset` moved to the successor in one batch transfer.
    event EscrowHandedOver(address indexed asset, address indexed successor, uint256[] tokenIds, uint256[] amounts);
    /// @notice The import of `from`'s state began, run by `migrator`.
    event ImportStarted(address indexed from, address indexed migrator, uint256 orderCount);
    /// @notice An open order of the predecessor, taken over unchanged (same id).
    event OrderImported(
        uint256 indexed orderId,
        address indexed seller,
        address indexed asset,
        uint256 tokenId,
        uint256 amount,
        uint256 remaining,
        uint256 price,
        uint64 expiry
    );
    /// @notice The predecessor's escrow of `asset` arrived.
    event EscrowImported(address indexed asset, address indexed from, uint256[] tokenIds, uint256[] amounts);
    /// @notice The import is complete: the predecessor's enabled assets trade here now.
    event ImportFinished(address indexed from, uint256 orderCount, uint256 assets);

    modifier onlySuccessor() {
        if (msg.sender != successor || successor == address(0)) revert NotSuccessor(msg.sender);
        _;
    }

    modifier onlyMigrator() {
        if (importStage != ImportStage.Importing) revert NotImporting(importStage);
        if (msg.sender != migrator) revert NotMigrator(msg.sender);
        _;
    }

    // --- the old version's side: called by its approved successor only

    /// @notice Seal this market for its approved successor (the caller): it refuses every change
    /// from now on, and each of `assets` that was enabled is disabled here.
    /// @param assets The asset contracts to disable (every asset ever enabled).
    /// @return enabled Which of `assets` were enabled (they are enabled on the successor).
    function seal(address[] calldata assets) external returns (bool[] memory enabled) {
        if (successor != address(0)) revert MarketSealed(successor);
        if (upgrades.approvedSuccessor(address(this)) != msg.sender || msg.sender == address(0)) {
            revert UpgradeNotApproved(address(this), msg.sender);
        }
        successor = msg.sender;
        enabled = new bool[](assets.length);
        for (uint256 i = 0; i < assets.length; i++) {
            if (assetEnabled[assets[i]]) {
                enabled[i] = true;
                assetEnabled[assets[i]] = false;
                emit AssetEnabled(assets[i], false);
            }
        }
        emit MarketSealedBy(msg.sender, orderCount);
    }

    /// @notice Hand open orders over to the successor: each becomes `Migrated` here.
    /// @param orderIds Open orders (an expired one that was not reclaimed is still open).
    /// @return infos The orders as they were.
    function handOverOrders(uint256[] calldata orderIds) external onlySuccessor returns (OrderInfo[] memory infos) {
        infos = new OrderInfo[](orderIds.length);
        for (uint256 i = 0; i < orderIds.length; i++) {
            Order storage o = _order(orderIds[i]);
            if (o.status != OrderStatus.Open) revert OrderNotOpen(orderIds[i], o.status);
            infos[i] = OrderInfo(o.seller, o.expiry, o.status, o.asset, o.tokenId, o.amount, o.remaining, o.price);
            o.status = OrderStatus.Migrated;
            emit OrderMigrated(orderIds[i], o.seller, msg.sender, o.remaining);
        }
    }

    /// @notice Move this market's whole balance of `tokenIds` of `asset` to the successor, in one batch transfer.
    /// @param asset The asset contract.
    /// @param tokenIds The token ids in escrow.
    /// @return amounts The units moved, per token id.
    function handOverEscrow(address asset, uint256[] calldata tokenIds)
        external
        onlySuccessor
        nonReentrant
        returns (uint256[] memory amounts)
    {
        address[] memory holders = new address[](tokenIds.length);
        for (uint256 i = 0; i < tokenIds.length; i++) {
            holders[i] = address(this);
        }
        amounts = IERC1155(asset).balanceOfBatch(holders, tokenIds);
        emit EscrowHandedOver(asset, msg.sender, tokenIds, amounts);
        IERC1155(asset).safeBatchTransferFrom(address(this), msg.sender, tokenIds, amounts, "");
    }

    // --- the new version's side: run by one regulator once two have approved the upgrade

    /// @notice Begin taking over from `from`: seal it, continue its order numbering and copy its bands.
    /// @param from The market this one replaces (its approved predecessor).
    /// @param assets Every asset contract ever enabled on `from` (the enabled ones are enabled here at the end).
    function beginImport(CarbonMarket from, address[] calldata assets) external onlyRegulator {
        if (importStage != ImportStage.None || orderCount != 0) revert ImportNotAllowed(importStage, orderCount);
        if (upgrades.approvedSuccessor(address(from)) != address(this)) {
            revert UpgradeNotApproved(address(from), address(this));
        }
        predecessor = address(from);
        migrator = msg.sender;
        importStage = ImportStage.Importing;
        bool[] memory enabled = from.seal(assets);
        for (uint256 i = 0; i < assets.length; i++) {
            if (enabled[i]) _importedAssets.push(assets[i]);
        }
        // Ids continue where the predecessor stopped, so a listing here can never take an imported id.
        orderCount = from.orderCount();
        ordinaryBandBps = from.ordinaryBandBps();
        blockBandBps = from.blockBandBps();
        blockTradeThreshold = from.blockTradeThreshold();
        emit ImportStarted(address(from), msg.sender, orderCount);
        emit PriceBandsSet(ordinaryBandBps, blockBandBps);
        emit BlockTradeThresholdSet(blockTradeThreshold);
    }

    /// @notice Take over open orders of the predecessor, with their ids.
    /// @param orderIds Open orders of the predecessor.
    function importOrders(uint256[] calldata orderIds) external onlyMigrator {
        OrderInfo[] memory infos = CarbonMarket(predecessor).handOverOrders(orderIds);
        for (uint256 i = 0; i < orderIds.length; i++) {
            _importOrder(orderIds[i], infos[i]);
        }
    }

    /// @notice Take over the predecessor's escrow of `asset` (one batch transfer).
    /// @param asset The asset contract.
    /// @param tokenIds The token ids the predecessor holds in escrow.
    function importEscrow(address asset, uint256[] calldata tokenIds) external onlyMigrator {
        uint256[] memory amounts = CarbonMarket(predecessor).handOverEscrow(asset, tokenIds);
        emit EscrowImported(asset, predecessor, tokenIds, amounts);
    }

    /// @notice Copy the predecessor's reference prices of `tokenIds` of `asset`.
    /// @param asset The asset contract.
    /// @param tokenIds The token ids with a reference price there.
    function importReferencePrices(address asset, uint256[] calldata tokenIds) external onlyMigrator {
        for (uint256 i = 0; i < tokenIds.length; i++) {
            uint256 price = CarbonMarket(predecessor).referencePrice(asset, tokenIds[i]);
            referencePrice[asset][tokenIds[i]] = price;
            emit ReferencePriceSet(asset, tokenIds[i], price);
        }
    }

    /// @notice End the import: the assets enabled on the predecessor trade here from now on.
    function finishImport() external onlyMigrator {
        uint256 count = _importedAssets.length;
        for (uint256 i = 0; i < count; i++) {
            assetEnabled[_importedAssets[i]] = true;
            emit AssetEnabled(_importedAssets[i], true);
        }
        importStage = ImportStage.Done;
        migrator = address(0);
        emit ImportFinished(predecessor, orderCount, count);
    }

    function _importOrder(uint256 orderId, OrderInfo memory info) private {
        if (orderId == 0 || orderId > orderCount || _orders[orderId].status != OrderStatus.None) {
            revert OrderNotImportable(orderId);
        }
        _orders[orderId] = Order({
            seller: info.seller,
            expiry: SafeCast.toUint40(info.expiry),
            status: OrderStatus.Open,
            price: SafeCast.toUint48(info.price),
            asset: info.asset,
            amount: SafeCast.toUint48(info.amount),
            remaining: SafeCast.toUint48(info.remaining),
            tokenId: info.tokenId
        });
        emit OrderImported(
            orderId, info.seller, info.asset, info.tokenId, info.amount, info.remaining, info.price, info.expiry
        );
    }

    function _requireLive() private view {
        if (successor != address(0)) revert MarketSealed(successor);
    }
}

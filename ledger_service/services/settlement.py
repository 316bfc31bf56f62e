"""Settlement token use cases (tokenised CNY, 2 decimals): a settlement bank mints against deposits and burns on
redemption; a balance is visible to the holder, its organisation, banks and regulators."""

from __future__ import annotations

from dataclasses import dataclass

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent, TxRecord
from ledger_core.chain.suite import Suite
from ledger_service import market
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.holders import require_sees_holder
from ledger_service.services.sending import Sender


@dataclass(frozen=True)
class Balance:
    address: str
    units: int  # settlement-token units (fen)

    @property
    def balance(self) -> str:
        """In CNY."""
        return market.to_cny(self.units)


@dataclass(frozen=True)
class SettlementService:
    chain: ChainClient
    suite: Suite
    directory: Directory
    sender: Sender

    def mint(self, caller: Caller, to: str, units: int, wait: bool = True) -> TxRecord:
        """Mint to a member against a deposit (the caller is an unfrozen settlement bank)."""
        return self.sender.send_one(caller, Intent(market.SETTLEMENT, "mint", (to_checksum_address(to), units),
                                                   caller.address, requested_by=caller.address), wait=wait)

    def burn(self, caller: Caller, units: int, wait: bool = True) -> TxRecord:
        """Burn from the bank's own balance (a redemption paid out off-chain)."""
        return self.sender.send_one(caller, Intent(market.SETTLEMENT, "burn", (units,), caller.address,
                                                   requested_by=caller.address), wait=wait)

    def balance(self, caller: Caller, address: str) -> Balance:
        holder = require_sees_holder(self.directory, caller, address, "settlement balances",
                                     "the holder, its organisation, banks and regulators",
                                     also=caller.member.has_role("SETTLEMENT_BANK"))
        return Balance(holder, market.settlement_balance(self.chain, self.suite, holder))

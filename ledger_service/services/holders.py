"""Checks the holders' use cases share (allowances, credits, green certificates, settlement): who sees a
holder's balances, and what a transfer must pass before it is sent, with the contracts' own errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.errors import forbidden
from ledger_service.services.outcomes import Sent
from ledger_service.services.sending import Sender

HOLDER_SEES = "the holder, its organisation and regulators"


def require_sees_holder(directory: Directory, caller: Caller, address: str, what: str, who: str = HOLDER_SEES,
                        also: bool = False) -> str:
    """The holder's address, if the caller may see its `what`: the holder itself, a member of its organisation,
    a regulator, or anyone `also` admits (a use case's extra rule, named in `who`)."""
    holder = directory.member(to_checksum_address(address))
    if not (also or caller.is_regulator or holder.address == caller.address
            or (holder.org_id != 0 and holder.org_id == caller.member.org_id)):
        raise forbidden(f"{what} are visible to {who}", "NotYourData", account=holder.address)
    return holder.address


def require_receiver(directory: Directory, to: str) -> str:
    """The receiver's address, if it can transact (the contract's `AccountCannotTransact` otherwise)."""
    receiver = to_checksum_address(to)
    if not directory.member(receiver).can_transact:
        raise ContractRevert("AccountCannotTransact", {"account": receiver})
    return receiver


async def require_receiver_async(directory: Directory, to: str) -> str:
    """`require_receiver` on the event loop: a held member view is checked at once, another read in the
    thread pool."""
    held = directory.cached(to)
    if held is None:
        return await asyncio.to_thread(require_receiver, directory, to)
    if not held.can_transact:
        raise ContractRevert("AccountCannotTransact", {"account": held.address})
    return held.address


def require_holds(held: int, caller: Caller, token_id: int, amount: int) -> None:
    """The caller holds `amount` of an ERC-1155 token (the token's `ERC1155InsufficientBalance` otherwise)."""
    if held < amount:
        raise ContractRevert("ERC1155InsufficientBalance", {"sender": caller.address, "balance": held,
                                                            "needed": amount, "tokenId": token_id})


@dataclass(frozen=True)
class TokenTransfers:
    """A holder moving units of an ERC-1155 token of the suite (credits, green certificates) to another member,
    from a blocking request or one served on the event loop: the same intent and the same refusals."""

    sender: Sender
    directory: Directory
    chain: ChainClient
    suite: Suite
    call: Callable[..., Intent]  # the token module's intent of one of its registry's functions
    balance: Callable[[ChainClient, Suite, str, int], int]

    def transfer(self, caller: Caller, to: str, token_id: int, amount: int, wait: bool = True) -> Sent[None]:
        """Refused before sending, with the contract's own errors, when the receiver cannot transact or the
        caller holds too few."""
        self.sender.require_custodial(caller)
        (record,) = self.sender.send_checked(caller, *self._parts(caller, require_receiver(self.directory, to),
                                                                  token_id, amount), wait=wait)
        return Sent((record,))

    async def transfer_async(self, caller: Caller, to: str, token_id: int, amount: int,
                             wait: bool = True) -> Sent[None]:
        """`transfer` for a request served on the event loop (see `Sender.send_async`)."""
        await self.sender.require_custodial_async(caller)
        receiver = await require_receiver_async(self.directory, to)
        (record,) = await self.sender.send_async(caller, *self._parts(caller, receiver, token_id, amount), wait=wait)
        return Sent((record,))

    def _parts(self, caller: Caller, receiver: str, token_id: int,
               amount: int) -> tuple[list[Intent], Callable[[], None]]:
        """The transfer's intent, and the check that names its refusal when the chain would refuse it."""
        return ([self.call(caller.address, "safeTransferFrom", caller.address, receiver, token_id, amount, b"")],
                lambda: require_holds(self.balance(self.chain, self.suite, caller.address, token_id), caller,
                                      token_id, amount))

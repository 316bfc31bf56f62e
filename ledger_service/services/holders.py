"""Checks the holders' use cases share (allowances, credits, green certificates, settlement): who sees a
holder's balances, and what a transfer must pass before it is sent, with the contracts' own errors."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.errors import ContractRevert
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.errors import forbidden

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
        return await run_in_threadpool(require_receiver, directory, to)
    if not held.can_transact:
        raise ContractRevert("AccountCannotTransact", {"account": held.address})
    return held.address


def require_holds(held: int, caller: Caller, token_id: int, amount: int) -> None:
    """The caller holds `amount` of an ERC-1155 token (the token's `ERC1155InsufficientBalance` otherwise)."""
    if held < amount:
        raise ContractRevert("ERC1155InsufficientBalance", {"sender": caller.address, "balance": held,
                                                            "needed": amount, "tokenId": token_id})

"""Member use cases: admission (the service may create and keep the member's key) and the regulator's sanctions
(suspend, reinstate, revoke, freeze, unfreeze), and looking a member up. The chain's Membership contract checks
every rule again (a regulator cannot sanction itself, a revoked member stays revoked)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import is_address, keccak

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent, TxRecord
from ledger_service.identity.keystore import KeyStore
from ledger_service.membership import ROLE_IDS, Directory, MemberView
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal
from ledger_service.services.sending import Sender

MEMBERSHIP = "Membership"
SANCTIONS_WITH_REASON = ("suspend", "revoke", "freeze")
SANCTIONS = (*SANCTIONS_WITH_REASON, "reinstate", "unfreeze")


@dataclass(frozen=True)
class MemberChange:
    member: MemberView
    record: TxRecord
    custodial: bool | None = None  # known when the request said how the member's key is kept


@dataclass(frozen=True)
class Member:
    view: MemberView
    custodial: bool  # the service keeps the member's key


@dataclass(frozen=True)
class MemberService:
    chain: ChainClient
    keystore: KeyStore
    directory: Directory
    sender: Sender

    def _send(self, caller: Caller, function: str, *args: object) -> TxRecord:
        return self.sender.send_one(caller, Intent(MEMBERSHIP, function, args, caller.address,
                                                   requested_by=caller.address))

    def admit(self, caller: Caller, org_id: int, roles: Sequence[str], address: str | None = None) -> MemberChange:
        """Admit `address` (a member signing for itself), or without one a new account whose key the service
        creates and keeps. On the embedded chain, whose development node charges gas where the networks it stands
        for do not, either account is given gas money, so a member's own signed transactions are relayed there
        as on a free-gas network."""
        unknown = [r for r in roles if r not in ROLE_IDS]
        if unknown:
            raise Refusal(422, "ValidationError", f"unknown roles: {unknown}", {"roles": unknown})
        custodial = address is None
        if address is None:
            address = self.keystore.create(label=f"member of organisation {org_id}").address
        else:
            address = to_checksum_address(address)
        if self.chain.embedded is not None:
            with self.chain.exclusive():
                self.chain.embedded.fund([address])
        record = self._send(caller, "admit", address, org_id, [ROLE_IDS[r] for r in roles])
        self.directory.forget(address)
        return MemberChange(self.directory.member(address), record, custodial)

    def member(self, address: str) -> Member:
        """A member as the chain records it; 404 NotMember for an address never admitted."""
        view = self.directory.member(address)
        if view.org_id == 0:
            raise Refusal(404, "NotMember", f"{view.address} is not a member", {"account": view.address})
        return Member(view, self.keystore.has(view.address))

    def sanction(self, caller: Caller, address: str, sanction: str, reason: str | None = None) -> MemberChange:
        """One of `SANCTIONS` (the caller is a regulator); the reason's keccak256 goes on chain for those that
        take one."""
        if sanction not in SANCTIONS:
            raise ValueError(f"unknown sanction {sanction}")
        if not is_address(address):
            raise Refusal(422, "ValidationError", "not an address")
        if (sanction in SANCTIONS_WITH_REASON) != (reason is not None):
            raise Refusal(422, "ValidationError", f"{sanction} {'needs' if reason is None else 'takes no'} reason")
        target = to_checksum_address(address)
        args = (keccak(text=reason),) if reason is not None else ()
        record = self._send(caller, sanction, target, *args)
        self.directory.forget(target)
        return MemberChange(self.directory.member(target), record)

"""Who a use case acts for: an authenticated member as the chain records it."""

from __future__ import annotations

from dataclasses import dataclass

from ledger_service.identity.idempotency import IdempotencyClaim
from ledger_service.membership import MemberView
from ledger_service.services.errors import forbidden


@dataclass(frozen=True)
class Caller:
    address: str
    via: str  # "api_key", "signature", or "local" for the demo and tools acting with a kept key
    key_id: str | None
    member: MemberView
    idempotency: IdempotencyClaim | None = None  # the request's claim on its Idempotency-Key, if it sent one

    @property
    def is_regulator(self) -> bool:
        return self.member.has_role("REGULATOR")


def require_member(caller: Caller, *roles: str, moves_assets: bool = False) -> Caller:
    """The one standing check of every edge (the API's `deps.member`, the console's pages): an active member
    holding one of `roles` (any role if none given), and not frozen if its assets are to move."""
    member = caller.member
    if not member.active:
        raise forbidden(f"{member.address} is not an active member (status: {member.status.label})",
                        "MemberNotActive", account=member.address, status=member.status.label)
    if roles and not any(member.has_role(r) for r in roles):
        raise forbidden(f"{caller.address} does not hold the {' or '.join(roles)} role", "MissingRole",
                        account=caller.address, roles=list(roles))
    if moves_assets and member.frozen:
        raise forbidden(f"{caller.address} is frozen: its assets cannot move", "AccountFrozen",
                        account=caller.address)
    return caller

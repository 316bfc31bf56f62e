"""Who a use case acts for: an authenticated member as the chain records it."""

from __future__ import annotations

from dataclasses import dataclass

from ledger_service.identity.idempotency import IdempotencyClaim
from ledger_service.membership import MemberView


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

"""What a use case answers when it refuses. The HTTP edge maps each to its status in one place
(`ledger_service.api.errors.install`); the CLI and the demo print them."""

from __future__ import annotations

from typing import Any

from ledger_core.chain.outbox import TxRecord


class Refusal(Exception):
    """A use case refused before anything reached the chain. `status` is the HTTP status that says what
    kind of refusal it is (401 unauthenticated, 403 not allowed, 404 unknown, 409 state, 422 invalid,
    429 throttled); `code` is stable for clients; `details` names what was refused."""

    def __init__(self, status: int, code: str, message: str, args: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = args or {}
        self.headers = headers


class TransactionRefused(Exception):
    """The chain refused a transaction: at preflight (no nonce spent) or when mined."""

    def __init__(self, record: TxRecord, caller: str | None) -> None:
        super().__init__(record.error_name)
        self.record = record
        self.caller = caller


class ChainBusy(Exception):
    """A dependency (`"chain"` or `"database"`) failed after the transactions were recorded: they stay in
    the outbox (`outbox_ids`) and are sent when it is back."""

    def __init__(self, message: str, outbox_ids: list[int], dependency: str = "chain") -> None:
        super().__init__(message)
        self.outbox_ids = outbox_ids
        self.dependency = dependency


def forbidden(message: str, code: str = "Forbidden", **args: Any) -> Refusal:
    return Refusal(403, code, message, args)


def not_found(message: str, code: str = "NotFound", **args: Any) -> Refusal:
    return Refusal(404, code, message, args)


def conflict(message: str, code: str, **args: Any) -> Refusal:
    return Refusal(409, code, message, args)

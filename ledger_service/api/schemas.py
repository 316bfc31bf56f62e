"""Response models shared by several routers: transactions, members, organisations, pages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ledger_service.api.reverts import describe
from ledger_service.api.types import UtcTime
from ledger_service.chain.outbox import TxRecord
from ledger_service.db.models.outbox import OutboxTransaction
from ledger_service.membership import MemberView, OrgView


class TxError(BaseModel):
    name: str
    message: str
    args: dict[str, Any] = Field(default_factory=dict)


class TxOut(BaseModel):
    """An outbox entry: follow `status` until it is mined, failed or rejected."""

    id: int
    status: str = Field(description="queued, signed, sent, mined, failed, rejected or dropped")
    final: bool = Field(default=False, description="mined (or failed) in a block at least the confirmation depth "
                        "deep: the outbox no longer checks it")
    contract: str
    function: str
    signer: str
    nonce: int | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    gas_used: int | None = None
    error: TxError | None = None
    last_error: str | None = Field(default=None, description="why the last send attempt did not reach the chain")
    replaces_id: int | None = Field(default=None, description="the dropped attempt whose intent this row repeats")
    replaced_by: int | None = Field(default=None, description="the row that repeats this dropped attempt")
    confirmations: int | None = Field(default=None, description="blocks from the transaction's block to the head")
    origin: str | None = None
    args: list[Any] | None = None
    created_at: UtcTime | None = None
    updated_at: UtcTime | None = None

    @classmethod
    def of(cls, record: TxRecord) -> TxOut:
        return cls(id=record.id, status=record.status, contract=record.contract, function=record.function,
                   signer=record.signer, nonce=record.nonce, tx_hash=record.tx_hash, block_number=record.block_number,
                   gas_used=record.gas_used, error=_error(record.error_name, record.error_args),
                   last_error=record.last_error, final=record.final, replaces_id=record.replaces_id)

    @classmethod
    def of_row(cls, row: OutboxTransaction) -> TxOut:
        return cls(id=row.id, status=row.status, contract=row.contract, function=row.function, signer=row.signer,
                   nonce=row.nonce, tx_hash=row.tx_hash, block_number=row.block_number, gas_used=row.gas_used,
                   error=_error(row.error_name, row.error_args), last_error=row.last_error, origin=row.origin,
                   final=row.final, replaces_id=row.replaces_id,
                   args=row.args, created_at=row.created_at, updated_at=row.updated_at)


def _error(name: str | None, args: dict[str, Any] | None) -> TxError | None:
    if name is None:
        return None
    return TxError(name=name, message=describe(name, args or {}), args=args or {})


class MemberOut(BaseModel):
    address: str
    org_id: int
    status: str = Field(description="none, active, suspended or revoked")
    frozen: bool
    roles: list[str]
    custodial: bool | None = None

    @classmethod
    def of(cls, view: MemberView, custodial: bool | None = None) -> MemberOut:
        return cls(address=view.address, org_id=view.org_id, status=view.status.label, frozen=view.frozen,
                   roles=sorted(view.roles), custodial=custodial)


class OrgOut(BaseModel):
    org_id: int
    parent_id: int
    kind: str
    name: str

    @classmethod
    def of(cls, org: OrgView) -> OrgOut:
        return cls(org_id=org.org_id, parent_id=org.parent_id, kind=org.kind.name.lower(), name=org.name)


class PageInfo(BaseModel):
    offset: int
    limit: int
    total: int | None = None

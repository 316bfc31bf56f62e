"""Response models shared by several routers: transactions, members, organisations, meter devices and anchors,
pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ledger_core.chain.outbox import TxRecord
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.api.reverts import describe
from ledger_service.api.types import UtcTime

# ---------------------------------------------------------------------- how domain values are written in answers
# Response models are built from the domain objects (`Model.model_validate(obj)`, `from_attributes`); these types
# say once how a domain value reads in JSON.


def _bytes(value: Any) -> bool:
    return isinstance(value, bytes | bytearray | memoryview)


def _hex(value: Any) -> Any:
    return "0x" + bytes(value).hex() if _bytes(value) else value


def _bare_hex(value: Any) -> Any:
    return bytes(value).hex() if _bytes(value) else value


def _decimal(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _label(value: Any) -> Any:
    """An enum member as its lower-case name (statuses, kinds)."""
    label = getattr(value, "label", None)
    if isinstance(label, str):
        return label
    name = getattr(value, "name", None)
    return name.lower() if isinstance(name, str) and not isinstance(value, str) else value


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


Hex = Annotated[str, BeforeValidator(_hex)]
"""Bytes as 0x-hex."""
BareHex = Annotated[str, BeforeValidator(_bare_hex)]
"""Bytes as hex without the prefix (raw keys)."""
DecimalString = Annotated[str, BeforeValidator(_decimal)]
"""A whole quantity (mgCO2e, kgCO2e) as a decimal string: JSON numbers lose precision beyond 2^53."""
Label = Annotated[str, BeforeValidator(_label)]
"""An enumerated state or kind by its lower-case name."""
IsoTime = Annotated[str, BeforeValidator(_iso)]
"""A time as ISO 8601 text."""


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

    @model_validator(mode="before")
    @classmethod
    def _of_outbox(cls, source: Any) -> Any:
        """From the send path's `TxRecord` or an outbox row: `error` decoded from its name and arguments. A record
        answers only what the send path knows; the origin, arguments and times are the row's."""
        if not isinstance(source, TxRecord | OutboxTransaction):
            return source
        shown = _ROW_FIELDS if isinstance(source, OutboxTransaction) else _RECORD_FIELDS
        return {**{name: getattr(source, name) for name in shown},
                "error": _error(source.error_name, source.error_args)}


_RECORD_FIELDS = ("id", "status", "final", "contract", "function", "signer", "nonce", "tx_hash", "block_number",
                  "gas_used", "last_error", "replaces_id")
_ROW_FIELDS = (*_RECORD_FIELDS, "origin", "args", "created_at", "updated_at")


def _error(name: str | None, args: dict[str, Any] | None) -> TxError | None:
    if name is None:
        return None
    return TxError(name=name, message=describe(name, args or {}), args=args or {})


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    address: str
    org_id: int
    status: Label = Field(description="none, active, suspended or revoked")
    frozen: bool
    roles: Annotated[list[str], BeforeValidator(sorted)]
    custodial: bool | None = None


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    org_id: int
    parent_id: int
    kind: Label
    name: str


class DeviceBase(BaseModel):
    """A meter device as every answer names it: the oracle's id, MeterAnchor's hash of it and where it measures.
    The meters router answers the oracle's registry view of it, the audit router what a trace found."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    device_hash: Hex
    facility: str
    workshop: str


class AnchorBase(BaseModel):
    """A committed window of an enterprise's meter data, as every answer names it. The meters router answers
    the oracle's batch and MeterAnchor's record of it, the audit router what a trace checked."""

    model_config = ConfigDict(from_attributes=True)

    anchor_id: int | None
    batch_id: int | None = None
    enterprise_org_id: int
    window_start: int
    window_end: int
    root: Hex | None
    reading_count: int
    oracle: str | None = None


class PageInfo(BaseModel):
    offset: int
    limit: int
    total: int | None = None

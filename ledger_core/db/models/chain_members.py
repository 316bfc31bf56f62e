"""Organisations and members as the Membership contract records them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.chain_meta import ChainEventRow
from ledger_core.db.models.types import Hash32


class ChainOrganisation(ChainEventRow, Base):
    """`OrganisationRegistered`: an organisation and its parent (a park contains enterprises)."""

    __tablename__ = "chain_organisations"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    org_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    parent_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(256))


class ChainMemberEvent(ChainEventRow, Base):
    """A change of a member: admitted, suspended, reinstated, revoked, frozen, unfrozen."""

    __tablename__ = "chain_member_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    account: Mapped[str] = mapped_column(String(42), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int | None] = mapped_column(BigInteger)
    roles: Mapped[list[str] | None] = mapped_column(JSON)
    reason_hash: Mapped[bytes | None] = mapped_column(Hash32)


class ChainMember(Base):
    """A member's current state, projected from its events (rebuilt after a rollback)."""

    __tablename__ = "chain_members"

    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    frozen: Mapped[bool] = mapped_column(default=False)
    admitted_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)
    updated_tx: Mapped[str] = mapped_column(String(66))


class ChainOtherEvent(ChainEventRow, Base):
    """Any event without a dedicated table (wiring, settings), with its decoded arguments."""

    __tablename__ = "chain_other_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    contract: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)

"""EPD drafts: the off-chain record of a footprint before it is published. Its content hash is the draft
commitment a verifier attests on chain (`EpdRegistry.draftCommitment`); the owner then publishes exactly that
content. Whether a draft is attested or published is read from the chain index by that hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import BigId, Hash32, UtcDateTime, utc_now


class EpdDraftRecord(Base):
    """A draft's fields (`content`, as `ledger_service.epd.draft_to_json` writes them) under its commitment."""

    __tablename__ = "epd_drafts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draft_commitment: Mapped[bytes] = mapped_column(Hash32, unique=True)
    owner_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    product_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    created_by: Mapped[str] = mapped_column(String(42))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)


class ImportedFootprintRecord(Base):
    """A supplier's footprint fetched from another PACT host (`content`: its `data` object as canonical JSON decoded),
    its hashes, and the notarization of its SHA-256 on chain. Not verified on this ledger unless its supplier
    published it here (`verified_on_ledger`)."""

    __tablename__ = "imported_footprints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    footprint_id: Mapped[str] = mapped_column(String(36), index=True)
    source: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[bytes] = mapped_column(Hash32)
    keccak256: Mapped[bytes] = mapped_column(Hash32)
    kg_per_unit: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(64))
    verified_on_ledger: Mapped[bool] = mapped_column(Boolean)
    importer_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    imported_by: Mapped[str] = mapped_column(String(42))
    notarization_tx: Mapped[str | None] = mapped_column(String(66))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)

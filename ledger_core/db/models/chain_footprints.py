"""Product footprints on chain: PCR versions, products and output records of ProductRegistry; attestations, EPDs,
their citations and their later steps of EpdRegistry; one row per event (per cited EPD for the citations).

An EPD's status is read from its rows: published by `chain_epds`, superseded or withdrawn by the
`chain_epd_events` row that says so, flagged by any `flagged` row. Figures are integers as on chain (mgCO2e per
declared unit, milli declared units, grams, CNY fen, per mille); periods are `[start, end)` in unix seconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.chain_meta import ChainEventRow
from ledger_core.db.models.types import Hash32


class ChainPcr(ChainEventRow, Base):
    """`PcrRegistered`: a PCR version with every field of the rule."""

    __tablename__ = "chain_pcrs"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"), UniqueConstraint("pcr_id", "version"))

    pcr_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(256))
    cpc_code: Mapped[str] = mapped_column(String(32))
    declared_unit: Mapped[str] = mapped_column(String(64))
    system_boundary: Mapped[str] = mapped_column(String(64))
    allocation: Mapped[int] = mapped_column(SmallInteger)
    cut_off_per_mille: Mapped[int] = mapped_column(Integer)
    data_quality: Mapped[str] = mapped_column(String(512))
    valid_from: Mapped[int] = mapped_column(BigInteger)
    valid_until: Mapped[int] = mapped_column(BigInteger)
    document_hash: Mapped[bytes] = mapped_column(Hash32)
    commitment: Mapped[bytes] = mapped_column(Hash32)
    registrant: Mapped[str] = mapped_column(String(42))


class ChainProduct(ChainEventRow, Base):
    """`ProductRegistered`: an organisation's product, where it is made and its declared unit."""

    __tablename__ = "chain_products"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    product_id: Mapped[bytes] = mapped_column(Hash32, unique=True)
    owner_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    registrant: Mapped[str] = mapped_column(String(42))
    own_product_id: Mapped[str] = mapped_column(String(128))
    cpc_code: Mapped[str] = mapped_column(String(32))
    declared_unit: Mapped[str] = mapped_column(String(64))
    facility: Mapped[str] = mapped_column(String(128))
    workshop: Mapped[str] = mapped_column(String(128))


class ChainProductOutput(ChainEventRow, Base):
    """`OutputRecorded`: a product's output for a period, with the sealed ERP extract's hash."""

    __tablename__ = "chain_product_outputs"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"), UniqueConstraint("product_id", "record_index"))

    product_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    owner_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    record_index: Mapped[int] = mapped_column(Integer)
    recorder: Mapped[str] = mapped_column(String(42))
    commitment: Mapped[bytes] = mapped_column(Hash32)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    quantity_milli: Mapped[int] = mapped_column(BigInteger)
    mass_grams: Mapped[int] = mapped_column(BigInteger)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    extract_hash: Mapped[bytes] = mapped_column(Hash32)


class ChainEpdAttestation(ChainEventRow, Base):
    """`DraftAttested`: a verifier attested a draft commitment for an owner organisation."""

    __tablename__ = "chain_epd_attestations"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    draft_commitment: Mapped[bytes] = mapped_column(Hash32, index=True)
    owner_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    verifier: Mapped[str] = mapped_column(String(42))
    verifier_org_id: Mapped[int] = mapped_column(BigInteger)
    statement_hash: Mapped[bytes] = mapped_column(Hash32)


class ChainEpd(ChainEventRow, Base):
    """`EpdPublished`: an EPD as published (every field of the attested draft)."""

    __tablename__ = "chain_epds"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    epd_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    product_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    owner_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    publisher: Mapped[str] = mapped_column(String(42))
    draft_commitment: Mapped[bytes] = mapped_column(Hash32, index=True)
    pcr_id: Mapped[bytes] = mapped_column(Hash32)
    pcr_version: Mapped[int] = mapped_column(Integer)
    declared_unit: Mapped[str] = mapped_column(String(64))
    mg_per_unit: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[int] = mapped_column(BigInteger)
    valid_until: Mapped[int] = mapped_column(BigInteger)
    document_hash: Mapped[bytes] = mapped_column(Hash32)
    provenance_commitment: Mapped[bytes] = mapped_column(Hash32)
    primary_share_per_mille: Mapped[int] = mapped_column(Integer)
    supersedes: Mapped[int] = mapped_column(BigInteger)


class ChainEpdCitation(ChainEventRow, Base):
    """One supplier EPD an EPD cites (from its `EpdPublished` event, in order by `sub_index`)."""

    __tablename__ = "chain_epd_citations"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", "sub_index"),)

    citing_epd_id: Mapped[int] = mapped_column(BigInteger, index=True)
    cited_epd_id: Mapped[int] = mapped_column(BigInteger, index=True)
    sub_index: Mapped[int] = mapped_column(Integer)


class ChainEpdEvent(ChainEventRow, Base):
    """A later step of an EPD: `superseded` (by `by_epd_id`), `withdrawn` (with a reason) or `flagged` (its
    citation of `cited_epd_id`, whose status and validity end are recorded as the flag saw them)."""

    __tablename__ = "chain_epd_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    epd_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str | None] = mapped_column(String(42))
    by_epd_id: Mapped[int | None] = mapped_column(BigInteger)
    cited_epd_id: Mapped[int | None] = mapped_column(BigInteger)
    cited_status: Mapped[int | None] = mapped_column(SmallInteger)
    cited_valid_until: Mapped[int | None] = mapped_column(BigInteger)
    reason_hash: Mapped[bytes | None] = mapped_column(Hash32)

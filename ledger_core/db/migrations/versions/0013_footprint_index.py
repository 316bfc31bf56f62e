"""Chain index: product footprints (PCRs, products, output, attestations, EPDs, citations, EPD steps) and EPD drafts

Revision ID: 0013_footprint_index
Revises: 0012_window_revisions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_footprint_index"
down_revision: str | None = "0012_window_revisions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_epd_attestations",
        sa.Column("draft_commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("owner_org_id", sa.BigInteger(), nullable=False),
        sa.Column("verifier", sa.String(length=42), nullable=False),
        sa.Column("verifier_org_id", sa.BigInteger(), nullable=False),
        sa.Column("statement_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_epd_attestations")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_epd_attestations_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_epd_attestations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_epd_attestations_block_number"), ["block_number"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chain_epd_attestations_draft_commitment"), ["draft_commitment"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_chain_epd_attestations_owner_org_id"), ["owner_org_id"], unique=False)

    op.create_table(
        "chain_epd_citations",
        sa.Column("citing_epd_id", sa.BigInteger(), nullable=False),
        sa.Column("cited_epd_id", sa.BigInteger(), nullable=False),
        sa.Column("sub_index", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_epd_citations")),
        sa.UniqueConstraint(
            "tx_hash", "log_index", "sub_index", name=op.f("uq_chain_epd_citations_tx_hash_log_index_sub_index")
        ),
    )
    with op.batch_alter_table("chain_epd_citations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_epd_citations_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_epd_citations_cited_epd_id"), ["cited_epd_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_epd_citations_citing_epd_id"), ["citing_epd_id"], unique=False)

    op.create_table(
        "chain_epd_events",
        sa.Column("epd_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner_org_id", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=42), nullable=True),
        sa.Column("by_epd_id", sa.BigInteger(), nullable=True),
        sa.Column("cited_epd_id", sa.BigInteger(), nullable=True),
        sa.Column("cited_status", sa.SmallInteger(), nullable=True),
        sa.Column("cited_valid_until", sa.BigInteger(), nullable=True),
        sa.Column("reason_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_epd_events")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_epd_events_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_epd_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_epd_events_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_epd_events_epd_id"), ["epd_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_epd_events_owner_org_id"), ["owner_org_id"], unique=False)

    op.create_table(
        "chain_epds",
        sa.Column("epd_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("owner_org_id", sa.BigInteger(), nullable=False),
        sa.Column("publisher", sa.String(length=42), nullable=False),
        sa.Column("draft_commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("pcr_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("pcr_version", sa.Integer(), nullable=False),
        sa.Column("declared_unit", sa.String(length=64), nullable=False),
        sa.Column("mg_per_unit", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("document_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("provenance_commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("primary_share_per_mille", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_epds")),
        sa.UniqueConstraint("epd_id", name=op.f("uq_chain_epds_epd_id")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_epds_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_epds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_epds_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_epds_draft_commitment"), ["draft_commitment"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_epds_owner_org_id"), ["owner_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_epds_product_id"), ["product_id"], unique=False)

    op.create_table(
        "chain_pcrs",
        sa.Column("pcr_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("cpc_code", sa.String(length=32), nullable=False),
        sa.Column("declared_unit", sa.String(length=64), nullable=False),
        sa.Column("system_boundary", sa.String(length=64), nullable=False),
        sa.Column("allocation", sa.SmallInteger(), nullable=False),
        sa.Column("cut_off_per_mille", sa.Integer(), nullable=False),
        sa.Column("data_quality", sa.String(length=512), nullable=False),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("document_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("registrant", sa.String(length=42), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_pcrs")),
        sa.UniqueConstraint("pcr_id", "version", name=op.f("uq_chain_pcrs_pcr_id_version")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_pcrs_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_pcrs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_pcrs_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_pcrs_pcr_id"), ["pcr_id"], unique=False)

    op.create_table(
        "chain_product_outputs",
        sa.Column("product_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("owner_org_id", sa.BigInteger(), nullable=False),
        sa.Column("record_index", sa.Integer(), nullable=False),
        sa.Column("recorder", sa.String(length=42), nullable=False),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("mass_grams", sa.BigInteger(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("extract_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_product_outputs")),
        sa.UniqueConstraint(
            "product_id", "record_index", name=op.f("uq_chain_product_outputs_product_id_record_index")
        ),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_product_outputs_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_product_outputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_product_outputs_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_product_outputs_owner_org_id"), ["owner_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_product_outputs_product_id"), ["product_id"], unique=False)

    op.create_table(
        "chain_products",
        sa.Column("product_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("owner_org_id", sa.BigInteger(), nullable=False),
        sa.Column("registrant", sa.String(length=42), nullable=False),
        sa.Column("own_product_id", sa.String(length=128), nullable=False),
        sa.Column("cpc_code", sa.String(length=32), nullable=False),
        sa.Column("declared_unit", sa.String(length=64), nullable=False),
        sa.Column("facility", sa.String(length=128), nullable=False),
        sa.Column("workshop", sa.String(length=128), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_products")),
        sa.UniqueConstraint("product_id", name=op.f("uq_chain_products_product_id")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_products_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_products_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_products_owner_org_id"), ["owner_org_id"], unique=False)

    op.create_table(
        "epd_drafts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("draft_commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("owner_org_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epd_drafts")),
        sa.UniqueConstraint("draft_commitment", name=op.f("uq_epd_drafts_draft_commitment")),
    )
    with op.batch_alter_table("epd_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_epd_drafts_owner_org_id"), ["owner_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_epd_drafts_product_id"), ["product_id"], unique=False)

    op.create_table(
        "imported_footprints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("footprint_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("keccak256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kg_per_unit", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("verified_on_ledger", sa.Boolean(), nullable=False),
        sa.Column("importer_org_id", sa.BigInteger(), nullable=False),
        sa.Column("imported_by", sa.String(length=42), nullable=False),
        sa.Column("notarization_tx", sa.String(length=66), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_footprints")),
    )
    with op.batch_alter_table("imported_footprints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_imported_footprints_footprint_id"), ["footprint_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_imported_footprints_importer_org_id"), ["importer_org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("imported_footprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imported_footprints_importer_org_id"))
        batch_op.drop_index(batch_op.f("ix_imported_footprints_footprint_id"))
    op.drop_table("imported_footprints")
    with op.batch_alter_table("epd_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_epd_drafts_product_id"))
        batch_op.drop_index(batch_op.f("ix_epd_drafts_owner_org_id"))

    op.drop_table("epd_drafts")
    with op.batch_alter_table("chain_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_products_owner_org_id"))
        batch_op.drop_index(batch_op.f("ix_chain_products_block_number"))

    op.drop_table("chain_products")
    with op.batch_alter_table("chain_product_outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_product_outputs_product_id"))
        batch_op.drop_index(batch_op.f("ix_chain_product_outputs_owner_org_id"))
        batch_op.drop_index(batch_op.f("ix_chain_product_outputs_block_number"))

    op.drop_table("chain_product_outputs")
    with op.batch_alter_table("chain_pcrs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_pcrs_pcr_id"))
        batch_op.drop_index(batch_op.f("ix_chain_pcrs_block_number"))

    op.drop_table("chain_pcrs")
    with op.batch_alter_table("chain_epds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_epds_product_id"))
        batch_op.drop_index(batch_op.f("ix_chain_epds_owner_org_id"))
        batch_op.drop_index(batch_op.f("ix_chain_epds_draft_commitment"))
        batch_op.drop_index(batch_op.f("ix_chain_epds_block_number"))

    op.drop_table("chain_epds")
    with op.batch_alter_table("chain_epd_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_epd_events_owner_org_id"))
        batch_op.drop_index(batch_op.f("ix_chain_epd_events_epd_id"))
        batch_op.drop_index(batch_op.f("ix_chain_epd_events_block_number"))

    op.drop_table("chain_epd_events")
    with op.batch_alter_table("chain_epd_citations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_epd_citations_citing_epd_id"))
        batch_op.drop_index(batch_op.f("ix_chain_epd_citations_cited_epd_id"))
        batch_op.drop_index(batch_op.f("ix_chain_epd_citations_block_number"))

    op.drop_table("chain_epd_citations")
    with op.batch_alter_table("chain_epd_attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_epd_attestations_owner_org_id"))
        batch_op.drop_index(batch_op.f("ix_chain_epd_attestations_draft_commitment"))
        batch_op.drop_index(batch_op.f("ix_chain_epd_attestations_block_number"))

    op.drop_table("chain_epd_attestations")

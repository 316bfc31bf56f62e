"""Chain index: green electricity certificate batches, their anchors, consumptions

Revision ID: 0011_gec_index
Revises: 0009_factor_sets_by_date
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_gec_index"
down_revision: str | None = "0010_anchor_measures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_gec_batch_anchors",
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("anchor_id", sa.BigInteger(), nullable=False),
        sa.Column("sub_index", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_gec_batch_anchors")),
        sa.UniqueConstraint("anchor_id", name=op.f("uq_chain_gec_batch_anchors_anchor_id")),
        sa.UniqueConstraint(
            "tx_hash", "log_index", "sub_index", name=op.f("uq_chain_gec_batch_anchors_tx_hash_log_index_sub_index")
        ),
    )
    with op.batch_alter_table("chain_gec_batch_anchors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_gec_batch_anchors_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_gec_batch_anchors_block_number"), ["block_number"], unique=False)

    op.create_table(
        "chain_gec_batches",
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("generator", sa.String(length=42), nullable=False),
        sa.Column("generator_org_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("serial_start", sa.BigInteger(), nullable=False),
        sa.Column("serial_end", sa.BigInteger(), nullable=False),
        sa.Column("anchored_wh", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_gec_batches")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_chain_gec_batches_batch_id")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_gec_batches_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_gec_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_gec_batches_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_gec_batches_generator_org_id"), ["generator_org_id"], unique=False)

    op.create_table(
        "chain_gec_consumptions",
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("beneficiary_org_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("serial_start", sa.BigInteger(), nullable=False),
        sa.Column("serial_end", sa.BigInteger(), nullable=False),
        sa.Column("consumption_start", sa.BigInteger(), nullable=False),
        sa.Column("consumption_end", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_gec_consumptions")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_chain_gec_consumptions_tx_hash_log_index")),
    )
    with op.batch_alter_table("chain_gec_consumptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_gec_consumptions_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chain_gec_consumptions_beneficiary_org_id"), ["beneficiary_org_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_chain_gec_consumptions_block_number"), ["block_number"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("chain_gec_consumptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_gec_consumptions_block_number"))
        batch_op.drop_index(batch_op.f("ix_chain_gec_consumptions_beneficiary_org_id"))
        batch_op.drop_index(batch_op.f("ix_chain_gec_consumptions_batch_id"))

    op.drop_table("chain_gec_consumptions")
    with op.batch_alter_table("chain_gec_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_gec_batches_generator_org_id"))
        batch_op.drop_index(batch_op.f("ix_chain_gec_batches_block_number"))

    op.drop_table("chain_gec_batches")
    with op.batch_alter_table("chain_gec_batch_anchors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_gec_batch_anchors_block_number"))
        batch_op.drop_index(batch_op.f("ix_chain_gec_batch_anchors_batch_id"))

    op.drop_table("chain_gec_batch_anchors")

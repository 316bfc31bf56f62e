"""Anchors gain a measure (0 emissions in mgCO2e, 1 electricity produced in Wh): devices have a kind,
windows and indexed anchors their measure, and an enterprise has one window per measure and start;
indexed anchors name their batch (one `BatchAnchored` event gives a row per window)

Revision ID: 0010_anchor_measures
Revises: 0009_factor_sets_by_date
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_anchor_measures"
down_revision: str | None = "0009_factor_sets_by_date"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meter_devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="emission_meter", nullable=False))
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("measure", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.drop_constraint("uq_meter_batches_enterprise_org_id_window_start", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_meter_batches_enterprise_org_id_measure_window_start"),
            ["enterprise_org_id", "measure", "window_start"],
        )
    with op.batch_alter_table("chain_anchors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("measure", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("batch_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_chain_anchors_batch_id"), ["batch_id"], unique=False)
        batch_op.drop_constraint("uq_chain_anchors_tx_hash_log_index", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_chain_anchors_tx_hash_log_index_anchor_id"), ["tx_hash", "log_index", "anchor_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("chain_anchors", schema=None) as batch_op:
        batch_op.drop_constraint("uq_chain_anchors_tx_hash_log_index_anchor_id", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_chain_anchors_tx_hash_log_index"), ["tx_hash", "log_index"])
        batch_op.drop_index(batch_op.f("ix_chain_anchors_batch_id"))
        batch_op.drop_column("batch_id")
        batch_op.drop_column("measure")
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.drop_constraint("uq_meter_batches_enterprise_org_id_measure_window_start", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_meter_batches_enterprise_org_id_window_start"), ["enterprise_org_id", "window_start"]
        )
        batch_op.drop_column("measure")
    with op.batch_alter_table("meter_devices", schema=None) as batch_op:
        batch_op.drop_column("kind")

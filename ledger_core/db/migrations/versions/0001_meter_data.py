"""Meter data: devices, readings, quarantine, batches, committed nodes

Revision ID: 0001_meter_data
Revises:
Create Date: 2026-11-24 09:02:14.185397
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_meter_data"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("quarantined", sa.BigInteger(), nullable=False),
        sa.Column("quarantined_by_reason", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
    )
    op.create_table(
        "meter_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_org_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("factor_set", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reading_count", sa.BigInteger(), nullable=False),
        sa.Column("total_mg", sa.BigInteger(), nullable=False),
        sa.Column("facilities_root", sa.LargeBinary(length=32), nullable=True),
        sa.Column("root", sa.LargeBinary(length=32), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("anchor_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_batches")),
        sa.UniqueConstraint(
            "enterprise_org_id", "window_start", name=op.f("uq_meter_batches_enterprise_org_id_window_start")
        ),
    )
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_batches_status"), ["status"], unique=False)

    op.create_table(
        "meter_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("device_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("enterprise_org_id", sa.BigInteger(), nullable=False),
        sa.Column("facility", sa.String(length=128), nullable=False),
        sa.Column("workshop", sa.String(length=128), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=True),
        sa.Column("last_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_devices")),
        sa.UniqueConstraint("device_hash", name=op.f("uq_meter_devices_device_hash")),
        sa.UniqueConstraint("device_id", name=op.f("uq_meter_devices_device_id")),
    )
    with op.batch_alter_table("meter_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_devices_enterprise_org_id"), ["enterprise_org_id"], unique=False)

    op.create_table(
        "committed_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("facility", sa.String(length=128), nullable=True),
        sa.Column("workshop", sa.String(length=128), nullable=True),
        sa.Column("node_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sum_mg", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["meter_batches.id"], name=op.f("fk_committed_nodes_batch_id_meter_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committed_nodes")),
    )
    with op.batch_alter_table("committed_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committed_nodes_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "quarantined_readings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("timestamp", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ingest_runs.id"], name=op.f("fk_quarantined_readings_run_id_ingest_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_readings")),
    )
    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantined_readings_reason"), ["reason"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantined_readings_run_id"), ["run_id"], unique=False)

    op.create_table(
        "readings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.SmallInteger(), nullable=False),
        sa.Column("value_mg", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["meter_batches.id"], name=op.f("fk_readings_batch_id_meter_batches")),
        sa.ForeignKeyConstraint(["device_pk"], ["meter_devices.id"], name=op.f("fk_readings_device_pk_meter_devices")),
        sa.ForeignKeyConstraint(["run_id"], ["ingest_runs.id"], name=op.f("fk_readings_run_id_ingest_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sa.UniqueConstraint("device_pk", "sequence", name=op.f("uq_readings_device_pk_sequence")),
    )
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_readings_batch_device_order", ["batch_id", "device_pk", "timestamp", "sequence"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.drop_index("ix_readings_batch_device_order")

    op.drop_table("readings")
    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_readings_run_id"))
        batch_op.drop_index(batch_op.f("ix_quarantined_readings_reason"))

    op.drop_table("quarantined_readings")
    with op.batch_alter_table("committed_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committed_nodes_batch_id"))

    op.drop_table("committed_nodes")
    with op.batch_alter_table("meter_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_devices_enterprise_org_id"))

    op.drop_table("meter_devices")
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_batches_status"))

    op.drop_table("meter_batches")
    op.drop_table("ingest_runs")

"""Factor sets chosen by date: each reading records the set that valued it, each window the sets of its
readings; re-valuations with another set are separate, audited records

Revision ID: 0009_factor_sets_by_date
Revises: 0008_replaced_transactions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_factor_sets_by_date"
down_revision: str | None = "0008_replaced_transactions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("factor_set", sa.String(length=64), nullable=True))
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("factor_sets", sa.String(length=255), nullable=True))
    op.create_table(
        "revaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factor_set", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_org_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reading_count", sa.BigInteger(), nullable=False),
        sa.Column("original_mg", sa.BigInteger(), nullable=False),
        sa.Column("revalued_mg", sa.BigInteger(), nullable=False),
        sa.Column("not_valued", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revaluations")),
    )


def downgrade() -> None:
    op.drop_table("revaluations")
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.drop_column("factor_sets")
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.drop_column("factor_set")

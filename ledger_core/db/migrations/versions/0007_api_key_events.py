"""The audit log of API keys: issued, rotated, revoked, by whom

Revision ID: 0007_api_key_events
Revises: 0006_exactly_once
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_api_key_events"
down_revision: str | None = "0006_exactly_once"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=42), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key_events")),
    )
    with op.batch_alter_table("api_key_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_key_events_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_key_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_events_key_id"))
        batch_op.drop_index(batch_op.f("ix_api_key_events_at"))
    op.drop_table("api_key_events")

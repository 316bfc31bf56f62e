"""PACT state: access tokens and received events, shared by service processes

Revision ID: 0015_pact_state
Revises: 0014_console_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_pact_state"
down_revision: str | None = "0014_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pact_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client", sa.String(length=42), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("answer_type", sa.String(length=128), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_problem", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pact_events")),
        sa.UniqueConstraint("client", "source", "event_id", name=op.f("uq_pact_events_client_source_event_id")),
    )
    with op.batch_alter_table("pact_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pact_events_type"), ["type"], unique=False)

    op.create_table(
        "pact_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client", sa.String(length=42), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pact_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pact_tokens_token_hash")),
    )
    with op.batch_alter_table("pact_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pact_tokens_client"), ["client"], unique=False)
        batch_op.create_index(batch_op.f("ix_pact_tokens_expires_at"), ["expires_at"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("pact_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pact_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_pact_tokens_client"))

    op.drop_table("pact_tokens")
    with op.batch_alter_table("pact_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pact_events_type"))

    op.drop_table("pact_events")

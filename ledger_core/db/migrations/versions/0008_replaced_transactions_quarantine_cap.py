"""Relayed transactions replaced by a higher fee: a nonce is unique among the attempts still in play;
quarantined readings found by device and time (the hourly cap per device)

Revision ID: 0008_replaced_transactions
Revises: 0007_api_key_events
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_replaced_transactions"
down_revision: str | None = "0007_api_key_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_PLAY = sa.text("status NOT IN ('replaced', 'dropped')")


def upgrade() -> None:
    with op.batch_alter_table("outbox_transactions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_transactions_signer_nonce"), type_="unique")
    op.create_index("uq_outbox_transactions_signer_nonce_in_play", "outbox_transactions", ["signer", "nonce"],
                    unique=True, sqlite_where=IN_PLAY, postgresql_where=IN_PLAY)
    op.create_index("ix_outbox_transactions_signer_nonce", "outbox_transactions", ["signer", "nonce"])
    op.create_index("ix_quarantined_readings_device_received", "quarantined_readings", ["device_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_quarantined_readings_device_received", table_name="quarantined_readings")
    op.drop_index("ix_outbox_transactions_signer_nonce", table_name="outbox_transactions")
    op.drop_index("uq_outbox_transactions_signer_nonce_in_play", table_name="outbox_transactions")
    with op.batch_alter_table("outbox_transactions", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_transactions_signer_nonce"), ["signer", "nonce"])

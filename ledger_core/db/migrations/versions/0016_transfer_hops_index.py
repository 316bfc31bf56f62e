"""Transfers: the index an asset trace reads its hops from holds every column the trace reads, in chain order
(token, token id, block, log index, sub-index), so that a page of hops is read from the index alone

Revision ID: 0016_transfer_hops_index
Revises: 0015_pact_state
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_transfer_hops_index"
down_revision: str | None = "0015_pact_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOPS = ["token", "token_id", "block_number", "log_index", "sub_index", "kind", "operator", "from_address",
        "to_address", "amount", "tx_hash", "block_time", "pending"]


def upgrade() -> None:
    with op.batch_alter_table("chain_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_chain_transfers_token_hops", HOPS, unique=False)
        batch_op.drop_index("ix_chain_transfers_token_id_block")


def downgrade() -> None:
    with op.batch_alter_table("chain_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_chain_transfers_token_id_block", ["token", "token_id", "block_number", "log_index"],
                              unique=False)
        batch_op.drop_index("ix_chain_transfers_token_hops")

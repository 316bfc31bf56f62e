"""Join the chain-index and service-core branches into one history.

Revision ID: 0003_join_index_and_service
Revises: 0002_chain_index, 0002_service_core
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_join_index_and_service"
down_revision: str | Sequence[str] | None = ("0002_chain_index", "0002_service_core")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to change."""

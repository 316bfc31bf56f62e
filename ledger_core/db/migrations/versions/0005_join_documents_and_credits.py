"""Join the emission-documents and credits/market-index branches into one history.

Revision ID: 0005_join_documents_and_credits
Revises: 0004_credits_market_index, 0004_emission_documents
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_join_documents_and_credits"
down_revision: str | Sequence[str] | None = ("0004_credits_market_index", "0004_emission_documents")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to change."""

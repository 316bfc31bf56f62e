"""Sealed off-chain documents of emission reports (report, verification statement, rejection reasons)

Revision ID: 0004_emission_documents
Revises: 0003_join_index_and_service
Create Date: 2026-11-24 10:03:07.942960
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_emission_documents'
down_revision: str | None = '0003_join_index_and_service'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stored_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('org_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=42), nullable=False),
    sa.Column('salt', sa.LargeBinary(length=16), nullable=False),
    sa.Column('nonce', sa.LargeBinary(length=12), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_documents')),
    sa.UniqueConstraint('document_hash', 'org_id', 'kind', name=op.f('uq_stored_documents_document_hash_org_id_kind'))
    )
    with op.batch_alter_table('stored_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_documents_document_hash'), ['document_hash'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stored_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_documents_document_hash'))

    op.drop_table('stored_documents')

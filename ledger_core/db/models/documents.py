"""Documents kept off chain, encrypted: emission reports, verification statements, rejection reasons.

Only the SHA-256 of a document goes on chain (it is the document's notarization); the
content is kept here sealed with AES-256-GCM, so the service's database alone does not
disclose it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import Hash32, UtcDateTime, utc_now


class StoredDocument(Base):
    """One sealed document of an organisation: `kind` is report, statement or reason; the key is derived
    from the service secret and `salt`; the associated data binds hash, organisation and kind."""

    __tablename__ = "stored_documents"
    __table_args__ = (UniqueConstraint("document_hash", "org_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_hash: Mapped[bytes] = mapped_column(Hash32, index=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(42))
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

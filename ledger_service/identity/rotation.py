"""Moving the database to a new key secret: every custodial key and sealed document opened with the old secret
and sealed again with the new one, in one database transaction (all of them, or none)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from ledger_service.documents import DocumentVault
from ledger_service.identity.keystore import KeyStore


@dataclass(frozen=True)
class Resealed:
    keys: int
    documents: int


def reseal_everything(sessions: sessionmaker[Session], old_secret: str, new_secret: str) -> Resealed:
    """Re-seal every custodial key and document under `new_secret`; a failure (a row that does not open with
    `old_secret`, a lost database) rolls everything back, and the database stays readable under the old one."""
    old_keys, new_keys = KeyStore(sessions, old_secret), KeyStore(sessions, new_secret)
    old_documents, new_documents = DocumentVault(sessions, old_secret), DocumentVault(sessions, new_secret)
    with sessions.begin() as session:
        keys = old_keys.reseal_all(session, new_keys)
        documents = old_documents.reseal_all(session, new_documents)
    return Resealed(keys, documents)

"""Off-chain documents, sealed: the content of a document whose SHA-256 is on chain.

Each document is encrypted with AES-256-GCM under its own key, derived with HKDF-SHA256 from
a master key and a random per-document salt; the master key is derived once per process by
scrypt from the service's key-encryption secret (`CARBONLEDGER_KEY_SECRET`, the secret that
seals custodial keys). The associated data binds the ciphertext to its hash, organisation and
kind, so a row cannot be moved to another report. Documents are stored in SQL
(`stored_documents`) rather than in files: they share the database's transactions, backups
and replication, and a service with several processes or hosts needs no shared directory.
Opening a document checks that the plaintext still has the recorded SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.models.documents import StoredDocument

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MASTER_SALT = hashlib.sha256(b"carbonledger document vault v1").digest()[:16]


class DocumentKind(StrEnum):
    REPORT = "report"
    STATEMENT = "statement"
    REASON = "reason"


class OutputDocumentKind(StrEnum):
    """The evidence of a product's recorded output (its hash is the output's `extractHash` on chain)."""

    EXTRACT = "output_extract"  # an uploaded ERP extract (CSV)
    COUNTS = "output_counts"  # the canonical record of the production counters' anchored counts


Kind = DocumentKind | OutputDocumentKind


class DocumentUnsealError(RuntimeError):
    """A stored document does not open with this secret, or no longer has its recorded hash."""


@dataclass(frozen=True)
class OpenedDocument:
    document_hash: bytes
    org_id: int
    kind: str
    filename: str
    content_type: str
    content: bytes


def sha256(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def _aad(digest: bytes, org_id: int, kind: str) -> bytes:
    return digest + org_id.to_bytes(8, "big") + kind.encode()


class DocumentVault:
    def __init__(self, sessions: sessionmaker[Session], secret: str) -> None:
        self.sessions = sessions
        self._secret = secret.encode()
        self._master: bytes | None = None
        self._lock = threading.Lock()

    def _key(self, salt: bytes) -> bytes:
        with self._lock:
            if self._master is None:
                self._master = Scrypt(salt=MASTER_SALT, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(
                    self._secret)
            master = self._master
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"carbonledger document").derive(master)

    def store(self, content: bytes, org_id: int, kind: Kind, uploaded_by: str, filename: str = "",
              content_type: str = "") -> bytes:
        """Seal and keep `content` for the organisation (once per hash, organisation and kind); returns its SHA-256."""
        return self.keep(content, org_id, kind, uploaded_by, filename, content_type)[0]

    def discard(self, digest: bytes, org_id: int, kind: Kind) -> None:
        """Forget a document this request stored (`keep` said it was new) when the request was refused."""
        with self.sessions.begin() as session:
            row = _find(session, digest, org_id, kind)
            if row is not None:
                session.delete(row)

    def keep(self, content: bytes, org_id: int, kind: Kind, uploaded_by: str, filename: str = "",
             content_type: str = "") -> tuple[bytes, bool]:
        """As `store`; also whether the document is new (False: the service kept it already)."""
        digest = sha256(content)
        with self.sessions.begin() as session:
            if _find(session, digest, org_id, kind) is not None:
                return digest, False
            salt, nonce, sealed = self._seal(content, digest, org_id, str(kind))
            session.add(StoredDocument(
                document_hash=digest, org_id=org_id, kind=str(kind), filename=filename[:255],
                content_type=(content_type or "application/octet-stream")[:128], size=len(content),
                uploaded_by=uploaded_by, salt=salt, nonce=nonce, ciphertext=sealed,
            ))
        return digest, True

    def _seal(self, content: bytes, digest: bytes, org_id: int, kind: str) -> tuple[bytes, bytes, bytes]:
        """A fresh salt and nonce, and the sealed content."""
        salt, nonce = os.urandom(16), os.urandom(12)
        return salt, nonce, AESGCM(self._key(salt)).encrypt(nonce, content, _aad(digest, org_id, kind))

    def _open(self, row: StoredDocument) -> bytes:
        digest, org_id, kind = row.document_hash, row.org_id, row.kind
        try:
            content = AESGCM(self._key(row.salt)).decrypt(row.nonce, row.ciphertext, _aad(digest, org_id, kind))
        except InvalidTag:
            raise DocumentUnsealError(f"document 0x{digest.hex()} does not open with this secret") from None
        if sha256(content) != digest:
            raise DocumentUnsealError(f"document 0x{digest.hex()} no longer has its recorded hash")
        return content

    def open_row(self, row: StoredDocument) -> bytes:
        """The plaintext of a stored row (or a row with its columns); raises DocumentUnsealError if it no longer
        opens or no longer has its recorded hash (reconcile's document check)."""
        return self._open(row)

    def verify_secret(self) -> None:
        """Raise DocumentUnsealError unless this secret opens the first stored document (if any is stored)."""
        with self.sessions() as session:
            row = session.scalars(select(StoredDocument).order_by(StoredDocument.id).limit(1)).first()
            if row is not None:
                self._open(row)

    def reseal_all(self, session: Session, new: DocumentVault) -> int:
        """Open every stored document with this secret and seal it again with `new`'s (fresh salt and nonce), in
        the caller's transaction; how many."""
        count = 0
        for row in session.scalars(select(StoredDocument).order_by(StoredDocument.id)):
            row.salt, row.nonce, row.ciphertext = new._seal(self._open(row), row.document_hash, row.org_id, row.kind)
            count += 1
        return count

    def has(self, digest: bytes, org_id: int, kind: Kind) -> bool:
        with self.sessions() as session:
            return _find(session, digest, org_id, kind) is not None

    def open(self, digest: bytes, org_id: int, kind: Kind) -> OpenedDocument | None:
        """The plaintext of a kept document, or None if the service keeps none with this hash."""
        with self.sessions() as session:
            row = _find(session, digest, org_id, kind)
            if row is None:
                return None
            content = self._open(row)
            return OpenedDocument(digest, org_id, row.kind, row.filename, row.content_type, content)


def _find(session: Session, digest: bytes, org_id: int, kind: str) -> StoredDocument | None:
    return session.scalar(select(StoredDocument).where(
        StoredDocument.document_hash == digest, StoredDocument.org_id == org_id, StoredDocument.kind == str(kind)))

"""Custodial keys: members' private keys kept by the service, encrypted at rest.

Each key is sealed with AES-256-GCM under a key-encryption key derived by scrypt from
the service secret and a per-key salt; the member's address is the associated data.
Derived KEKs and opened accounts are cached in memory for the life of the process.
"""

from __future__ import annotations

import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.models.identity import CustodialKey

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class KeyNotFound(LookupError):
    """The service keeps no key for this address."""


class KeyUnsealError(RuntimeError):
    """A sealed key does not open with this secret (wrong secret or tampered row)."""


class KeyStore:
    def __init__(self, sessions: sessionmaker[Session], secret: str) -> None:
        self.sessions = sessions
        self._secret = secret.encode()
        self._keks: dict[bytes, bytes] = {}
        self._accounts: dict[str, LocalAccount] = {}
        self._lock = threading.Lock()

    def _kek(self, salt: bytes) -> bytes:
        kek = self._keks.get(salt)
        if kek is None:
            kek = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(self._secret)
            self._keks[salt] = kek
        return kek

    def seal(self, account: LocalAccount, salt: bytes | None = None) -> CustodialKey:
        salt = salt or os.urandom(16)
        nonce = os.urandom(12)
        ciphertext = AESGCM(self._kek(salt)).encrypt(nonce, bytes(account.key), account.address.encode())
        return CustodialKey(address=account.address, salt=salt, nonce=nonce, ciphertext=ciphertext)

    def create(self, label: str = "") -> LocalAccount:
        """A new key, stored sealed; returns its account."""
        account: LocalAccount = Account.create()
        self.store(account, label)
        return account

    def store(self, account: LocalAccount, label: str = "") -> None:
        row = self.seal(account)
        row.label = label
        with self.sessions.begin() as session:
            session.merge(row)
        with self._lock:
            self._accounts[account.address] = account

    def opened(self, address: str) -> bool:
        """Whether the member's key is open in this process (held, so `has` would not ask the database)."""
        return address in self._accounts

    def has(self, address: str) -> bool:
        if address in self._accounts:
            return True
        with self.sessions() as session:
            return session.get(CustodialKey, address) is not None

    def account(self, address: str) -> LocalAccount:
        """The opened account of a custodial member."""
        cached = self._accounts.get(address)
        if cached is not None:
            return cached
        with self.sessions() as session:
            row = session.get(CustodialKey, address)
        if row is None:
            raise KeyNotFound(address)
        account = self._open(row)
        with self._lock:
            self._accounts[address] = account
        return account

    def _open(self, row: CustodialKey) -> LocalAccount:
        try:
            key = AESGCM(self._kek(row.salt)).decrypt(row.nonce, row.ciphertext, row.address.encode())
        except InvalidTag:
            raise KeyUnsealError(f"the custodial key of {row.address} does not open with this secret") from None
        account: LocalAccount = Account.from_key(key)
        return account

    def verify_secret(self) -> None:
        """Raise KeyUnsealError unless this secret opens the oldest stored key (if any is stored): a service started
        with another secret than its database was sealed with stops at once rather than at its first signature."""
        with self.sessions() as session:
            row = session.scalars(select(CustodialKey).order_by(CustodialKey.created_at, CustodialKey.address)
                                  .limit(1)).first()
        if row is not None:
            self._open(row)

    def reseal_all(self, session: Session, new: KeyStore) -> int:
        """Open every stored key with this secret and seal it again with `new`'s (fresh salt and nonce), in the
        caller's transaction; how many."""
        count = 0
        for row in session.scalars(select(CustodialKey).order_by(CustodialKey.address)):
            sealed = new.seal(self._open(row))
            row.salt, row.nonce, row.ciphertext = sealed.salt, sealed.nonce, sealed.ciphertext
            count += 1
        return count

"""Requests signed by a member's own key (EIP-191 personal message).

The signed message is five lines: method, path (with query), timestamp (Unix
seconds), nonce, and the SHA-256 hex of the body:

    POST
    /api/v1/allowances/transfers
    1767225600
    3f0c...
    9b74...

sent as headers `X-CL-Address`, `X-CL-Timestamp`, `X-CL-Nonce`, `X-CL-Signature`. A
timestamp outside the window, or a nonce the address used before, is refused. Nonces are stored only
for members (`check`, then `remember` once the signer is known to be one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.db.models.identity import RequestNonce
from ledger_core.db.models.types import utc_now

MAX_NONCE_LENGTH = 128


class SignatureInvalid(PermissionError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def request_message(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    return "\n".join((method.upper(), path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()))


@dataclass(frozen=True)
class SignedHeaders:
    address: str
    timestamp: int
    nonce: str
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {"X-CL-Address": self.address, "X-CL-Timestamp": str(self.timestamp), "X-CL-Nonce": self.nonce,
                "X-CL-Signature": self.signature}


def sign_request(account: LocalAccount, method: str, path: str, body: bytes, timestamp: int,
                 nonce: str) -> SignedHeaders:
    """What a client sends (used by clients and tests)."""
    message = encode_defunct(text=request_message(method, path, timestamp, nonce, body))
    signature = account.sign_message(message).signature
    return SignedHeaders(account.address, timestamp, nonce, "0x" + bytes(signature).hex())


class SignedRequests:
    def __init__(self, sessions: sessionmaker[Session], window_seconds: int) -> None:
        self.sessions = sessions
        self.window = window_seconds

    def check(self, method: str, path: str, body: bytes, headers: SignedHeaders) -> str:
        """The signing address of a well-formed, fresh, correctly signed request; nothing is stored (the caller
        then `remember`s the nonce, for members only, so that nobody else can fill the table of nonces)."""
        now = int(utc_now().timestamp())
        if abs(now - headers.timestamp) > self.window:
            raise SignatureInvalid("request timestamp outside the accepted window")
        if not headers.nonce or len(headers.nonce) > MAX_NONCE_LENGTH:
            raise SignatureInvalid("request nonce missing or too long")
        message = encode_defunct(text=request_message(method, path, headers.timestamp, headers.nonce, body))
        try:
            signer = Account.recover_message(message, signature=headers.signature)
            claimed = to_checksum_address(headers.address)
        except Exception:
            raise SignatureInvalid("unreadable signature or address") from None
        if signer != claimed:
            raise SignatureInvalid("signature does not match the address")
        return str(signer)

    def remember(self, signer: str, nonce: str) -> None:
        """Record the nonce of `signer`'s request; raises SignatureInvalid if it was used before (a replay)."""
        try:
            with self.sessions.begin() as session:
                session.execute(delete(RequestNonce).where(
                    RequestNonce.seen_at < utc_now() - timedelta(seconds=2 * self.window)))
                session.add(RequestNonce(address=signer, nonce=nonce))
        except IntegrityError:
            raise SignatureInvalid("request nonce already used") from None

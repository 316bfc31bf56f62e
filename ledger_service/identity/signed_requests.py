"""Requests signed by a member's own key, in one of two forms (the README's "Signed requests" gives both).

`eip191` (the default): an EIP-191 personal message of five lines: method, path (with query), timestamp (Unix
seconds), nonce, and the SHA-256 hex of the body:

    POST
    /api/v1/allowances/transfers
    1767225600
    3f0c...
    9b74...

`eip712`: EIP-712 typed data, so that a wallet shows each field of what it signs: the domain
`CarbonLedger` version `1` with the chain id and Membership's address (one deployment's requests are not
accepted by another on the same chain id), and `Request(string method,string path,bytes32 bodyHash,
uint256 timestamp,string nonce)` with the same values (the body's SHA-256 as bytes32).

Either is sent as headers `X-CL-Address`, `X-CL-Timestamp`, `X-CL-Nonce`, `X-CL-Signature`, and
`X-CL-Signature-Scheme` naming the form (absent: `eip191`). A timestamp outside the window, or a nonce the
address used before (in either form), is refused. Nonces are stored only for members (`check`, then
`remember` once the signer is known to be one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.db.models.identity import RequestNonce
from ledger_core.db.models.types import utc_now

MAX_NONCE_LENGTH = 128
EIP191, EIP712 = "eip191", "eip712"
SCHEMES = (EIP191, EIP712)
DOMAIN_NAME = "CarbonLedger"
DOMAIN_VERSION = "1"
REQUEST_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    "Request": [{"name": "method", "type": "string"}, {"name": "path", "type": "string"},
                {"name": "bodyHash", "type": "bytes32"}, {"name": "timestamp", "type": "uint256"},
                {"name": "nonce", "type": "string"}],
}


class SignatureInvalid(PermissionError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def request_message(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    return "\n".join((method.upper(), path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()))


@dataclass(frozen=True)
class RequestDomain:
    """The EIP-712 domain of one deployment's signed requests."""

    chain_id: int
    verifying_contract: str  # Membership's address: never replaced by an upgrade

    def as_dict(self) -> dict[str, str | int]:
        return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": self.chain_id,
                "verifyingContract": self.verifying_contract}


def typed_request(domain: RequestDomain, method: str, path: str, timestamp: int, nonce: str,
                  body: bytes) -> dict[str, object]:
    """The EIP-712 typed data of a request (`eth_signTypedData_v4`'s argument)."""
    return {"types": REQUEST_TYPES, "primaryType": "Request", "domain": domain.as_dict(),
            "message": {"method": method.upper(), "path": path, "bodyHash": "0x" + hashlib.sha256(body).hexdigest(),
                        "timestamp": timestamp, "nonce": nonce}}


@dataclass(frozen=True)
class SignedHeaders:
    address: str
    timestamp: int
    nonce: str
    signature: str
    scheme: str = EIP191

    def as_dict(self) -> dict[str, str]:
        return {"X-CL-Address": self.address, "X-CL-Timestamp": str(self.timestamp), "X-CL-Nonce": self.nonce,
                "X-CL-Signature": self.signature, "X-CL-Signature-Scheme": self.scheme}


def sign_request(account: LocalAccount, method: str, path: str, body: bytes, timestamp: int,
                 nonce: str) -> SignedHeaders:
    """What a client sends, EIP-191 form (used by clients and tests)."""
    message = encode_defunct(text=request_message(method, path, timestamp, nonce, body))
    signature = account.sign_message(message).signature
    return SignedHeaders(account.address, timestamp, nonce, "0x" + bytes(signature).hex())


def sign_typed_request(account: LocalAccount, domain: RequestDomain, method: str, path: str, body: bytes,
                       timestamp: int, nonce: str) -> SignedHeaders:
    """What a client sends, EIP-712 form (used by clients and tests)."""
    message = encode_typed_data(full_message=typed_request(domain, method, path, timestamp, nonce, body))
    signature = account.sign_message(message).signature
    return SignedHeaders(account.address, timestamp, nonce, "0x" + bytes(signature).hex(), EIP712)


class SignedRequests:
    def __init__(self, sessions: sessionmaker[Session], window_seconds: int, domain: RequestDomain) -> None:
        self.sessions = sessions
        self.window = window_seconds
        self.domain = domain

    def _message(self, method: str, path: str, body: bytes, headers: SignedHeaders) -> SignableMessage:
        if headers.scheme == EIP712:
            return encode_typed_data(full_message=typed_request(self.domain, method, path, headers.timestamp,
                                                                headers.nonce, body))
        return encode_defunct(text=request_message(method, path, headers.timestamp, headers.nonce, body))

    def check(self, method: str, path: str, body: bytes, headers: SignedHeaders) -> str:
        """The signing address of a well-formed, fresh, correctly signed request; nothing is stored (the caller
        then `remember`s the nonce, for members only, so that nobody else can fill the table of nonces)."""
        now = int(utc_now().timestamp())
        if abs(now - headers.timestamp) > self.window:
            raise SignatureInvalid("request timestamp outside the accepted window")
        if not headers.nonce or len(headers.nonce) > MAX_NONCE_LENGTH:
            raise SignatureInvalid("request nonce missing or too long")
        if headers.scheme not in SCHEMES:
            raise SignatureInvalid(f"unknown signature scheme {headers.scheme[:32]!r}: {' or '.join(SCHEMES)}")
        try:
            signer = Account.recover_message(self._message(method, path, body, headers),
                                             signature=headers.signature)
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

"""Sign-In with Ethereum (EIP-4361) messages: written by the server for one address and nonce, checked field by
field when they come back signed, and the signer recovered from the EIP-191 personal-message signature.

The layout (EIP-4361, without the optional Not Before, Request ID and Resources lines):

    {domain} wants you to sign in with your Ethereum account:
    {address}

    {statement}

    URI: {uri}
    Version: 1
    Chain ID: {chain id}
    Nonce: {nonce}
    Issued At: {RFC 3339, UTC}
    Expiration Time: {RFC 3339, UTC}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

STATEMENT = "Sign in to the CarbonLedger console."
ISSUED_AT_SKEW = timedelta(seconds=60)  # clocks of wallet and server may differ a little; the server wrote it anyway

_LAYOUT = re.compile(
    r"(?P<domain>[^\n ]+) wants you to sign in with your Ethereum account:\n(?P<address>0x[0-9a-fA-F]{40})\n\n"
    r"(?P<statement>[^\n]*)\n\nURI: (?P<uri>[^\n]+)\nVersion: (?P<version>[^\n]+)\nChain ID: (?P<chain_id>[0-9]+)\n"
    r"Nonce: (?P<nonce>[0-9a-zA-Z]{8,64})\nIssued At: (?P<issued_at>[^\n]+)\nExpiration Time: (?P<expires_at>[^\n]+)")


class SiweInvalid(PermissionError):
    """The message or its signature does not hold; `reason` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expires_at: datetime
    statement: str = STATEMENT
    version: str = "1"

    def text(self) -> str:
        return (f"{self.domain} wants you to sign in with your Ethereum account:\n{self.address}\n\n{self.statement}"
                f"\n\nURI: {self.uri}\nVersion: {self.version}\nChain ID: {self.chain_id}\nNonce: {self.nonce}\n"
                f"Issued At: {_stamp(self.issued_at)}\nExpiration Time: {_stamp(self.expires_at)}")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SiweInvalid(f"{field} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise SiweInvalid(f"{field} has no time zone")
    return moment.astimezone(UTC)


def parse(text: str) -> SiweMessage:
    found = _LAYOUT.fullmatch(text.replace("\r\n", "\n").strip())
    if found is None:
        raise SiweInvalid("not a Sign-In with Ethereum message")
    if not is_address(found["address"]):
        raise SiweInvalid("the address is not a valid (checksummed) address")
    return SiweMessage(found["domain"], to_checksum_address(found["address"]), found["uri"], int(found["chain_id"]),
                       found["nonce"], _instant(found["issued_at"], "Issued At"),
                       _instant(found["expires_at"], "Expiration Time"), found["statement"], found["version"])


def recover(text: str, signature: str) -> str:
    """The address whose key signed `text` as an EIP-191 personal message."""
    try:
        return to_checksum_address(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # malformed hex, wrong length, invalid v/r/s: all the same to the caller
        raise SiweInvalid("the signature does not recover an address") from None


def check(message: SiweMessage, *, domain: str, uri: str, chain_id: int, issued_at: datetime,
          now: datetime) -> None:
    """Every field the server wrote is as it wrote it, and the message is live at `now`."""
    if message.domain != domain:
        raise SiweInvalid(f"the message is for domain {message.domain}, not {domain}")
    if message.uri != uri:
        raise SiweInvalid(f"the message is for URI {message.uri}, not {uri}")
    if message.version != "1":
        raise SiweInvalid("only version 1 messages are accepted")
    if message.chain_id != chain_id:
        raise SiweInvalid(f"the message is for chain {message.chain_id}, not {chain_id}")
    if abs(message.issued_at - issued_at) > timedelta(seconds=1):
        raise SiweInvalid("Issued At is not the time the nonce was issued")
    if message.issued_at > now + ISSUED_AT_SKEW:
        raise SiweInvalid("Issued At is in the future")
    if message.expires_at <= now:
        raise SiweInvalid("the message has expired")

"""Sign transactions with libsecp256k1 straight from pre-encoded RLP pieces.

eth-account builds a typed transaction from a dict, validates and normalises every
field, re-derives the public key from the private key and RLP-encodes through
generic serialisers on every call: about a millisecond a transaction. Here a
`TxTemplate` RLP-encodes the fields common to many transactions (chain id, fees) once;
signing one transaction encodes its nonce, gas, recipient, value and calldata,
hashes, signs with coincurve (RFC 6979 nonces and low-s signatures, as eth-account
through eth-keys) and appends the signature. The bytes and hash are those
eth-account produces for the same fields (tests compare them).

EIP-1559 (type 2) transactions where the fee fields have `maxFeePerGas`, legacy
EIP-155 transactions where they have `gasPrice`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from coincurve import PrivateKey
from eth_hash.auto import keccak

EMPTY_LIST = b"\xc0"


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded


def rlp_bytes(value: bytes) -> bytes:
    if len(value) == 1 and value[0] < 0x80:
        return value
    return _length_prefix(len(value), 0x80) + value


def rlp_int(value: int) -> bytes:
    if value < 0:
        raise ValueError("RLP encodes only non-negative integers")
    if value == 0:
        return b"\x80"
    return rlp_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rlp_list(payload: bytes) -> bytes:
    """A list whose items are already encoded and concatenated in `payload`."""
    return _length_prefix(len(payload), 0xC0) + payload


@dataclass(frozen=True)
class SignedTx:
    raw: bytes
    tx_hash: bytes


class TxTemplate:
    """The fields shared by a chain's transactions (chain id and fees), encoded once."""

    def __init__(self, chain_id: int, fees: Mapping[str, int]) -> None:
        self.chain_id = chain_id
        self.fees = dict(fees)
        if "maxFeePerGas" in fees:
            self.typed = True
            self._head = rlp_int(chain_id)
            self._fees = rlp_int(int(fees["maxPriorityFeePerGas"])) + rlp_int(int(fees["maxFeePerGas"]))
        elif "gasPrice" in fees:
            self.typed = False
            self._head = b""
            self._fees = rlp_int(int(fees["gasPrice"]))
            self._eip155_tail = rlp_int(chain_id) + b"\x80\x80"
        else:
            raise ValueError("fees need maxFeePerGas (EIP-1559) or gasPrice (legacy)")

    def sign(self, key: PrivateKey, nonce: int, gas: int, to: bytes, value: int, data: bytes) -> SignedTx:
        """`to`: the 20-byte address; `key`: a coincurve key (keep one per signer)."""
        body = self._fees + rlp_int(gas) + rlp_bytes(to) + rlp_int(value) + rlp_bytes(data)
        if self.typed:
            fields = self._head + rlp_int(nonce) + body + EMPTY_LIST
            signature = key.sign_recoverable(keccak(b"\x02" + rlp_list(fields)), hasher=None)
            raw = b"\x02" + rlp_list(fields + rlp_int(signature[64]) + self._scalar(signature[:32])
                                     + self._scalar(signature[32:64]))
        else:
            fields = rlp_int(nonce) + body
            signature = key.sign_recoverable(keccak(rlp_list(fields + self._eip155_tail)), hasher=None)
            v = self.chain_id * 2 + 35 + signature[64]
            raw = rlp_list(fields + rlp_int(v) + self._scalar(signature[:32]) + self._scalar(signature[32:64]))
        return SignedTx(raw, keccak(raw))

    @staticmethod
    def _scalar(word: bytes) -> bytes:
        return rlp_bytes(word.lstrip(b"\x00"))


def signing_key(private_key: bytes) -> PrivateKey:
    return PrivateKey(bytes(private_key))

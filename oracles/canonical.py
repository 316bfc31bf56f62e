"""Canonical byte encodings of `contracts/COMMITMENTS.md`: the signed meter message and the reading record.

A device signs the *message* encoding (its readings exactly as sent); the oracle commits
each accepted reading through its *record* encoding (canonical quantity, factor set,
scope and emissions), whose SHA-256 is the reading's digest in the Merkle-sum tree.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import NamedTuple

from oracles.merkle_sum import labelled_id

MESSAGE_TAG = b"CLM1"
RECORD_TAG = b"CLR1"
MAX_U64 = (1 << 64) - 1

_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_u64_pair = struct.Struct(">QQ").pack
_u32 = struct.Struct(">I").pack
_u16 = struct.Struct(">H").pack
_sha256 = hashlib.sha256


class EncodingError(ValueError):
    """A field cannot be represented in the canonical encoding."""


class MessageReading(NamedTuple):
    """One reading as a device sends it: the quantity, unit and carrier are the device's text."""

    sequence: int
    timestamp: int  # seconds since the epoch, UTC
    quantity: str
    unit: str
    carrier: str


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """Readings of one device with the device's Ed25519 signature over `message_bytes`."""

    device: str
    readings: tuple[MessageReading, ...]
    signature: bytes


class ReadingRecord(NamedTuple):
    """The committed form of an accepted reading (COMMITMENTS.md, "The reading leaf")."""

    device_hash: bytes
    sequence: int
    timestamp: int
    quantity: str  # canonical decimal
    unit: str
    carrier: str
    factor_set_hash: bytes
    scope: int
    value: int  # mgCO2e


def is_plain_decimal(text: str) -> bool:
    """Digits with an optional fractional part: no sign, exponent, spaces or separators."""
    return _PLAIN_DECIMAL.fullmatch(text) is not None


def canonical_decimal(text: str) -> str:
    """The canonical form of a plain decimal: `012.50` -> `12.5`, `0.0` -> `0`, `7.000` -> `7`."""
    if not is_plain_decimal(text):
        raise EncodingError(f"not a plain decimal: {text!r}")
    whole, _, fraction = text.partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _short_text(text: str, limit: int, what: str) -> bytes:
    data = text.encode()
    if len(data) > limit:
        raise EncodingError(f"{what} longer than {limit} bytes")
    return data


def _check_u64(value: int, what: str) -> None:
    if not 0 <= value <= MAX_U64:
        raise EncodingError(f"{what} is not a uint64: {value}")


def message_bytes(device: str, readings: tuple[MessageReading, ...] | list[MessageReading]) -> bytes:
    """The bytes a device signs: `"CLM1" || H(device) || u32 count || readings` (COMMITMENTS.md)."""
    parts = [MESSAGE_TAG, labelled_id(device), _u32(len(readings))]
    for r in readings:
        _check_u64(r.sequence, "sequence")
        _check_u64(r.timestamp, "timestamp")
        quantity = _short_text(r.quantity, 0xFFFF, "quantity")
        unit = _short_text(r.unit, 0xFF, "unit")
        carrier = _short_text(r.carrier, 0xFF, "carrier")
        parts.append(
            _u64_pair(r.sequence, r.timestamp)
            + _u16(len(quantity))
            + quantity
            + bytes((len(unit),))
            + unit
            + bytes((len(carrier),))
            + carrier
        )
    return b"".join(parts)


def record_bytes(record: ReadingRecord) -> bytes:
    """The canonical reading record `"CLR1" || deviceId || ... || value:u128`."""
    quantity = record.quantity.encode("ascii")
    unit = record.unit.encode("ascii")
    carrier = record.carrier.encode("ascii")
    return b"".join(
        (
            RECORD_TAG,
            record.device_hash,
            _u64_pair(record.sequence, record.timestamp),
            _u16(len(quantity)),
            quantity,
            bytes((len(unit),)),
            unit,
            bytes((len(carrier),)),
            carrier,
            record.factor_set_hash,
            bytes((record.scope,)),
            record.value.to_bytes(16, "big"),
        )
    )


def record_digest(record: ReadingRecord) -> bytes:
    """The leaf digest of a reading: SHA-256 of its canonical record."""
    return _sha256(record_bytes(record)).digest()


def factor_set_hash(factor_set_id: str) -> bytes:
    """`factorSetId` of the record and of `MeterAnchor.anchor`: SHA-256 of the factor set id; 32 zero
    bytes for the empty id of production readings and windows, which no factor set values."""
    return labelled_id(factor_set_id) if factor_set_id else bytes(32)


def public_key_hash(public_key: bytes) -> bytes:
    """The on-chain `publicKeyHash` of a device: SHA-256 of its raw 32-byte Ed25519 public key."""
    if len(public_key) != 32:
        raise EncodingError("an Ed25519 public key is 32 bytes")
    return _sha256(public_key).digest()

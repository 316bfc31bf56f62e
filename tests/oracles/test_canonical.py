"""The canonical encodings of COMMITMENTS.md: decimals, the signed message, the reading record."""

from __future__ import annotations

import hashlib
import struct

import pytest

from oracles.canonical import (
    EncodingError,
    MessageReading,
    ReadingRecord,
    canonical_decimal,
    factor_set_hash,
    message_bytes,
    public_key_hash,
    record_bytes,
    record_digest,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("12.5", "12.5"), ("12.50", "12.5"), ("012.50", "12.5"), ("0.003", "0.003"), ("7", "7"), ("7.000", "7"),
     ("0", "0"), ("000", "0"), ("0.0", "0"), ("0.5", "0.5")],
)
def test_canonical_decimal_drops_leading_and_trailing_zeros(text, canonical):
    assert canonical_decimal(text) == canonical


@pytest.mark.parametrize("text", ["", "-1", "+1", "1e3", "1.", ".5", " 1", "1_000", "NaN", "1,5"])
def test_only_plain_decimals_have_a_canonical_form(text):
    with pytest.raises(EncodingError):
        canonical_decimal(text)


def test_message_bytes_follow_the_documented_layout():
    readings = (MessageReading(7, 1_704_067_200, "12.50", "kWh", "electricity"),
                MessageReading(8, 1_704_067_260, "3", "kWh", "electricity"))
    expected = (
        b"CLM1"
        + hashlib.sha256(b"ENT11-F1-W1-D001").digest()
        + struct.pack(">I", 2)
        + struct.pack(">QQ", 7, 1_704_067_200) + struct.pack(">H", 5) + b"12.50" + b"\x03kWh" + b"\x0belectricity"
        + struct.pack(">QQ", 8, 1_704_067_260) + struct.pack(">H", 1) + b"3" + b"\x03kWh" + b"\x0belectricity"
    )
    assert message_bytes("ENT11-F1-W1-D001", readings) == expected


def test_message_fields_that_do_not_fit_cannot_be_encoded():
    with pytest.raises(EncodingError):
        message_bytes("D", [MessageReading(1, 1, "1", "u" * 256, "electricity")])
    with pytest.raises(EncodingError):
        message_bytes("D", [MessageReading(1 << 64, 1, "1", "kWh", "electricity")])


def test_record_bytes_follow_the_documented_layout():
    device = hashlib.sha256(b"ENT11-F1-W1-D001").digest()
    fs = factor_set_hash("CN-2023-v1")
    record = ReadingRecord(device, 7, 1_704_067_200, "12.5", "kWh", "electricity", fs, 2, 6_632_500)
    expected = (
        b"CLR1" + device + struct.pack(">QQ", 7, 1_704_067_200) + b"\x00\x0412.5" + b"\x03kWh" + b"\x0belectricity"
        + fs + b"\x02" + (6_632_500).to_bytes(16, "big")
    )
    assert record_bytes(record) == expected
    assert record_digest(record) == hashlib.sha256(expected).digest()
    assert fs == hashlib.sha256(b"CN-2023-v1").digest()


def test_public_key_hash_is_sha256_of_the_raw_key():
    key = bytes(range(32))
    assert public_key_hash(key) == hashlib.sha256(key).digest()
    with pytest.raises(EncodingError):
        public_key_hash(key[:31])

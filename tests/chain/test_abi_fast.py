"""The fast argument encoder gives eth-abi's bytes for every value eth-abi accepts, refuses what eth-abi refuses,
and leaves the types it does not handle to eth-abi."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_abi.exceptions import EncodingError
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.chain.abi_fast import tuple_encoder
from ledger_core.chain.addresses import to_checksum_address

addresses = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address("0x" + b.hex()))
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "address": addresses,
    "bool": st.booleans(),
    "uint256": st.integers(0, 2**256 - 1),
    "uint8": st.integers(0, 255),
    "uint64": st.integers(0, 2**64 - 1),
    "int256": st.integers(-(2**255), 2**255 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "bytes32": st.binary(min_size=0, max_size=32),
    "bytes4": st.binary(min_size=0, max_size=4),
    "bytes": st.binary(max_size=100),
    "string": st.text(max_size=40),
    "address[]": st.lists(addresses, max_size=5),
    "uint256[]": st.lists(st.integers(0, 2**256 - 1), max_size=5),
    "bytes32[]": st.lists(st.binary(min_size=32, max_size=32), max_size=5),
    "bool[]": st.lists(st.booleans(), max_size=5),
}


@st.composite
def typed_arguments(draw: st.DrawFn) -> tuple[tuple[str, ...], list[Any]]:
    types = tuple(draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=0, max_size=6)))
    return types, [draw(VALUES[t]) for t in types]


@settings(max_examples=300, deadline=None)
@given(typed_arguments())
def test_every_accepted_value_is_encoded_exactly_as_eth_abi_encodes_it(case: tuple[tuple[str, ...], list[Any]]):
    types, args = case
    fast = tuple_encoder(types)
    assert fast is not None
    assert fast(args) == encode(list(types), args)


@pytest.mark.parametrize(("abi_type", "value"), [
    ("uint256", -1), ("uint256", 2**256), ("uint8", 256), ("uint256", True), ("uint256", "1"), ("uint256", 1.0),
    ("int8", 128), ("int8", -129), ("bool", 1), ("bool", "true"),
    ("address", "0x12"), ("address", "0x66b8cd1a378d4BD2C2E03a5036f0881A4c69Aa8G"),
    ("address", "0x66b8cd1a378d4BD2C2E03a5036f0881A4c69Aa86\n"),
    ("address", " 0x66b8cd1a378d4BD2C2E03a5036f0881A4c69Aa86"),
    ("address", b"\x01" * 19), ("bytes4", b"\x00" * 5), ("bytes32", "0x00"), ("bytes", "0x00"), ("string", b"x"),
    ("uint256[]", 5), ("uint256[]", [1, -1]), ("address[]", ["0x12"]),
])
def test_a_value_eth_abi_refuses_is_refused(abi_type: str, value: Any):
    with pytest.raises(EncodingError):
        encode([abi_type], [value])
    fast = tuple_encoder((abi_type,))
    assert fast is not None
    with pytest.raises(EncodingError):
        fast([value])


def test_addresses_in_any_letter_case_and_as_raw_bytes_are_accepted_as_eth_abi_accepts_them():
    checksummed = "0x66b8cd1a378d4BD2C2E03a5036f0881A4c69Aa86"
    for value in (checksummed, checksummed.lower(), "0x" + checksummed[2:].upper(), checksummed[:-1] + "A",
                  bytes.fromhex(checksummed[2:])):
        assert tuple_encoder(("address",))([value]) == encode(["address"], [value])  # type: ignore[misc]


def test_a_wrong_number_of_arguments_is_refused():
    with pytest.raises(EncodingError):
        tuple_encoder(("uint256", "bool"))([1])  # type: ignore[misc]


@pytest.mark.parametrize("types", [("(uint256,address)",), ("uint256[2]",), ("string[]",), ("bytes[]",),
                                   ("uint7",), ("bytes33",), ("fixed128x18",)])
def test_types_it_does_not_handle_are_left_to_eth_abi(types: tuple[str, ...]):
    assert tuple_encoder(types) is None

"""An anchor record's commitment is keccak-256 of its ABI encoding, whichever way it is written; every window's
path in a batch is the one `batch_proof` gives and leads to the batch root."""

from __future__ import annotations

import random

import pytest
from eth_abi import encode
from eth_abi.exceptions import EncodingError
from eth_utils import keccak

from oracles.anchor_records import AnchorRecord, batch_proof, batch_proofs, batch_root, fold_batch

TYPES = ["uint256", "uint64", "uint8", "uint64", "uint64", "bytes32", "uint128", "uint64", "bytes32", "uint256",
         "address"]
BITS = (256, 64, 8, 64, 64, 0, 128, 64, 0, 256)


def abi_commitment(record: AnchorRecord) -> bytes:
    return keccak(encode(TYPES, list(record.as_abi())))


def test_the_commitment_is_the_abi_encoding_s_hash_at_every_field_s_bounds():
    rng = random.Random(5)
    for _ in range(500):
        fields = [rng.randbytes(32) if bits == 0 else rng.choice([0, (1 << bits) - 1, rng.getrandbits(bits)])
                  for bits in BITS]
        oracle = "0x" + rng.randbytes(20).hex()
        record = AnchorRecord(*fields, rng.choice([oracle, oracle.upper().replace("0X", "0x")]))
        assert record.commitment() == abi_commitment(record)


@pytest.mark.parametrize("field, value", [(2, 256), (1, -1), (5, b"\x01" * 31)])
def test_a_value_out_of_its_type_is_refused_as_the_abi_encoder_refuses_it(field, value):
    fields: list[object] = [1, 2, 0, 3, 4, b"\x05" * 32, 6, 7, b"\x08" * 32, 9, "0x" + "11" * 20]
    fields[field] = value
    record = AnchorRecord(*fields)  # type: ignore[arg-type]
    if isinstance(value, bytes):  # a short bytes32 is padded by the encoder, as the contract would read it
        assert record.commitment() == abi_commitment(record)
        return
    with pytest.raises(EncodingError):
        record.commitment()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 100])
def test_every_window_s_path_in_a_batch_is_the_one_proved_alone(size):
    leaves = [keccak(i.to_bytes(4, "big")) for i in range(size)]
    paths = batch_proofs(leaves)
    assert paths == [batch_proof(leaves, i) for i in range(size)]
    assert {fold_batch(leaf, path) for leaf, path in zip(leaves, paths, strict=True)} == {batch_root(leaves)}

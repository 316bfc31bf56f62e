"""The outbox's signer produces the very bytes and hash eth-account produces for the same transaction."""

from __future__ import annotations

import random

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from ledger_core.chain.signing import TxTemplate, rlp_bytes, rlp_int, signing_key

FEES = [
    {"maxFeePerGas": 2 * 10**9 + 7, "maxPriorityFeePerGas": 10**9},
    {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0},
    {"gasPrice": 10**9},
    {"gasPrice": 0},
]


@pytest.mark.parametrize("fees", FEES, ids=["eip1559", "eip1559-free", "legacy", "legacy-free"])
@pytest.mark.parametrize("chain_id", [1, 1337, 31337, 2**40])
def test_signed_bytes_and_hash_match_eth_account(fees: dict[str, int], chain_id: int):
    rng = random.Random(chain_id)
    template = TxTemplate(chain_id, fees)
    for i in range(25):
        account = Account.create()
        to = rng.randbytes(20)
        data = rng.randbytes(rng.choice([0, 1, 4, 55, 56, 300]))
        nonce, gas, value = rng.choice([0, 1, 127, 128, 2**20]) + i, rng.randrange(21_000, 15_000_000), rng.choice(
            [0, 1, 10**18])
        ours = template.sign(signing_key(account.key), nonce, gas, to, value, data)
        theirs = account.sign_transaction({"to": to_checksum_address(to), "data": data, "value": value,
                                           "chainId": chain_id, "nonce": nonce, "gas": gas, **fees})
        assert ours.raw == bytes(theirs.raw_transaction)
        assert ours.tx_hash == bytes(theirs.hash)


def test_rlp_of_integers_and_strings():
    assert rlp_int(0) == b"\x80"
    assert rlp_int(15) == b"\x0f"
    assert rlp_int(1024) == b"\x82\x04\x00"
    assert rlp_bytes(b"") == b"\x80"
    assert rlp_bytes(b"dog") == b"\x83dog"
    assert rlp_bytes(b"a" * 56)[:2] == b"\xb8\x38"
    with pytest.raises(ValueError):
        rlp_int(-1)


def test_fees_must_name_a_transaction_type():
    with pytest.raises(ValueError, match="maxFeePerGas"):
        TxTemplate(1, {})

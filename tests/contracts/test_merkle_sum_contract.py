"""MerkleSum.sol reproduces every shared vector of contracts/COMMITMENTS.md and refuses forged or malformed proofs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger_core.chain.deploy import bind
from oracles import merkle_sum as ms
from tests.contracts.proofs import ENTERPRISE, VECTORS, as_abi, b32, deep_proof, node, node_dict, steps, subtotals
from tests.contracts.structs import view
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

HARNESS = "MerkleSumHarness"
ROOT = b32(ENTERPRISE["root"]["hash"])
READINGS = ENTERPRISE["readings"]


@pytest.fixture
def harness(ledger: Ledger) -> Iterator[Ledger]:
    """The ledger with the test-only MerkleSumHarness deployed (undone with the snapshot)."""
    art = ledger.artifacts[HARNESS]
    factory = ledger.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = ledger.senders["regulator"].deploy(factory)
    ledger.contracts.update(bind(ledger.w3, ledger.artifacts, {HARNESS: str(receipt["contractAddress"])}))
    yield ledger
    del ledger.contracts[HARNESS]


# ---------------------------------------------------------------------- node encodings


def test_leaves_match_the_vectors(harness: Ledger) -> None:
    for v in VECTORS["leaves"]:
        assert view(harness, HARNESS, "leaf", b32(v["digest"]), int(v["value"])) == node_dict(v["node"])


def test_pairs_match_the_vectors(harness: Ledger) -> None:
    for v in VECTORS["pairs"]:
        assert view(harness, HARNESS, "pair", node(v["left"]), node(v["right"])) == node_dict(v["node"])


def test_level_nodes_match_the_vectors(harness: Ledger) -> None:
    for v in VECTORS["levels"]:
        got = view(harness, HARNESS, "levelNode", v["level"], b32(v["id"]), node(v["child"]))
        assert got == node_dict(v["node"])


def test_roots_of_lists_match_the_vectors_including_promoted_odd_nodes(harness: Ledger) -> None:
    for v in VECTORS["roots"]:
        assert view(harness, HARNESS, "root", [node(n) for n in v["nodes"]]) == node_dict(v["root"])


def test_the_root_of_an_empty_list_is_refused(harness: Ledger) -> None:
    with reverts("EmptyList"):
        harness.call(HARNESS, "root", [])


def test_a_pair_whose_sum_overflows_uint128_is_refused(harness: Ledger) -> None:
    top = node(VECTORS["leaves"][4]["node"])  # value = 2**128 - 1
    one = node(VECTORS["leaves"][0]["node"])
    with reverts("SumOverflow"):
        harness.call(HARNESS, "pair", top, one)


def test_a_pair_whose_count_overflows_uint64_is_refused(harness: Ledger) -> None:
    full = (b"\x11" * 32, 1, 2**64 - 1)
    with reverts("SumOverflow"):
        harness.call(HARNESS, "pair", full, (b"\x22" * 32, 1, 1))


# ---------------------------------------------------------------------- proofs of the vector tree


def test_every_reading_folds_to_the_enterprise_root_with_its_subtotals(harness: Ledger) -> None:
    assert len(READINGS) == 14
    for r in READINGS:
        folded, got_subtotals = view(harness, HARNESS, "fold", b32(r["digest"]), int(r["value"]), steps(r["proof"]))
        assert folded == node_dict(ENTERPRISE["root"])
        assert got_subtotals == subtotals(r["subtotals"])


def test_every_reading_verifies_against_the_enterprise_root(harness: Ledger) -> None:
    for r in READINGS:
        valid, got_subtotals = view(
            harness, HARNESS, "verify", b32(r["digest"]), int(r["value"]), steps(r["proof"]), ROOT
        )
        assert valid
        assert got_subtotals == subtotals(r["subtotals"])


def _verifies(harness: Ledger, digest: bytes, value: int, proof: list[tuple[int, int, bytes, int, int]]) -> bool:
    valid, _ = harness.call(HARNESS, "verify", digest, value, proof, ROOT)
    return bool(valid)


def _flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


def _forge(proof: list[tuple[int, int, bytes, int, int]], index: int, field: int, value: object) -> list:
    forged = [list(s) for s in proof]
    forged[index][field] = value
    return [tuple(s) for s in forged]


@pytest.fixture
def reading() -> dict:
    """A reading deep in the tree (below a multi-device workshop with a 2**64 mg reading next door)."""
    return next(r for r in READINGS if r["device"] == "F2-W1-D2")


def test_a_changed_reading_value_or_digest_does_not_verify(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    assert _verifies(harness, digest, value, proof)
    assert not _verifies(harness, digest, value + 1, proof)
    assert not _verifies(harness, digest, value - 1, proof)
    assert not _verifies(harness, _flip(digest), value, proof)


def test_a_changed_sibling_hash_sum_or_count_does_not_verify(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    for i, step in enumerate(proof):
        if step[0] == ms.STEP_LEVEL:
            continue
        assert not _verifies(harness, digest, value, _forge(proof, i, 2, _flip(step[2]))), f"hash of step {i}"
        assert not _verifies(harness, digest, value, _forge(proof, i, 3, step[3] + 1)), f"sum of step {i}"
        assert not _verifies(harness, digest, value, _forge(proof, i, 4, step[4] + 1)), f"count of step {i}"
        # moving value from the sibling to the reading keeps the total but changes the hashes
        assert not _verifies(harness, digest, value + 1, _forge(proof, i, 3, step[3] - 1)), f"shifted sum {i}"


def test_a_sibling_on_the_wrong_side_does_not_verify(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    i = next(i for i, s in enumerate(proof) if s[0] == ms.STEP_RIGHT)
    assert not _verifies(harness, digest, value, _forge(proof, i, 0, ms.STEP_LEFT))


def test_a_changed_level_id_does_not_verify(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    for i, step in enumerate(proof):
        if step[0] == ms.STEP_LEVEL:
            assert not _verifies(harness, digest, value, _forge(proof, i, 2, _flip(step[2]))), f"id of wrap {i}"


def test_a_changed_level_number_does_not_verify(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    enterprise_wrap = len(proof) - 1
    assert proof[enterprise_wrap][:2] == (ms.STEP_LEVEL, ms.LEVEL_ENTERPRISE)
    assert not _verifies(harness, digest, value, _forge(proof, enterprise_wrap, 1, ms.LEVEL_PERIOD))
    device_wrap = next(i for i, s in enumerate(proof) if s[0] == ms.STEP_LEVEL)
    with reverts("LevelOutOfOrder", device_wrap, 0, 0):
        harness.call(HARNESS, "verify", digest, value, _forge(proof, device_wrap, 1, 0), ROOT)


def test_level_wraps_out_of_order_are_refused(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    wraps = [i for i, s in enumerate(proof) if s[0] == ms.STEP_LEVEL]
    workshop, facility = wraps[1], wraps[2]
    swapped = _forge(_forge(proof, workshop, 1, 3), facility, 1, 2)
    with reverts("LevelOutOfOrder", facility, 2, 3):
        harness.call(HARNESS, "verify", digest, value, swapped, ROOT)
    repeated = _forge(proof, facility, 1, 2)
    with reverts("LevelOutOfOrder", facility, 2, 2):
        harness.call(HARNESS, "fold", digest, value, repeated)


def test_a_level_zero_wrap_is_refused(harness: Ledger) -> None:
    with reverts("LevelOutOfOrder", 0, 0, 0):
        harness.call(HARNESS, "fold", b"\x01" * 32, 1, [(ms.STEP_LEVEL, 0, b"\x02" * 32, 0, 0)])


def test_an_unknown_step_kind_is_refused(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    with reverts("UnknownStepKind", 1, 3):
        harness.call(HARNESS, "verify", digest, value, _forge(proof, 1, 0, 3), ROOT)


def test_a_proof_for_another_root_does_not_verify(harness: Ledger, reading: dict) -> None:
    valid, _ = harness.call(
        HARNESS, "verify", b32(reading["digest"]), int(reading["value"]), steps(reading["proof"]), _flip(ROOT)
    )
    assert not valid


def test_a_truncated_proof_does_not_verify(harness: Ledger, reading: dict) -> None:
    digest, value, proof = b32(reading["digest"]), int(reading["value"]), steps(reading["proof"])
    assert not _verifies(harness, digest, value, proof[:-1])
    assert not _verifies(harness, digest, value, [])


def test_an_empty_proof_folds_to_the_leaf(harness: Ledger) -> None:
    v = VECTORS["leaves"][0]
    folded, got_subtotals = view(harness, HARNESS, "fold", b32(v["digest"]), int(v["value"]), [])
    assert folded == node_dict(v["node"])
    assert got_subtotals == []


# ---------------------------------------------------------------------- depth


def test_a_twenty_step_proof_folds_like_the_python_reference(harness: Ledger) -> None:
    digest, value, proof, _ = deep_proof()
    assert len(proof) == 20
    expected, expected_subtotals = ms.fold(ms.leaf(digest, value), proof)
    folded, got_subtotals = view(harness, HARNESS, "fold", digest, value, as_abi(proof))
    assert folded == {"hash": expected.hash, "sum": expected.sum, "count": expected.count}
    assert got_subtotals == [t._asdict() for t in expected_subtotals]
    valid, _ = harness.call(HARNESS, "verify", digest, value, as_abi(proof), expected.hash)
    assert valid

"""Anchor records: what `MeterAnchor` commits to per anchor, its batches, and reading them back from the chain.

The contract keeps commitments, not copies: per single anchor the hash of its record, per batch the
Merkle root of its windows' record hashes (under the batch's first anchor id). The records are in the
events (`Anchored` for a single anchor, `BatchAnchored` packing every window of a batch). This module
states the record and its commitment once, builds a batch's tree and proofs the way the contract and
OpenZeppelin's `MerkleProof` do (sorted pairs of keccak-256), and reads records back from the logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from eth_abi import encode
from eth_utils import keccak
from web3.contract import Contract

from ledger_core.chain.addresses import to_checksum_address

RECORD_BYTES = 121  # one window in `BatchAnchored.records`
SEQUENCE_BITS = 31  # an emissions anchor id is `enterprise << 32 | sequence` (`MeterAnchor.anchorIdOf`)
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
# Other measures: bit 31 set, bit 30 = measure - 1, a 30-bit sequence (a prefix code that keeps the ids of the
# emissions and production anchors made when the id had one measure bit).
MAX_MEASURE_SEQUENCE = (1 << (SEQUENCE_BITS - 1)) - 1
MEASURES = (0, 1, 2)  # emissions (mgCO2e), production (Wh), product counts (milli declared units)
_WORD_BITS = (256, 64, 8, 64, 64, 0, 128, 64, 0, 256)  # the unsigned fields' widths, 0 for a bytes32
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_RECORD_TYPES = ["uint256", "uint64", "uint8", "uint64", "uint64", "bytes32", "uint128", "uint64", "bytes32", "uint256",
                 "address"]


class AnchorRecord(NamedTuple):
    """An anchor's record, `MeterAnchor.AnchorRecord` (field order is the contract's)."""

    anchor_id: int
    enterprise_org_id: int
    measure: int
    window_start: int
    window_end: int
    root: bytes  # the level-4 node's hash
    total: int  # mgCO2e (emissions) or Wh (production)
    reading_count: int
    factor_set_id: bytes
    previous_anchor_id: int
    oracle: str

    def commitment(self) -> bytes:
        """`MeterAnchor.anchorCommitment(record)`: keccak-256 of the ABI encoding of the record."""
        return _commitment(self)

    def _words(self) -> bytes | None:
        """The record's ABI encoding written word by word (every field is static: one 32-byte word each), about
        forty times faster than the general encoder; None for a value out of its type's range, which the general
        encoder then refuses with its own error."""
        words = []
        for value, bits in zip(self[:10], _WORD_BITS, strict=True):
            if bits == 0:
                if not isinstance(value, bytes) or len(value) != 32:
                    return None
                words.append(value)
            elif type(value) is int and 0 <= value >> bits == 0:
                words.append(value.to_bytes(32, "big"))
            else:
                return None
        if not isinstance(self.oracle, str) or _ADDRESS.fullmatch(self.oracle) is None:
            return None
        words.append(bytes(12) + bytes.fromhex(self.oracle[2:]))
        return b"".join(words)

    def as_abi(self) -> tuple[Any, ...]:
        return (*self[:10], to_checksum_address(self.oracle))


@lru_cache(maxsize=65_536)
def _commitment(record: AnchorRecord) -> bytes:
    """A record's commitment, remembered: traces prove readings against the same batches again and again."""
    return keccak(record._words() or encode(_RECORD_TYPES, list(record.as_abi())))


def _measure_bits(measure: int) -> int:
    return 0 if measure == 0 else 1 << SEQUENCE_BITS | (measure - 1) << (SEQUENCE_BITS - 1)


def anchor_id_of(enterprise_org_id: int, measure: int, sequence: int) -> int:
    """`MeterAnchor.anchorIdOf`: the id of an enterprise's `sequence`-th anchor (from 1) of a measure."""
    return enterprise_org_id << (SEQUENCE_BITS + 1) | _measure_bits(measure) | sequence


def enterprise_of(anchor_id: int) -> int:
    return anchor_id >> (SEQUENCE_BITS + 1)


def measure_of(anchor_id: int) -> int:
    if not anchor_id >> SEQUENCE_BITS & 1:
        return 0
    return 1 + (anchor_id >> (SEQUENCE_BITS - 1) & 1)


def sequence_of(anchor_id: int) -> int:
    return anchor_id & (MAX_SEQUENCE if measure_of(anchor_id) == 0 else MAX_MEASURE_SEQUENCE)


def previous_of(anchor_id: int) -> int:
    """The enterprise's anchor of the same measure before this one (0 for its first)."""
    return anchor_id - 1 if sequence_of(anchor_id) > 1 else 0


def next_of(enterprise_org_id: int, measure: int, previous_anchor_id: int) -> int:
    """The id an anchor gets after `previous_anchor_id` (0: the enterprise's first of the measure)."""
    return previous_anchor_id + 1 if previous_anchor_id else anchor_id_of(enterprise_org_id, measure, 1)


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def batch_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle root of a batch's commitments: neighbours paired left to right (each pair hashed in sorted
    order), an odd last node promoted unchanged, until one remains (`MeterAnchor._merkleRoot`)."""
    if not leaves:
        raise ValueError("a batch holds at least one window")
    layer = list(leaves)
    while len(layer) > 1:
        nxt = [_pair(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
        if len(layer) % 2:
            nxt.append(layer[-1])
        layer = nxt
    return layer[0]


def batch_proof(leaves: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """The sibling hashes from `leaves[index]` up to the batch root (none where a node is promoted)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"no window {index} in a batch of {len(leaves)}")
    proof: list[bytes] = []
    layer, i = list(leaves), index
    while len(layer) > 1:
        sibling = i ^ 1
        if sibling < len(layer):
            proof.append(layer[sibling])
        nxt = [_pair(layer[j], layer[j + 1]) for j in range(0, len(layer) - 1, 2)]
        if len(layer) % 2:
            nxt.append(layer[-1])
        layer, i = nxt, i // 2
    return tuple(proof)


@lru_cache(maxsize=1024)
def _batch_layers(leaves: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], ...]:
    """Every layer of a batch's tree, from its commitments to its root (remembered per batch content)."""
    layers = [leaves]
    while len(layers[-1]) > 1:
        layer = layers[-1]
        nxt = [_pair(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
        if len(layer) % 2:
            nxt.append(layer[-1])
        layers.append(tuple(nxt))
    return tuple(layers)


def batch_proofs(leaves: Sequence[bytes]) -> list[tuple[bytes, ...]]:
    """`batch_proof` of every window of a batch, the tree built once."""
    if not leaves:
        raise ValueError("a batch holds at least one window")
    layers = _batch_layers(tuple(leaves))
    proofs = []
    for index in range(len(leaves)):
        proof, i = [], index
        for layer in layers[:-1]:
            if i ^ 1 < len(layer):
                proof.append(layer[i ^ 1])
            i //= 2
        proofs.append(tuple(proof))
    return proofs


def fold_batch(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """OpenZeppelin's `MerkleProof.processProof`: the root `proof` leads to from `leaf`."""
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node


@lru_cache(maxsize=4096)
def _folded(leaf: bytes, proof: tuple[bytes, ...]) -> bytes:
    return fold_batch(leaf, proof)


def decode_records(oracle: str, packed: bytes) -> list[AnchorRecord]:
    """The records of a `BatchAnchored` event (layout in the contract's event documentation); each window's
    id follows from its enterprise, measure and previous anchor."""
    if len(packed) % RECORD_BYTES:
        raise ValueError(f"{len(packed)} bytes is not a whole number of {RECORD_BYTES}-byte records")
    records = []
    for i in range(len(packed) // RECORD_BYTES):
        r = packed[i * RECORD_BYTES:(i + 1) * RECORD_BYTES]

        def u(start: int, size: int, r: bytes = r) -> int:
            return int.from_bytes(r[start:start + size], "big")

        org, measure, previous = u(0, 8), u(8, 1), u(113, 8)
        records.append(AnchorRecord(next_of(org, measure, previous), org, measure, u(9, 8), u(17, 8), bytes(r[25:57]),
                                    u(57, 16), u(73, 8), bytes(r[81:113]), previous, oracle))
    return records


@dataclass(frozen=True)
class AnchoredWindow:
    """An anchor's record as the chain's events state it, and where its commitment is kept: under its own
    id (a single anchor, `batch_proof` empty) or under its batch's first id with a Merkle proof."""

    record: AnchorRecord
    batch_id: int
    batch_proof: tuple[bytes, ...]
    block_number: int
    tx_hash: str
    anchored_at: int  # the block's timestamp

    @property
    def in_batch(self) -> bool:
        return self.batch_id != self.record.anchor_id or bool(self.batch_proof)

    def kept_commitment(self) -> bytes:
        """What `MeterAnchor.commitmentOf(batch_id)` must hold for this record to be anchored."""
        return _folded(self.record.commitment(), tuple(self.batch_proof))

    def proof_args(self) -> tuple[Any, ...]:
        """The leading arguments of `MeterAnchor.isAnchored` and `verifyReading`: record, batch id, batch proof."""
        return self.record.as_abi(), self.batch_id, list(self.batch_proof)


def event_record(args: Any) -> AnchorRecord:
    """The record an `Anchored` event's arguments state (its measure and previous anchor are its id's)."""
    anchor_id = int(args["anchorId"])
    return AnchorRecord(anchor_id, int(args["enterpriseOrgId"]), measure_of(anchor_id),
                        int(args["windowStart"]), int(args["windowEnd"]), bytes(args["root"]), int(args["totalMg"]),
                        int(args["readingCount"]), bytes(args["factorSetId"]), previous_of(anchor_id),
                        str(args["oracle"]))


class AnchorReader:
    """Reads anchor records from `MeterAnchor`'s events, from `from_block` (its deployment's block: nothing
    before it can hold one) up to `block`; caches what it has read. With
    `read_all`, the first lookup reads every `Anchored` event at once (for callers that look up many anchors,
    such as reconcile), instead of asking the node once per anchor."""

    def __init__(self, contract: Contract, block: int | Literal["latest"] = "latest", read_all: bool = False,
                 from_block: int = 0) -> None:
        self.contract = contract
        self.block = block
        self.from_block = from_block
        self.read_all = read_all
        self._times: dict[int, int] = {}
        self._batches: list[tuple[int, list[AnchorRecord], int, str]] | None = None
        self._batched: dict[int, tuple[int, int]] | None = None  # anchor id -> (batch index, window index)
        self._singles: dict[int, Any] | None = None

    def _logs(self, event: str, filters: dict[str, Any] | None = None) -> Any:
        return self.contract.events[event].get_logs(argument_filters=filters, from_block=self.from_block,
                                                    to_block=self.block)

    def _time(self, number: int) -> int:
        if number not in self._times:
            self._times[number] = int(self.contract.w3.eth.get_block(number)["timestamp"])
        return self._times[number]

    def _single(self, log: Any) -> AnchoredWindow:
        record = event_record(log["args"])
        return AnchoredWindow(record, record.anchor_id, (), int(log["blockNumber"]),
                              "0x" + bytes(log["transactionHash"]).hex(), self._time(int(log["blockNumber"])))

    def _load_batches(self) -> list[tuple[int, list[AnchorRecord], int, str]]:
        if self._batches is None:
            logs = self._logs("BatchAnchored")
            self._batches = [(int(log["args"]["batchId"]),
                              decode_records(str(log["args"]["oracle"]), bytes(log["args"]["records"])),
                              int(log["blockNumber"]), "0x" + bytes(log["transactionHash"]).hex()) for log in logs]
        return self._batches

    def _batch_index(self) -> dict[int, tuple[int, int]]:
        """Anchor id -> (batch, window) of every batched window."""
        if self._batched is None:
            self._batched = {r.anchor_id: (b, i) for b, (_, records, _, _) in enumerate(self._load_batches())
                             for i, r in enumerate(records)}
        return self._batched

    def _in_batch(self, records: list[AnchorRecord], index: int, block: int, tx_hash: str) -> AnchoredWindow:
        leaves = [r.commitment() for r in records]
        return AnchoredWindow(records[index], records[0].anchor_id, batch_proof(leaves, index), block, tx_hash,
                              self._time(block))

    def window(self, anchor_id: int) -> AnchoredWindow | None:
        """The anchor's record and where it is kept; None if no event announces it."""
        if self.read_all:
            if self._singles is None:
                self._singles = {int(log["args"]["anchorId"]): log for log in
                                 self._logs("Anchored")}
            logs = [self._singles[anchor_id]] if anchor_id in self._singles else []
        else:
            logs = list(self._logs("Anchored", {"anchorId": anchor_id}))
        if logs:
            return self._single(logs[0])
        found = self._batch_index().get(anchor_id)
        if found is None:
            return None
        _, records, block, tx_hash = self._load_batches()[found[0]]
        return self._in_batch(records, found[1], block, tx_hash)

    def windows(self) -> Iterator[AnchoredWindow]:
        """Every anchor up to the block, single and batched, in no particular order."""
        for log in self._logs("Anchored"):
            yield self._single(log)
        for _, records, block, tx_hash in self._load_batches():
            for i in range(len(records)):
                yield self._in_batch(records, i, block, tx_hash)

    def find(self, enterprise_org_id: int, measure: int, window_start: int, window_end: int) -> int:
        """The id of the enterprise's anchor of this measure for exactly this window, 0 if none. The head
        answers most questions; only a window before it is looked up in the events."""
        head_id, _, head_end = self.head(enterprise_org_id, measure)
        if head_id == 0 or window_start >= head_end:
            return 0
        wanted = (enterprise_org_id, measure, window_start, window_end)
        for log in self._logs("Anchored", {"enterpriseOrgId": enterprise_org_id}):
            r = event_record(log["args"])
            if (r.enterprise_org_id, r.measure, r.window_start, r.window_end) == wanted:
                return r.anchor_id
        for _, records, _, _ in self._load_batches():
            for r in records:
                if (r.enterprise_org_id, r.measure, r.window_start, r.window_end) == wanted:
                    return r.anchor_id
        return 0

    def head(self, enterprise_org_id: int, measure: int) -> tuple[int, int, int]:
        """`MeterAnchor.headOf`: the latest anchor id and window of the enterprise and measure."""
        anchor_id, start, end = self.contract.functions.headOf(enterprise_org_id, measure).call(
            block_identifier=self.block)
        return int(anchor_id), int(start), int(end)

    def anchor_ids(self, enterprise_org_ids: Iterable[int]) -> list[int]:
        """Every anchor id of these enterprises, of both measures, from their heads: an enterprise's ids of a
        measure run from its first to its head's without a gap."""
        ids: list[int] = []
        for org in sorted(set(enterprise_org_ids)):
            for measure in MEASURES:
                head_id = self.head(org, measure)[0]
                if head_id:
                    ids += range(anchor_id_of(org, measure, 1), head_id + 1)
        return ids

    def kept(self, batch_id: int) -> bytes:
        """`MeterAnchor.commitmentOf`: what the contract keeps under an id."""
        return bytes(self.contract.functions.commitmentOf(batch_id).call(block_identifier=self.block))


def window_json(window: AnchoredWindow) -> dict[str, Any]:
    """The anchor part of a proof bundle (COMMITMENTS.md, "Proof bundles"): the anchor's record, which the
    contract checks against its commitment, and, for a window of a batch, the path of that commitment to the
    batch root kept under the batch's first anchor id (`anchor_batch` null for a single anchor)."""
    r = window.record
    return {
        "anchor_record": {
            "anchor_id": r.anchor_id, "enterprise_org_id": r.enterprise_org_id, "measure": r.measure,
            "window_start": r.window_start, "window_end": r.window_end, "root": "0x" + r.root.hex(),
            "total": str(r.total), "reading_count": r.reading_count, "factor_set_id": "0x" + r.factor_set_id.hex(),
            "previous_anchor_id": r.previous_anchor_id, "oracle": r.oracle,
        },
        "anchor_batch": {
            "first_anchor_id": window.batch_id, "proof": ["0x" + p.hex() for p in window.batch_proof],
            "root": "0x" + window.kept_commitment().hex(),
        } if window.in_batch else None,
    }


def record_from_json(data: dict[str, Any]) -> AnchorRecord:
    """The record of a bundle's `anchor_record`."""
    return AnchorRecord(int(data["anchor_id"]), int(data["enterprise_org_id"]), int(data["measure"]),
                        int(data["window_start"]), int(data["window_end"]), bytes.fromhex(data["root"][2:]),
                        int(data["total"]), int(data["reading_count"]), bytes.fromhex(data["factor_set_id"][2:]),
                        int(data["previous_anchor_id"]), str(data["oracle"]))


def window_proof_args(bundle: dict[str, Any]) -> tuple[Any, ...]:
    """`isAnchored`/`verifyReading`'s record, batch id and batch proof from a bundle's anchor part."""
    record = record_from_json(bundle["anchor_record"])
    batch = bundle.get("anchor_batch")
    if batch is None:
        return record.as_abi(), record.anchor_id, []
    return record.as_abi(), int(batch["first_anchor_id"]), [bytes.fromhex(p[2:]) for p in batch["proof"]]

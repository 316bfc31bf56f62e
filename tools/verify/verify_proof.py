#!/usr/bin/env python3
"""Check a CarbonLedger reading proof without CarbonLedger's code (Python standard library only).

Written from `contracts/COMMITMENTS.md` alone; it imports nothing from the project. Usage:

    python tools/verify/verify_proof.py BUNDLE.json --rpc URL --anchor ADDRESS [--anchor-id N]
    python tools/verify/verify_proof.py BUNDLE.json --root 0x...

BUNDLE.json is a proof as `GET /api/v1/meters/readings/{id}/proof` or `python -m oracles prove N`
prints it (snake_case; camelCase bundles of older versions are accepted, see COMMITMENTS.md "Proof
bundles"). With `--rpc` the bundle's `anchor_record` is hashed (keccak-256 of its ABI encoding), its
`anchor_batch` path (if any) folded to the batch root, and the result compared with what
`MeterAnchor.commitmentOf(id)` keeps, read by a raw `eth_call`; the anchored root is then the record's.
With `--root` it is given. The tool recomputes the leaf digest from the canonical record when the bundle carries one,
folds the path, checks every level subtotal (sum and count) the bundle states and the root, and exits
0 ("verified: ...") or 1 ("NOT VERIFIED: <reason>"; also when the bundle cannot be read or the node
cannot be asked); 2 on bad command-line arguments. Python 3.10 or later.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

MAX_U128 = (1 << 128) - 1
MAX_U64 = (1 << 64) - 1
LEVEL_NAMES = {1: "device", 2: "workshop", 3: "facility", 4: "enterprise", 5: "period"}
STEP_LEFT, STEP_RIGHT, STEP_LEVEL = 0, 1, 2
_CANONICAL_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")


class Failed(Exception):
    """The proof does not verify; the message says what failed."""


class Usage(Exception):
    """The bundle or the arguments cannot be read."""


# ------------------------------------------------------------------ keccak-256 (Ethereum's, not SHA3-256)

_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol(v: int, n: int) -> int:
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def _keccak_f(a: list[list[int]]) -> None:
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        for x in range(5):
            for y in range(5):
                a[x][y] ^= d[x]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        for x in range(5):
            for y in range(5):
                a[x][y] = b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y])
        a[0][0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Keccak-256 with the original padding (0x01), as Ethereum uses it."""
    rate = 136
    padded = bytearray(data) + b"\x01" + b"\x00" * ((-len(data) - 1) % rate)
    padded[-1] |= 0x80
    state = [[0] * 5 for _ in range(5)]
    for off in range(0, len(padded), rate):
        block = padded[off:off + rate]
        for i in range(rate // 8):
            state[i % 5][i // 5] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        _keccak_f(state)
    return b"".join(state[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


# ------------------------------------------------------------------ the commitment (COMMITMENTS.md)

def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(digest: bytes, value: int) -> tuple[bytes, int, int]:
    return _sha256(b"\x00" + digest + value.to_bytes(16, "big")), value, 1


def pair(left: tuple[bytes, int, int], right: tuple[bytes, int, int]) -> tuple[bytes, int, int]:
    total, count = left[1] + right[1], left[2] + right[2]
    if total > MAX_U128 or count > MAX_U64:
        raise Failed("a pair's sum or count overflows uint128/uint64")
    h = _sha256(b"\x01" + left[0] + left[1].to_bytes(16, "big") + left[2].to_bytes(8, "big")
                + right[0] + right[1].to_bytes(16, "big") + right[2].to_bytes(8, "big"))
    return h, total, count


def level_node(level: int, node_id: bytes, child: tuple[bytes, int, int]) -> tuple[bytes, int, int]:
    h = _sha256(b"\x02" + bytes((level,)) + node_id + child[0] + child[1].to_bytes(16, "big")
                + child[2].to_bytes(8, "big"))
    return h, child[1], child[2]


def record_bytes(record: dict[str, Any]) -> bytes:
    """The canonical reading record "CLR1" || deviceId || sequence || ... || value."""
    device_id = (_hex32(record["deviceId"], "record.deviceId") if "deviceId" in record
                 else _sha256(_text(record, "device").encode()))
    factor_set_id = (_hex32(record["factorSetId"], "record.factorSetId") if "factorSetId" in record
                     else _sha256(_text(record, "factorSet").encode()))
    quantity = _text(record, "quantity")
    if not _CANONICAL_DECIMAL.fullmatch(quantity):
        raise Failed(f"record quantity {quantity!r} is not a canonical decimal")
    unit, carrier = _text(record, "unit").encode("ascii"), _text(record, "carrier").encode("ascii")
    if len(unit) > 255 or len(carrier) > 255:
        raise Failed("record unit or carrier longer than 255 bytes")
    scope = _uint(record.get("scope"), "record.scope", 255)
    return b"".join((
        b"CLR1", device_id,
        _uint(record.get("sequence"), "record.sequence", MAX_U64).to_bytes(8, "big"),
        _uint(record.get("timestamp"), "record.timestamp", MAX_U64).to_bytes(8, "big"),
        len(quantity).to_bytes(2, "big"), quantity.encode("ascii"),
        bytes((len(unit),)), unit, bytes((len(carrier),)), carrier,
        factor_set_id, bytes((scope,)),
        _uint(record.get("value"), "record.value", MAX_U128).to_bytes(16, "big"),
    ))


# ------------------------------------------------------------------ reading the bundle

def _uint(raw: Any, what: str, limit: int) -> int:
    """A decimal string (the documented form) or a JSON integer, within [0, limit]."""
    if isinstance(raw, bool):
        raise Usage(f"{what} is not a number")
    if isinstance(raw, str) and raw.isdigit() and raw.isascii():
        value = int(raw)
    elif isinstance(raw, int):
        value = raw
    else:
        raise Usage(f"{what} is missing or not a decimal string: {raw!r}")
    if not 0 <= value <= limit:
        raise Usage(f"{what} is out of range: {value}")
    return value


def _hex32(raw: Any, what: str) -> bytes:
    if not isinstance(raw, str) or not _HEX32.fullmatch(raw):
        raise Usage(f"{what} is not 0x and 64 hex digits: {raw!r}")
    return bytes.fromhex(raw[2:])


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise Usage(f"record.{key} is missing or not a string")
    return value


def _field(obj: dict[str, Any], names: tuple[str, ...], what: str, required: bool = True) -> Any:
    """The one field of `names` present (the snake_case format, the camelCase of older CLI/trace bundles,
    or the vectors' name)."""
    present = [n for n in names if n in obj]
    if len(present) > 1 and any(obj[n] != obj[present[0]] for n in present):
        raise Usage(f"{what} is given twice with different values ({', '.join(present)})")
    if not present:
        if required:
            raise Usage(f"{what} is missing (expected one of {', '.join(names)})")
        return None
    return obj[present[0]]


def read_bundle(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Usage("a proof bundle is a JSON object")
    record = data.get("record")
    digest_raw = _field(data, ("digest",), "digest", required=record is None)
    value_raw = _field(data, ("valueMg", "value_mg", "value"), "value", required=record is None)
    steps_raw = _field(data, ("proof", "steps"), "steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise Usage("steps must be a non-empty list")
    steps = []
    for i, s in enumerate(steps_raw):
        if not isinstance(s, dict):
            raise Usage(f"step {i} is not an object")
        steps.append((_uint(s.get("kind"), f"step {i} kind", 255), _uint(s.get("level"), f"step {i} level", 255),
                      _hex32(s.get("data"), f"step {i} data"), _uint(s.get("sum"), f"step {i} sum", MAX_U128),
                      _uint(s.get("count"), f"step {i} count", MAX_U64)))
    subtotals = []
    stated = _field(data, ("subtotals",), "subtotals", required=False) or []
    if not isinstance(stated, list) or not all(isinstance(t, dict) for t in stated):
        raise Usage("subtotals must be a list of objects")
    for i, t in enumerate(stated):
        subtotals.append((_uint(t.get("level"), f"subtotal {i} level", 255), _hex32(t.get("id"), f"subtotal {i} id"),
                          _uint(_field(t, ("sumMg", "sum_mg", "sum"), f"subtotal {i} sum"), f"subtotal {i} sum",
                                MAX_U128),
                          _uint(t.get("count"), f"subtotal {i} count", MAX_U64)))
    root_raw = _field(data, ("root",), "root", required=False)
    anchor_raw = _field(data, ("anchorId", "anchor_id"), "anchor id", required=False)
    record_raw = data.get("anchor_record")
    batch_raw = data.get("anchor_batch")
    return {
        "anchor_record": None if record_raw is None else read_anchor_record(record_raw),
        "anchor_batch": None if batch_raw is None else read_anchor_batch(batch_raw),
        "record": record,
        "digest": None if digest_raw is None else _hex32(digest_raw, "digest"),
        "value": None if value_raw is None else _uint(value_raw, "value", MAX_U128),
        "steps": steps,
        "subtotals": subtotals,
        "root": None if root_raw is None else _hex32(root_raw, "root"),
        "anchor_id": None if anchor_raw is None else _uint(anchor_raw, "anchor id", (1 << 256) - 1),
        "reading_id": _field(data, ("readingId", "reading_id"), "reading id", required=False),
    }


# ------------------------------------------------------------------ the anchor record and its commitment

# The record's fields in `MeterAnchor.AnchorRecord` order, each one ABI word: name, bound (None: 32 bytes).
_RECORD_FIELDS = (("anchor_id", (1 << 256) - 1), ("enterprise_org_id", MAX_U64), ("measure", 255),
                  ("window_start", MAX_U64), ("window_end", MAX_U64), ("root", None), ("total", MAX_U128),
                  ("reading_count", MAX_U64), ("factor_set_id", None), ("previous_anchor_id", (1 << 256) - 1),
                  ("oracle", "address"))


def read_anchor_record(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Usage("anchor_record is not an object")
    out: dict[str, Any] = {}
    for name, bound in _RECORD_FIELDS:
        if bound is None:
            out[name] = _hex32(raw.get(name), f"anchor_record.{name}")
        elif bound == "address":
            value = raw.get(name)
            if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
                raise Usage(f"anchor_record.{name} is not an address: {value!r}")
            out[name] = bytes.fromhex(value[2:])
        else:
            out[name] = _uint(raw.get(name), f"anchor_record.{name}", int(bound))
    return out


def read_anchor_batch(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("proof"), list):
        raise Usage("anchor_batch is not an object with a proof list")
    return {"first_anchor_id": _uint(raw.get("first_anchor_id"), "anchor_batch.first_anchor_id", (1 << 256) - 1),
            "proof": [_hex32(p, "anchor_batch.proof") for p in raw["proof"]]}


def record_commitment(record: dict[str, Any]) -> bytes:
    """`MeterAnchor.anchorCommitment`: keccak-256 of the record's ABI encoding (one 32-byte word per field)."""
    words = []
    for name, _ in _RECORD_FIELDS:
        value = record[name]
        # bytes32 as is, the address (20 bytes) and every integer left-padded to a word
        words.append(value.rjust(32, b"\0") if isinstance(value, bytes) else value.to_bytes(32, "big"))
    return keccak256(b"".join(words))


def fold_batch(leaf_hash: bytes, proof: list[bytes]) -> bytes:
    """OpenZeppelin's `MerkleProof.processProof`: each step hashes the sorted pair."""
    node = leaf_hash
    for sibling in proof:
        node = keccak256(min(node, sibling) + max(node, sibling))
    return node


# ------------------------------------------------------------------ verifying

def leaf_of(bundle: dict[str, Any]) -> tuple[bytes, int, str]:
    """The leaf's digest and value: recomputed from the record if the bundle carries it."""
    digest, value, record = bundle["digest"], bundle["value"], bundle["record"]
    if record is None:
        return digest, value, "given digest"
    if not isinstance(record, dict):
        raise Usage("record is not an object")
    computed = _sha256(record_bytes(record))
    record_value = _uint(record.get("value"), "record.value", MAX_U128)
    if digest is not None and computed != digest:
        raise Failed(f"digest: the canonical record hashes to 0x{computed.hex()}, the bundle says 0x{digest.hex()}")
    if value is not None and record_value != value:
        raise Failed(f"value: the record commits {record_value} mgCO2e, the bundle says {value}")
    return computed, record_value, "digest recomputed from the record"


def fold(digest: bytes, value: int, steps: list[tuple[int, int, bytes, int, int]]
         ) -> tuple[tuple[bytes, int, int], list[tuple[int, bytes, int, int]]]:
    node = leaf(digest, value)
    wraps: list[tuple[int, bytes, int, int]] = []
    last_level = 0
    for i, (kind, level, data, total, count) in enumerate(steps):
        if kind in (STEP_LEFT, STEP_RIGHT):
            if level != 0:
                raise Failed(f"step {i}: a sibling step carries level 0, not {level}")
            sibling = (data, total, count)
            node = pair(sibling, node) if kind == STEP_LEFT else pair(node, sibling)
        elif kind == STEP_LEVEL:
            if total != 0 or count != 0:
                raise Failed(f"step {i}: a level wrap carries sum 0 and count 0, not {total} and {count}")
            if not 1 <= level <= 5 or level <= last_level:
                raise Failed(f"step {i}: level {level} out of order (levels rise strictly from 1 to at most 5)")
            last_level = level
            node = level_node(level, data, node)
            wraps.append((level, data, node[1], node[2]))
        else:
            raise Failed(f"step {i}: unknown kind {kind}")
    if steps[-1][0] != STEP_LEVEL:
        raise Failed("the last step must be a level wrap (level 4 for an anchor)")
    return node, wraps


def check_subtotals(wraps: list[tuple[int, bytes, int, int]], stated: list[tuple[int, bytes, int, int]]) -> None:
    if not stated:
        return
    if len(stated) != len(wraps):
        raise Failed(f"subtotals: the bundle states {len(stated)}, the proof has {len(wraps)} level wraps")
    for (level, node_id, total, count), (s_level, s_id, s_total, s_count) in zip(wraps, stated, strict=True):
        name = LEVEL_NAMES.get(level, str(level))
        if (s_level, s_id) != (level, node_id):
            raise Failed(f"subtotal {name}: the bundle names level {s_level} id 0x{s_id.hex()}, "
                         f"the proof wraps level {level} id 0x{node_id.hex()}")
        if s_total != total:
            raise Failed(f"subtotal {name} sum: the bundle says {s_total} mgCO2e, the proof folds to {total}")
        if s_count != count:
            raise Failed(f"subtotal {name} count: the bundle says {s_count} readings, the proof folds to {count}")


def rpc_call(url: str, to: str, data: bytes, block: str = "latest", timeout: float = 30.0) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                       "params": [{"to": to, "data": "0x" + data.hex()}, block]}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Usage(f"cannot reach the node at {url}: {exc}") from None
    if "error" in answer:
        raise Failed(f"eth_call failed (is it MeterAnchor?): {answer['error']}")
    result = answer.get("result")
    if not isinstance(result, str) or not result.startswith("0x"):
        raise Usage(f"unexpected eth_call answer: {answer!r}")
    return bytes.fromhex(result[2:])


def anchored(url: str, address: str, bundle: dict[str, Any], kept_id: int | None, block: str = "latest"
             ) -> dict[str, Any]:
    """The bundle's anchor record, once its commitment (folded through its batch path) is what
    `MeterAnchor.commitmentOf(id)` keeps: the record's own id, its batch's first id, or `kept_id`."""
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", address):
        raise Usage(f"--anchor is not an address: {address!r}")
    record, batch = bundle["anchor_record"], bundle["anchor_batch"]
    if record is None:
        raise Usage("--rpc needs the bundle's anchor_record (MeterAnchor keeps only its hash)")
    proof = [] if batch is None else batch["proof"]
    if kept_id is None:
        kept_id = record["anchor_id"] if batch is None else batch["first_anchor_id"]
    out = rpc_call(url, address, selector("commitmentOf(uint256)") + kept_id.to_bytes(32, "big"), block)
    if len(out) != 32:
        raise Failed(f"commitmentOf({kept_id}) returned {len(out)} bytes (is {address} MeterAnchor?)")
    if out == bytes(32):
        raise Failed(f"anchor: nothing is anchored under id {kept_id}")
    folded = fold_batch(record_commitment(record), proof)
    if folded != out:
        through = " through its batch path" if proof else ""
        raise Failed(f"anchor: MeterAnchor keeps 0x{out.hex()} under id {kept_id}, the bundle's anchor record "
                     f"hashes{through} to 0x{folded.hex()}")
    return {"enterpriseOrgId": record["enterprise_org_id"], "root": record["root"], "totalMg": record["total"],
            "readingCount": record["reading_count"], "anchorId": record["anchor_id"]}


def verify(bundle: dict[str, Any], root: bytes | None = None, rpc: str | None = None, anchor: str | None = None,
           anchor_id: int | None = None, block: str = "latest") -> str:
    """The success line; raises `Failed` with the reason otherwise."""
    digest, value, how = leaf_of(bundle)
    node, wraps = fold(digest, value, bundle["steps"])
    check_subtotals(wraps, bundle["subtotals"])
    on_chain = None
    if rpc is not None:
        if anchor is None:
            raise Usage("--rpc needs --anchor ADDRESS")
        on_chain = anchored(rpc, anchor, bundle, anchor_id, block)
        root, source = on_chain["root"], f"MeterAnchor {anchor} anchor {on_chain['anchorId']}"
        if wraps[-1][0] != 4:
            raise Failed("an anchor proof ends with the level-4 (enterprise) wrap")
    else:
        source = "the given root"
    assert root is not None
    if bundle["root"] is not None and bundle["root"] != root:
        raise Failed(f"root: the bundle says 0x{bundle['root'].hex()}, {source} is 0x{root.hex()}")
    if node[0] != root:
        raise Failed(f"root: the proof folds to 0x{node[0].hex()}, {source} is 0x{root.hex()}")
    if on_chain is not None:
        if (on_chain["totalMg"], on_chain["readingCount"]) != (node[1], node[2]):
            raise Failed(f"totals: the anchor records {on_chain['totalMg']} mgCO2e in {on_chain['readingCount']} "
                         f"readings, the proof folds to {node[1]} in {node[2]}")
        if wraps[-1][1] != on_chain["enterpriseOrgId"].to_bytes(32, "big"):
            raise Failed(f"enterprise: the anchor is enterprise {on_chain['enterpriseOrgId']}'s, the proof wraps "
                         f"id 0x{wraps[-1][1].hex()}")
    opened = ", ".join(f"{LEVEL_NAMES.get(lv, lv)} {s} mg/{c}" for lv, _, s, c in wraps)
    reading = f"reading {bundle['reading_id']}" if bundle["reading_id"] is not None else "reading"
    return (f"verified: {reading} ({value} mgCO2e, {how}) is committed under root 0x{root.hex()} "
            f"({source}); subtotals {opened}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a CarbonLedger reading proof (COMMITMENTS.md).")
    parser.add_argument("bundle", help="proof JSON as the API or `python -m oracles prove` emits it ('-': stdin)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rpc", help="JSON-RPC URL of a node; the root is read from MeterAnchor")
    source.add_argument("--root", help="the anchored (or report) root, 0x and 64 hex digits")
    parser.add_argument("--anchor", help="MeterAnchor's address (with --rpc)")
    parser.add_argument("--anchor-id", type=int,
                        help="the id MeterAnchor keeps the commitment under (default: the bundle's anchor id, or "
                             "its batch's first anchor id)")
    parser.add_argument("--block", default="latest", help="block tag or number for eth_call (default latest)")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.bundle == "-" else Path(args.bundle).read_text(encoding="utf-8")
        try:
            bundle = read_bundle(json.loads(text))
        except json.JSONDecodeError as exc:
            raise Usage(f"the bundle is not JSON: {exc}") from None
        root = _hex32(args.root, "--root") if args.root else None
        print(verify(bundle, root, args.rpc, args.anchor, args.anchor_id, args.block))
        return 0
    except Failed as exc:
        print(f"NOT VERIFIED: {exc}")
        return 1
    except (Usage, OSError) as exc:
        # A bundle that cannot be read as a proof, or a root that cannot be read, does not verify either.
        print(f"NOT VERIFIED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

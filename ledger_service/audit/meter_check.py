"""Meter data and documents held to the chain: every anchored window's root recomputed from the stored
readings, every stored document's hash recomputed from its sealed bytes.

For each anchored window (optionally only those starting at or after `since`, or a seeded sample of
`sample` of them) the readings are streamed from SQL in big pages, ordered by device, time and sequence;
each reading's canonical record is encoded and hashed again (`oracles.canonical`), its leaf and its
device's Merkle-sum tree rebuilt in tight loops, and the levels above (workshop, facility, enterprise)
built with `oracles.trees`. Nothing stored above the readings is trusted: the stored digests, leaf hashes
and level nodes are only compared with what the readings give. The recomputed root, total and count are
compared with the anchor's record on chain (its event, up to the reconciled block; MeterAnchor keeps the
record's hash); the index's copy of the record is compared with that hash by `reconcile` itself (kind
`anchor`).

Differences (kind, key, field: value in SQL, value the chain commits to):

- `meter_window`, `{enterprise}/{anchor}/{start}-{end}`, `root`/`total_mg`/`reading_count`: the window's
  readings no longer reproduce the anchor; `where` names the first device and reading that do not
  (a reading whose fields no longer give its stored digest or leaf, else the first device whose node no
  longer matches its stored node), `readings` holds nothing for a window anchored on chain;
- `meter_reading`, `{enterprise}/{anchor}/{device}/{reading id}`, `digest`/`leaf_hash`: the first stored
  digest or leaf hash of a window that its reading's fields no longer give (stored, recomputed);
- `meter_node`, `{enterprise}/{anchor}/{level}/{label}`, `hash`/`sum_mg`/`count`: a stored level node
  (what proofs are served from) that differs from the node the readings give, in a window whose readings
  do reproduce the chain (stored, recomputed);
- `meter_batch`, `{enterprise}/{start}`, `root`/`total_mg`/`reading_count`/`anchor_id`: the oracle's batch
  row against the anchor on chain;
- `document`, `{org}/{kind}/0x{hash}`, `content` (the sealed bytes no longer open to that hash) or
  `on_chain` (no report on chain records that hash as its report, statement or reasons).
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from ledger_core.db.models import (
    BatchStatus,
    ChainAnchor,
    ChainProductOutput,
    ChainReport,
    CommittedNode,
    MeterBatch,
    MeterDevice,
    Reading,
    StoredDocument,
)
from ledger_service.documents import OutputDocumentKind
from oracles import merkle_sum as ms
from oracles.canonical import RECORD_TAG, factor_set_hash
from oracles.trees import DeviceNode, EnterpriseTree

if TYPE_CHECKING:
    from ledger_service.emissions import Report

PAGE_ROWS = 50_000  # readings fetched per page
MAX_U128 = (1 << 128) - 1

_sha256 = hashlib.sha256
_head = struct.Struct(">QQH").pack  # sequence, timestamp, quantity length

# (kind, key, field, SQL value, chain value, where): built into `reconcile.Difference` by the caller.
Found = tuple[str, str, str, Any, Any, dict[str, Any] | None]
# An anchor's record at the reconciled block, as `oracles.anchoring.OnChainAnchor` orders it: (org, start, end,
# root, factor set, total, count, previous, oracle, anchored at, measure)
AnchorView = Callable[[int], Sequence[Any]]
Devices = dict[int, tuple[bytes, str, str, str]]  # device pk -> (device hash, device id, facility, workshop)
_UNKNOWN = (b"\x00" * 32, "?", "", "")  # a reading whose device row is gone


@dataclass
class MeterCheck:
    """What the meter check covered and what it found."""

    windows_anchored: int = 0  # anchors on chain at the reconciled block
    windows_checked: int = 0
    readings: int = 0
    documents: int = 0
    since: int | None = None
    sample: int | None = None
    seed: int | None = None
    found: list[Found] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Window:
    anchor_id: int
    enterprise_org_id: int
    window_start: int
    window_end: int
    root: bytes
    total_mg: int
    reading_count: int
    measure: int = 0


def choose_windows(candidates: Sequence[tuple[int, int]], since: int | None, sample: int | None,
                   seed: int | None) -> tuple[list[int], int | None]:
    """Anchor ids of (anchor id, window start) candidates to check: those starting at or after `since`, then
    `sample` of them drawn with `seed` (a fresh seed when none is given, returned so the run can be repeated)."""
    chosen = sorted(a for a, start in candidates if since is None or start >= since)
    if sample is not None and seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    if sample is not None and sample < len(chosen):
        chosen = sorted(random.Random(seed).sample(chosen, sample))
    return chosen, seed


def check_meter_data(conn: Connection, anchor_view: AnchorView, anchored: Collection[int], *,
                     since: int | None = None, sample: int | None = None, seed: int | None = None) -> MeterCheck:
    """Recompute every chosen anchored window from its readings and compare it with the chain. `anchored` is
    the chain's anchor ids (`AnchorReader.anchor_ids`)."""
    out = MeterCheck(since=since, sample=sample, seed=seed)
    indexed = {int(a): int(s) for a, s in conn.execute(select(ChainAnchor.anchor_id, ChainAnchor.window_start))}
    anchored = set(anchored)
    candidates = {a: s for a, s in indexed.items() if a in anchored}
    windows: dict[int, _Window] = {}
    for anchor_id in sorted(anchored):  # anchored on chain but missing from the index: ask the chain
        if anchor_id not in candidates:
            windows[anchor_id] = _window(anchor_id, anchor_view(anchor_id))
            candidates[anchor_id] = windows[anchor_id].window_start
    out.windows_anchored = len(candidates)
    chosen, out.seed = choose_windows(list(candidates.items()), since, sample, seed)
    batches = {(int(b.enterprise_org_id), int(b.measure), int(b.window_start)): b for b in conn.execute(
        select(MeterBatch.id, MeterBatch.enterprise_org_id, MeterBatch.measure, MeterBatch.window_start,
               MeterBatch.window_end,
               MeterBatch.factor_set, MeterBatch.status, MeterBatch.root, MeterBatch.total_mg,
               MeterBatch.reading_count, MeterBatch.anchor_id))}
    devices = {int(pk): (bytes(h), d, f, ws) for pk, h, d, f, ws in conn.execute(
        select(MeterDevice.id, MeterDevice.device_hash, MeterDevice.device_id, MeterDevice.facility,
               MeterDevice.workshop))}
    for anchor_id in chosen:
        w = windows.get(anchor_id) or _window(anchor_id, anchor_view(anchor_id))
        batch = batches.get((w.enterprise_org_id, w.measure, w.window_start))
        out.windows_checked += 1
        if batch is None:
            out.found.append(("meter_window", _window_key(w), "readings", None, w.reading_count,
                              {**_where(w, None), "cause": "no stored batch of readings for this anchored window"}))
            continue
        _compare_batch(out, w, batch)
        out.readings += _check_window(conn, out, w, batch, devices)
    for b in batches.values():  # batches SQL says are anchored where the chain has no such anchor
        if b.anchor_id is not None and int(b.anchor_id) not in anchored and (
                since is None or b.window_start >= since) and sample is None:
            out.found.append(("meter_batch", f"{b.enterprise_org_id}/{b.window_start}", "anchor_id", int(b.anchor_id),
                              None, {"batch_id": int(b.id), "cause": "no such anchor on chain"}))
    return out


def _window(anchor_id: int, c: Sequence[Any]) -> _Window:
    return _Window(anchor_id, int(c[0]), int(c[1]), int(c[2]), bytes(c[3]), int(c[5]), int(c[6]),
                   int(c[10]) if len(c) > 10 else 0)


def _window_key(w: _Window) -> str:
    return f"{w.enterprise_org_id}/{w.anchor_id}/{w.window_start}-{w.window_end}"


def _where(w: _Window, batch_id: int | None) -> dict[str, Any]:
    return {"enterprise_org_id": w.enterprise_org_id, "anchor_id": w.anchor_id, "window_start": w.window_start,
            "window_end": w.window_end, "batch_id": batch_id}


def _compare_batch(out: MeterCheck, w: _Window, batch: Any) -> None:
    key = f"{w.enterprise_org_id}/{w.window_start}"
    where = {"anchor_id": w.anchor_id, "batch_id": int(batch.id)}
    stored = {"root": None if batch.root is None else bytes(batch.root), "total_mg": int(batch.total_mg),
              "reading_count": int(batch.reading_count), "anchor_id": batch.anchor_id}
    chain = {"root": w.root, "total_mg": w.total_mg, "reading_count": w.reading_count, "anchor_id": w.anchor_id}
    if batch.status != BatchStatus.ANCHORED:  # built or sent, its anchor not yet recorded: only the commitment
        del stored["anchor_id"], chain["anchor_id"]
    for name, value in stored.items():
        if value != chain[name]:
            out.found.append(("meter_batch", key, name, value, chain[name], where))


def _tree(leaves: list[tuple[bytes, int, int]]) -> tuple[bytes, int, int]:
    """The Merkle-sum root (hash, sum, count) over `leaves` (`merkle_sum.layers`, unrolled). Each node is
    carried as its serialized form `hash || sum:u128 || count:u64`, which is what its parent hashes."""
    layer = leaves
    while len(layer) > 1:
        nxt: list[tuple[bytes, int, int]] = []
        append = nxt.append
        for i in range(0, len(layer) - 1, 2):
            left, ls, lc = layer[i]
            right, rs, rc = layer[i + 1]
            total, count = ls + rs, lc + rc
            append((_sha256(b"\x01" + left + right).digest() + total.to_bytes(16, "big") + count.to_bytes(8, "big"),
                    total, count))
        if len(layer) % 2:
            append(layer[-1])
        layer = nxt
    blob, total, count = layer[0]
    return blob[:32], total, count


_ONE = (1).to_bytes(8, "big")


def _check_window(conn: Connection, out: MeterCheck, w: _Window, batch: Any,
                  devices: Devices) -> int:
    """Recompute one window from its readings; returns how many readings were read.

    The readings are read through the driver's own cursor in pages of `PAGE_ROWS` (no row objects), in the
    order of the batch index `(batch_id, device_pk, timestamp, sequence)`."""
    factor = factor_set_hash(batch.factor_set)
    query = (select(Reading.device_pk, Reading.id, Reading.sequence, Reading.timestamp, Reading.quantity,
                    Reading.unit, Reading.carrier, Reading.scope, Reading.value_mg, Reading.digest, Reading.leaf_hash,
                    Reading.factor_set)
             .where(Reading.batch_id == int(batch.id))
             .order_by(Reading.device_pk, Reading.timestamp, Reading.sequence))
    sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
    result = conn.execution_options(stream_results=True).exec_driver_sql(sql)
    cursor = result.cursor
    device_nodes: list[DeviceNode] = []
    first_bad: dict[str, Any] | None = None
    bad_readings = 0
    count = 0
    # (unit, carrier, scope, factor set) -> their encoding; a reading's set is its own (`factor_set`), or its
    # batch's on rows stored before sets were chosen per reading (NULL)
    texts: dict[tuple[str, str, int, str | None], bytes] = {}
    current: int | None = None
    head = b""
    leaves: list[tuple[bytes, int, int]] = []
    append = leaves.append

    def close() -> None:
        if current is None or not leaves:
            return
        _, device, facility, workshop = devices.get(current, _UNKNOWN)
        h, s, c = _tree(leaves)
        node = ms.level_node(ms.LEVEL_DEVICE, ms.labelled_id(device), ms.Node(h, s, c))
        device_nodes.append(DeviceNode(facility, workshop, device, node))

    try:
        while page := cursor.fetchmany(PAGE_ROWS):
            for device_pk, rid, seq, ts, qty, unit, carrier, scope, value, digest, leaf_hash, fset in page:
                if device_pk != current:
                    close()
                    current, leaves = device_pk, []
                    append = leaves.append
                    head = RECORD_TAG + devices.get(device_pk, _UNKNOWN)[0]
                try:
                    q = qty.encode("ascii")
                    uct = texts.get((unit, carrier, scope, fset))
                    if uct is None:
                        uct = texts[(unit, carrier, scope, fset)] = _texts(
                            unit, carrier, scope, factor_set_hash(fset) if fset else factor)
                    v = value.to_bytes(16, "big")
                    d = _sha256(head + _head(seq, ts, len(q)) + q + uct + v).digest()
                    leaf = _sha256(b"\x00" + d + v).digest()
                except (UnicodeError, ValueError, OverflowError, struct.error, AttributeError, TypeError) as exc:
                    if first_bad is None:
                        first_bad = {"reading_id": rid, "sequence": seq, "timestamp": ts, "pk": device_pk,
                                     "cause": f"not encodable as a reading record: {exc}"}
                    bad_readings += 1
                    value = value if isinstance(value, int) and 0 <= value <= MAX_U128 else 0
                    append((_sha256(b"unencodable").digest() + value.to_bytes(16, "big") + _ONE, value, 1))
                    count += 1
                    continue
                append((leaf + v + _ONE, value, 1))
                count += 1
                if d != digest or leaf != leaf_hash:
                    bad_readings += 1
                    if first_bad is None:
                        first_bad = {"reading_id": rid, "sequence": seq, "timestamp": ts, "pk": device_pk,
                                     "field": "digest" if d != digest else "leaf_hash",
                                     "stored": bytes(digest if d != digest else leaf_hash),
                                     "recomputed": d if d != digest else leaf,
                                     "cause": "its fields no longer give its stored digest" if d != digest
                                     else "its digest and value no longer give its stored leaf hash"}
    finally:
        result.close()
    close()
    _compare_window(conn, out, w, batch, device_nodes, first_bad, bad_readings, devices)
    return count


def _texts(unit: str, carrier: str, scope: int, factor: bytes) -> bytes:
    """The record's bytes after the quantity, up to the value: unit, carrier, factor set, scope."""
    u, c = unit.encode("ascii"), carrier.encode("ascii")
    return bytes((len(u),)) + u + bytes((len(c),)) + c + factor + bytes((scope,))


def _compare_window(conn: Connection, out: MeterCheck, w: _Window, batch: Any, device_nodes: list[DeviceNode],
                    first_bad: dict[str, Any] | None, bad_readings: int, devices: Devices
                    ) -> None:
    where = _where(w, int(batch.id))
    if first_bad is not None:
        device = devices.get(first_bad["pk"], _UNKNOWN)[1]
        if "field" in first_bad:
            key = f"{w.enterprise_org_id}/{w.anchor_id}/{device}/{first_bad['reading_id']}"
            out.found.append(("meter_reading", key, first_bad["field"], first_bad["stored"], first_bad["recomputed"],
                              {**where, "device": device, "reading_id": first_bad["reading_id"],
                               "sequence": first_bad["sequence"], "timestamp": first_bad["timestamp"],
                               "readings_not_reproducing": bad_readings}))
    stored = {(int(lv), label): (bytes(h), int(s), int(c)) for lv, label, h, s, c in conn.execute(
        select(CommittedNode.level, CommittedNode.label, CommittedNode.hash, CommittedNode.sum_mg, CommittedNode.count)
        .where(CommittedNode.batch_id == batch.id))}
    try:
        tree = EnterpriseTree.build(w.enterprise_org_id, device_nodes) if device_nodes else None
    except ValueError:  # a device placed twice
        tree = None
    recomputed = (tree.root.hash, tree.root.sum, tree.root.count) if tree else (b"", 0, 0)
    chain = (w.root, w.total_mg, w.reading_count)
    if recomputed != chain:
        place: dict[str, Any] = {"device": None, "reading_id": None}
        if first_bad is not None:
            place = {"device": devices.get(first_bad["pk"], _UNKNOWN)[1], "reading_id": first_bad["reading_id"],
                     "sequence": first_bad["sequence"], "timestamp": first_bad["timestamp"],
                     "cause": first_bad["cause"]}
        else:
            for d in device_nodes:  # fields and stored hashes agree: the first device whose node moved
                if stored.get((ms.LEVEL_DEVICE, d.device), (d.node.hash,))[0] != d.node.hash or (
                        (ms.LEVEL_DEVICE, d.device) not in stored):
                    place = {"device": d.device, "reading_id": None,
                             "cause": "the device's readings no longer give its stored node"}
                    break
            else:
                place["cause"] = "the stored readings and nodes agree with each other, not with the chain"
        for name, ours, theirs in zip(("root", "total_mg", "reading_count"), recomputed, chain, strict=True):
            if ours != theirs:
                out.found.append(("meter_window", _window_key(w), name, ours, theirs,
                                  {**where, **place, "readings_not_reproducing": bad_readings}))
        return
    assert tree is not None
    for n in tree.level_nodes():  # the readings reproduce the chain: the stored nodes must too
        key = f"{w.enterprise_org_id}/{w.anchor_id}/{ms.LEVEL_NAMES[n.level]}/{n.label}"
        got = stored.pop((n.level, n.label), None)
        if got is None:
            out.found.append(("meter_node", key, "hash", None, n.node.hash, where))
            continue
        for name, ours, theirs in zip(("hash", "sum_mg", "count"), got, n.node, strict=True):
            if ours != theirs:
                out.found.append(("meter_node", key, name, ours, theirs, where))
    for level, label in stored:
        out.found.append(("meter_node", f"{w.enterprise_org_id}/{w.anchor_id}/{ms.LEVEL_NAMES.get(level, level)}/"
                          f"{label}", "hash", stored[(level, label)][0], None, where))


OUTPUT_KINDS = frozenset(str(k) for k in OutputDocumentKind)


def check_documents(conn: Connection, open_document: Callable[[Any], bytes],
                    report_view: Callable[[int], Report]) -> tuple[int, list[Found]]:
    """Every stored document opened and hashed again; its hash must be on chain as the report, statement or
    reasons of a report of its organisation (found through the index, read from the chain), or, for the evidence
    of production output (an ERP extract, counters' counts), as the extract hash of an output record of one of its
    organisation's products (the index's, whose commitments reconcile compares with the chain's)."""
    outputs = {(int(org), bytes(digest)) for org, digest in conn.execute(
        select(ChainProductOutput.owner_org_id, ChainProductOutput.extract_hash))}
    by_org: dict[int, list[int]] = {}
    for report_id, org_id in conn.execute(select(ChainReport.report_id, ChainReport.org_id)
                                          .order_by(ChainReport.report_id)):
        by_org.setdefault(int(org_id), []).append(int(report_id))
    views: dict[int, Report] = {}
    found: list[Found] = []
    count = 0
    for row in conn.execute(select(StoredDocument).order_by(StoredDocument.id)):
        count += 1
        digest = bytes(row.document_hash)
        key = f"{row.org_id}/{row.kind}/0x{digest.hex()}"
        where = {"document_id": int(row.id), "org_id": int(row.org_id), "kind": row.kind}
        try:
            content = open_document(row)
            recomputed: bytes | None = hashlib.sha256(content).digest()
        except Exception as exc:  # a sealed row that no longer opens is the finding
            recomputed, where = None, {**where, "cause": str(exc)}
        if recomputed != digest:
            found.append(("document", key, "content", None if recomputed is None else "0x" + recomputed.hex(),
                          "0x" + digest.hex(), where))
        if row.kind in OUTPUT_KINDS:
            if (int(row.org_id), digest) not in outputs:
                found.append(("document", key, "on_chain", "0x" + digest.hex(), None, {
                    **where, "cause": f"no output record of organisation {row.org_id} commits to it"}))
            continue
        on_chain = False
        for report_id in by_org.get(int(row.org_id), []):
            c = views.get(report_id) or views.setdefault(report_id, report_view(report_id))
            hashes = {"report": c.document_hash, "statement": c.statement_hash, "reason": c.reason_hash}
            if c.org_id == int(row.org_id) and hashes.get(row.kind) == digest:
                on_chain = True
                break
        if not on_chain:
            found.append(("document", key, "on_chain", "0x" + digest.hex(), None,
                          {**where, "cause": f"no report of organisation {row.org_id} records it as its {row.kind}"}))
    return count, found

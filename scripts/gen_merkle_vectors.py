"""Write `contracts/test-vectors/merkle_sum.json`, the vectors both implementations must reproduce.

Run: python scripts/gen_merkle_vectors.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from oracles import merkle_sum as ms

OUT = Path(__file__).resolve().parent.parent / "contracts" / "test-vectors" / "merkle_sum.json"


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _node(n: ms.Node) -> dict[str, Any]:
    return {"hash": _hex(n.hash), "sum": str(n.sum), "count": n.count}


def _digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


# enterprise 11: facility -> workshop -> device -> reading values (mgCO2e); odd counts on purpose.
LAYOUT: dict[str, dict[str, dict[str, list[int]]]] = {
    "F1": {"F1-W1": {"F1-W1-D1": [557_000, 0, 1_113_600], "F1-W1-D2": [42]}, "F1-W2": {"F1-W2-D1": [7, 9]}},
    "F2": {"F2-W1": {"F2-W1-D1": [2**64, 1], "F2-W1-D2": [123_456_789], "F2-W1-D3": [5, 5, 5, 5, 5]}},
}


def build() -> dict[str, Any]:
    enterprise = ms.enterprise_id(11)
    readings: list[dict[str, Any]] = []
    facilities = []
    for f_name in sorted(LAYOUT, key=lambda s: ms.labelled_id(s)):
        workshops = []
        for w_name in sorted(LAYOUT[f_name], key=lambda s: ms.labelled_id(s)):
            devices = []
            for d_name in sorted(LAYOUT[f_name][w_name], key=lambda s: ms.labelled_id(s)):
                values = LAYOUT[f_name][w_name][d_name]
                leaves = [ms.leaf(_digest(f"{d_name}/{i}"), v) for i, v in enumerate(values)]
                devices.append((d_name, ms.LabelledTree.build(ms.LEVEL_DEVICE, ms.labelled_id(d_name), leaves), values))
            workshops.append(
                (
                    w_name,
                    ms.LabelledTree.build(ms.LEVEL_WORKSHOP, ms.labelled_id(w_name), [d[1].node for d in devices]),
                    devices,
                )
            )
        facilities.append(
            (
                f_name,
                ms.LabelledTree.build(ms.LEVEL_FACILITY, ms.labelled_id(f_name), [w[1].node for w in workshops]),
                workshops,
            )
        )
    ent = ms.LabelledTree.build(ms.LEVEL_ENTERPRISE, enterprise, [f[1].node for f in facilities])
    for fi, (_f_name, f_tree, workshops) in enumerate(facilities):
        for wi, (_w_name, w_tree, devices) in enumerate(workshops):
            for di, (d_name, d_tree, values) in enumerate(devices):
                for ri, value in enumerate(values):
                    steps = d_tree.steps(ri) + w_tree.steps(di) + f_tree.steps(wi) + ent.steps(fi)
                    digest = _digest(f"{d_name}/{ri}")
                    _, subtotals = ms.fold(ms.leaf(digest, value), steps)
                    readings.append(
                        {
                            "device": d_name,
                            "digest": _hex(digest),
                            "value": str(value),
                            "proof": [
                                {
                                    "kind": s.kind,
                                    "level": s.level,
                                    "data": _hex(s.data),
                                    "sum": str(s.sum),
                                    "count": s.count,
                                }
                                for s in steps
                            ],
                            "subtotals": [
                                {"level": t.level, "id": _hex(t.id), "sum": str(t.sum), "count": t.count}
                                for t in subtotals
                            ],
                        }
                    )
    facilities_root = ms.root([f[1].node for f in facilities])
    a, b, c = ms.leaf(_digest("a"), 1), ms.leaf(_digest("b"), 2), ms.leaf(_digest("c"), 3)
    return {
        "spec": "contracts/COMMITMENTS.md",
        "leaves": [
            {"digest": _hex(_digest(x)), "value": str(v), "node": _node(ms.leaf(_digest(x), v))}
            for x, v in (("a", 1), ("b", 2), ("c", 3), ("zero", 0), ("max", ms.MAX_U128))
        ],
        "pairs": [{"left": _node(a), "right": _node(b), "node": _node(ms.pair(a, b))}],
        "levels": [
            {
                "level": 1,
                "id": _hex(ms.labelled_id("D1")),
                "child": _node(c),
                "node": _node(ms.level_node(1, ms.labelled_id("D1"), c)),
            }
        ],
        "roots": [
            {"nodes": [_node(n) for n in ns], "root": _node(ms.root(ns))}
            for ns in ([a], [a, b], [a, b, c], [a, b, c, a, b])
        ],
        "enterprise": {
            "orgId": 11,
            "enterpriseId": _hex(enterprise),
            "facilitiesRoot": _node(facilities_root),
            "root": _node(ent.node),
            "readings": readings,
        },
    }


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {OUT}")

"""Drill down a park's emissions: park -> enterprises -> facilities -> workshops -> devices, for a
year or a time window, with totals at every level from the committed level nodes in SQL.

Which totals are checked against the chain:
- every enterprise total is compared with the sum of its anchors' `totalMg` (MeterAnchor's
  `Anchored` events in the index) over the same windows: `matches_anchored`;
- with `verify_roots`, each window is rebuilt from its stored readings (every record re-encoded
  and re-hashed, `oracles.proofs.rebuild_window`), not from the stored node rows. The window's
  committed tree is the rebuilt one if it gives the anchored root, else the stored node rows if they
  are consistent and give it (the readings changed since). A device, workshop, facility or
  enterprise is marked (`matches_anchored`) True only if, in every window it appears in, its stored
  row, its node rebuilt from the readings and its committed node agree: an edited reading turns
  False the device, workshop, facility and enterprise on its path, an edited node row turns False
  that node, and a window neither reproduces turns False all of its nodes.
The park total is the sum of its children (the chain anchors no park-level node).

The park organisation can hold meter data of its own: Membership admits members to any
organisation with any role, and MeterAnchor lets an active ENTERPRISE member of an
organisation register devices for it and an authorised oracle anchor windows for it, whatever
the organisation's kind. A shared facility of the park (a substation, a wastewater plant)
registered by the park's own member is therefore anchored under the park's org id, and shows
up as a child of level `park_facilities` labelled with the park's id, with the same totals and
checks against its anchors as an enterprise.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import BatchStatus, ChainAnchor, ChainOrganisation, CommittedNode, MeterBatch
from ledger_service.audit.report_trace import year_window
from ledger_service.audit.results import LevelTotal
from oracles import merkle_sum as ms
from oracles.measures import MEASURE_EMISSIONS
from oracles.merkle_sum import Node
from oracles.proofs import rebuild_window
from oracles.trees import DeviceNode, EnterpriseTree

PARK_FACILITIES = "park_facilities"


NodeKey = tuple[Any, ...]


def _key(level: int, label: str, facility: str | None, workshop: str | None) -> NodeKey:
    """Where a level node sits, as stored rows and rebuilt trees both name it."""
    if level == ms.LEVEL_DEVICE:
        return (level, label)
    if level == ms.LEVEL_WORKSHOP:
        return (level, facility or "", label)
    if level == ms.LEVEL_FACILITY:
        return (level, label)
    return (level,)


def _nodes(tree: EnterpriseTree) -> dict[NodeKey, Node]:
    return {_key(n.level, n.label, n.facility, n.workshop): n.node for n in tree.level_nodes()}


def _checked_nodes(session: Session, batches: list[MeterBatch],
                   anchored_roots: dict[int, bytes]) -> dict[NodeKey, bool]:
    """Each node of the windows: True if in every window its stored row, its node rebuilt from the readings
    and the committed node (the one that gives the anchored root) agree."""
    stored: dict[int, dict[NodeKey, Node]] = defaultdict(dict)
    places: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
    for batch_id, level, label, facility, workshop, h, s, c in session.execute(
        select(CommittedNode.batch_id, CommittedNode.level, CommittedNode.label, CommittedNode.facility,
               CommittedNode.workshop, CommittedNode.hash, CommittedNode.sum_mg, CommittedNode.count)
        .where(CommittedNode.batch_id.in_([b.id for b in batches]))
    ):
        stored[batch_id][_key(level, label, facility, workshop)] = Node(h, s, c)
        if level == ms.LEVEL_DEVICE:
            places[batch_id][label] = (facility or "", workshop or "")
    checked: dict[NodeKey, bool] = {}
    for b in batches:
        rows = stored[b.id]
        rebuilt_tree = rebuild_window(session, b).tree
        rebuilt = _nodes(rebuilt_tree.upper) if rebuilt_tree is not None else {}
        anchored = anchored_roots.get(b.anchor_id) if b.anchor_id is not None else None
        committed: dict[NodeKey, Node] | None = None
        if anchored is not None and rebuilt_tree is not None and rebuilt_tree.root.hash == anchored:
            committed = rebuilt
        elif anchored is not None:
            devices = [DeviceNode(*places[b.id][k[1]], k[1], n) for k, n in rows.items() if k[0] == ms.LEVEL_DEVICE]
            if devices:
                from_rows = _nodes(EnterpriseTree.build(b.enterprise_org_id, devices))
                if from_rows == rows and from_rows[(ms.LEVEL_ENTERPRISE,)].hash == anchored:
                    committed = from_rows
        for key in rows.keys() | rebuilt.keys():
            expected = None if committed is None else committed.get(key)
            ok = expected is not None and rows.get(key) == expected and rebuilt.get(key) == expected
            checked[key] = checked.get(key, True) and ok
    return checked


def _enterprise(session: Session, org_id: int, start: int, end: int, verify_roots: bool,
                kind: str = "enterprise") -> LevelTotal:
    batches = list(session.scalars(select(MeterBatch).where(
        MeterBatch.enterprise_org_id == org_id, MeterBatch.window_start >= start, MeterBatch.window_end <= end,
        MeterBatch.status != BatchStatus.OPEN, MeterBatch.measure == MEASURE_EMISSIONS)))
    anchors = session.execute(select(ChainAnchor.anchor_id, ChainAnchor.root, ChainAnchor.total_mg,
                                     ChainAnchor.reading_count).where(
        ChainAnchor.enterprise_org_id == org_id, ChainAnchor.window_start >= start,
        ChainAnchor.window_end <= end, ChainAnchor.measure == MEASURE_EMISSIONS)).all()
    rows = session.execute(
        select(CommittedNode.level, CommittedNode.label, CommittedNode.facility, CommittedNode.workshop,
               CommittedNode.sum_mg, CommittedNode.count)
        .where(CommittedNode.batch_id.in_([b.id for b in batches]), CommittedNode.level < ms.LEVEL_ENTERPRISE)
    ).all()
    facilities: dict[str, LevelTotal] = {}
    workshops: dict[tuple[str | None, str], LevelTotal] = {}
    devices: dict[str, LevelTotal] = {}
    for level, label, facility, workshop, s, c in sorted(rows, key=lambda r: r[0], reverse=True):
        node: LevelTotal | None
        if level == ms.LEVEL_FACILITY:
            node = facilities.setdefault(label, LevelTotal("facility", label, 0, 0))
        elif level == ms.LEVEL_WORKSHOP:
            node = workshops.get((facility, label))
            if node is None:
                node = workshops[(facility, label)] = LevelTotal("workshop", label, 0, 0)
                facilities.setdefault(facility or "", LevelTotal("facility", facility or "", 0, 0)).children.append(
                    node)
        else:
            node = devices.get(label)
            if node is None:
                node = devices[label] = LevelTotal("device", label, 0, 0)
                workshops[(facility, workshop or "")].children.append(node)
        node.sum_mg += s
        node.count += c
    total = LevelTotal(kind, str(org_id), sum(f.sum_mg for f in facilities.values()),
                       sum(f.count for f in facilities.values()), sorted(facilities.values(), key=lambda n: n.label))
    total.anchored_mg = sum(a.total_mg for a in anchors)
    total.anchored_count = sum(a.reading_count for a in anchors)
    total.matches_anchored = (total.sum_mg, total.count) == (total.anchored_mg, total.anchored_count) and len(
        anchors) == len(batches)
    if verify_roots:
        checked = _checked_nodes(session, batches, {a.anchor_id: a.root for a in anchors})
        total.matches_anchored = total.matches_anchored and (
            not batches or checked.get((ms.LEVEL_ENTERPRISE,), False))
        for f in facilities.values():
            f.matches_anchored = checked.get((ms.LEVEL_FACILITY, f.label), False)
        for (facility, label), w in workshops.items():
            w.matches_anchored = checked.get((ms.LEVEL_WORKSHOP, facility or "", label), False)
        for label, d in devices.items():
            d.matches_anchored = checked.get((ms.LEVEL_DEVICE, label), False)
    for f in facilities.values():
        f.children.sort(key=lambda n: n.label)
        for w in f.children:
            w.children.sort(key=lambda n: n.label)
    return total


def drill_down(session: Session, park_org_id: int, start: int, end: int, verify_roots: bool = False) -> LevelTotal:
    """The park's tree for windows inside `[start, end)` (seconds UTC): the park organisation's own
    meter data (level `park_facilities`) first, then its enterprises; children without readings are
    left out."""
    enterprises = session.scalars(select(ChainOrganisation.org_id).where(
        ChainOrganisation.parent_id == park_org_id).order_by(ChainOrganisation.org_id)).all()
    children = [_enterprise(session, park_org_id, start, end, verify_roots, kind=PARK_FACILITIES)]
    children += [_enterprise(session, org, start, end, verify_roots) for org in enterprises]
    children = [c for c in children if c.count]
    park = LevelTotal("park", str(park_org_id), sum(c.sum_mg for c in children), sum(c.count for c in children),
                      children)
    park.anchored_mg = sum(c.anchored_mg or 0 for c in children)
    park.anchored_count = sum(c.anchored_count or 0 for c in children)
    park.matches_anchored = all(c.matches_anchored for c in children)
    return park


def drill_down_year(session: Session, park_org_id: int, year: int, verify_roots: bool = False) -> LevelTotal:
    return drill_down(session, park_org_id, *year_window(year), verify_roots=verify_roots)

"""Drill down a park's emissions: park -> enterprises -> facilities -> workshops -> devices, for a
year or a time window, with totals at every level from the committed level nodes in SQL.

Which totals are checked against the chain:
- every enterprise total is compared with the sum of its anchors' `totalMg` (MeterAnchor's
  `Anchored` events in the index) over the same windows: `matches_anchored`;
- with `verify_roots`, each window's stored device nodes are re-hashed up to the level-4
  root and compared with the anchored root; when every root matches, every facility,
  workshop and device total below is committed by the anchors (`matches_anchored` set on
  those levels too); otherwise they are marked False.
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

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.audit.report_trace import year_window
from ledger_service.audit.results import LevelTotal
from ledger_service.db.models import BatchStatus, ChainAnchor, ChainOrganisation, CommittedNode, MeterBatch
from oracles import merkle_sum as ms
from oracles.merkle_sum import Node
from oracles.trees import DeviceNode, EnterpriseTree

PARK_FACILITIES = "park_facilities"


def _roots_match(session: Session, batches: list[MeterBatch], anchored_roots: dict[int, bytes]) -> bool:
    nodes: dict[int, list[DeviceNode]] = defaultdict(list)
    for batch_id, label, facility, workshop, h, s, c in session.execute(
        select(CommittedNode.batch_id, CommittedNode.label, CommittedNode.facility, CommittedNode.workshop,
               CommittedNode.hash, CommittedNode.sum_mg, CommittedNode.count)
        .where(CommittedNode.batch_id.in_([b.id for b in batches]), CommittedNode.level == ms.LEVEL_DEVICE)
    ):
        nodes[batch_id].append(DeviceNode(facility or "", workshop or "", label, Node(h, s, c)))
    for b in batches:
        if b.anchor_id not in anchored_roots or not nodes[b.id]:
            return False
        if EnterpriseTree.build(b.enterprise_org_id, nodes[b.id]).root.hash != anchored_roots[b.anchor_id]:
            return False
    return True


def _enterprise(session: Session, org_id: int, start: int, end: int, verify_roots: bool,
                kind: str = "enterprise") -> LevelTotal:
    batches = list(session.scalars(select(MeterBatch).where(
        MeterBatch.enterprise_org_id == org_id, MeterBatch.window_start >= start, MeterBatch.window_end <= end,
        MeterBatch.status != BatchStatus.OPEN)))
    anchors = session.execute(select(ChainAnchor.anchor_id, ChainAnchor.root, ChainAnchor.total_mg,
                                     ChainAnchor.reading_count).where(
        ChainAnchor.enterprise_org_id == org_id, ChainAnchor.window_start >= start,
        ChainAnchor.window_end <= end)).all()
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
        ok = total.matches_anchored and _roots_match(session, batches, {a.anchor_id: a.root for a in anchors})
        stack = list(total.children)
        while stack:
            node = stack.pop()
            node.matches_anchored = ok
            stack.extend(node.children)
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

"""The tree of one anchor (COMMITMENTS.md): readings -> device -> workshop -> facility -> enterprise.

Built with `oracles.merkle_sum`. `WindowTree` holds every layer (for building a window and
for tests); `EnterpriseTree` holds only the levels above the devices, which is what a
proof needs besides the reading's own device layer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from oracles import merkle_sum as ms
from oracles.merkle_sum import LabelledTree, Node, Step


class TreeLeaf(NamedTuple):
    """A reading's place in the tree and its leaf node."""

    facility: str
    workshop: str
    device: str
    timestamp: int
    sequence: int
    leaf: Node


class DeviceNode(NamedTuple):
    facility: str
    workshop: str
    device: str
    node: Node  # the device's level-1 node


class LevelNode(NamedTuple):
    """A level node as stored: which level, whose, where in the tree."""

    level: int
    label: str
    facility: str | None
    workshop: str | None
    node_id: bytes
    node: Node


def device_tree(device: str, leaves: Sequence[Node]) -> LabelledTree:
    """The level-1 tree of a device over its readings' leaves, already in (timestamp, sequence) order."""
    return LabelledTree.build(ms.LEVEL_DEVICE, ms.labelled_id(device), leaves)


def _by_id(labels: Iterable[str]) -> list[str]:
    return sorted(labels, key=ms.labelled_id)


@dataclass(frozen=True)
class EnterpriseTree:
    """Workshops, facilities and the enterprise over a set of device nodes."""

    enterprise_org_id: int
    device_nodes: dict[str, DeviceNode]
    workshops: dict[tuple[str, str], LabelledTree]
    workshop_devices: dict[tuple[str, str], list[str]]
    facilities: dict[str, LabelledTree]
    facility_workshops: dict[str, list[str]]
    enterprise: LabelledTree
    facility_order: list[str]

    @classmethod
    def build(cls, enterprise_org_id: int, devices: Iterable[DeviceNode]) -> EnterpriseTree:
        by_workshop: dict[tuple[str, str], list[DeviceNode]] = defaultdict(list)
        device_nodes: dict[str, DeviceNode] = {}
        for d in devices:
            if d.device in device_nodes:
                raise ValueError(f"device {d.device} appears twice")
            device_nodes[d.device] = d
            by_workshop[(d.facility, d.workshop)].append(d)
        if not device_nodes:
            raise ValueError("an enterprise tree needs at least one device")
        workshops: dict[tuple[str, str], LabelledTree] = {}
        workshop_devices: dict[tuple[str, str], list[str]] = {}
        by_facility: dict[str, list[str]] = defaultdict(list)
        for (facility, workshop), members in by_workshop.items():
            order = _by_id(m.device for m in members)
            workshop_devices[(facility, workshop)] = order
            workshops[(facility, workshop)] = LabelledTree.build(
                ms.LEVEL_WORKSHOP, ms.labelled_id(workshop), [device_nodes[name].node for name in order]
            )
            by_facility[facility].append(workshop)
        facilities: dict[str, LabelledTree] = {}
        facility_workshops: dict[str, list[str]] = {}
        for facility, names in by_facility.items():
            order = _by_id(names)
            facility_workshops[facility] = order
            facilities[facility] = LabelledTree.build(
                ms.LEVEL_FACILITY, ms.labelled_id(facility), [workshops[(facility, w)].node for w in order]
            )
        facility_order = _by_id(facilities)
        enterprise = LabelledTree.build(
            ms.LEVEL_ENTERPRISE, ms.enterprise_id(enterprise_org_id), [facilities[f].node for f in facility_order]
        )
        return cls(enterprise_org_id, device_nodes, workshops, workshop_devices, facilities, facility_workshops,
                   enterprise, facility_order)

    @property
    def root(self) -> Node:
        """The level-4 node: the anchored root, with the window's total and reading count."""
        return self.enterprise.node

    @property
    def facilities_root(self) -> Node:
        """The Merkle-sum root over the facility nodes, as `MeterAnchor.anchor` takes it."""
        return self.enterprise.layers[-1][0]

    def steps_above(self, device: str) -> list[Step]:
        """Proof steps from a device's level-1 node to the enterprise wrap."""
        d = self.device_nodes[device]
        key = (d.facility, d.workshop)
        return [
            *self.workshops[key].steps(self.workshop_devices[key].index(device)),
            *self.facilities[d.facility].steps(self.facility_workshops[d.facility].index(d.workshop)),
            *self.enterprise.steps(self.facility_order.index(d.facility)),
        ]

    def level_nodes(self) -> list[LevelNode]:
        """Every level node above the readings (device, workshop, facility, enterprise)."""
        out = [
            LevelNode(ms.LEVEL_DEVICE, d.device, d.facility, d.workshop, ms.labelled_id(d.device), d.node)
            for d in self.device_nodes.values()
        ]
        out += [
            LevelNode(ms.LEVEL_WORKSHOP, w, f, None, t.id, t.node) for (f, w), t in self.workshops.items()
        ]
        out += [LevelNode(ms.LEVEL_FACILITY, f, None, None, t.id, t.node) for f, t in self.facilities.items()]
        out.append(
            LevelNode(ms.LEVEL_ENTERPRISE, str(self.enterprise_org_id), None, None, self.enterprise.id,
                      self.enterprise.node)
        )
        return out


@dataclass(frozen=True)
class WindowTree:
    """Every layer of one enterprise window, from the readings up."""

    devices: dict[str, LabelledTree]
    readings: dict[str, list[TreeLeaf]]  # per device, in leaf order
    upper: EnterpriseTree

    @property
    def root(self) -> Node:
        return self.upper.root

    def proof(self, device: str, position: int) -> list[Step]:
        """Steps from the `position`-th reading of `device` to the anchored root."""
        return [*self.devices[device].steps(position), *self.upper.steps_above(device)]


def build_window_tree(enterprise_org_id: int, leaves: Iterable[TreeLeaf]) -> WindowTree:
    """The tree of one enterprise window over its readings (in any order)."""
    per_device: dict[str, list[TreeLeaf]] = defaultdict(list)
    for leaf in leaves:
        per_device[leaf.device].append(leaf)
    devices: dict[str, LabelledTree] = {}
    nodes: list[DeviceNode] = []
    for device, readings in per_device.items():
        readings.sort(key=lambda r: (r.timestamp, r.sequence))
        places = {(r.facility, r.workshop) for r in readings}
        if len(places) != 1:
            raise ValueError(f"device {device} is placed in more than one workshop")
        tree = devices[device] = device_tree(device, [r.leaf for r in readings])
        facility, workshop = places.pop()
        nodes.append(DeviceNode(facility, workshop, device, tree.node))
    return WindowTree(devices, dict(per_device), EnterpriseTree.build(enterprise_org_id, nodes))

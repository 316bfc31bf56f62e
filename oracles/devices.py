"""The oracle's device registry: who may send readings, with which key, into which place of the tree.

It mirrors `MeterAnchor`'s device registry (which keeps only each key's hash) and adds the
raw public keys the oracle verifies signatures with and the last accepted reading of each device.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger_core.db.models import MeterDevice
from oracles.canonical import public_key_hash
from oracles.measures import DeviceKind
from oracles.merkle_sum import labelled_id
from oracles.verification import DeviceKey


class DeviceConflict(ValueError):
    """A device id is already registered with other details."""


class UnknownDevice(KeyError):
    pass


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    enterprise_org_id: int
    facility: str
    workshop: str
    public_key: bytes
    kind: str = DeviceKind.EMISSION_METER

    @property
    def device_hash(self) -> bytes:
        return labelled_id(self.device_id)

    @property
    def facility_id(self) -> bytes:
        return labelled_id(self.facility)

    @property
    def workshop_id(self) -> bytes:
        return labelled_id(self.workshop)

    @property
    def public_key_hash(self) -> bytes:
        return public_key_hash(self.public_key)


def register_devices(session: Session, devices: Iterable[DeviceInfo]) -> int:
    """Add devices not yet registered; returns how many were added. Re-registering a device
    with identical details is a no-op; with different details it is a `DeviceConflict`."""
    existing = {d.device_id: d for d in session.scalars(select(MeterDevice))}
    rows = []
    for info in devices:
        known = existing.get(info.device_id)
        if known is not None:
            same = (known.enterprise_org_id, known.facility, known.workshop, known.public_key, known.kind) == (
                info.enterprise_org_id, info.facility, info.workshop, info.public_key, info.kind)
            if not same:
                raise DeviceConflict(f"device {info.device_id} is registered with other details")
            continue
        public_key_hash(info.public_key)  # validates the key length
        rows.append(
            {
                "device_id": info.device_id,
                "device_hash": info.device_hash,
                "enterprise_org_id": info.enterprise_org_id,
                "facility": info.facility,
                "workshop": info.workshop,
                "public_key": info.public_key,
                "kind": str(DeviceKind(info.kind)),
                "active": True,
            }
        )
    if rows:
        session.execute(insert(MeterDevice), rows)
    return len(rows)


def _device(session: Session, device_id: str) -> MeterDevice:
    device = session.scalar(select(MeterDevice).where(MeterDevice.device_id == device_id))
    if device is None:
        raise UnknownDevice(device_id)
    return device


def set_device_active(session: Session, device_id: str, active: bool) -> None:
    _device(session, device_id).active = active


def rotate_device_key(session: Session, device_id: str, public_key: bytes) -> None:
    public_key_hash(public_key)
    _device(session, device_id).public_key = public_key


def device_keys(session: Session) -> dict[str, DeviceKey]:
    """A snapshot of every device's key and state, for checking signatures."""
    rows = session.execute(select(MeterDevice.device_id, MeterDevice.public_key, MeterDevice.active,
                                  MeterDevice.kind))
    return {device_id: DeviceKey(bytes(key), bool(active), str(kind)) for device_id, key, active, kind in rows}


def device_infos(session: Session) -> list[DeviceInfo]:
    return [
        DeviceInfo(d.device_id, d.enterprise_org_id, d.facility, d.workshop, bytes(d.public_key), d.kind)
        for d in session.scalars(select(MeterDevice).order_by(MeterDevice.id))
    ]

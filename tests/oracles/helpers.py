"""Signed test messages from the simulated park's deterministic device keys."""

from __future__ import annotations

from oracles.canonical import MessageReading, SignedMessage
from oracles.simulator import ParkLayout, SimulatedDevice, device_signing_key, sign_message


def device(park: ParkLayout, index: int = 0, carrier: str | None = None) -> SimulatedDevice:
    if carrier is None:
        return park.devices[index]
    return next(d for d in park.devices if d.carrier == carrier)


def signed(park: ParkLayout, dev: SimulatedDevice, *readings: MessageReading) -> SignedMessage:
    return sign_message(device_signing_key(park.seed, dev.device_id), dev.device_id, tuple(readings))


def kwh(seq: int, ts: int, quantity: str = "10", unit: str = "kWh", carrier: str = "electricity") -> MessageReading:
    return MessageReading(seq, ts, quantity, unit, carrier)

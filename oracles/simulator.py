"""A deterministic simulated industrial park: enterprises, facilities, workshops and signed meter data.

Load profiles have a daily shape (day shifts, or flat continuous processes), a weekly
shape (quieter weekends), per-carrier magnitudes and multiplicative noise. Everything,
including each device's Ed25519 key, follows from the seed.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from oracles.canonical import MessageReading, SignedMessage, message_bytes
from oracles.devices import DeviceInfo

LOCAL_UTC_OFFSET_HOURS = 8  # the park's local time (China Standard Time) shapes its day


@dataclass(frozen=True)
class CarrierProfile:
    carrier: str
    unit: str
    decimals: int
    per_minute: tuple[float, float]  # range of a device's mean quantity per minute
    continuous: bool  # flat around the clock (kilns, boilers) rather than day shifts
    weight: int  # how common such devices are


PROFILES: tuple[CarrierProfile, ...] = (
    CarrierProfile("electricity", "kWh", 3, (5.0, 200.0), False, 60),
    CarrierProfile("natural_gas", "Nm3", 3, (1.0, 40.0), False, 12),
    CarrierProfile("heat", "GJ", 4, (0.02, 0.5), True, 8),
    CarrierProfile("coal", "t", 4, (0.005, 0.15), True, 6),
    CarrierProfile("diesel", "kg", 3, (0.5, 15.0), False, 6),
    CarrierProfile("co2", "t", 4, (0.05, 1.5), True, 4),
    CarrierProfile("ch4", "kg", 4, (0.01, 0.8), True, 2),
    CarrierProfile("n2o", "kg", 5, (0.001, 0.05), True, 2),
)
_BY_CARRIER = {p.carrier: p for p in PROFILES}


@dataclass(frozen=True)
class SimulatedDevice:
    device_id: str
    enterprise_org_id: int
    facility: str
    workshop: str
    carrier: str
    mean_per_minute: float
    public_key: bytes

    @property
    def info(self) -> DeviceInfo:
        return DeviceInfo(self.device_id, self.enterprise_org_id, self.facility, self.workshop, self.public_key)


@dataclass(frozen=True)
class ParkLayout:
    seed: int
    park_org_id: int
    enterprises: tuple[tuple[int, str], ...]
    devices: tuple[SimulatedDevice, ...]

    def device_infos(self) -> list[DeviceInfo]:
        return [d.info for d in self.devices]

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "parkOrgId": self.park_org_id,
            "enterprises": [{"orgId": o, "name": n} for o, n in self.enterprises],
            "devices": [{**asdict(d), "public_key": d.public_key.hex()} for d in self.devices],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParkLayout:
        return cls(
            seed=int(data["seed"]),
            park_org_id=int(data["parkOrgId"]),
            enterprises=tuple((int(e["orgId"]), str(e["name"])) for e in data["enterprises"]),
            devices=tuple(
                SimulatedDevice(**{**d, "public_key": bytes.fromhex(d["public_key"])}) for d in data["devices"]
            ),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> ParkLayout:
        return cls.from_json(json.loads(path.read_text()))


def device_signing_key(seed: int, device_id: str) -> Ed25519PrivateKey:
    """The simulated device's private key (deterministic from the seed; never use outside simulation)."""
    secret = hashlib.sha256(f"carbonledger-sim:{seed}:{device_id}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(secret)


def _raw_public_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


_NAMES = ("Steel", "Cement", "Glass", "Auto Parts", "Paper", "Textiles", "Foundry", "Ceramics", "Aluminium", "Plastics")


def simulate_park(
    enterprises: int = 2,
    devices_per_enterprise: int = 10,
    seed: int = 0,
    park_org_id: int = 10,
    first_enterprise_org_id: int = 11,
) -> ParkLayout:
    """A park of `enterprises` x `devices_per_enterprise` devices spread over facilities and workshops."""
    rng = random.Random(seed)
    orgs: list[tuple[int, str]] = []
    devices: list[SimulatedDevice] = []
    weights = [p.weight for p in PROFILES]
    for e in range(enterprises):
        org = first_enterprise_org_id + e
        orgs.append((org, f"{rng.choice(('Riverside', 'Eastern', 'Northern', 'Harbour', 'Valley'))} "
                          f"{_NAMES[e % len(_NAMES)]} {org}"))
        facilities = rng.randint(1, 3)
        workshops = [rng.randint(1, 4) for _ in range(facilities)]
        places = [(f, w) for f in range(1, facilities + 1) for w in range(1, workshops[f - 1] + 1)]
        for d in range(1, devices_per_enterprise + 1):
            f, w = places[(d - 1) % len(places)]
            profile = rng.choices(PROFILES, weights)[0]
            device_id = f"ENT{org}-F{f}-W{w}-D{d:03d}"
            low, high = profile.per_minute
            devices.append(
                SimulatedDevice(
                    device_id=device_id,
                    enterprise_org_id=org,
                    facility=f"ENT{org}-F{f}",
                    workshop=f"ENT{org}-F{f}-W{w}",
                    carrier=profile.carrier,
                    mean_per_minute=round(math.exp(rng.uniform(math.log(low), math.log(high))), 6),
                    public_key=_raw_public_key(device_signing_key(seed, device_id)),
                )
            )
    return ParkLayout(seed, park_org_id, tuple(orgs), tuple(devices))


def load_shape(timestamp: int, continuous: bool) -> float:
    """Relative load at a UTC time: day shifts on weekdays, or a nearly flat continuous process."""
    local = timestamp + LOCAL_UTC_OFFSET_HOURS * 3600
    hour = (local % 86400) / 3600
    weekday = (local // 86400 + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    if continuous:
        daily = 1.0 + 0.05 * math.sin(2 * math.pi * (hour - 6) / 24)
        weekly = 0.95 if weekday >= 5 else 1.0
    else:
        # Ramp up from 07:00, plateau 09:00-18:00 with a lunch dip, ramp down by 22:00.
        working = 1 / (1 + math.exp(-(hour - 7.5) * 2)) * 1 / (1 + math.exp((hour - 20) * 1.5))
        lunch = 0.15 * math.exp(-((hour - 12.5) ** 2) / 0.5)
        daily = 0.3 + 1.1 * working - lunch
        weekly = 0.55 if weekday >= 5 else 1.0
    return daily * weekly


def _format(value: float, decimals: int) -> str:
    scaled = max(0, round(value * 10**decimals))
    whole, frac = divmod(scaled, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


def sign_message(key: Ed25519PrivateKey, device: str, readings: tuple[MessageReading, ...]) -> SignedMessage:
    return SignedMessage(device, readings, key.sign(message_bytes(device, readings)))


def simulate_messages(
    layout: ParkLayout,
    start: int,
    readings_per_device: int,
    interval_seconds: int = 60,
    readings_per_message: int = 60,
    first_sequence: int = 1,
) -> Iterator[SignedMessage]:
    """Signed messages as they would arrive: every device sends its next message, then the next round."""
    keys = {d.device_id: device_signing_key(layout.seed, d.device_id) for d in layout.devices}
    rngs = {d.device_id: random.Random(f"{layout.seed}:{d.device_id}") for d in layout.devices}
    minutes = interval_seconds / 60
    for first in range(0, readings_per_device, readings_per_message):
        count = min(readings_per_message, readings_per_device - first)
        for d in layout.devices:
            profile = _BY_CARRIER[d.carrier]
            rng = rngs[d.device_id]
            readings = []
            for i in range(first, first + count):
                ts = start + i * interval_seconds
                noise = max(0.0, rng.gauss(1.0, 0.04))
                value = d.mean_per_minute * minutes * load_shape(ts, profile.continuous) * noise
                readings.append(
                    MessageReading(first_sequence + i, ts, _format(value, profile.decimals), profile.unit, d.carrier)
                )
            yield sign_message(keys[d.device_id], d.device_id, tuple(readings))

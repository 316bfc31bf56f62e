"""Meter data for the API tests: a small simulated park of the cast's enterprises, signed readings, clean-up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy import delete

from ledger_core.chain.outbox import Intent
from ledger_core.db.models import (
    CommittedNode,
    EpdDraftRecord,
    IngestRun,
    MeterBatch,
    MeterDevice,
    QuarantinedReading,
    Reading,
    StoredDocument,
)
from ledger_service.runtime import Runtime
from oracles.simulator import ParkLayout, SimulatedDevice, simulate_messages, simulate_park
from oracles.sources import MessageIn
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, PARK, Cast
from tests.service.helpers import V1, submit

START = 1_743_465_600  # 2025-04-01T00:00:00Z
HOUR = 3600
T = 10**9  # mgCO2e per tonne


def clear_meter_data(runtime: Runtime) -> None:
    """The SQL side of meter data, documents and EPD drafts is not in the chain snapshot: empty it after a test."""
    with runtime.sessions.begin() as session:
        for model in (CommittedNode, Reading, QuarantinedReading, MeterBatch, IngestRun, MeterDevice, StoredDocument,
                      EpdDraftRecord):
            session.execute(delete(model))


def park(devices: int = 2) -> ParkLayout:
    """Enterprises A and B of the cast with `devices` devices each."""
    return simulate_park(enterprises=2, devices_per_enterprise=devices, seed=7, park_org_id=PARK,
                         first_enterprise_org_id=ENTERPRISE_A)


def device_body(d: SimulatedDevice, **changes: Any) -> dict[str, Any]:
    return {"device_id": d.device_id, "enterprise_org_id": d.enterprise_org_id, "facility": d.facility,
            "workshop": d.workshop, "public_key": d.public_key.hex(), **changes}


def register(client: TestClient, cast: Cast, name: str, d: SimulatedDevice, **changes: Any) -> Any:
    return client.post(f"{V1}/meters/devices", headers=cast.auth(name), json=device_body(d, **changes))


def messages(layout: ParkLayout, hours: int = 2, start: int = START, first_sequence: int = 1,
             org: int | None = None) -> list[dict[str, Any]]:
    """Signed one-minute readings, one message per device and hour, as JSON objects."""
    chosen = layout if org is None else ParkLayout(layout.seed, layout.park_org_id, layout.enterprises, tuple(
        d for d in layout.devices if d.enterprise_org_id == org))
    return [MessageIn.of(m).model_dump() for m in simulate_messages(chosen, start, hours * 60, readings_per_message=60,
                                                                    first_sequence=first_sequence)]


def authorise_oracle(runtime: Runtime, cast: Cast, org_id: int, authorised: bool = True) -> None:
    intent = Intent("MeterAnchor", "setOracleAuthorisation", (cast.addresses["oracle"], org_id, authorised),
                    cast.addresses["regulator"])
    (record,) = runtime.outbox.submit([intent])
    assert record.status == "mined", record


def set_up_park(client: TestClient, cast: Cast, runtime: Runtime, devices: int = 2) -> ParkLayout:
    """Register every device (by its enterprise's member) and authorise the oracle for both enterprises."""
    layout = park(devices)
    names = {ENTERPRISE_A: "enterprise_a", ENTERPRISE_B: "enterprise_b"}
    for d in layout.devices:
        reply = register(client, cast, names[d.enterprise_org_id], d)
        assert reply.status_code == 201, reply.text
    for org in names:
        authorise_oracle(runtime, cast, org)
    return layout


def push(client: TestClient, cast: Cast, name: str, batch: list[dict[str, Any]]) -> Any:
    return client.post(f"{V1}/meters/messages", headers=cast.auth(name), json={"messages": batch})


def anchor(client: TestClient, cast: Cast, org_id: int, name: str = "oracle") -> Any:
    return client.post(f"{V1}/meters/enterprises/{org_id}/anchoring", headers=cast.auth(name))


def at(year: int, month: int, day: int = 1) -> int:
    """Midnight UTC of a day, in seconds."""
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


def anchor_windows(runtime: Runtime, cast: Cast, org_id: int, windows: list[tuple[int, int, int]]) -> None:
    """The oracle anchors (start, end, tonnes) windows of the enterprise (roots made up: the figures are what
    counts here)."""
    authorise_oracle(runtime, cast, org_id)
    submit(runtime, *(Intent("MeterAnchor", "anchor", (org_id, 0, start, end, keccak(text="CN-2025-v1"),
                                                       keccak(text=f"{org_id}:{start}"), tonnes * T, 100),
                             cast.addresses["oracle"]) for start, end, tonnes in windows))

"""Meter data and an emission report for the CLI tests, on the service's chain through the oracle pipeline
and the outbox: devices registered, an oracle admitted and authorised, readings ingested and anchored
hourly, Riverside Steel's report submitted with its commitment to the anchors, verified and finalized."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain.outbox import Intent
from ledger_core.db.models import BatchStatus, MeterBatch
from ledger_service.runtime import Runtime
from oracles import merkle_sum as ms
from oracles.anchor_records import AnchorReader
from oracles.batches import build_closed_batches
from oracles.canonical import factor_set_hash
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.reports import period_node
from oracles.simulator import ParkLayout, simulate_messages, simulate_park
from tests.service.cast import ENTERPRISE_A, PARK, Cast
from tests.service.helpers import V1, submit, view

YEAR = 2024
START = 1_704_067_200  # 2024-01-01T00:00:00Z
HOUR = 3600
LATER = START + 30 * 86400
OPERATORS = 41  # beside the cast's oracle operator (40)
SENDERS = {ENTERPRISE_A: "enterprise_a", ENTERPRISE_A + 1: "enterprise_b"}
REPORT_DOCUMENT = keccak(text="Riverside Steel emission report 2024")


@dataclass
class MeterStory:
    park: ParkLayout
    oracle: str
    anchor_ids: dict[int, list[int]] = field(default_factory=dict)
    report_id: int = 0
    reported_kg: int = 0
    obligation_tonnes: int = 0
    tx: dict[str, str] = field(default_factory=dict)


def admit_oracle(client: TestClient, cast: Cast) -> str:
    """An operator organisation and a custodial oracle member, through the API."""
    reply = client.post(f"{V1}/organisations", headers=cast.auth("regulator"),
                        json={"org_id": OPERATORS, "kind": "operator", "name": "Park Metering Services"})
    assert reply.status_code == 201, reply.text
    reply = client.post(f"{V1}/members", headers=cast.auth("regulator"),
                        json={"org_id": OPERATORS, "roles": ["ORACLE"], "custodial": True})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["member"]["address"])


def anchor_meter_data(runtime: Runtime, client: TestClient, cast: Cast, hours: int = 2) -> MeterStory:
    """Both enterprises' four devices registered on chain; `hours` of one-minute readings anchored."""
    park = simulate_park(enterprises=2, devices_per_enterprise=4, seed=3, park_org_id=PARK,
                         first_enterprise_org_id=ENTERPRISE_A)
    story = MeterStory(park, admit_oracle(client, cast))
    regulator = cast.addresses["regulator"]
    submit(runtime, *[Intent("MeterAnchor", "registerDevice", (d.info.device_hash, d.enterprise_org_id,
                                                                d.info.facility_id, d.info.workshop_id,
                                                                d.info.public_key_hash),
                             cast.addresses[SENDERS[d.enterprise_org_id]]) for d in park.devices])
    submit(runtime, *[Intent("MeterAnchor", "setOracleAuthorisation", (story.oracle, org, True), regulator)
                      for org in SENDERS])
    with runtime.sessions() as session:
        register_devices(session, park.device_infos())
        session.commit()
        ingest_messages(session, simulate_messages(park, START, 60 * hours, readings_per_message=30),
                        factor_set=get_factor_set("CN-2023-v1"), window_seconds=HOUR, now=LATER)
        session.commit()
        for built in build_closed_batches(session, LATER):
            root = built.facilities_root
            (tx_hash,) = submit(runtime, Intent("MeterAnchor", "anchor", (
                built.enterprise_org_id, built.measure, built.window_start, built.window_end,
                factor_set_hash(built.factor_set),
                root.hash, root.sum, root.count), story.oracle))
            anchor_id = AnchorReader(runtime.suite.contract("MeterAnchor")).find(
                built.enterprise_org_id, built.measure, built.window_start, built.window_end)
            batch = session.get(MeterBatch, built.batch_id)
            assert batch is not None
            batch.status, batch.anchor_id, batch.tx_hash = BatchStatus.ANCHORED, anchor_id, tx_hash
            batch.anchored_at = datetime.now(UTC)
            session.commit()
        for org in SENDERS:
            story.anchor_ids[org] = list(session.scalars(select(MeterBatch.anchor_id).where(
                MeterBatch.enterprise_org_id == org).order_by(MeterBatch.window_start)))
    return story


def report_and_finalize(runtime: Runtime, cast: Cast, story: MeterStory, document: bytes = REPORT_DOCUMENT,
                        verified_kg: int | None = None) -> None:
    """Riverside Steel's 2024 report (of `document`'s hash) committing to its anchors; verified (at
    `verified_kg`, default the reported figure) and finalized into its obligation."""
    with runtime.sessions() as session:
        batches = [session.scalars(select(MeterBatch).where(MeterBatch.anchor_id == a)).one()
                   for a in story.anchor_ids[ENTERPRISE_A]]
        period = period_node(ENTERPRISE_A, [ms.Node(b.root or b"", b.total_mg, b.reading_count) for b in batches])
    story.reported_kg = period.sum // 1_000_000
    (story.tx["submit"],) = submit(runtime, Intent("EmissionRegistry", "submitReport", (
        YEAR, document, story.reported_kg, period.hash, period.sum, period.count),
        cast.addresses["enterprise_a"]))
    story.report_id = int(view(runtime, "EmissionRegistry", "reportCount"))
    (story.tx["verify"],) = submit(runtime, Intent("EmissionRegistry", "verifyReport", (
        story.report_id, story.reported_kg if verified_kg is None else verified_kg, keccak(text="statement")),
        cast.addresses["verifier"]))
    (story.tx["finalize"],) = submit(runtime, Intent("EmissionRegistry", "finalizeReport", (story.report_id,),
                                                     cast.addresses["regulator"]))
    # The obligation the finalization set (the registry keeps it in the ReportFinalized event).
    story.obligation_tonnes = int(view(runtime, "ComplianceLedger", "complianceStatus", ENTERPRISE_A, YEAR)[0])

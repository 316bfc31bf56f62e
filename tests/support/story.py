"""A small, realistic year on the ledger: devices, meter data anchored, a report verified and
finalized, allowances allocated, moved and surrendered, a document notarized."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import MeterBatch
from oracles import merkle_sum as ms
from oracles.anchoring import MeterAnchorClient, anchor_pending, register_devices_on_chain
from oracles.batches import build_closed_batches
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.reports import period_node
from oracles.simulator import ParkLayout, simulate_messages, simulate_park
from tests.support.ledger import Ledger

YEAR = 2024
START = 1_704_067_200  # 2024-01-01T00:00:00Z
HOUR = 3600
LATER = START + 30 * 86400
ENTERPRISE_SENDERS = {11: "enterprise_a", 12: "enterprise_b"}
REPORT_DOCUMENT = keccak(text="Riverside Steel emission report 2024")


@dataclass
class Story:
    park: ParkLayout
    report_id: int = 0
    obligation_tonnes: int = 0
    anchor_ids: dict[int, list[int]] = field(default_factory=dict)
    tx: dict[str, str] = field(default_factory=dict)


def anchor_meter_data(ledger: Ledger, session: Session, hours: int = 2) -> Story:
    """Both enterprises' four devices registered on chain; `hours` of one-minute readings anchored."""
    park = simulate_park(enterprises=2, devices_per_enterprise=4, seed=3)
    register_devices(session, park.device_infos())
    session.commit()
    anchor = ledger.contract("MeterAnchor")
    for org, actor in ENTERPRISE_SENDERS.items():
        register_devices_on_chain(anchor, ledger.senders[actor],
                                  [d.info for d in park.devices if d.enterprise_org_id == org])
        ledger.tx("regulator", "MeterAnchor", "setOracleAuthorisation", ledger.address("oracle"), org, True)
    ingest_messages(session, simulate_messages(park, START, 60 * hours, readings_per_message=30),
                    factor_set=get_factor_set("CN-2023-v1"), window_seconds=HOUR, now=LATER)
    session.commit()
    build_closed_batches(session, LATER)
    anchor_pending(session, MeterAnchorClient(anchor, ledger.senders["oracle"]))
    story = Story(park)
    for org in ENTERPRISE_SENDERS:
        story.anchor_ids[org] = list(session.scalars(
            select(MeterBatch.anchor_id).where(MeterBatch.enterprise_org_id == org).order_by(MeterBatch.window_start)))
    return story


def _hash(receipt: dict) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def tell_story(ledger: Ledger, session: Session) -> Story:
    """Meter data, then Riverside Steel's (org 11) 2024 report through finalization, allowances
    allocated to both enterprises, moved through a trader, and surrendered."""
    story = anchor_meter_data(ledger, session)
    anchors = [session.scalars(select(MeterBatch).where(MeterBatch.anchor_id == a)).one()
               for a in story.anchor_ids[11]]
    period = period_node(11, [ms.Node(b.root, b.total_mg, b.reading_count) for b in anchors])
    reported_kg = period.sum // 1_000_000
    receipt = ledger.tx("enterprise_a", "EmissionRegistry", "submitReport", YEAR, REPORT_DOCUMENT, reported_kg,
                        period.hash, period.sum, period.count)
    story.tx["submit"] = _hash(receipt)
    story.report_id = ledger.events(receipt, "EmissionRegistry", "ReportSubmitted")[0]["reportId"]
    story.tx["notarize"] = _hash(ledger.tx("enterprise_a", "Notary", "notarize", REPORT_DOCUMENT,
                                           keccak(text="EMISSION_REPORT"), story.report_id.to_bytes(32, "big")))
    story.tx["verify"] = _hash(ledger.tx("verifier", "EmissionRegistry", "verifyReport", story.report_id,
                                         reported_kg, keccak(text="statement")))
    receipt = ledger.tx("regulator", "EmissionRegistry", "finalizeReport", story.report_id)
    story.tx["finalize"] = _hash(receipt)
    story.obligation_tonnes = ledger.events(receipt, "EmissionRegistry", "ReportFinalized")[0]["obligationTonnes"]
    a, b, trader = ledger.address("enterprise_a"), ledger.address("enterprise_b"), ledger.address("trader")
    story.tx["allocate"] = _hash(ledger.tx("regulator", "AllowanceRegistry", "allocate", YEAR, [a, b], [1000, 500]))
    story.tx["b_to_trader"] = _hash(ledger.tx("enterprise_b", "AllowanceRegistry", "safeTransferFrom", b, trader,
                                              YEAR, 200, b""))
    story.tx["trader_to_a"] = _hash(ledger.tx("trader", "AllowanceRegistry", "safeTransferFrom", trader, a,
                                              YEAR, 150, b""))
    ledger.tx("regulator", "ComplianceLedger", "openComplianceWindow", YEAR)
    if story.obligation_tonnes:
        story.tx["surrender"] = _hash(ledger.tx("enterprise_a", "AllowanceRegistry", "surrender", YEAR, [YEAR],
                                                [story.obligation_tonnes]))
    return story

"""Trace an emission report: its versions, verification and finalization, the anchors its level-5
commitment covers (checked against MeterAnchor's anchored roots), readings with proofs, devices."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.audit.results import (
    AnchorFact,
    CommitmentCheck,
    DeviceFact,
    NotarizationFact,
    OnChain,
    ReadingEvidence,
    ReportStep,
    ReportTrace,
    ReportVersion,
    Subtotal,
)
from ledger_service.db.models import (
    ChainAnchor,
    ChainDevice,
    ChainDeviceEvent,
    ChainNotarization,
    ChainReport,
    ChainReportEvent,
    MeterBatch,
    MeterDevice,
    Reading,
)
from oracles import merkle_sum as ms
from oracles.proofs import prove_reading
from oracles.reports import period_node


class UnknownReport(LookupError):
    pass


def _hex(value: bytes | None) -> str:
    return "0x" + value.hex() if value else ""


def year_window(year: int) -> tuple[int, int]:
    """[1 January, next 1 January) of `year`, in seconds UTC."""
    return (int(datetime(year, 1, 1, tzinfo=UTC).timestamp()), int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()))


def report_anchors(session: Session, org_id: int, year: int) -> list[ChainAnchor]:
    """The enterprise's anchors whose windows lie in the report year, in anchor order."""
    start, end = year_window(year)
    return list(session.scalars(select(ChainAnchor).where(
        ChainAnchor.enterprise_org_id == org_id, ChainAnchor.window_start >= start, ChainAnchor.window_end <= end,
    ).order_by(ChainAnchor.anchor_id)))


def _versions(session: Session, org_id: int, year: int) -> list[ReportVersion]:
    reports = session.scalars(select(ChainReport).where(ChainReport.org_id == org_id, ChainReport.year == year)
                              .order_by(ChainReport.version)).all()
    events = session.scalars(select(ChainReportEvent).where(
        ChainReportEvent.report_id.in_([r.report_id for r in reports]))
        .order_by(ChainReportEvent.block_number, ChainReportEvent.log_index)).all()
    steps: dict[int, list[ReportStep]] = {r.report_id: [] for r in reports}
    for e in events:
        note = e.statement_hash or e.reason_hash
        steps[e.report_id].append(ReportStep(e.kind, e.actor, OnChain.of(e), e.verified_kg, e.obligation_tonnes,
                                             _hex(note) if note else None))
    return [ReportVersion(r.report_id, r.version, r.previous_report_id, r.status, _hex(r.document_hash),
                          r.reported_kg, _hex(r.anchors_root), r.anchored_mg, r.reading_count, steps[r.report_id])
            for r in reports]


def _anchor_facts(session: Session, anchors: list[ChainAnchor]) -> tuple[list[AnchorFact], dict[int, int]]:
    batches = {b.anchor_id: b for b in session.scalars(select(MeterBatch).where(
        MeterBatch.anchor_id.in_([a.anchor_id for a in anchors])))}
    facts = []
    for a in anchors:
        b = batches.get(a.anchor_id)
        same = b is not None and (b.root, b.total_mg, b.reading_count, b.enterprise_org_id, b.window_start,
                                  b.window_end) == (a.root, a.total_mg, a.reading_count, a.enterprise_org_id,
                                                    a.window_start, a.window_end)
        facts.append(AnchorFact(a.anchor_id, a.enterprise_org_id, a.window_start, a.window_end, _hex(a.root),
                                a.total_mg, a.reading_count, a.oracle, OnChain.of(a), b.id if b else None, same))
    return facts, {a.anchor_id: b.id for a, b in ((a, batches.get(a.anchor_id)) for a in anchors) if b}


def _readings(session: Session, anchors: list[ChainAnchor], batch_of: dict[int, int],
              sample: int) -> list[ReadingEvidence]:
    """Up to `sample` readings, spread evenly over the anchors (first readings of each chosen window)."""
    out: list[ReadingEvidence] = []
    roots = {a.anchor_id: a.root for a in anchors}
    chosen = list(batch_of.items())
    if sample <= 0 or not chosen:
        return []
    step = max(1, len(chosen) // sample)
    picks = chosen[::step][:sample]
    per_anchor = -(-sample // len(picks))
    for anchor_id, batch_id in picks:
        ids = session.scalars(select(Reading.id).where(Reading.batch_id == batch_id).order_by(Reading.id)
                              .limit(min(per_anchor, sample - len(out)))).all()
        for reading_id in ids:
            proof = prove_reading(session, reading_id)
            valid = proof.root == roots[anchor_id] and proof.verify() is not None
            out.append(ReadingEvidence(
                reading_id, proof.subtotals[0].label, proof.record.timestamp, proof.value_mg, anchor_id, valid,
                [Subtotal(t.level_name, t.label, t.sum_mg, t.count) for t in proof.subtotals], proof.as_json()))
    return out


def _devices(session: Session, org_id: int) -> list[DeviceFact]:
    rows = session.execute(
        select(MeterDevice, ChainDevice.active, ChainDeviceEvent)
        .outerjoin(ChainDevice, ChainDevice.device_id == MeterDevice.device_hash)
        .outerjoin(ChainDeviceEvent, (ChainDeviceEvent.device_id == MeterDevice.device_hash)
                   & (ChainDeviceEvent.kind == "registered"))
        .where(MeterDevice.enterprise_org_id == org_id).order_by(MeterDevice.device_id)
    ).all()
    return [DeviceFact(d.device_id, _hex(d.device_hash), d.facility, d.workshop, active,
                       OnChain.of(ev) if ev is not None else None) for d, active, ev in rows]


def trace_report(session: Session, report_id: int, sample_readings: int = 4) -> ReportTrace:
    """The report's whole story; `sample_readings` readings (spread over its anchors) come with proofs,
    any other reading is proved on demand with `oracles.proofs.prove_reading`."""
    report = session.get(ChainReport, report_id)
    if report is None:
        raise UnknownReport(f"no report {report_id} in the index")
    anchors = report_anchors(session, report.org_id, report.year)
    if anchors:
        node = period_node(report.org_id, [ms.Node(a.root, a.total_mg, a.reading_count) for a in anchors])
        expected = (_hex(node.hash), node.sum, node.count)
    else:
        expected = ("", 0, 0)
    commitment = CommitmentCheck([a.anchor_id for a in anchors], *expected, _hex(report.anchors_root),
                                 report.anchored_mg, report.reading_count)
    facts, batch_of = _anchor_facts(session, anchors)
    documents = [v.document_hash for v in session.scalars(
        select(ChainReport).where(ChainReport.org_id == report.org_id, ChainReport.year == report.year))]
    notes = session.scalars(select(ChainNotarization).where(ChainNotarization.document_hash.in_(documents))).all()
    return ReportTrace(
        report_id=report_id, org_id=report.org_id, year=report.year,
        versions=_versions(session, report.org_id, report.year), commitment=commitment, anchors=facts,
        readings=_readings(session, anchors, batch_of, sample_readings),
        devices=_devices(session, report.org_id),
        notarizations=[NotarizationFact(_hex(n.document_hash), n.notary, n.org_id, OnChain.of(n)) for n in notes],
    )

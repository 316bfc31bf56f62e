"""The audit chapter: a report traced down to one meter reading proved on chain, and the reconciliation
of the service's event index with the chain, both through the audit use cases the API calls."""

from __future__ import annotations

from ledger_service.audit.reconcile import ReconcileReport
from ledger_service.audit.results import ReportTrace
from ledger_service.demo.cast import Cast, caller
from ledger_service.demo.printing import chapter, kg_from_mg, say, show, table
from ledger_service.demo.story import utc
from ledger_service.runtime import Runtime
from ledger_service.services.wiring import build_services


def trace(runtime: Runtime, cast: Cast, report_id: int) -> tuple[ReportTrace, bool]:
    """The report's trace (GET /api/v1/audit/reports/{id}/trace) with one sampled reading, whose proof
    MeterAnchor.verifyReading checks (GET /api/v1/meters/readings/{id}/proof); whether the chain accepted it."""
    found = build_services(runtime).audit.report_trace(caller(runtime, cast["regulator"]), report_id, readings=1).trace
    (version,) = [v for v in found.versions if v.report_id == report_id]
    chapter(f"Audit: report {report_id} of {cast.names[found.org_id]} traced down to one meter reading")
    t = table("step", "by", "block", "transaction")
    actors = {address: actor for actor, address in cast.addresses.items()}
    for step in version.steps:
        t.add_row(step.kind, actors.get(step.actor, step.actor), str(step.at.block_number), step.at.tx_hash)
    show(t)
    c = found.commitment
    say(f"commitment: {len(c.anchor_ids)} anchors, {c.committed_count:,} readings, "
        f"{kg_from_mg(c.committed_mg)} kgCO2e; recomputed from the indexed anchors: "
        f"{'matches' if c.matches else 'DIFFERS'}; anchors matching the oracle's SQL: "
        f"{sum(a.sql_matches for a in found.anchors)}/{len(found.anchors)}")
    reading = found.readings[0]  # one is sampled from every anchor: show the first
    proven = build_services(runtime).meters.prove(caller(runtime, cast["regulator"]), reading.reading_id)
    proof = proven.proof
    assert proof.anchor_id is not None
    anchor_id = proof.anchor_id
    proved = bool(proven.verified_on_chain)
    say(f"reading {reading.reading_id} of device {reading.device_id} at {utc(reading.timestamp)}: "
        f"{kg_from_mg(reading.value_mg)} kgCO2e, in anchor {anchor_id} ({len(proof.steps)} proof steps)")
    t = table("level", "id", "kgCO2e", "readings", title=f"reading {reading.reading_id} proved on chain: {proved}")
    for label, (sum_mg, count) in zip(proof.subtotals, proven.chain_subtotals, strict=True):
        t.add_row(label.level_name, label.label, kg_from_mg(sum_mg), f"{count:,}")
    show(t)
    return found, proved


def reconciliation(runtime: Runtime) -> ReconcileReport:
    """Every difference between the index and the chain, and between the outbox, the stored meter data and
    documents and the chain (GET /api/v1/audit/reconcile)."""
    report = build_services(runtime).audit.reconcile().report
    chapter("Audit: the event index and the outbox reconciled with the chain")
    checked = ", ".join(f"{kind} {n:,}" for kind, n in sorted(report.checked.items()))
    say(f"block {report.block}: checked {checked}")
    if report.outbox is not None:
        say("outbox: checked " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(report.outbox.checked.items())))
    differences = report.differences + (report.outbox.differences if report.outbox is not None else [])
    if report.ok:
        say("reconcile: clean (the index and the outbox agree with the chain)")
    else:
        t = table("kind", "key", "field", "ours", "chain", title=f"reconcile: {len(differences)} differences")
        for d in differences[:20]:
            t.add_row(d.kind, d.key, d.field, str(d.index), str(d.chain))
        show(t)
    return report

"""The audit chapter: a report traced down to one meter reading proved on chain, and the reconciliation
of the service's event index with the chain, both from the service's audit code."""

from __future__ import annotations

from ledger_service import meters
from ledger_service.audit.reconcile import ReconcileReport, reconcile
from ledger_service.audit.report_trace import trace_report
from ledger_service.audit.results import ReportTrace
from ledger_service.demo.cast import Cast
from ledger_service.demo.printing import chapter, kg_from_mg, say, show, table
from ledger_service.demo.story import utc
from ledger_service.runtime import Runtime
from oracles.proofs import prove_reading


def trace(runtime: Runtime, cast: Cast, report_id: int) -> tuple[ReportTrace, bool]:
    """The report's trace (GET /api/v1/audit/reports/{id}/trace) with one sampled reading, whose proof
    MeterAnchor.verifyReading checks; whether the chain accepted it."""
    runtime.index_up_to_date()
    with runtime.sessions() as session:
        found = trace_report(session, report_id, sample_readings=1)
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
    with runtime.sessions() as session:
        proof = prove_reading(session, reading.reading_id)
    assert proof.anchor_id is not None
    anchor_id = proof.anchor_id
    valid, subtotals = runtime.chain.request(lambda: runtime.suite.call(
        meters.ANCHOR, "verifyReading", anchor_id, proof.digest, proof.value_mg, [s.as_tuple() for s in proof.steps]))
    proved = bool(valid)
    say(f"reading {reading.reading_id} of device {reading.device_id} at {utc(reading.timestamp)}: "
        f"{kg_from_mg(reading.value_mg)} kgCO2e, in anchor {anchor_id} ({len(proof.steps)} proof steps)")
    t = table("level", "id", "kgCO2e", "readings", title=f"reading {reading.reading_id} proved on chain: {proved}")
    for label, sub in zip(proof.subtotals, subtotals, strict=True):
        t.add_row(label.level_name, label.label, kg_from_mg(int(sub[2])), f"{int(sub[3]):,}")
    show(t)
    return found, proved


def reconciliation(runtime: Runtime) -> ReconcileReport:
    """Every difference between the index and the chain, and between the outbox and the chain
    (GET /api/v1/audit/reconcile)."""
    runtime.index_up_to_date()
    report = runtime.chain.request(lambda: reconcile(runtime.engine, runtime.suite, chain=runtime.chain))
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

"""Re-valuation: stored readings valued again with another factor set, as a separate, audited record.

A reading's committed value is fixed by the factor set that valued it when it was accepted (its
record's `factorSetId`); anchored windows commit those values on chain. When a newer set is
published (a later grid factor, a corrected default), `revalue` computes what the readings of a
period would weigh under it and stores the outcome as a `revaluations` row: which set, which
period and enterprise, who asked, why and when, and per window the committed and the re-valued
totals. It reads readings and never writes them: digests, values, window roots and anchors
stay exactly as committed, anchored or not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import MeterBatch, Reading, Revaluation
from oracles.emissions import value_reading
from oracles.factors import FACTOR_SETS_FILE, format_utc, get_factor_set
from oracles.measures import MEASURE_EMISSIONS
from oracles.quarantine import Refused

PAGE_ROWS = 50_000


class RevaluationRefused(ValueError):
    """The request cannot be carried out as asked (empty period, nobody named)."""


@dataclass
class _WindowTotals:
    batch: MeterBatch
    readings: int = 0
    original_mg: int = 0
    revalued_mg: int = 0
    not_valued: int = 0

    def as_json(self, sets: set[str]) -> dict[str, Any]:
        b = self.batch
        return {
            "batchId": b.id, "enterpriseOrgId": b.enterprise_org_id, "window": [b.window_start, b.window_end],
            "status": b.status, "anchorId": b.anchor_id, "root": "0x" + b.root.hex() if b.root else None,
            "committedFactorSets": sorted(sets), "readings": self.readings,
            "committedMg": str(self.original_mg), "revaluedMg": str(self.revalued_mg),
            "differenceMg": str(self.revalued_mg - self.original_mg), "notValued": self.not_valued,
        }


def revalue(
    session: Session,
    set_id: str,
    window_start: int,
    window_end: int,
    requested_by: str,
    reason: str = "",
    enterprise_org_id: int | None = None,
    factor_sets_path: Path = FACTOR_SETS_FILE,
) -> Revaluation:
    """Value the stored readings stamped in `[window_start, window_end)` (of one enterprise, or all)
    with the factor set `set_id`; store and return the revaluation record. The caller commits.

    Raises `UnknownFactorSet` for an unknown set and `RevaluationRefused` for an empty period or an
    unnamed requester. Readings the set cannot value (no factor for their carrier) are counted as
    `notValued` and left out of the re-valued total."""
    if window_end <= window_start:
        raise RevaluationRefused("the period is empty: its end is not after its start")
    if not requested_by.strip():
        raise RevaluationRefused("a revaluation names who asked for it")
    factor_set = get_factor_set(set_id, factor_sets_path)
    query = (
        select(Reading.batch_id, Reading.quantity, Reading.unit, Reading.carrier, Reading.value_mg,
               Reading.factor_set)
        .join(MeterBatch, MeterBatch.id == Reading.batch_id)
        # Generation meters' production windows hold Wh produced, which no factor set values.
        .where(Reading.timestamp >= window_start, Reading.timestamp < window_end,
               MeterBatch.measure == MEASURE_EMISSIONS)
        .order_by(Reading.batch_id, Reading.id)
    )
    if enterprise_org_id is not None:
        query = query.where(MeterBatch.enterprise_org_id == enterprise_org_id)
    windows: dict[int, _WindowTotals] = {}
    window_sets: dict[int, set[str]] = {}
    by_set: dict[str, dict[str, int]] = {}
    refused: Counter[str] = Counter()
    rows = session.execute(query.execution_options(yield_per=PAGE_ROWS))
    for batch_id, quantity, unit, carrier, value_mg, reading_set in rows:
        totals = windows.get(batch_id)
        if totals is None:
            batch = session.get(MeterBatch, batch_id)
            assert batch is not None
            totals = windows[batch_id] = _WindowTotals(batch)
            window_sets[batch_id] = set()
        original_set = reading_set or totals.batch.factor_set
        window_sets[batch_id].add(original_set)
        totals.readings += 1
        totals.original_mg += value_mg
        entry = by_set.setdefault(original_set, {"readings": 0, "committedMg": 0, "revaluedMg": 0})
        entry["readings"] += 1
        entry["committedMg"] += value_mg
        try:
            new_value = value_reading(quantity, unit, carrier, factor_set).value_mg
        except Refused as exc:
            refused[str(exc.reason)] += 1
            totals.not_valued += 1
            continue
        totals.revalued_mg += new_value
        entry["revaluedMg"] += new_value
    created = datetime.now(UTC)
    count = sum(w.readings for w in windows.values())
    original = sum(w.original_mg for w in windows.values())
    revalued = sum(w.revalued_mg for w in windows.values())
    not_valued = sum(refused.values())
    report = {
        "factorSet": factor_set.id, "factorSetSource": factor_set.source,
        "period": [window_start, window_end], "periodUtc": [format_utc(window_start), format_utc(window_end)],
        "enterpriseOrgId": enterprise_org_id, "requestedBy": requested_by, "reason": reason,
        "createdAt": created.isoformat(),
        "readings": count, "committedMg": str(original), "revaluedMg": str(revalued),
        "differenceMg": str(revalued - original), "notValued": not_valued,
        "notValuedByReason": dict(sorted(refused.items())),
        "byCommittedFactorSet": {k: {"readings": v["readings"], "committedMg": str(v["committedMg"]),
                                     "revaluedMg": str(v["revaluedMg"])} for k, v in sorted(by_set.items())},
        "windows": [w.as_json(window_sets[b]) for b, w in sorted(windows.items())],
        "note": "A separate valuation: the committed readings, their digests and values, the windows' roots "
                "and the anchors are unchanged.",
    }
    record = Revaluation(
        factor_set=factor_set.id, window_start=window_start, window_end=window_end,
        enterprise_org_id=enterprise_org_id, requested_by=requested_by[:128], reason=reason, created_at=created,
        reading_count=count, original_mg=original, revalued_mg=revalued, not_valued=not_valued, report=report,
    )
    session.add(record)
    session.flush()
    report["revaluationId"] = record.id
    record.report = dict(report)
    session.flush()
    return record

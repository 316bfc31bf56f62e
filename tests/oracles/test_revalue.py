"""Re-valuation with a newer factor set: an explicit, recorded operation that never rewrites committed data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ledger_core.db.models import BatchStatus, MeterBatch, Reading, Revaluation
from oracles.batches import build_closed_batches
from oracles.cli import app
from oracles.factors import UnknownFactorSet, factor_choice
from oracles.ingest import ingest_messages
from oracles.revalue import RevaluationRefused, revalue
from tests.oracles.conftest import HOUR, LATER, START
from tests.oracles.helpers import device, kwh, signed


def _snapshot(session):
    readings = session.execute(select(Reading.id, Reading.digest, Reading.leaf_hash, Reading.value_mg, Reading.unit,
                                      Reading.factor_set).order_by(Reading.id)).all()
    batches = session.execute(select(MeterBatch.id, MeterBatch.status, MeterBatch.root, MeterBatch.total_mg,
                                     MeterBatch.factor_set, MeterBatch.factor_sets, MeterBatch.anchor_id)
                              .order_by(MeterBatch.id)).all()
    return [tuple(r) for r in readings], [tuple(b) for b in batches]


@pytest.fixture
def anchored(session, registered):
    """Two hours of 2024 electricity readings valued by date (CN-2024-v1), the first hour anchored."""
    dev = device(registered, carrier="electricity")
    messages = [signed(registered, dev, kwh(1, START, "100"), kwh(2, START + 60, "50")),
                signed(registered, dev, kwh(3, START + HOUR, "10"))]
    ingest_messages(session, messages, factor_set=factor_choice(), window_seconds=HOUR, now=LATER)
    session.commit()
    build_closed_batches(session, START + HOUR)
    first = session.scalars(select(MeterBatch).where(MeterBatch.window_start == START)).one()
    first.status, first.anchor_id = BatchStatus.ANCHORED, 1
    session.commit()
    return first


def test_a_revaluation_is_recorded_with_who_when_and_both_totals_and_changes_nothing(session, anchored):
    before = _snapshot(session)
    record = revalue(session, "CN-ETS-2022-grid-v1", START, START + 2 * HOUR, "auditor@verifier.example",
                     reason="ETS reporting factor")
    session.commit()
    assert _snapshot(session) == before  # readings, digests, roots, totals, anchors untouched
    stored = session.scalars(select(Revaluation)).one()
    assert stored.id == record.id and stored.requested_by == "auditor@verifier.example"
    assert stored.created_at is not None and stored.reason == "ETS reporting factor"
    # 160 kWh: committed x 0.5306 = 84.896 kg; re-valued x 0.5703 = 91.248 kg.
    assert (stored.reading_count, stored.original_mg, stored.revalued_mg) == (3, 84_896_000, 91_248_000)
    report = stored.report
    assert report["revaluationId"] == stored.id and report["factorSet"] == "CN-ETS-2022-grid-v1"
    assert report["byCommittedFactorSet"] == {"CN-2024-v1": {"readings": 3, "committedMg": "84896000",
                                                             "revaluedMg": "91248000"}}
    windows = {w["window"][0]: w for w in report["windows"]}
    assert windows[START]["status"] == "anchored" and windows[START]["anchorId"] == 1
    assert (windows[START]["committedMg"], windows[START]["revaluedMg"]) == ("79590000", "85545000")
    assert windows[START + HOUR]["status"] == "open" and windows[START + HOUR]["differenceMg"] == "397000"


def test_a_revaluation_of_one_enterprise_reads_only_its_windows(session, anchored):
    record = revalue(session, "CN-2023-v1", START, START + 2 * HOUR, "regulator", enterprise_org_id=12)
    assert record.reading_count == 0 and record.report["windows"] == []


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("CN-2099-v9", START, START + HOUR, "someone"), UnknownFactorSet),
        (("CN-2023-v1", START + HOUR, START + HOUR, "someone"), RevaluationRefused),
        (("CN-2023-v1", START, START + HOUR, "  "), RevaluationRefused),
    ],
)
def test_a_revaluation_needs_a_known_set_a_period_and_a_requester(session, anchored, args, error):
    before = _snapshot(session)
    with pytest.raises(error):
        revalue(session, *args)
    session.rollback()
    assert _snapshot(session) == before and session.scalars(select(Revaluation)).all() == []


def test_revalue_from_the_command_line(tmp_path, park):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    messages, layout = tmp_path / "m.jsonl", tmp_path / "park.json"
    assert runner.invoke(app, ["simulate", "--out", str(messages), "--layout", str(layout), "--enterprises", "1",
                               "--devices", "2", "--readings", "60"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(messages), "--layout", str(layout), "--db", db,
                               "--workers", "1"]).exit_code == 0
    result = runner.invoke(app, ["revalue", "--set", "CN-2023-AR6-v1", "--window",
                                 "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "--by", "cli-test", "--db", db])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["readings"] == 120 and report["requestedBy"] == "cli-test"
    assert list(report["byCommittedFactorSet"]) == ["CN-2024-v1"]
    refused = runner.invoke(app, ["revalue", "--set", "CN-2023-v1", "--window", "2024-01-01", "--db", db])
    assert refused.exit_code == 2 and "START/END" in refused.output

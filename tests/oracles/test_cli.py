"""`python -m oracles`: simulate a park, ingest its file, build windows, prove a reading."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, update
from typer.testing import CliRunner

from ledger_core.db.models import Reading
from oracles.cli import app


def test_simulate_ingest_build_and_prove_from_the_command_line(tmp_path):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    messages, layout = tmp_path / "m.csv", tmp_path / "park.json"
    result = runner.invoke(app, ["simulate", "--out", str(messages), "--layout", str(layout), "--enterprises", "1",
                                 "--devices", "3", "--readings", "90", "--per-message", "30"])
    assert result.exit_code == 0, result.output
    assert "270 readings in 9 messages" in result.output
    result = runner.invoke(app, ["ingest", str(messages), "--layout", str(layout), "--db", db, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output and "270" in result.output
    result = runner.invoke(app, ["anchor", "--db", db, "--build-only"])
    assert result.exit_code == 0, result.output
    assert "built 2 windows" in result.output
    result = runner.invoke(app, ["prove", "42", "--db", db])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.output)
    assert proof["verified_in_python"] is True and proof["reading_id"] == 42
    assert {"value_mg", "steps", "anchor_id"} <= proof.keys() and "sum_mg" in proof["subtotals"][0]
    assert [s["name"] for s in proof["subtotals"]] == ["device", "workshop", "facility", "enterprise"]

    # A reading of the same window edited in SQL: no proof of any of its readings, a named reason instead.
    engine = create_engine(db)
    with engine.begin() as connection:
        connection.execute(update(Reading).where(Reading.id == 43).values(value_mg=Reading.value_mg + 1_000_000))
    engine.dispose()
    result = runner.invoke(app, ["prove", "42", "--db", db])
    assert result.exit_code == 3 and "StoredDataInconsistent" in result.output, result.output
    assert "no longer give their digest: 43" in " ".join(result.output.split())

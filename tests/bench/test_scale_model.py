"""The scale model, run at a tiny size on anvil and a throwaway PostgreSQL cluster: its last line names every figure
at every scale, and what is stored grows with the history."""

from __future__ import annotations

import json

import pytest

from bench.scale_model import main
from ledger_core.chain.anvil import AnvilUnavailable
from tests.storage.postgres import PostgresUnavailable

TINY = ["--scales", "1,2", "--base-readings", "400", "--base-transfers", "40", "--enterprises", "2", "--devices", "2",
        "--traders", "2", "--years", "2", "--samples", "4"]
PER_SCALE = ("index_events_per_s", "index_seconds", "ingest_readings_per_s", "mine_seconds", "db_bytes",
             "db_bytes_per_reading", "db_bytes_per_transfer", "index_wal_bytes", "anvil_rss_mb", "trace_p50_ms_pg",
             "trace_p99_ms_pg", "report_trace_p99_ms_pg", "asset_trace_p99_ms_pg")


def test_the_last_line_names_every_figure_at_every_scale(capsys: pytest.CaptureFixture[str]):
    try:
        returned = main(TINY)
    except (PostgresUnavailable, AnvilUnavailable) as exc:
        pytest.skip(f"a throwaway PostgreSQL cluster or an anvil node cannot be started here: {exc}")
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures == returned
    assert figures["scales"] == [1, 2] and figures["traces"] == "api"
    for scale in ("1x", "2x"):
        assert all(figures[f"{key}_{scale}"] is not None for key in PER_SCALE), scale
        assert figures[f"db_bytes_per_reading_{scale}"] > 0
        assert figures[f"db_bytes_per_transfer_{scale}"] > 0
        assert figures[f"trace_p99_ms_pg_{scale}"] >= figures[f"trace_p50_ms_pg_{scale}"] > 0
    assert any(line.startswith("db_bytes_per_reading") for line in lines), "the table shows each figure"

    # Twice the base sizes: twice the readings stored, more transfers and events indexed, more bytes on both sides.
    assert figures["readings_2x"] == 2 * figures["readings_1x"] == 2 * 400
    assert figures["transfers_2x"] > figures["transfers_1x"] >= 40
    assert figures["indexed_events_2x"] > figures["indexed_events_1x"]
    assert figures["db_bytes_readings_2x"] > figures["db_bytes_readings_1x"]
    assert figures["db_bytes_transfers_2x"] > figures["db_bytes_transfers_1x"]
    assert figures["windows_2x"] > figures["windows_1x"]

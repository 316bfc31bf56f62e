"""The main job: the scenario runs end to end on the embedded chain and tells the truth."""

from __future__ import annotations

import re

import pytest

from scripts import scenario


def test_the_scenario_runs_a_compliance_year_and_prints_the_park_table(capsys: pytest.CaptureFixture[str]):
    scenario.main(["--hours", "2", "--enterprises", "2", "--devices", "3"])
    out = capsys.readouterr().out
    assert "reading 1 proved on chain: True" in out
    assert "VintageAfterComplianceYear(vintage=2026, complianceYear=2025)" in out
    assert re.search(r"accepted 720 readings, quarantined 0; anchored 4 enterprise windows \(4 anchors on chain\)", out)
    table = out[out.index("Compliance of the park, 2025") :]
    rows = re.findall(r"│ (\d+) [^│]+│ ([\d,]+)\s+│ ([\d,]+)\s+│ (\d+)\s+│ ([\d,]+)\s+│", table)
    assert [r[0] for r in rows] == ["11", "12"]
    for _, obligation, allowances, credits, shortfall in rows:
        owed, covered = int(obligation.replace(",", "")), int(allowances.replace(",", "")) + int(credits)
        assert owed > 0
        assert int(shortfall.replace(",", "")) == owed - covered
    # The seller surrenders its whole obligation; the buyer covers what it bought.
    assert rows[0][4] == "0"

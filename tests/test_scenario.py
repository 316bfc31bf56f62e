"""The main job: the scenario runs end to end on the embedded chain and tells the truth."""

from __future__ import annotations

import re

import pytest

from ledger_service.demo import scenario


def test_the_scenario_runs_a_compliance_year_and_prints_the_park_table(capsys: pytest.CaptureFixture[str]):
    scenario.main(["--hours", "8", "--enterprises", "3", "--devices", "6"])
    out = capsys.readouterr().out
    assert "reading 1 proved on chain: True" in out
    assert "VintageAfterComplianceYear(vintage=2026, complianceYear=2025)" in out
    assert (
        "an order 20% above the reference price is refused: PriceOutOfBand(price=7200, lower=5400, upper=6600)" in out
    )
    assert "credits beyond the 5% cap are refused: CreditCapExceeded(" in out
    assert "retirement certificate #1" in out and "serials 1,000,001-1,005,000" in out
    assert re.search(
        r"accepted 8,640 readings, quarantined 0; anchored 24 enterprise windows \(24 anchors on chain\)", out
    )
    table = out[out.index("Compliance of the park, 2025") :]
    rows = re.findall(r"│ (\d+) [^│]+│ ([\d,]+)\s+│ ([\d,]+)\s+│ (\d+)\s+│ ([\d,]+)\s+│", table)
    assert [r[0] for r in rows] == ["11", "12", "13"]
    for _, obligation, allowances, credits, shortfall in rows:
        owed, covered = int(obligation.replace(",", "")), int(allowances.replace(",", "")) + int(credits)
        assert owed > 0
        assert int(shortfall.replace(",", "")) == owed - covered
    # Everyone ends compliant: the last enterprise bought allowances and used credits up to the cap.
    assert [r[4] for r in rows] == ["0", "0", "0"]
    obligation, credits = int(rows[2][1].replace(",", "")), int(rows[2][3])
    assert 0 < credits == obligation * 5 // 100

"""The demo, end to end with small data: `carbonledger demo --small --no-serve` tells the compliance year through
the service's runtime and prints the truth; a used data directory is refused; a taken port is explained."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner

from ledger_service.cli import app
from ledger_service.demo.serving import port_free, serve
from ledger_service.runtime import Runtime

runner = CliRunner()
ENTERPRISES = ["11", "12", "13", "14", "15"]
NUMBER = r"([\d,]+)"


def number(text: str) -> int:
    return int(text.replace(",", ""))


def compliance_rows(out: str) -> dict[str, tuple[int, ...]]:
    """enterprise -> (finalized report, obligation, allowances, credits, shortfall) from the printed table."""
    table = out[out.index("Compliance of Green Valley Industrial Park, 2025"):out.index("Audit: report")]
    cells = r"\s+│ ".join([NUMBER] * 5)
    rows = re.findall(rf"│ (\d+) [^│]+│ {cells}\s+│ compliant", table)
    return {org: tuple(number(v) for v in values) for org, *values in rows}


def test_the_demo_tells_the_year_through_the_service_and_refuses_to_reuse_its_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CARBONLEDGER_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["demo", "--small", "--no-serve"])
    assert result.exit_code == 0, result.output
    out = result.output
    (run_dir,) = (tmp_path / "demo").iterdir()
    assert re.fullmatch(r"\d{8}T\d{6}Z", run_dir.name)
    assert (run_dir / "carbonledger.db").stat().st_size > 0

    # Meter data through the oracle pipeline, every window anchored.
    assert "6,720 readings accepted (1 h apart, 280 signed messages), 0 quarantined; 20 windows anchored" in out

    # Every enterprise owes its finalized report and has surrendered it; the short one used credits up to the cap.
    rows = compliance_rows(out)
    assert list(rows) == ENTERPRISES
    for report, obligation, allowances, credits, shortfall in rows.values():
        assert report == obligation > 0
        assert allowances + credits == obligation and shortfall == 0
    *_, (_, obligation, _, credits, _) = rows.values()
    assert 0 < credits == obligation * 5 // 100
    cap = f"CreditCapExceeded(orgId=15, year=2025, requested={credits + 1}, remainingCap={credits})"
    assert f"refused with {cap}" in out
    assert "refused with PriceOutOfBand(price=7200, lower=5400, upper=6600)" in out
    assert all(name in out for name in ("trader_a", "trader_b", "forestry"))

    # The certificate, printed and saved as the service's printable page.
    assert "Retirement certificate #1" in out and re.search(r"registry record matches\s+│ True", out)
    page = (run_dir / "retirement-certificate-1.html").read_text()
    assert "Harbour Logistics Ltd" in page and "record matches this certificate." in page

    # Green electricity: certificates issued from the anchored solar production, bought, consumed, and the buyer's
    # market-based Scope 2 below its location-based one, the figure for compliance once the regulator says so.
    assert re.search(r"anchored as production in 4 weekly windows", out)
    assert re.search(r"GEC batch 1: [\d,]+ MWh certified from [\d,]+ Wh anchored", out)
    assert "issuance → listing → trade → consumption; 1 consumption claim(s)" in out
    assert re.search(r"Scope 2 for compliance is now [\d,.]+ t \(market-based", out)

    # Product footprints: the coil's EPD computed from the steel plant's anchored site data, the bracket's citing
    # it, and the bracket's flagged when the plant supersedes its EPD.
    footprints = out[out.index("Product footprints"):out.index("Audit: report 5")]
    assert re.search(r"│ 1\s+│ hot-rolled\s+│ [\d.]+\s+│ 279\.000\s+│", footprints)  # 1.55 t x 120 + 0.62 t x 150 kg
    assert "Auto Parts 14's bracket cites steel EPD 1" in footprints
    assert re.search(r"checked steel EPD 1's \d+ site totals against .*: verified", " ".join(footprints.split()))
    # The coil's output from its production counter's anchored counts, the slab's from a sealed ERP extract.
    assert "counted 1,200 t of coil (50 signed counts anchored in 4 product-count windows" in " ".join(
        footprints.split())
    assert "its ERP extract states 800 t of slab (sealed" in " ".join(footprints.split())
    assert "published EPD 3 superseding 1" in footprints and "sees [2] flagged" in footprints
    assert re.search(r"traced bracket EPD 2 across 2 tiers: tier 0 EPD 2 .* provenance matches .* tier 1 EPD 1 .* "
                     r"provenance matches .*; [1-9]\d* of the steel plant's readings proved .*; verified: True",
                     " ".join(footprints.split()))
    assert "shows the steel EPD's on-chain facts but not its provenance" in footprints

    # The trace: the report's steps, its commitment, one reading proved by MeterAnchor with its subtotals.
    trace = out[out.index("Audit: report 5"):]
    assert [s for s in ("submitted", "verified", "finalized") if re.search(rf"│ {s}\s+│", trace)] == [
        "submitted", "verified", "finalized"]
    assert "recomputed from the indexed anchors: matches; anchors matching the oracle's SQL: 4/4" in trace
    assert re.search(r"reading \d+ proved on chain: True", trace)
    levels = re.findall(r"│ (device|workshop|facility|enterprise)\s+│ (\S+)\s+│ ([\d,.]+)\s+│ ([\d,]+)\s+│", trace)
    assert [level for level, *_ in levels] == ["device", "workshop", "facility", "enterprise"]
    assert levels[-1][1] == "15" and all(float(kg.replace(",", "")) > 0 for *_, kg, _ in levels)
    assert "reconcile: clean" in out
    assert "OpenAPI docs" not in out

    # The same directory again: refused, untouched.
    before = sorted(p.name for p in run_dir.iterdir())
    again = runner.invoke(app, ["demo", "--small", "--no-serve", "--data-dir", str(run_dir)])
    assert again.exit_code == 1
    assert f"error: {run_dir} is not an empty directory" in again.output
    assert "hint: give a new or empty directory" in again.output
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_a_taken_port_is_explained_instead_of_served():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not port_free("127.0.0.1", port)
        # The port is checked before the runtime is touched.
        assert serve(cast(Runtime, None), "127.0.0.1", port, "clk_key", "./run demo") is False
    assert port_free("127.0.0.1", port)

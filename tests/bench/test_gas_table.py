"""The gas benchmark runs and reports every operation the issues name (figures, not timings)."""

from __future__ import annotations

import json
import subprocess
import sys

from ledger_service.paths import REPO_ROOT

KEYS = {
    "admit_member",
    "allocate_100",
    "transfer_allowance",
    "surrender",
    "anchor",
    "submit_report",
    "verify_report",
    "finalize_report",
    "notarize",
    "verify_proof_depth20",
    "issue_credits",
    "transfer_credit",
    "retire_credit",
    "list_order",
    "fill_order",
    "cancel_order",
}


def test_the_gas_table_ends_with_one_json_line_of_integer_figures():
    out = (
        subprocess.run(
            [sys.executable, str(REPO_ROOT / "bench" / "gas.py")],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        .stdout.strip()
        .splitlines()
    )
    figures = json.loads(out[-1])
    assert set(figures) == KEYS
    assert all(isinstance(v, int) and 21_000 <= v < 15_000_000 for v in figures.values())
    # A batch of 100 allocations costs less than 100 single transactions would.
    assert figures["allocate_100"] < 100 * (figures["transfer_allowance"] + 21_000)

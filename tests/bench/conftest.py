"""The gas benchmark runs once per session; its figures feed the table and snapshot tests."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ledger_core.paths import REPO_ROOT


@pytest.fixture(scope="session")
def gas_output(request: pytest.FixtureRequest) -> list[str]:
    """The lines `bench/gas.py` prints (a table, then one JSON line): run once per test run, the workers of one
    run sharing its output (the table and the snapshot tests may land on different workers)."""
    run = getattr(request.config, "workerinput", {}).get("testrunuid")
    if run is None:
        return _run_gas()
    kept = Path(tempfile.gettempdir()) / f"carbonledger-gas-{run}.txt"
    with (kept.parent / f"{kept.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.exists():
            kept.write_text("\n".join(_run_gas()))
        return kept.read_text().splitlines()


def _run_gas() -> list[str]:
    return (
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


@pytest.fixture(scope="session")
def gas_figures(gas_output: list[str]) -> dict[str, int]:
    figures: dict[str, int] = json.loads(gas_output[-1])
    return figures

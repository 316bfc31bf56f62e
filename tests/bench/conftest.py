"""The gas benchmark runs once per session; its figures feed the table and snapshot tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ledger_core.paths import REPO_ROOT


@pytest.fixture(scope="session")
def gas_output() -> list[str]:
    """The lines `bench/gas.py` prints (a table, then one JSON line)."""
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

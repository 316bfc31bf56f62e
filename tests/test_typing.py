"""The code stays mypy-clean: the public API (ledger_core, ledger_service and oracles) and the benchmarks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from ledger_core.paths import REPO_ROOT


def test_mypy_finds_nothing():
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it comes with the dev extras)")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "ledger_core", "ledger_service", "oracles", "bench"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

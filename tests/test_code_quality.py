"""The code base stays ruff-clean (the style rules in pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from ledger_core.paths import REPO_ROOT


def test_ruff_finds_nothing():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it comes with the dev extras)")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", str(REPO_ROOT)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""The README stays true to the code: every setting documented, every command it names exists."""

from __future__ import annotations

import re

from typer.main import get_command

from ledger_core.config import Settings
from ledger_core.paths import REPO_ROOT
from ledger_service.cli.app import app

README = (REPO_ROOT / "README.md").read_text()


def test_every_setting_is_documented_with_its_environment_variable():
    missing = [name for name in Settings.model_fields if f"CARBONLEDGER_{name.upper()}" not in README]
    assert missing == []


def test_every_setting_has_a_description_for_the_readme_table():
    undescribed = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undescribed == []


def test_every_carbonledger_command_in_the_readme_exists():
    commands = get_command(app).commands  # type: ignore[attr-defined]
    named = set(re.findall(r"^carbonledger ([a-z-]+)", README, flags=re.MULTILINE))
    assert named, "the README shows the command line"
    assert named <= set(commands), named - set(commands)


def test_ci_runs_the_readme_test_command():
    assert "./run test" in README
    assert "./run test" in (REPO_ROOT / ".ci" / "run").read_text()

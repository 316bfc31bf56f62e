"""`./run setup` leaves the checkout as it found it and, once done, installs nothing again.

Offline and quick (a few seconds): nothing here installs anything. The checkout must be one that
`./run setup` has set up (`./run test` does it before the suite starts, and says so in
CARBONLEDGER_SETUP_DONE); otherwise, or outside a git checkout, the tests that need it skip with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger_core.paths import REPO_ROOT

RUN = REPO_ROOT / "run"


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=30)


def _in_git_checkout() -> bool:
    if shutil.which("git") is None:
        return False
    top = _git("rev-parse", "--show-toplevel")
    return top.returncode == 0 and Path(top.stdout.strip()).resolve() == REPO_ROOT.resolve()


needs_git = pytest.mark.skipif(not _in_git_checkout(), reason="not a git checkout (or git is not installed)")


def _status() -> set[str]:
    result = _git("status", "--porcelain", "--untracked-files=all")
    assert result.returncode == 0, result.stderr
    return set(result.stdout.splitlines())


def _run_setup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUN), "setup", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )


@needs_git
def test_a_second_setup_installs_nothing_and_leaves_the_checkout_as_it_was():
    # Installing here would pull packages from the network under the running suite: check first.
    check = _run_setup("--check")
    if check.returncode != 0 and os.environ.get("CARBONLEDGER_SETUP_DONE") != "1":
        pytest.skip(f"this checkout is not set up (`./run test` sets it up first): {check.stdout.strip()}")
    # Under `./run test` setup has just run: it must consider itself done.
    assert check.returncode == 0, f"`./run setup` just ran and is not done: {check.stdout}{check.stderr}"
    assert check.stdout.strip() == "setup: up to date"
    before = _status()
    again = _run_setup()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "== installing" not in again.stdout + again.stderr
    introduced = _status() - before
    assert introduced == set(), f"a second `./run setup` changed the checkout: {sorted(introduced)}"


@needs_git
def test_everything_setup_and_the_suite_create_is_ignored():
    created = [
        ".venv/bin/python",
        ".venv/.stamps/node",
        "node_modules/.package-lock.json",
        "node_modules/solc/package.json",
        "carbonledger.egg-info/PKG-INFO",
        "build/contracts/Membership.json",
        "var/demo/20250101T000000Z/ledger.sqlite",
        "data/ledger.sqlite",
        "deployments/embedded.json",
        "ledger_service/__pycache__/paths.cpython-311.pyc",
        ".pytest_cache/README.md",
        ".hypothesis/examples/x",
    ]
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(created) + "\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert sorted(result.stdout.splitlines()) == sorted(created)


def test_setup_check_reports_what_is_missing_without_installing(tmp_path: Path):
    """The decision `./run setup` makes, on a scratch copy: stale stamps mean an install, fresh ones none."""
    for name in ("run", "pyproject.toml", "package.json", "package-lock.json"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    scratch_run = [str(tmp_path / "run"), "setup", "--check"]

    missing = subprocess.run(scratch_run, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1
    assert missing.stdout.strip() == "setup: would install Python packages, the Solidity toolchain"
    assert not (tmp_path / ".venv").exists() and not (tmp_path / "node_modules").exists()

    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(Path(shutil.which("python3") or "/usr/bin/python3"))
    (tmp_path / "node_modules" / "solc").mkdir(parents=True)
    stamps = tmp_path / ".venv" / ".stamps"
    stamps.mkdir()
    # What setup records after an install: the SHA-256 of the files the install was made from.
    python_inputs = (tmp_path / "pyproject.toml").read_bytes()
    node_inputs = (tmp_path / "package.json").read_bytes() + (tmp_path / "package-lock.json").read_bytes()
    (stamps / "python").write_text(hashlib.sha256(python_inputs).hexdigest() + "\n")
    (stamps / "node").write_text(hashlib.sha256(node_inputs).hexdigest() + "\n")
    current = subprocess.run(scratch_run, capture_output=True, text=True, timeout=30)
    assert current.returncode == 0 and current.stdout.strip() == "setup: up to date", current.stdout

    (tmp_path / "package.json").write_text((tmp_path / "package.json").read_text() + "\n")
    stale = subprocess.run(scratch_run, capture_output=True, text=True, timeout=30)
    assert stale.returncode == 1 and stale.stdout.strip() == "setup: would install the Solidity toolchain"


def test_the_lock_file_is_complete_for_every_platform_and_in_step_with_package_json(tmp_path: Path):
    """What `npm ci` (setup) needs: it installs from the lock alone and never rewrites it."""
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    packages = lock["packages"]
    # Every optional platform binary (anvil's darwin/linux/win32 builds) has its entry, so a lock
    # made on one platform serves all, and `npm install` elsewhere has nothing to add to it.
    missing = [
        f"{path} -> {dep}"
        for path, entry in packages.items()
        for dep in entry.get("optionalDependencies", {})
        if f"node_modules/{dep}" not in packages
    ]
    assert missing == []
    manifest = json.loads((REPO_ROOT / "package.json").read_text())
    assert packages[""]["dependencies"] == manifest["dependencies"]

    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    # Offline, with an empty cache: npm checks the lock against package.json without the network.
    result = subprocess.run(
        ["npm", "ci", "--dry-run", "--offline", "--no-audit", "--no-fund", "--cache", str(tmp_path / "npm-cache")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert (tmp_path / "package-lock.json").read_bytes() == (REPO_ROOT / "package-lock.json").read_bytes()

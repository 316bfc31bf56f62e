"""The offline compiler pipeline: cached builds, stale-artifact detection, readable errors."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from ledger_core.chain import compiler
from ledger_core.chain.compiler import Artifact, CompilationError, build, load_artifacts, source_hash
from ledger_core.paths import BUILD_DIR, CONTRACTS_DIR


def test_artifacts_in_use_match_the_current_contract_sources(artifacts: dict[str, Artifact]):
    """Fails when build/contracts is stale against contracts/ (the fixture rebuilds when it is)."""
    on_disk = load_artifacts(BUILD_DIR)
    current = source_hash(CONTRACTS_DIR)
    assert {a.source_hash for a in on_disk.values()} == {current}
    assert {a.source_hash for a in artifacts.values()} == {current}


def test_every_artifact_records_abi_bytecode_and_compiler_version(artifacts: dict[str, Artifact]):
    for name in ("Membership", "ComplianceLedger", "AllowanceRegistry", "EmissionRegistry", "MeterAnchor"):
        art = artifacts[name]
        assert art.bytecode.startswith("0x") and len(art.bytecode) > 100
        assert any(item["type"] == "constructor" for item in art.abi)
        assert art.compiler_version.startswith("0.8.30")


def test_a_second_build_with_unchanged_sources_is_served_from_the_cache(artifacts: dict[str, Artifact]):
    started = time.perf_counter()
    again = build()
    assert time.perf_counter() - started < 1.0
    assert again == artifacts


def test_a_changed_source_changes_the_source_hash(tmp_path: Path):
    copy = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, copy)
    before = source_hash(copy)
    notary = copy / "Notary.sol"
    notary.write_text(notary.read_text() + "\n// changed\n")
    assert source_hash(copy) != before


def test_compiler_errors_name_the_file_and_line(tmp_path: Path):
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "Broken.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity 0.8.30;\ncontract Broken {\n    uint x = ;\n}\n"
    )
    with pytest.raises(CompilationError) as info:
        build(contracts, tmp_path / "out")
    message = str(info.value)
    assert "contracts/Broken.sol:4:" in message
    assert "Traceback" not in message
    assert not (tmp_path / "out").exists()


def test_a_missing_npm_toolchain_is_reported_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(compiler, "NODE_MODULES", tmp_path)
    with pytest.raises(compiler.ToolchainMissing, match="npm ci"):
        source_hash()

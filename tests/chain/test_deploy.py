"""Deploying the suite: dependency order, wiring, and the per-network record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from ledger_core.chain.anvil import AnvilNode
from ledger_core.chain.deploy import SUITE
from scripts import deploy as deploy_cli
from tests.support.cast import ROLES
from tests.support.ledger import Ledger


def test_the_deployer_is_the_first_regulator_of_the_authority(ledger: Ledger):
    deployer = ledger.deployment.deployer
    assert ledger.call("Membership", "hasActiveRole", ROLES["REGULATOR"], deployer)
    assert ledger.call("Membership", "orgOf", deployer) == 1


def test_the_suite_is_wired_together(ledger: Ledger):
    addr = ledger.deployment.addresses
    assert ledger.call("ComplianceLedger", "obligationSource", addr["EmissionRegistry"])
    assert ledger.call("ComplianceLedger", "assetRegistryKind", addr["AllowanceRegistry"]) == 1
    assert ledger.call("ComplianceLedger", "assetRegistryKind", addr["CreditRegistry"]) == 2
    assert ledger.call("Membership", "isEscrowAgent", addr["CarbonMarket"])
    for spec in SUITE:
        assert ledger.w3.eth.get_code(addr[spec.name]), f"{spec.name} has no code"
    for spec in SUITE[1:]:
        assert ledger.call(spec.name, "membership") == addr["Membership"], f"{spec.name} asks another Membership"



def test_deploying_to_a_node_writes_a_record_and_refuses_to_overwrite_it(
    anvil: AnvilNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    deployer = Account.create()
    anvil.fund(deployer.address)
    monkeypatch.setenv("TEST_DEPLOYER_KEY", deployer.key.hex())
    args = [
        "--network",
        "local",
        "--rpc-url",
        anvil.url,
        "--key-env",
        "TEST_DEPLOYER_KEY",
        "--deployments-dir",
        str(tmp_path),
    ]

    assert deploy_cli.main(args) == 0
    record = json.loads((tmp_path / "local.json").read_text())
    assert record["chainId"] == 31337
    assert record["deployer"] == deployer.address
    assert set(record["contracts"]) == {s.name for s in SUITE}
    assert record["compilerVersion"].startswith("0.8.30")
    assert set(record["abiHashes"]) == set(record["contracts"])
    assert record["deploymentBlock"] >= 1

    assert deploy_cli.main(args) == 1
    assert "pass --redeploy" in capsys.readouterr().err
    assert json.loads((tmp_path / "local.json").read_text()) == record

    assert deploy_cli.main([*args, "--redeploy"]) == 0
    again = json.loads((tmp_path / "local.json").read_text())
    assert again["contracts"]["Membership"] != record["contracts"]["Membership"]


def test_a_persistent_network_needs_the_deployer_key(
    anvil: AnvilNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("MISSING_KEY", raising=False)
    code = deploy_cli.main(
        ["--network", "local", "--rpc-url", anvil.url, "--key-env", "MISSING_KEY", "--deployments-dir", str(tmp_path)]
    )
    assert code == 1
    assert "MISSING_KEY" in capsys.readouterr().err
    assert not (tmp_path / "local.json").exists()

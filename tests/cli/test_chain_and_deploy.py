"""`carbonledger chain` keeps a local node whose state survives a restart; `deploy` records the suite on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from ledger_core.chain.anvil import AnvilUnavailable, anvil_binary, free_port
from ledger_core.chain.compiler import build
from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.deploy import load_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.config import get_settings
from ledger_service.cli import app

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    try:
        anvil_binary()
    except AnvilUnavailable as exc:
        pytest.skip(f"anvil cannot run here: {exc}")
    monkeypatch.setenv("CARBONLEDGER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    runner.invoke(app, ["chain", "stop"])
    get_settings.cache_clear()


def invoke(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{") :])


def test_a_deployment_on_the_local_node_survives_stopping_and_starting_it(data_dir: Path, tmp_path: Path):
    port = str(free_port())
    started = invoke("chain", "start", "--port", port)
    assert started["running"] is True
    assert started["state_interval"] == 1  # chosen from the state file's size: a new chain is dumped every second
    assert started["history"] == "disk" == invoke("chain", "status")["history"]
    records = tmp_path / "deployments"
    deployed = invoke("deploy", "--network", "local", "--dev-key", "--deployments-dir", str(records))
    assert deployed["chainId"] == 31337 and (records / "local.json").exists()
    assert (data_dir / "keys" / "deployer.key").stat().st_mode & 0o077 == 0  # owner-only

    deployment = load_deployment("local", records)
    w3 = connect_rpc(invoke("chain", "status")["url"])
    artifacts = build()
    regulator = Account.from_key((data_dir / "keys" / "deployer.key").read_text())
    sender = TransactionSender(w3, regulator, RevertDecoder.from_artifacts(artifacts.values()))
    membership = w3.eth.contract(address=deployment.addresses["Membership"], abi=artifacts["Membership"].abi)
    sender.transact(membership.functions.registerOrganisation(10, 0, 1, "Green Valley Industrial Park"))
    head = w3.eth.get_block("latest")

    assert invoke("chain", "stop")["stopped"] is True
    assert invoke("chain", "status")["running"] is False
    assert invoke("chain", "start", "--port", port, "--history", "memory")["history"] == "memory"

    w3 = connect_rpc(invoke("chain", "status")["url"])
    assert w3.eth.get_block(head["number"])["hash"] == head["hash"]
    membership = w3.eth.contract(address=deployment.addresses["Membership"], abi=artifacts["Membership"].abi)
    assert membership.functions.organisation(10).call()[2] == "Green Valley Industrial Park"


def test_deploying_to_a_network_with_a_record_needs_redeploy(data_dir: Path, tmp_path: Path):
    invoke("chain", "start", "--port", str(free_port()))
    records = tmp_path / "deployments"
    invoke("deploy", "--network", "local", "--dev-key", "--deployments-dir", str(records))
    again = runner.invoke(app, ["deploy", "--network", "local", "--dev-key", "--deployments-dir", str(records)])
    assert again.exit_code == 1
    assert "exists" in again.output and "hint: pass --redeploy" in again.output


def test_a_dump_interval_that_is_neither_auto_nor_whole_seconds_is_refused_before_any_node_starts(data_dir: Path):
    result = runner.invoke(app, ["chain", "start", "--port", str(free_port()), "--state-interval", "0"])
    assert result.exit_code != 0 and "at least 1 second" in result.output
    assert invoke("chain", "status")["running"] is False


def test_a_state_file_left_truncated_by_a_hard_kill_is_reported_with_what_to_do(data_dir: Path):
    data_dir.mkdir(parents=True)
    (data_dir / "anvil-state.json").write_text('{"block": {"number": "0x1"}, "blocks": [{"hea')
    result = runner.invoke(app, ["chain", "start", "--port", str(free_port())])
    assert result.exit_code == 1
    assert "ends mid-way" in result.output and "restore the data directory from a backup" in result.output


def test_deploy_without_a_node_says_how_to_start_one(data_dir: Path):
    result = runner.invoke(app, ["deploy", "--network", "local"])
    assert result.exit_code == 1
    assert "no local node running" in result.output and "carbonledger chain start" in result.output

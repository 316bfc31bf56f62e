"""`carbonledger admin upgrade`: on a node, one regulator proposes the market's new version, another approves,
the migration runs and `deployments/<network>.json` records the new address with the old one's history."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from typer.testing import CliRunner

from ledger_core.assets import tradeable
from ledger_core.chain.anvil import AnvilNode
from ledger_core.chain.compiler import build
from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.deploy import deploy_suite, load_deployment, write_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite
from ledger_service.cli import app
from tests.support.cast import ROLES

runner = CliRunner()



def upgrade(*args: str, key: str) -> tuple[int, str]:
    result = runner.invoke(app, ["admin", "upgrade", *args, "--json"], env={"CARBONLEDGER_REGULATOR_KEY": key})
    return result.exit_code, result.output


def test_two_regulators_upgrade_the_market_and_the_record_follows(anvil: AnvilNode, tmp_path: Path) -> None:
    first, second = Account.create(), Account.create()
    anvil.fund(first.address)
    anvil.fund(second.address)
    w3 = connect_rpc(anvil.url)
    artifacts = build()
    suite_sender = TransactionSender(w3, first, RevertDecoder.from_artifacts(artifacts.values()))
    deployment = deploy_suite(suite_sender, artifacts, "local")
    write_deployment(deployment, tmp_path)
    suite = Suite(w3, artifacts, deployment)
    suite.transact(suite_sender, "Membership", "admit", second.address, 1, [ROLES["REGULATOR"]])
    where = ["--network", "local", "--rpc-url", anvil.url, "--deployments-dir", str(tmp_path)]

    code, out = upgrade("propose", "CarbonMarket", *where, "--artifact", "CarbonMarketV2", key=first.key.hex())
    assert code == 0, out
    proposal = json.loads(out[out.index("{"):])
    code, out = upgrade("approve", str(proposal["id"]), *where, key=first.key.hex())
    assert code != 0 and "SelfApproval" in out
    code, out = upgrade("run", str(proposal["id"]), *where, "--artifact", "CarbonMarketV2", key=first.key.hex())
    assert code != 0 and "not approved" in out
    assert upgrade("approve", str(proposal["id"]), *where, key=second.key.hex())[0] == 0
    code, out = upgrade("run", str(proposal["id"]), *where, "--artifact", "CarbonMarketV2", key=first.key.hex())
    assert code == 0, out
    assert json.loads(out[out.index("{"):])["counts"] == {
        "orders": 0, "escrow_units": 0, "escrow_tokens": 0, "reference_prices": 0, "assets_enabled": len(tradeable())}

    record = load_deployment("local", tmp_path)
    assert record.addresses["CarbonMarket"] == proposal["next"]
    assert record.version_of("CarbonMarket").version == 2
    assert [h.address for h in record.version_of("CarbonMarket").history] == [deployment.addresses["CarbonMarket"]]
    assert Suite(w3, artifacts, record).call("CarbonMarket", "version") == 2

"""A service on a node follows an upgrade made by `carbonledger admin upgrade` in another process: it binds the
new market once the record is rewritten, its index reads both addresses, and reconciliation stays clean."""

from __future__ import annotations

from eth_account import Account
from sqlalchemy import select
from typer.testing import CliRunner

from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.db.models import IndexCheckpoint
from ledger_service.audit.reconcile import reconcile
from ledger_service.cli import app
from tests.chain.node_service import NETWORK, NodeService
from tests.support.cast import ROLES

runner = CliRunner()


def test_a_service_on_a_node_follows_the_rewritten_record(service: NodeService) -> None:
    service.start_node()
    service.deploy()
    service.start_service()
    runtime = service.runtime
    assert runtime is not None
    old_market = runtime.suite.contract("CarbonMarket").address
    # Two regulators of their own run the upgrade (keys the service does not keep); the node charges no gas.
    first, second = Account.create(), Account.create()
    w3 = connect_rpc(service.url)
    sender = TransactionSender(w3, service.regulator, RevertDecoder.from_artifacts(service.artifacts.values()))
    membership = runtime.suite.contract("Membership")
    for regulator in (first, second):
        sender.transact(membership.functions.admit(regulator.address, 1, [ROLES["REGULATOR"]]))
    runtime.indexing.index_up_to_date()

    where = ["--network", NETWORK, "--rpc-url", service.url, "--deployments-dir", str(service.workdir / "deployments")]

    def upgrade(key: bytes, *args: str) -> None:
        result = runner.invoke(app, ["admin", "upgrade", *args, *where, "--json"],
                               env={"CARBONLEDGER_REGULATOR_KEY": "0x" + key.hex()})
        assert result.exit_code == 0, result.output

    upgrade(first.key, "propose", "CarbonMarket", "--artifact", "CarbonMarketV2")
    upgrade(second.key, "approve", "1")
    upgrade(first.key, "run", "1", "--artifact", "CarbonMarketV2")

    runtime.indexing.sync()
    new_market = runtime.suite.contract("CarbonMarket").address
    assert new_market != old_market and runtime.suite.call("CarbonMarket", "version") == 2
    assert runtime.outbox.addresses["CarbonMarket"] == new_market
    with runtime.sessions() as session:
        keys = set(session.scalars(select(IndexCheckpoint.contract)))
    assert {"CarbonMarket", "CarbonMarket@v2"} <= keys
    report = reconcile(runtime.engine, runtime.suite, chain=runtime.chain)
    assert report.ok, (report.differences, report.outbox)

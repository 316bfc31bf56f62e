"""Upgrading the market through the service while it runs: two regulators' use cases, the service follows the
new version at once (its use cases, its outbox, its background indexer), and reconciliation stays clean."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger_core.chain.compiler import Artifact
from ledger_core.chain.errors import ContractRevert
from ledger_core.db.models import ChainOrderEvent, IndexCheckpoint
from ledger_service.api.reverts import http_status
from ledger_service.audit.reconcile import reconcile
from ledger_service.runtime import Runtime
from tests.service.acting import acting, refused, services
from tests.service.cast import YEAR, Cast, admit_cast
from tests.service.conftest import service_settings
from tests.service.credit_steps import chain_now

DAY = 86_400


@pytest.fixture
def running(artifacts: dict[str, Artifact], tmp_path: Path) -> Iterator[tuple[Runtime, Cast]]:
    """A service of its own (the upgrade changes its suite for good), its indexer running in the background."""
    runtime = Runtime.start(service_settings(tmp_path, index_interval_seconds=0.1), artifacts=artifacts)
    cast = admit_cast(runtime)
    runtime.indexing.start()
    yield runtime, cast
    runtime.close()


def _indexed(runtime: Runtime) -> dict[str, int]:
    """The checkpoints once the background indexer has reached the chain's head."""
    head = runtime.chain.block_number()
    for _ in range(300):
        with runtime.sessions() as session:
            points = dict(session.execute(select(IndexCheckpoint.contract, IndexCheckpoint.indexed_block)).all())
        if points and min(points.values()) >= head:
            return {k: int(v) for k, v in points.items()}
        time.sleep(0.05)
    raise AssertionError(f"the indexer did not reach block {head}: {points}")


def test_the_running_service_follows_an_upgraded_market(running: tuple[Runtime, Cast]) -> None:
    runtime, cast = running
    use = services(runtime)
    regulator, seller = acting(runtime, cast, "regulator"), acting(runtime, cast, "enterprise_a")
    use.allowances.allocate(regulator, YEAR, [(seller.address, 100)])
    use.market.set_reference_price(regulator, "allowance", YEAR, 5_000)
    expiry = datetime.fromtimestamp(chain_now(runtime) + DAY, UTC)
    first = use.market.list_order(seller, "allowance", YEAR, 40, 5_000, expiry).value
    second = use.market.list_order(seller, "allowance", YEAR, 30, 5_000, expiry).value
    assert first is not None and second is not None
    old_market = runtime.suite.contract("CarbonMarket").address
    _indexed(runtime)

    proposal = use.upgrades.propose(regulator, "CarbonMarket", "CarbonMarketV2")
    # The chain's refusals reach the caller by name, each with its own status (not all 409).
    with pytest.raises(ContractRevert) as own:
        use.upgrades.approve(regulator, proposal.id)
    with pytest.raises(ContractRevert) as unknown:
        use.upgrades.approve(acting(runtime, cast, "regulator2"), proposal.id + 1)
    assert [(e.value.error, http_status(e.value.error, e.value.args_by_name)) for e in (own, unknown)] == [
        ("SelfApproval", 409), ("UnknownProposal", 404)]
    refused(409, "UpgradeRefused", use.upgrades.run, regulator, proposal.id, "CarbonMarketV2")
    use.upgrades.approve(acting(runtime, cast, "regulator2"), proposal.id)
    report = use.upgrades.run(regulator, proposal.id, "CarbonMarketV2")
    assert (report.counts["orders"], report.counts["escrow_units"]) == (2, 70)

    # The service acts on the new version: its suite, its outbox and the use cases' reads.
    assert runtime.suite.contract("CarbonMarket").address == proposal.next != old_market
    assert runtime.suite.call("CarbonMarket", "version") == 2
    assert use.market.order_as_held(first.order_id).remaining == 40
    use.market.cancel_order(seller, second.order_id)
    third = use.market.list_order(seller, "allowance", YEAR, 5, 5_000, expiry).value
    assert third is not None and third.order_id == second.order_id + 1

    # The background indexer read both addresses, each over its blocks, and the index reconciles.
    points = _indexed(runtime)
    assert {"CarbonMarket", "CarbonMarket@v2"} <= set(points)
    with runtime.sessions() as session:
        kinds = list(session.scalars(select(ChainOrderEvent.kind).where(ChainOrderEvent.order_id == second.order_id)
                                     .order_by(ChainOrderEvent.block_number, ChainOrderEvent.log_index)))
    assert kinds == ["listed", "migrated", "imported", "cancelled"]
    assert use.market.order(seller, second.order_id).status == "cancelled"
    report_ = reconcile(runtime.engine, runtime.suite, chain=runtime.chain)
    assert report_.ok, (report_.differences, report_.outbox)

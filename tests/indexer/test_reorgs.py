"""Blocks within the confirmation depth are pending and re-checked; when a stored block leaves the
chain, the index rolls back to the common ancestor and re-reads the new branch."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import ledger_core.db.models  # noqa: F401
from ledger_core.db.base import Base
from ledger_core.db.models import ChainBalance, ChainTransfer
from ledger_core.db.session import make_engine
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import EventIndexer
from ledger_service.indexer.source import Web3Source
from tests.indexer.conftest import indexer_for
from tests.indexer.helpers import dump
from tests.support.story import YEAR, tell_story


@pytest.fixture
def story(ledger, session):
    return tell_story(ledger, session)


def transfer(ledger, src: str, dst: str, amount: int) -> None:
    ledger.tx(src, "AllowanceRegistry", "safeTransferFrom", ledger.address(src), ledger.address(dst), YEAR, amount, b"")


def fresh_index(ledger, tmp_path: Path, **options):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    Base.metadata.create_all(engine)
    indexer_for(ledger, engine, **options).sync()
    return dump(engine)


def balance(engine, ledger, actor: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(ChainBalance.amount).where(
            ChainBalance.token_id == YEAR, ChainBalance.holder == ledger.address(actor)))


def test_rows_of_shallow_blocks_are_pending_until_deep_enough(ledger, story, make_indexer, index_engine):
    indexer = make_indexer(confirmations=3)
    transfer(ledger, "trader", "enterprise_b", 5)
    indexer.sync()
    with index_engine.connect() as conn:
        latest = conn.execute(select(ChainTransfer).order_by(ChainTransfer.block_number.desc())).first()
    assert latest.pending and latest.amount == 5
    ledger.chain.tester.mine_blocks(3)
    report = indexer.sync()
    assert report.final_block >= latest.block_number
    with index_engine.connect() as conn:
        assert conn.execute(select(ChainTransfer.pending).where(ChainTransfer.id == latest.id)).scalar() is False


@pytest.mark.parametrize("confirmations", [6, 0], ids=["within-depth", "below-depth"])
def test_a_replaced_branch_is_rolled_back_to_the_common_ancestor_and_re_read(
    ledger, story, make_indexer, index_engine, tmp_path, confirmations
):
    indexer = make_indexer(confirmations=confirmations, range_size=4)
    fork_point = ledger.w3.eth.block_number
    branch = ledger.snapshot()
    transfer(ledger, "enterprise_a", "trader", 10)
    transfer(ledger, "trader", "enterprise_b", 7)
    indexer.sync()
    assert balance(index_engine, ledger, "trader") == 50 + 10 - 7

    ledger.revert(branch)
    transfer(ledger, "enterprise_a", "enterprise_b", 20)
    ledger.chain.tester.mine_blocks(2)
    transfer(ledger, "enterprise_b", "trader", 1)
    report = indexer.sync()

    assert report.rolled_back_to == fork_point
    assert balance(index_engine, ledger, "trader") == 50 + 1
    assert dump(index_engine) == fresh_index(ledger, tmp_path, confirmations=confirmations)


def test_a_shorter_replacement_branch_is_noticed_too(ledger, story, make_indexer, index_engine, tmp_path):
    indexer = make_indexer(confirmations=2)
    branch = ledger.snapshot()
    for amount in (1, 2, 3):
        transfer(ledger, "enterprise_a", "trader", amount)
    indexer.sync()
    ledger.revert(branch)
    transfer(ledger, "enterprise_a", "enterprise_b", 4)
    report = indexer.sync()
    assert report.rolled_back_to is not None
    assert balance(index_engine, ledger, "trader") == 50
    ledger.chain.tester.mine_blocks(2)
    indexer.sync()
    assert dump(index_engine) == fresh_index(ledger, tmp_path, confirmations=2)


class RestartsWhileLogsAreRead(Web3Source):
    """A node that restarts from an older state while a range's logs are read and has mined past
    the range's end again before its headers are read. Its `eth_getLogs` stops at its head, as
    anvil's does when `toBlock` is beyond it."""

    def __init__(self, ledger, restart, refill) -> None:
        super().__init__(ledger.w3)
        self.steps = [restart, refill]

    def logs(self, from_block, to_block, addresses):
        if not self.steps:
            return super().logs(from_block, to_block, addresses)
        restart, refill = self.steps
        self.steps = []
        restart()
        found = super().logs(from_block, min(to_block, self.head()), addresses)
        refill()
        return found


@pytest.mark.parametrize("refilled", [4, 2], ids=["past-the-old-head", "short-of-it"])
def test_a_range_read_while_the_node_restarted_from_an_older_state_is_read_again(
    ledger, story, index_engine, tmp_path, refilled
):
    catalog = EventCatalog(ledger.artifacts, ledger.deployment.addresses)
    older = ledger.snapshot()
    for amount in (1, 2, 3):
        transfer(ledger, "enterprise_a", "trader", amount)

    def restart() -> None:
        ledger.revert(older)  # the node is back at its last dump: the three transfers are forgotten

    def refill() -> None:
        for amount in range(4, 4 + refilled):  # others' transactions take the forgotten block numbers
            transfer(ledger, "enterprise_a", "enterprise_b", amount)

    source = RestartsWhileLogsAreRead(ledger, restart, refill)
    indexer = EventIndexer(index_engine, source, catalog, start_block=ledger.deployment.block, confirmations=0)
    indexer.sync()
    indexer.sync()

    assert balance(index_engine, ledger, "trader") == 50
    assert dump(index_engine) == fresh_index(ledger, tmp_path)


@pytest.mark.parametrize("confirmations", [6, 0], ids=["within-depth", "below-depth"])
def test_a_reader_during_a_rollback_sees_the_index_before_it_or_after_its_re_read_never_between(
    ledger, story, make_indexer, index_engine, tmp_path, confirmations
):
    # A reader of another connection (another request, another process) may read while the indexer rolls a
    # replaced branch back and re-reads the new one: it must never see the branch gone and its replacement
    # not yet read (here: the trader's 10 gone, enterprise_b's 20 not yet there).
    seen_during: list[dict] = []
    indexer = make_indexer(confirmations=confirmations)
    branch = ledger.snapshot()
    transfer(ledger, "enterprise_a", "trader", 10)
    indexer.sync()
    before = dump(index_engine)

    ledger.revert(branch)
    transfer(ledger, "enterprise_a", "enterprise_b", 20)  # the same height, another block
    indexer.hooks.after_fetch = lambda start, end: seen_during.append(dump(index_engine))
    report = indexer.sync()
    after = dump(index_engine)

    assert report.rolled_back_to is not None and seen_during
    assert before != after and after == fresh_index(ledger, tmp_path, confirmations=confirmations)
    assert all(seen in (before, after) for seen in seen_during)

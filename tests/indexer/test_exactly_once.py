"""Every event of the suite lands in the index exactly once, whatever the range size, however
often the indexer runs, and wherever it crashes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import ledger_core.db.models  # noqa: F401
from ledger_core.db.base import Base
from ledger_core.db.models import ChainBalance, ChainMember, ChainNotarization, ChainTransfer
from ledger_core.db.session import make_engine
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import IndexHooks
from ledger_service.indexer.source import Web3Source
from ledger_service.indexer.store import EVENT_TABLES
from tests.indexer.conftest import indexer_for
from tests.indexer.helpers import dump
from tests.support.cast import MEMBERS
from tests.support.story import YEAR, tell_story


class Crash(Exception):
    """Stands for the indexer process dying at a chosen point."""


@pytest.fixture
def story(ledger, session):
    return tell_story(ledger, session)


@pytest.fixture
def reference(ledger, story, tmp_path: Path):
    """The index built in one uninterrupted run with one large range."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    Base.metadata.create_all(engine)
    indexer_for(ledger, engine, range_size=100_000).sync()
    yield dump(engine)
    engine.dispose()


def chain_log_count(ledger) -> Counter:
    catalog = EventCatalog(ledger.artifacts, ledger.deployment.addresses)
    logs = Web3Source(ledger.w3).logs(ledger.deployment.block, ledger.w3.eth.block_number,
                                      list(catalog.addresses.values()))
    return Counter(f"{e.contract}.{e.event}" for e in map(catalog.decode, logs) if e)


def test_every_event_of_the_suite_is_indexed_with_its_position_and_time(ledger, story, make_indexer, index_engine):
    report = make_indexer().sync()
    assert Counter(report.by_event) == chain_log_count(ledger)
    assert report.indexed_block == ledger.w3.eth.block_number
    with index_engine.connect() as conn:
        transfer = conn.execute(select(ChainTransfer).where(ChainTransfer.kind == "transfer")
                                .order_by(ChainTransfer.block_number)).first()
    tx = ledger.w3.eth.get_transaction_receipt(transfer.tx_hash)
    block = ledger.w3.eth.get_block(tx["blockNumber"])
    assert (transfer.block_number, transfer.token, transfer.token_id, transfer.amount) == (
        tx["blockNumber"], "AllowanceRegistry", YEAR, 200)
    assert transfer.log_index == tx["logs"][0]["logIndex"]
    assert int(transfer.block_time.timestamp()) == block["timestamp"]


def test_a_notarization_is_indexed_at_the_time_of_its_block(ledger, make_indexer, index_engine):
    """The `Notarized` event leaves the time to its block; the row's `timestamp` is the block's, as the chain's."""
    digest = keccak(text="board minutes")
    receipt = ledger.tx("enterprise_a", "Notary", "notarize", digest, keccak(text="MINUTES"), b"\0" * 32)
    make_indexer().sync()
    with index_engine.connect() as conn:
        row = conn.execute(select(ChainNotarization).where(ChainNotarization.document_hash == digest)).one()
    block = ledger.w3.eth.get_block(receipt["blockNumber"])
    _notary, timestamp, _block = ledger.call("Notary", "getNotarization", digest)
    assert (row.timestamp, row.notarized_block, row.notary) == (
        block["timestamp"], receipt["blockNumber"], ledger.address("enterprise_a"))
    assert row.timestamp == timestamp and int(row.block_time.timestamp()) == timestamp


def test_balances_and_members_follow_the_events(ledger, story, make_indexer, index_engine):
    make_indexer().sync()
    with index_engine.connect() as conn:
        balances = dict(conn.execute(select(ChainBalance.holder, ChainBalance.amount)
                                     .where(ChainBalance.token_id == YEAR)).all())
        members = conn.scalar(select(func.count()).select_from(ChainMember))
    assert balances == {
        ledger.address("enterprise_a"): 1000 + 150 - story.obligation_tonnes,
        ledger.address("enterprise_b"): 300,
        ledger.address("trader"): 50,
    }
    assert members == len(MEMBERS) + 1  # the cast and the deployer, the first regulator


def test_running_again_adds_nothing(ledger, story, make_indexer, index_engine, reference):
    indexer = make_indexer(range_size=7)
    indexer.sync()
    again = indexer.sync()
    assert (again.ranges, again.events) == (0, 0)
    assert dump(index_engine) == reference


@pytest.mark.parametrize("range_size", [1, 5])
def test_the_index_does_not_depend_on_the_range_size(make_indexer, index_engine, reference, range_size):
    make_indexer(range_size=range_size).sync()
    assert dump(index_engine) == reference


def crash_on(call: int):
    calls = {"n": 0}

    def hook(*_args) -> None:
        calls["n"] += 1
        if calls["n"] == call:
            raise Crash

    return hook


@pytest.mark.parametrize("crash_at", [1, 6])
def test_a_crash_between_fetching_a_range_and_committing_it_leaves_no_gap(make_indexer, index_engine, reference,
                                                                          crash_at):
    with pytest.raises(Crash):
        make_indexer(range_size=10, hooks=IndexHooks(after_fetch=crash_on(crash_at))).sync()
    make_indexer(range_size=10).sync()
    assert dump(index_engine) == reference


@pytest.mark.parametrize("crash_at", [1, 9])
def test_a_crash_in_the_middle_of_writing_a_range_leaves_no_duplicate(make_indexer, index_engine, reference,
                                                                      crash_at):
    with pytest.raises(Crash):
        make_indexer(range_size=10, hooks=IndexHooks(after_table=crash_on(crash_at))).sync()
    make_indexer(range_size=10).sync()
    assert dump(index_engine) == reference


def test_a_log_cannot_be_stored_twice(make_indexer, index_engine):
    make_indexer().sync()
    with index_engine.begin() as conn:
        table = EVENT_TABLES["chain_other_events"]
        row = conn.execute(select(table)).mappings().first()
        with pytest.raises(IntegrityError, match="UNIQUE"):
            conn.execute(table.insert().values({k: v for k, v in row.items() if k != "id"}))

"""The service's workers: the event indexer and the outbox pump each start, do their work in the background,
stop, and stop cleanly again; each round runs only while this process holds the worker's role; a runtime
stops its workers when it closes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger_core.chain.compiler import Artifact
from ledger_core.chain.outbox import Intent
from ledger_service.membership import OrgKind
from ledger_service.runtime import Runtime
from tests.service.conftest import service_settings
from tests.service.helpers import submit
from tests.service.test_outbox import rows

QUICK = 0.05  # seconds between rounds: the tests wait for a round, not for the default pace


def register_organisation(runtime: Runtime, org_id: int) -> Intent:
    regulator = runtime.bootstrap_regulator
    assert regulator is not None
    return Intent("Membership", "registerOrganisation", (org_id, 0, int(OrgKind.PARK), f"Park {org_id}"), regulator)


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(QUICK)
    return True


def test_the_index_worker_follows_the_chain_until_stopped_and_stops_cleanly_twice(runtime: Runtime):
    worker = runtime.indexing
    runtime.settings.index_interval_seconds, interval = QUICK, runtime.settings.index_interval_seconds
    try:
        worker.start()
        worker.start()  # already running: one thread, not two
        assert worker.running
        submit(runtime, register_organisation(runtime, 901))
        assert eventually(lambda: worker.indexed_block() == runtime.chain.block_number())
        assert worker.status.last_error is None and worker.status.syncs >= 1
    finally:
        worker.stop()
        runtime.settings.index_interval_seconds = interval
    assert not worker.running
    worker.stop()  # a second stop has nothing to do
    assert not worker.running

    syncs = worker.status.syncs
    submit(runtime, register_organisation(runtime, 902))
    time.sleep(5 * QUICK)
    assert worker.status.syncs == syncs  # stopped: nothing syncs in the background
    assert worker.indexed_block() == runtime.chain.block_number() - 1
    assert worker.index_up_to_date() == runtime.chain.block_number()  # on demand it still syncs


def test_the_outbox_pump_collects_what_is_pending_until_stopped_and_stops_cleanly_twice(runtime: Runtime):
    pump = runtime.pump
    (sent,) = runtime.outbox.submit([register_organisation(runtime, 903)], wait=False)
    assert rows(runtime, [sent.id])[0].status == "sent"  # handed to the chain, its receipt not yet collected
    runtime.settings.outbox_interval_seconds, interval = QUICK, runtime.settings.outbox_interval_seconds
    try:
        pump.start()
        pump.start()
        assert pump.running
        assert eventually(lambda: rows(runtime, [sent.id])[0].status == "mined")
    finally:
        pump.stop()
        runtime.settings.outbox_interval_seconds = interval
    assert not pump.running
    pump.stop()
    assert not pump.running

    (later,) = runtime.outbox.submit([register_organisation(runtime, 904)], wait=False)
    time.sleep(5 * QUICK)
    assert rows(runtime, [later.id])[0].status == "sent"  # stopped: nobody collects it
    assert pump.pump_once()  # one round on demand
    assert rows(runtime, [later.id])[0].status == "mined"


def test_a_pump_round_runs_only_while_this_process_holds_the_pump_role(runtime: Runtime):
    (sent,) = runtime.outbox.submit([register_organisation(runtime, 905)], wait=False)
    with runtime.locks.role("outbox-pump") as held:  # another holder of the role (on SQLite: another thread)
        assert held
        assert runtime.pump.pump_once() is False
        assert rows(runtime, [sent.id])[0].status == "sent"
    assert runtime.pump.pump_once() is True
    assert rows(runtime, [sent.id])[0].status == "mined"


def test_health_reads_the_database_the_chain_the_outbox_and_the_index_lag(runtime: Runtime):
    health = runtime.health
    runtime.indexing.index_up_to_date()
    submit(runtime, register_organisation(runtime, 906))
    head = runtime.chain.block_number()
    assert health.database_ok() and health.chain_head() == head
    assert health.outbox_counts()["mined"] >= 1
    lag = health.index_lag(head)
    assert (lag.indexed_block, lag.lag_blocks, lag.ok) == (head - 1, 1, True)
    assert health.index_lag(None).lag_blocks is None and not health.index_lag(None).ok  # no head: lag unknown
    assert health.index_lag(head, database=False).indexed_block is None


def test_a_runtime_stops_its_workers_when_it_closes(tmp_path: Path, artifacts: dict[str, Artifact]):
    runtime = Runtime.start(service_settings(tmp_path), artifacts=artifacts)
    try:
        runtime.indexing.start()
        runtime.pump.start()
        assert runtime.indexing.running and runtime.pump.running
    finally:
        runtime.close()
    assert not runtime.indexing.running and not runtime.pump.running
    runtime.indexing.stop()  # stopping a closed runtime's workers again has nothing to do
    runtime.pump.stop()


def test_a_read_within_a_second_of_a_matching_head_asks_the_node_only_for_the_head_s_number(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """The latest block's answer carries every transaction hash of the block: reads do not fetch it each time,
    yet a write's block is always seen by the next read."""
    worker = runtime.indexing
    heads: list[int] = []
    read_head = runtime.chain.head
    monkeypatch.setattr(runtime.chain, "head", lambda: heads.append(1) or read_head())
    worker.index_up_to_date()
    worker.index_up_to_date()  # the hash matched: from now on the number stands in for it
    before = len(heads)
    for _ in range(3):
        assert worker.index_up_to_date() == runtime.chain.block_number()
    assert len(heads) == before

    submit(runtime, register_organisation(runtime, 903))
    assert worker.index_up_to_date() == runtime.chain.block_number()  # read after write: the new block is indexed
    assert len(heads) == before + 1

    monkeypatch.setattr("ledger_service.workers.indexing.HEAD_HASH_SECONDS", 0.0)
    worker.index_up_to_date()
    worker.index_up_to_date()
    assert len(heads) == before + 3  # past the second, the hash is read again every time

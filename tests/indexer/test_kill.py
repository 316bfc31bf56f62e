"""An indexer process killed (SIGKILL) between fetching a range and committing it, or in the
middle of writing a range, resumes with no gap and no duplicate."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import func, select
from web3 import HTTPProvider, Web3

import ledger_core.db.models  # noqa: F401
from ledger_core.chain.anvil import AnvilNode, AnvilUnavailable, free_port
from ledger_core.chain.compiler import build
from ledger_core.chain.deploy import Deployment, deploy_suite
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite
from ledger_core.db.base import Base
from ledger_core.db.models import IndexCheckpoint
from ledger_core.db.session import make_engine
from ledger_core.paths import REPO_ROOT
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import EventIndexer
from ledger_service.indexer.source import RpcSource
from tests.indexer.helpers import dump

RANGE = 3


@pytest.fixture(scope="module")
def node_with_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnvilNode, Deployment, Path]]:
    """A node with the suite and a few dozen blocks of events: organisations, members, allowances."""
    try:
        node = AnvilNode(free_port()).start()
    except AnvilUnavailable as exc:
        pytest.skip(f"anvil cannot run here: {exc}")
    try:
        w3 = Web3(HTTPProvider(node.url))
        artifacts = build()
        regulator = Account.from_key(keccak(text="kill-test-regulator"))
        node.fund(regulator.address)
        sender = TransactionSender(w3, regulator, RevertDecoder.from_artifacts(artifacts.values()))
        suite = Suite(w3, artifacts, deploy_suite(sender, artifacts, network="kill-test"))
        enterprises = [Account.from_key(keccak(text=f"kill-test-enterprise-{i}")).address for i in range(4)]
        suite.transact(sender, "Membership", "registerOrganisation", 10, 0, 1, "Park")
        for i, account in enumerate(enterprises):
            suite.transact(sender, "Membership", "registerOrganisation", 11 + i, 10, 2, f"Enterprise {i}")
            suite.transact(sender, "Membership", "admit", account, 11 + i, [keccak(text="ENTERPRISE")])
        for year in (2023, 2024, 2025):
            suite.transact(sender, "AllowanceRegistry", "allocate", year, enterprises, [100, 200, 300, 400])
            suite.transact(sender, "Notary", "notarize", keccak(text=f"plan {year}"), keccak(text="PLAN"), b"\0" * 32)
        record = tmp_path_factory.mktemp("deployment") / "deployment.json"
        record.write_text(json.dumps(suite.deployment.to_json()))
        yield node, suite.deployment, record
    finally:
        node.stop()


def index_in_process(node: AnvilNode, deployment: Deployment, database: str, **options: Any) -> None:
    engine = make_engine(database)
    Base.metadata.create_all(engine)
    EventIndexer(engine, RpcSource(node.url), EventCatalog(build(), deployment.addresses), confirmations=0,
                 start_block=deployment.block, **options).sync()
    engine.dispose()


@pytest.mark.parametrize(("point", "n"), [("after_fetch", 4), ("after_table", 5)])
def test_a_killed_indexer_resumes_without_gap_or_duplicate(node_with_history, tmp_path: Path, point: str, n: int):
    node, deployment, record = node_with_history
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    index_in_process(node, deployment, reference, range_size=10_000)
    database = f"sqlite:///{tmp_path / 'killed.db'}"
    Base.metadata.create_all(make_engine(database))
    marker = tmp_path / "stopped"
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.indexer.kill_worker", node.url, database, str(record), point, str(n),
         str(marker), str(RANGE)], cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, "the worker ended before reaching its stop point"
            assert time.monotonic() < deadline, "the worker never reached its stop point"
            time.sleep(0.05)
        worker.kill()
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    with make_engine(database).connect() as conn:
        reached = conn.scalar(select(func.min(IndexCheckpoint.indexed_block)))
    assert deployment.block <= reached < Web3(HTTPProvider(node.url)).eth.block_number

    index_in_process(node, deployment, database, range_size=RANGE)
    assert dump(make_engine(database)) == dump(make_engine(reference))

"""The indexer over JSON-RPC (`RpcSource`) against a real node: events of several contracts over
many blocks, read in small ranges with headers fetched in small batch arrays. Rows of blocks within
the confirmation depth are pending and their blocks are checked again on every run; the final
index equals the one the web3 path (`Web3Source`, as on the embedded chain) builds and what the
chain's own views say; a new indexer resumes from the checkpoints with no gap and no duplicate."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import Engine, func, select
from web3 import HTTPProvider, Web3

import ledger_core.db.models  # noqa: F401
from ledger_core.chain.anvil import AnvilNode, AnvilUnavailable, free_port
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import deploy_suite
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite
from ledger_core.db.base import Base
from ledger_core.db.models import ChainBalance, IndexCheckpoint, IndexedBlock
from ledger_core.db.session import make_engine
from ledger_service.audit.reconcile import reconcile
from ledger_service.indexer.catalog import EventCatalog, RawLog
from ledger_service.indexer.indexer import EventIndexer
from ledger_service.indexer.source import BlockHeader, RpcSource, Web3Source
from ledger_service.indexer.store import EVENT_TABLES
from tests.indexer.helpers import dump

YEAR = 2025
DEPTH = 4
RANGE = 3
BATCH = 2
ENTERPRISE = keccak(text="ENTERPRISE")


@dataclass
class Node:
    node: AnvilNode
    suite: Suite
    senders: dict[str, TransactionSender]
    accounts: dict[str, LocalAccount]
    notes: int = 0

    def tx(self, actor: str, contract: str, function: str, *args: Any) -> int:
        return int(self.suite.transact(self.senders[actor], contract, function, *args)["blockNumber"])

    def rpc(self, method: str, *params: Any) -> Any:
        reply = httpx.post(self.node.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                           timeout=10).json()
        return reply["result"]

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def mine(self, blocks: int) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def transfer(self, src: str, dst: str, amount: int) -> int:
        return self.tx(src, "AllowanceRegistry", "safeTransferFrom", self.accounts[src].address,
                       self.accounts[dst].address, YEAR, amount, b"")

    def notarize(self, actor: str) -> int:
        self.notes += 1
        return self.tx(actor, "Notary", "notarize", keccak(text=f"minutes {self.notes}"), keccak(text="MINUTES"),
                       b"\0" * 32)

    def history(self) -> None:
        """Events of Membership, MeterAnchor, AllowanceRegistry and Notary, one transaction a block (the
        deployment admitted the regulator already)."""
        for org, parent, kind, name in ((10, 0, 1, "Park"), (11, 10, 2, "Steel"), (12, 10, 2, "Cement")):
            self.tx("regulator", "Membership", "registerOrganisation", org, parent, kind, name)
        for name, org in (("steel", 11), ("cement", 12)):
            self.tx("regulator", "Membership", "admit", self.accounts[name].address, org, [ENTERPRISE])
            self.tx(name, "MeterAnchor", "registerDevice", keccak(text=f"{name}-meter"), org, keccak(text="F1"),
                    keccak(text="W1"), keccak(text=f"{name}-key"))
        self.tx("regulator", "AllowanceRegistry", "allocate", YEAR,
                [self.accounts["steel"].address, self.accounts["cement"].address], [100, 60])
        self.transfer("steel", "cement", 10)
        self.notarize("steel")
        self.transfer("cement", "steel", 4)


@pytest.fixture(scope="module")
def chain(artifacts: dict[str, Artifact]) -> Iterator[Node]:
    try:
        node = AnvilNode(free_port()).start()
    except AnvilUnavailable as exc:
        pytest.skip(f"anvil cannot run here: {exc}")
    try:
        w3 = Web3(HTTPProvider(node.url))
        decoder = RevertDecoder.from_artifacts(artifacts.values())
        accounts = {name: Account.from_key(keccak(text=f"rpc-source-test:{name}"))
                    for name in ("regulator", "steel", "cement")}
        for account in accounts.values():
            node.fund(account.address)
        senders = {name: TransactionSender(w3, account, decoder) for name, account in accounts.items()}
        suite = Suite(w3, artifacts, deploy_suite(senders["regulator"], artifacts, network="rpc-source-test"))
        yield Node(node, suite, senders, accounts)
    finally:
        node.stop()


@pytest.fixture
def node(chain: Node) -> Iterator[Node]:
    """The deployed suite; what a test mines is reverted after it."""
    snapshot = chain.rpc("evm_snapshot")
    yield chain
    chain.rpc("evm_revert", snapshot)
    for sender in chain.senders.values():
        sender.resync_nonce()


@dataclass
class Recording:
    """A source that records which block headers and log ranges were asked for."""

    inner: RpcSource
    headers_asked: list[int] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)

    def head(self) -> int:
        return self.inner.head()

    def logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        self.ranges.append((from_block, to_block))
        return self.inner.logs(from_block, to_block, addresses)

    def headers(self, numbers: Iterable[int]) -> dict[int, BlockHeader]:
        wanted = list(numbers)
        self.headers_asked.extend(wanted)
        return self.inner.headers(wanted)


def new_engine(tmp_path: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    Base.metadata.create_all(engine)
    return engine


def rpc_indexer(node: Node, engine: Engine, confirmations: int = DEPTH) -> tuple[EventIndexer, Recording]:
    source = Recording(RpcSource(node.node.url, batch_size=BATCH))
    catalog = EventCatalog(node.suite.artifacts, node.suite.deployment.addresses)
    return EventIndexer(engine, source, catalog, confirmations=confirmations, range_size=RANGE,
                        start_block=node.suite.deployment.block), source


def web3_index(node: Node, engine: Engine, confirmations: int = DEPTH) -> None:
    catalog = EventCatalog(node.suite.artifacts, node.suite.deployment.addresses)
    EventIndexer(engine, Web3Source(node.suite.w3), catalog, confirmations=confirmations, range_size=5000,
                 start_block=node.suite.deployment.block).sync()


def pending_blocks(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        blocks = set()
        for table in EVENT_TABLES.values():
            blocks |= set(conn.scalars(select(table.c.block_number).where(table.c.pending)))
        return blocks


def event_keys(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [k for t in EVENT_TABLES.values() for k in conn.execute(select(t.c.tx_hash, t.c.log_index)).all()]


def balances(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {h: int(a) for h, a in conn.execute(select(ChainBalance.holder, ChainBalance.amount).where(
            ChainBalance.token_id == YEAR))}


def test_shallow_blocks_are_pending_and_checked_again_until_final(node: Node, tmp_path: Path):
    node.history()
    engine = new_engine(tmp_path, "rpc.db")
    indexer, source = rpc_indexer(node, engine)
    report = indexer.sync()
    head = node.head()
    assert (report.head, report.indexed_block, report.final_block) == (head, head, head - DEPTH)
    assert report.ranges >= (head - node.suite.deployment.block) // RANGE
    assert all(end - start < RANGE for start, end in source.ranges)
    assert report.by_event["Membership.MemberAdmitted"] == 3 and report.by_event["MeterAnchor.DeviceRegistered"] == 2
    assert report.by_event["Notary.Notarized"] == 1 and report.by_event["AllowanceRegistry.TransferSingle"] == 4
    shallow = pending_blocks(engine)
    assert shallow and all(b > head - DEPTH for b in shallow) and head in shallow
    with engine.connect() as conn:
        unconfirmed = set(conn.scalars(select(IndexedBlock.number).where(~IndexedBlock.final)))
    assert shallow <= unconfirmed

    source.headers_asked.clear()
    node.mine(1)
    indexer.sync()  # every stored block not yet final is compared with the chain again
    assert unconfirmed <= set(source.headers_asked)
    assert pending_blocks(engine) == {b for b in shallow if b > head + 1 - DEPTH}

    node.mine(DEPTH)
    report = indexer.sync()
    assert report.final_block == node.head() - DEPTH >= head and pending_blocks(engine) == set()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(IndexedBlock).where(~IndexedBlock.final)) > 0
        assert conn.scalar(select(func.count()).select_from(IndexedBlock).where(
            ~IndexedBlock.final, IndexedBlock.number <= report.final_block)) == 0

    reference = new_engine(tmp_path, "web3.db")
    web3_index(node, reference)
    assert dump(engine) == dump(reference)
    chain_view = reconcile(engine, node.suite)
    assert chain_view.ok, chain_view.differences
    assert chain_view.checked["device"] == 2 and chain_view.checked["notarization"] == 1
    assert balances(engine) == {node.accounts["steel"].address: 94, node.accounts["cement"].address: 66}


def test_a_block_replaced_within_the_depth_is_rolled_back_and_read_again(node: Node, tmp_path: Path):
    node.history()
    engine = new_engine(tmp_path, "rpc.db")
    indexer, _ = rpc_indexer(node, engine)
    fork = node.head()
    branch = node.rpc("evm_snapshot")
    node.transfer("steel", "cement", 30)
    indexer.sync()
    assert balances(engine)[node.accounts["cement"].address] == 96

    node.rpc("evm_revert", branch)
    node.senders["steel"].resync_nonce()
    node.mine(1)
    node.transfer("steel", "cement", 1)  # the same height, another block
    report = indexer.sync()
    assert report.rolled_back_to is not None and report.rolled_back_to <= fork
    assert balances(engine)[node.accounts["cement"].address] == 67
    reference = new_engine(tmp_path, "web3.db")
    web3_index(node, reference)
    assert dump(engine) == dump(reference)


def test_a_new_indexer_resumes_from_the_checkpoints_without_gap_or_duplicate(node: Node, tmp_path: Path):
    node.history()
    engine = new_engine(tmp_path, "rpc.db")
    first, _ = rpc_indexer(node, engine, confirmations=0)
    first.sync(to_block=node.head() - 5)  # stopped part-way
    with engine.connect() as conn:
        reached = conn.scalar(select(func.min(IndexCheckpoint.indexed_block)))
    assert reached == node.head() - 5
    node.notarize("cement")
    node.transfer("steel", "cement", 2)

    second, source = rpc_indexer(node, engine, confirmations=0)
    report = second.sync()
    assert min(start for start, _ in source.ranges) == reached + 1
    assert report.indexed_block == node.head()
    keys = event_keys(engine)
    assert len(keys) == len(set(keys))
    reference = new_engine(tmp_path, "web3.db")
    web3_index(node, reference, confirmations=0)
    assert dump(engine) == dump(reference)
    assert reconcile(engine, node.suite).ok
    assert second.sync().events == 0

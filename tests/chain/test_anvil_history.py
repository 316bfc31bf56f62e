"""A node's older block states go to a directory of its own that does not outlive it.

anvil writes each older block's whole state to disk so that calls can be made at past blocks; left to
choose, it writes them under `~/.foundry/anvil/tmp` and a stopped or killed node leaves them there
(a day of benchmark and fault runs filled 64 GB). Kept in memory only, they are written nowhere."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from ledger_core.chain.anvil import AnvilNode, LocalNode, free_port
from tests.chain.node_service import require_anvil

BLOCKS = 1024  # anvil keeps the last 500 block states in memory and writes older ones to disk


def mine(url: str, blocks: int = BLOCKS) -> None:
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(blocks)]},
                       timeout=30).json()
    assert "error" not in reply, reply


def states_on_disk(directory: Path) -> int:
    return sum(1 for path in directory.rglob("*.json"))


def test_a_node_writes_its_block_states_to_its_own_directory_and_removes_it_when_it_stops():
    require_anvil()
    node = AnvilNode(free_port()).start()
    history = node.history_dir
    assert history is not None
    try:
        mine(node.url)
        assert states_on_disk(history) > 0
    finally:
        node.stop()
    assert not history.exists()


def test_a_killed_node_leaves_its_block_states_behind_only_until_it_is_stopped_or_started_again(tmp_path: Path):
    require_anvil()
    local = LocalNode(tmp_path / "node")
    url = local.start(port=free_port(), sweep_seconds=None)
    try:
        mine(url)
        assert states_on_disk(local.history_dir) > 0
        record = local.record()
        assert record is not None
        # A kill -9, as a crash: the process cannot clean up after itself.
        os.kill(int(record["pid"]), signal.SIGKILL)
        assert states_on_disk(local.history_dir) > 0
        url = local.start(port=free_port(), sweep_seconds=None)
        assert states_on_disk(local.history_dir) == 0  # the old process's states are gone, not kept
        mine(url)
        assert states_on_disk(local.history_dir) > 0
    finally:
        local.stop()
    assert not local.history_dir.exists()


def test_nothing_is_written_under_the_home_directory(tmp_path: Path):
    require_anvil()
    home_tmp = Path.home() / ".foundry" / "anvil" / "tmp"
    before = set(home_tmp.iterdir()) if home_tmp.exists() else set()
    with AnvilNode(free_port()) as node:
        mine(node.url)
        after = set(home_tmp.iterdir()) if home_tmp.exists() else set()
    assert after == before


def test_a_node_that_keeps_its_block_states_in_memory_writes_none_and_answers_500_blocks_back():
    require_anvil()
    node = AnvilNode(free_port(), history="memory")
    assert node.command()[-2:] == ["--max-persisted-states", "0"]
    assert "--max-persisted-states" not in AnvilNode(free_port()).command()
    with node:
        assert node.history_dir is not None
        mine(node.url)
        assert states_on_disk(node.history_dir) == 0
        assert balance_at(node.url, BLOCKS - 450) == {"result": "0x0"}
        # The price of keeping them in memory: 500 blocks back at most (about 3,600 on disk).
        assert "BlockOutOfRange" in balance_at(node.url, BLOCKS - 600)["error"]["message"]


def balance_at(url: str, block: int) -> dict:
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance",
                                  "params": ["0x" + "00" * 20, hex(block)]}, timeout=10).json()
    return {k: v for k, v in reply.items() if k in ("result", "error")}


def test_the_local_node_keeps_its_history_where_it_was_started_with_and_says_so(tmp_path: Path):
    require_anvil()
    local = LocalNode(tmp_path / "node")
    url = local.start(port=free_port(), sweep_seconds=None, history="memory")
    try:
        assert (local.record() or {})["history"] == "memory"
        mine(url)
        assert states_on_disk(local.history_dir) == 0
    finally:
        local.stop()

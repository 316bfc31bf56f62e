"""The local node's dump interval is chosen from its state file's size: dumps take at most a tenth of its
time, and no more is given up than that takes (a longer interval loses more in a hard kill)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from ledger_core.chain.anvil import (
    DUMP_SHARE,
    MIN_STATE_INTERVAL,
    RECOMMENDED_MAX_STATE_MB,
    LocalNode,
    StateFileTruncated,
    expected_dump_seconds,
    kill_loses_seconds,
    state_file_complete,
    state_interval_for,
)
from ledger_service.cli.chain import parse_interval

MB = 1_000_000
SIZES = [0, 1 * MB, 10 * MB, 50 * MB, 100 * MB, 250 * MB, RECOMMENDED_MAX_STATE_MB * MB, 2_000 * MB, 10_000 * MB]


def share(state_bytes: int, interval: int) -> float:
    """The share of the node's time spent dumping: anvil waits a whole interval after each dump."""
    dump = expected_dump_seconds(state_bytes)
    return dump / (dump + interval)


def test_a_new_or_small_state_file_is_dumped_every_second():
    assert state_interval_for(0) == MIN_STATE_INTERVAL == 1
    assert state_interval_for(1 * MB) == 1


@pytest.mark.parametrize("size", SIZES)
def test_dumps_take_at_most_a_tenth_of_the_time_at_every_size(size: int):
    assert share(size, state_interval_for(size)) <= DUMP_SHARE


@pytest.mark.parametrize("size", SIZES)
def test_the_interval_is_the_shortest_whole_second_that_keeps_dumps_within_their_share(size: int):
    interval = state_interval_for(size)
    assert interval == MIN_STATE_INTERVAL or share(size, interval - 1) > DUMP_SHARE


def test_a_larger_state_file_is_never_dumped_more_often():
    intervals = [state_interval_for(size) for size in SIZES]
    assert intervals == sorted(intervals)
    assert intervals[-1] > intervals[0]


def test_a_larger_share_allows_a_shorter_interval_and_an_impossible_share_is_refused():
    size = 1_000 * MB
    assert state_interval_for(size, max_share=0.5) < state_interval_for(size) < state_interval_for(size, max_share=0.02)
    for impossible in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="max_share"):
            state_interval_for(size, max_share=impossible)


def test_what_a_hard_kill_can_lose_grows_with_the_state_file_and_its_interval():
    losses = [kill_loses_seconds(size, state_interval_for(size)) for size in SIZES]
    assert losses == sorted(losses)
    assert all(loss > state_interval_for(size) for loss, size in zip(losses, SIZES, strict=True))


def test_the_local_node_chooses_from_its_state_file_as_it_is_when_it_starts(tmp_path: Path):
    node = LocalNode(tmp_path)
    assert node.state_bytes() == 0 and node.state_interval() == 1
    with node.state_file.open("wb") as f:  # a sparse file of the size of a long history
        f.truncate(2_000 * MB)
    assert node.state_bytes() == 2_000 * MB
    assert node.state_interval() == state_interval_for(2_000 * MB) > 1
    assert node.state_interval(requested=3) == 3  # an interval asked for is kept


def test_a_state_file_cut_short_by_a_kill_during_a_dump_is_named_before_anvil_is_started(tmp_path: Path):
    node = LocalNode(tmp_path)
    node.state_file.write_text('{"block": {"number": "0x1"}, "accounts": {"0xab')  # anvil rewrites in place
    assert not state_file_complete(node.state_file)
    with pytest.raises(StateFileTruncated, match="killed while it rewrote its state"):
        node.start(port=19149)
    assert node.record() is None
    node.state_file.write_text('{"block": {"number": "0x1"}}\n')
    assert state_file_complete(node.state_file)


def test_the_command_line_takes_auto_or_whole_seconds():
    assert parse_interval("auto") is None
    assert parse_interval("5") == 5
    for wrong in ("0", "-2", "1.5", "often"):
        with pytest.raises(typer.BadParameter):
            parse_interval(wrong)

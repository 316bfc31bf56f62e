"""Concurrent callers' batches run as one: whoever comes while a batch runs goes in the next, together."""

from __future__ import annotations

import threading

import pytest

from ledger_core.coalesce import Coalescer


class Gate:
    """A batch function that holds its first batch until released, recording every batch it ran."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.inside, self.release = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        if len(self.batches) == 1:
            self.inside.set()
            self.release.wait(10)
        if self.fail_on in items:
            raise ValueError(f"refused {self.fail_on}")
        return [i * 10 for i in items]


def start(coalescer: Coalescer[int, int], items: list[int], out: dict[int, object]) -> threading.Thread:
    def run() -> None:
        try:
            out[items[0]] = list(coalescer.run(items))
        except ValueError as exc:
            out[items[0]] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def queue_behind(coalescer: Coalescer[int, int], gate: Gate, groups: list[list[int]],
                 out: dict[int, object]) -> list[threading.Thread]:
    """A first caller whose batch is held, then `groups` queued behind it; all released."""
    threads = [start(coalescer, [1], out)]
    assert gate.inside.wait(10)
    for group in groups:
        threads.append(start(coalescer, group, out))
    while len(coalescer._queue) < len(groups):
        threading.Event().wait(0.005)
    gate.release.set()
    for thread in threads:
        thread.join(10)
    return threads


def test_a_caller_alone_runs_at_once_with_its_own_batch():
    gate = Gate()
    gate.release.set()
    coalescer = Coalescer(gate)
    assert list(coalescer.run([4, 5])) == [40, 50]
    assert gate.batches == [[4, 5]]


def test_callers_that_come_while_a_batch_runs_go_together_in_the_next_each_with_its_own_results():
    gate = Gate()
    coalescer = Coalescer(gate)
    out: dict[int, object] = {}
    queue_behind(coalescer, gate, [[2, 3], [4], [5, 6, 7]], out)
    assert gate.batches == [[1], [2, 3, 4, 5, 6, 7]]
    assert out == {1: [10], 2: [20, 30], 4: [40], 5: [50, 60, 70]}
    assert coalescer.batches == 2 and coalescer._working is False


def test_a_batch_is_capped_and_the_rest_goes_in_the_one_after():
    gate = Gate()
    coalescer = Coalescer(gate, max_items=3)
    out: dict[int, object] = {}
    queue_behind(coalescer, gate, [[2, 3], [4, 5], [6]], out)
    assert gate.batches == [[1], [2, 3], [4, 5, 6]]
    assert out == {1: [10], 2: [20, 30], 4: [40, 50], 6: [60]}


def test_a_failing_batch_fails_its_callers_only_and_the_next_caller_still_leads():
    gate = Gate(fail_on=3)
    coalescer = Coalescer(gate)
    out: dict[int, object] = {}
    queue_behind(coalescer, gate, [[2, 3], [4]], out)
    assert out[1] == [10]
    assert isinstance(out[2], ValueError) and isinstance(out[4], ValueError)  # the same batch
    assert list(coalescer.run([8])) == [80]  # the lead was given back


def test_a_batch_function_giving_the_wrong_number_of_results_is_an_error():
    coalescer: Coalescer[int, int] = Coalescer(lambda items: items[:-1])
    with pytest.raises(RuntimeError, match="a batch of 2 gave 1 results"):
        coalescer.run([1, 2])

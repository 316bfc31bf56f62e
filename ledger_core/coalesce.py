"""Concurrent callers' batches of work done as one: the first caller does the work for everyone waiting.

A caller's items join a queue. If no one is working, the caller leads: it takes every queued
item, runs the batch function once over all of them, hands each caller its own results and
passes the lead to the first caller that queued meanwhile. Callers that arrive while a batch
runs wait and go together in the next one, so under load batches grow by themselves and a
caller alone goes at once, with no added delay. An exception of the batch function is raised
to every caller of that batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiter(Generic[T, R]):
    items: Sequence[T]
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    results: Sequence[R] = ()
    error: BaseException | None = None


class Coalescer(Generic[T, R]):
    """Runs `batch` (items in, one result per item out, in order) over concurrent callers' items together."""

    def __init__(self, batch: Callable[[list[T]], Sequence[R]], max_items: int = 2000) -> None:
        self.batch = batch
        self.max_items = max_items
        self._lock = threading.Lock()
        self._queue: list[_Waiter[T, R]] = []
        self._working = False
        self.batches = 0  # batches run (for tests and metrics)

    def run(self, items: Sequence[T]) -> Sequence[R]:
        waiter: _Waiter[T, R] = _Waiter(items)
        with self._lock:
            self._queue.append(waiter)
            if not self._working:
                self._working = waiter.lead = True
        if not waiter.lead:
            waiter.wake.wait()
        if waiter.lead:
            self._lead()
        if waiter.error is not None:
            raise waiter.error
        return waiter.results

    def _lead(self) -> None:
        with self._lock:
            group: list[_Waiter[T, R]] = []
            count = 0
            while self._queue and (not group or count + len(self._queue[0].items) <= self.max_items):
                group.append(self._queue.pop(0))
                count += len(group[-1].items)
        try:
            results = self.batch([item for w in group for item in w.items])
            if len(results) != count:
                raise RuntimeError(f"a batch of {count} gave {len(results)} results")
            self.batches += 1
            start = 0
            for w in group:
                w.results = results[start:start + len(w.items)]
                start += len(w.items)
        except BaseException as exc:
            for w in group:
                w.error = exc
        with self._lock:
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].wake.set()
            else:
                self._working = False
        for w in group:
            if not w.lead:
                w.wake.set()

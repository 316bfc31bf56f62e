"""Background workers of the service: the event indexer (`indexing.IndexWorker`) and the outbox pump
(`pump.OutboxPump`). Each is an object of its own with `start` and `stop`; the runtime builds them once and
stops them when it closes. Where several processes share one database, each round runs only while this
process holds the worker's role (`ledger_core.db.locks.DatabaseLocks.role`)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Loop:
    """A daemon thread that runs `work` every `interval()` seconds until stopped.

    `work` handles its own errors (a worker decides which failures are routine); the loop only paces it.
    `start` on a running loop and `stop` on a stopped one do nothing, so a worker stops cleanly any number
    of times and can be started again after a stop."""

    def __init__(self, name: str, work: Callable[[], None], interval: Callable[[], float], *,
                 first_at_once: bool, join_seconds: float) -> None:
        self.name = name
        self._work = work
        self._interval = interval  # read each round: a test may change the pace of a running worker
        self._first_at_once = first_at_once
        self._join_seconds = join_seconds
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        with self._guard:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._guard:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self._join_seconds)

    def _run(self) -> None:
        if self._first_at_once:
            self._work()
        while not self._stop.wait(self._interval()):
            self._work()


class Worker:
    """A background worker over its `Loop`: `start` and `stop` it any number of times; `running` says which."""

    _loop: Loop

    @property
    def running(self) -> bool:
        return self._loop.running

    def start(self) -> None:
        """Run the worker's rounds in the background (nothing if already running)."""
        self._loop.start()

    def stop(self) -> None:
        """Stop the rounds, waiting for one in progress (nothing if not running)."""
        self._loop.stop()

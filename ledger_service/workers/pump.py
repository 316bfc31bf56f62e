"""The outbox pump as a worker: sends queued and re-broadcast signed transactions and collects their receipts.

Each round runs only while this process holds the `outbox-pump` role (one process at a time on a shared
database); a round first looks for a chain that went back, then finishes what is pending. `resume` is the
start-up round: what the chain forgot while the service was down goes back to signed, and whatever was
interrupted is finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ledger_core.chain.client import ChainUnavailable
from ledger_core.chain.outbox import Outbox
from ledger_core.db.locks import DatabaseLocks
from ledger_core.db.session import database_unavailable
from ledger_service.workers import Loop, Worker

log = logging.getLogger(__name__)
ROLE = "outbox-pump"


class OutboxPump(Worker):
    """Runs the outbox's pending work every interval, in the background, until stopped."""

    def __init__(self, outbox: Outbox, locks: DatabaseLocks, interval: Callable[[], float]) -> None:
        self.outbox = outbox
        self.locks = locks
        self._interval = interval
        self._loop = Loop("outbox-pump", self._round, interval, first_at_once=False, join_seconds=10)

    def _round(self) -> None:
        try:
            self.pump_once()
        except ChainUnavailable as exc:
            log.warning("outbox pump: %s", exc)
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("outbox pump: the database is not reachable (%s)", type(exc).__name__)
            else:
                log.exception("outbox pump failed")

    # ------------------------------------------------------------------ rounds

    def resume(self) -> None:
        """At start-up: what the chain forgot while the service was down goes back to signed, the claims of a
        dead process on a single-process database are freed, and whatever was interrupted is finished."""
        if not self.locks.shared:
            self.outbox.release_claims()
        with self.locks.role(ROLE) as pump:
            if pump:
                self.outbox.rewind_by_nonces()
                self.outbox.recover(wait=False)

    def pump_once(self) -> bool:
        """One round of the outbox pump, if this process holds the pump's role (one process at a time on a
        shared database): look for a chain that went back, then finish what is pending. Whether it ran."""
        with self.locks.role(ROLE) as pump:
            if pump:
                rewound = self.outbox.watch()
                if rewound:
                    log.warning("the chain forgot %d transactions; sending them again", len(rewound))
                self.outbox.recover(wait=True, timeout=self._interval())
            return pump

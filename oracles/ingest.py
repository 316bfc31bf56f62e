"""Ingestion: checked messages in, accepted readings and quarantined readings stored, a summary out.

Signature checks, valuation and hashing (`oracles.verification`) run in worker processes
per chunk of messages; the checks that depend on a device's history (sequence, timestamp,
closed windows) run here, in input order, while the workers go on. Accepted readings are
assigned to the open batch of their enterprise and window and bulk-inserted. One run is
one transaction: a failed run stores nothing, and re-running it is safe.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ledger_core.db.base import table_of
from ledger_core.db.bulk import bulk_insert
from ledger_core.db.models import BatchStatus, IngestRun, MeterBatch, MeterDevice, QuarantinedReading, Reading
from oracles.canonical import MessageReading, SignedMessage
from oracles.devices import device_keys
from oracles.factors import FactorChoice, FactorSet, as_choice
from oracles.measures import MEASURE_EMISSIONS, NO_FACTOR_SET, measure_of
from oracles.quarantine import QuarantineReason
from oracles.verification import (
    CheckedMessage,
    MalformedMessage,
    MessageChecker,
    check_chunk,
    init_worker,
    reading_payload,
)

InputMessage = SignedMessage | MalformedMessage
FLUSH_ROWS = 50_000
# Row layout of `readings` inserts.
READING_COLUMNS = ("run_id", "batch_id", "device_pk", "sequence", "timestamp", "quantity", "unit", "carrier", "scope",
                   "value_mg", "digest", "leaf_hash", "factor_set")
CHUNK_MESSAGES = 100


class IngestConfigurationError(RuntimeError):
    """The run's settings contradict the stored state (factor set or window size of open batches)."""


@dataclass
class IngestSummary:
    """The outcome of one run: accepted readings, and quarantined ones by reason."""

    run_id: int
    messages: int = 0
    accepted: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    batch_ids: set[int] = field(default_factory=set)
    seconds: float = 0.0
    quarantine_not_stored: int = 0  # quarantined readings over the per-device hourly cap: counted, not stored

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "messages": self.messages,
            "accepted": self.accepted,
            "quarantined": self.quarantined_total,
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "batches": len(self.batch_ids),
            "seconds": round(self.seconds, 3),
        }


class _DeviceState:
    __slots__ = ("changed", "last_seq", "last_ts", "measure", "org", "pk")

    def __init__(self, pk: int, org: int, last_seq: int | None, last_ts: int | None, measure: int) -> None:
        self.pk, self.org, self.last_seq, self.last_ts, self.changed = pk, org, last_seq, last_ts, False
        self.measure = measure  # the chain of windows its readings go into (emissions or production)


def _chunks(items: Iterable[InputMessage], size: int) -> Iterator[list[InputMessage]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def checked_messages(
    messages: Iterable[InputMessage],
    checker: MessageChecker,
    workers: int = 1,
    chunk_messages: int = CHUNK_MESSAGES,
) -> Iterator[CheckedMessage]:
    """Stateless checks of every message, in input order; in `workers` processes when more than one."""
    if workers <= 1:
        for message in messages:
            yield checker.check(message)
        return
    # fork: workers start in milliseconds and share the parent's pages; they touch no
    # SQL connection or chain state, only their own chunks.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=init_worker,
        initargs=(dict(checker.keys), checker.factor_set),
    ) as pool:
        pending: deque[Future[list[CheckedMessage]]] = deque()
        for chunk in _chunks(messages, chunk_messages):
            pending.append(pool.submit(check_chunk, chunk))
            if len(pending) >= 4 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


class _Ingestion:
    """The stateful half of a run: device history, batches, buffered rows."""

    def __init__(self, session: Session, run_id: int, factor_set: FactorChoice, window_seconds: int, latest_ok: int,
                 quarantine_cap: int | None = None):
        self.session = session
        self.quarantine_cap = quarantine_cap
        self.recent_quarantine: dict[str, int] = {}  # device -> rows quarantined in the last hour, with this run's
        self.run_id = run_id
        self.factor_set = factor_set
        self.window = window_seconds
        self.latest_ok = latest_ok
        self.summary = IngestSummary(run_id)
        self.readings: list[tuple[Any, ...]] = []
        self.quarantine: list[dict[str, Any]] = []
        self.devices = {
            device_id: _DeviceState(pk, org, seq, ts, measure_of(kind))
            for pk, device_id, org, seq, ts, kind in session.execute(
                select(MeterDevice.id, MeterDevice.device_id, MeterDevice.enterprise_org_id,
                       MeterDevice.last_sequence, MeterDevice.last_timestamp, MeterDevice.kind)
            )
        }
        self.open_batches: dict[tuple[int, int, int], int] = {}
        for batch in session.scalars(select(MeterBatch).where(MeterBatch.status == BatchStatus.OPEN)):
            if batch.window_end - batch.window_start != window_seconds:
                raise IngestConfigurationError(
                    f"batch {batch.id} is an open window of {batch.window_end - batch.window_start} s, "
                    f"not {window_seconds} s; build and anchor it before changing the window size")
            expected = factor_set.at(batch.window_start) if batch.measure == MEASURE_EMISSIONS else None
            if expected is not None and batch.factor_set != expected.id:
                raise IngestConfigurationError(
                    f"batch {batch.id} collects readings valued with {batch.factor_set}, not {expected.id}")
            self.open_batches[(batch.enterprise_org_id, batch.measure, batch.window_start)] = batch.id
        # Windows are closed per enterprise and measure: each measure is its own chain of anchors.
        self.closed_until: dict[tuple[int, int], int] = {
            (org, measure): end
            for org, measure, end in session.execute(
                select(MeterBatch.enterprise_org_id, MeterBatch.measure, func.max(MeterBatch.window_end))
                .where(MeterBatch.status != BatchStatus.OPEN)
                .group_by(MeterBatch.enterprise_org_id, MeterBatch.measure)
            )
        }

    def _batch_id(self, org: int, measure: int, window_start: int, reading_set: str) -> int:
        key = (org, measure, window_start)
        batch_id = self.open_batches.get(key)
        if batch_id is None:
            # The window's set (its anchor's factorSetId): the set valid at the window's start; if none
            # is, the set of the reading that opens it. Each reading's record commits its own set.
            # Production windows are valued with no set.
            if measure == MEASURE_EMISSIONS:
                window_set = self.factor_set.at(window_start)
                chosen = window_set.id if window_set is not None else reading_set
            else:
                chosen = NO_FACTOR_SET
            batch = MeterBatch(
                enterprise_org_id=org,
                measure=measure,
                window_start=window_start,
                window_end=window_start + self.window,
                factor_set=chosen,
                status=BatchStatus.OPEN,
            )
            self.session.add(batch)
            self.session.flush()
            batch_id = self.open_batches[key] = batch.id
        return batch_id

    def _over_cap(self, device: str | None) -> bool:
        """Whether the device already has `quarantine_cap` rows quarantined in the last hour (counting this run)."""
        if self.quarantine_cap is None or device is None:
            return False
        count = self.recent_quarantine.get(device)
        if count is None:
            since = datetime.now(UTC) - timedelta(hours=1)
            count = int(self.session.scalar(
                select(func.count()).select_from(QuarantinedReading)
                .where(QuarantinedReading.device_id == device, QuarantinedReading.received_at >= since)) or 0)
        if count >= self.quarantine_cap:
            self.recent_quarantine[device] = count
            return True
        self.recent_quarantine[device] = count + 1
        return False

    def _refuse(self, reason: QuarantineReason, detail: str, device: str | None, seq: int | None, ts: int | None,
                payload: str) -> None:
        self.summary.quarantined[reason] += 1
        if self._over_cap(device):
            self.summary.quarantine_not_stored += 1
            return
        self.quarantine.append({"run_id": self.run_id, "reason": str(reason), "detail": detail[:500],
                                "device_id": device, "sequence": seq, "timestamp": ts, "payload": payload})

    def take(self, checked: CheckedMessage) -> None:
        self.summary.messages += 1
        for rej in checked.rejections:
            self._refuse(QuarantineReason(rej.reason), rej.detail, rej.device, rej.sequence, rej.timestamp,
                         rej.payload)
        if not checked.candidates:
            return
        device = checked.device
        assert device is not None
        state = self.devices[device]
        window = self.window
        closed_until = self.closed_until.get((state.org, state.measure), -1)
        rows = self.readings
        run_id = self.run_id
        for candidate in checked.candidates:
            seq, ts, quantity, unit, carrier, scope, value, digest, leaf, raw_quantity, set_id, raw_unit = candidate
            reason = None
            if state.last_seq is not None and seq <= state.last_seq:
                reason, detail = QuarantineReason.SEQUENCE_REPEATED, f"sequence {seq} <= last {state.last_seq}"
            elif state.last_ts is not None and ts < state.last_ts:
                reason, detail = QuarantineReason.TIMESTAMP_REGRESSED, f"{ts} < last {state.last_ts}"
            elif ts > self.latest_ok:
                reason, detail = QuarantineReason.TIMESTAMP_IN_FUTURE, f"{ts} > {self.latest_ok}"
            elif ts - ts % window < closed_until:
                reason, detail = QuarantineReason.WINDOW_CLOSED, f"windows before {closed_until} are committed"
            if reason is not None:
                raw = MessageReading(seq, ts, raw_quantity, raw_unit, carrier)
                self._refuse(reason, detail, device, seq, ts, reading_payload(device, raw, b""))
                continue
            batch_id = self._batch_id(state.org, state.measure, ts - ts % window, set_id)
            rows.append((run_id, batch_id, state.pk, seq, ts, quantity, unit, carrier, scope, value, digest, leaf,
                         set_id))
            state.last_seq, state.last_ts, state.changed = seq, ts, True
            self.summary.batch_ids.add(batch_id)
        if len(rows) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.readings:
            bulk_insert(self.session.connection(), table_of(Reading), READING_COLUMNS, self.readings)
            self.summary.accepted += len(self.readings)
            self.readings = []
        if self.quarantine:
            self.session.execute(insert(table_of(QuarantinedReading)), self.quarantine)
            self.quarantine = []

    def finish(self) -> None:
        self.flush()
        changed = [
            {"pk": s.pk, "seq": s.last_seq, "ts": s.last_ts} for s in self.devices.values() if s.changed
        ]
        if changed:
            table = table_of(MeterDevice)
            self.session.execute(
                update(table)
                .where(table.c.id == bindparam("pk"))
                .values(last_sequence=bindparam("seq"), last_timestamp=bindparam("ts")),
                changed,
            )


def ingest_messages(
    session: Session,
    messages: Iterable[InputMessage],
    *,
    factor_set: FactorSet | FactorChoice,
    window_seconds: int,
    now: int | None = None,
    future_skew_seconds: int = 300,
    workers: int = 1,
    source: str = "",
    progress: Callable[[int], None] | None = None,
    quarantine_per_device_hour: int | None = None,
) -> IngestSummary:
    """Check, value, hash and store a stream of messages; returns the run's summary.

    `factor_set` is one set for every reading, or a `FactorChoice` (by date: each reading is valued
    with the set valid at its timestamp, and quarantined as `no_valid_factor_set` if none is).
    The caller commits `session` (one transaction per run). `now` (seconds, UTC) bounds
    timestamps from above with `future_skew_seconds` of tolerance for device clocks. With
    `quarantine_per_device_hour`, a device's quarantined readings beyond that many in the last hour are
    counted (`quarantine_not_stored`) but not stored (pushed batches: nobody fills the table for a device).
    """
    started = time.perf_counter()
    now = int(time.time()) if now is None else now
    run = IngestRun(source=source[:256])
    session.add(run)
    session.flush()
    choice = as_choice(factor_set)
    ingestion = _Ingestion(session, run.id, choice, window_seconds, now + future_skew_seconds,
                           quarantine_per_device_hour)
    checker = MessageChecker(device_keys(session), choice)
    for checked in checked_messages(messages, checker, workers=workers):
        ingestion.take(checked)
        if progress is not None:
            progress(len(checked.candidates) + len(checked.rejections))
    ingestion.finish()
    summary = ingestion.summary
    summary.seconds = time.perf_counter() - started
    run.finished_at = datetime.now(UTC)
    run.messages = summary.messages
    run.accepted = summary.accepted
    run.quarantined = summary.quarantined_total
    run.quarantined_by_reason = dict(summary.quarantined)
    session.flush()
    return summary

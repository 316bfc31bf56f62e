"""Compare the outbox with the chain: transactions the outbox lost, doubled or waits for in vain.

The index says what the chain did; the outbox says what the service asked it to do. They can part
when a node forgets blocks (restarted from an older state dump), when a key the service keeps signs
outside the outbox, or when a nonce is skipped. `check_outbox` reads the whole outbox in pages and
the chain in batches (one JSON-RPC batch per page of receipts, one per page of signers) and reports,
as `Difference(kind="outbox", ...)` with the outbox's value in `index`:

- `status` of a row: the status the chain implies for its transaction (`mined`/`failed` from its
  receipt; `dropped` when its nonce was taken by another transaction; None when the chain has
  neither) differs from the outbox's. This finds a mined row whose receipt vanished, a signed or
  sent row that is dead (its nonce was taken) or whose receipt was never collected, and a dropped
  row that was mined after all (its intent, queued again, then ran twice), and a replaced row
  that was mined after all (the pump settles it as mined).
- `block_number` / `block_hash` of a mined or failed row: where stored, those of its receipt.
- `nonce_used` of a signer's nonce: every nonce the chain counts for a custodial signer, from the
  signer's first outbox nonce on, is held by a row (index None: a transaction of ours on chain
  without its row; nonces below the first were used outside the outbox, by the deployment say).
  A relayed signer keeps its own key and may use nonces outside the outbox.
- `next_nonce` of a signer: a row waits (signed or sent) above the nonce the chain takes next and no
  row holds that nonce, so nothing will ever fill the gap and every later transaction stalls.

A disagreement about a row still in flight or provisional (`signed`, `sent`, or `mined`/`failed` but
not `final`) that was written less than `grace_seconds` ago is `pending`, not a difference: the
outbox may not have caught up yet. The chain's counts are read before the outbox (for "used on chain,
so it must have a row") and again after it (for "recorded, so the chain must count it"), so
transactions sent while the check runs are not mistaken for differences.

`outbox_readiness` is the cheap part /ready uses: the oldest pending row's age and the stalling gaps
among a bounded sample of pending rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Executable, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.client import ChainClient
from ledger_core.db.models.outbox import (
    MINED_STATUSES,
    PENDING_STATUSES,
    OutboxOrigin,
    OutboxStatus,
    OutboxTransaction,
)
from ledger_service.audit.reconcile import Difference

KIND = "outbox"
PAGE = 2000  # rows per page of the outbox (one receipts batch each), signers per batch of counts
READY_SAMPLE = 500  # pending rows per status /ready looks at
IN_FLIGHT = (OutboxStatus.SIGNED, OutboxStatus.SENT)
T = OutboxTransaction

Source = Engine | sessionmaker[Session]


@dataclass
class OutboxCheck:
    """What `check_outbox` compared (`checked`: transaction rows, receipts asked for, signers, nonces
    accounted for), where the outbox and the chain disagree, and disagreements still settling."""

    checked: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    pending: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class _Signer:
    address: str
    first: int  # its lowest outbox nonce
    custodial: bool  # every row of it was signed by the service


@dataclass
class _SignerState:
    held: int = 0  # rows holding a nonce in [first, count before)
    in_flight: set[int] = field(default_factory=set)  # nonces of signed and sent rows


@contextmanager
def _reading(source: Source) -> Iterator[Connection | Session]:
    if isinstance(source, Engine):
        with source.connect() as conn:
            yield conn
    else:
        with source() as session:
            yield session


def _rows(source: Source, statement: Executable) -> list[Any]:
    with _reading(source) as reader:
        return list(reader.execute(statement).all())


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _counts(chain: ChainClient, addresses: Sequence[str], block: str, page: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for start in range(0, len(addresses), page):
        chunk = addresses[start : start + page]
        counts.update(zip(chunk, chain.nonces(chunk, block), strict=True))
    return counts


class _Check:
    def __init__(self, source: Source, chain: ChainClient, grace_seconds: float, page: int, now: datetime) -> None:
        self.source = source
        self.chain = chain
        self.grace_seconds = grace_seconds
        self.page = page
        self.now = now
        self.result = OutboxCheck({"transaction": 0, "receipt": 0, "signer": 0, "nonce": 0})

    def report(self, difference: Difference, settling: bool = False) -> None:
        (self.result.pending if settling else self.result.differences).append(difference)

    def settling(self, row: Any) -> bool:
        """Still in flight or provisional, and recent: the outbox may not have caught up yet."""
        provisional = row.status in IN_FLIGHT or (row.status in MINED_STATUSES and not row.final)
        return provisional and (self.now - _utc(row.created_at)).total_seconds() < self.grace_seconds

    def signers(self) -> list[_Signer]:
        relayed = func.sum(case((T.origin == OutboxOrigin.CUSTODIAL, 0), else_=1))
        rows = _rows(self.source, select(T.signer, func.min(T.nonce), relayed)
                     .where(T.nonce.is_not(None)).group_by(T.signer).order_by(T.signer))
        return [_Signer(signer, int(first), not relayed_rows) for signer, first, relayed_rows in rows]

    def run(self) -> OutboxCheck:
        signers = self.signers()
        addresses = [s.address for s in signers]
        before = _counts(self.chain, addresses, "latest", self.page)
        states: dict[str, _SignerState] = defaultdict(_SignerState)
        firsts = {s.address: s.first for s in signers}
        recorded_unused: list[Any] = []  # mined rows whose nonce the chain had not counted before
        last_id = 0
        while True:
            rows = _rows(self.source, select(
                T.id, T.signer, T.nonce, T.status, T.tx_hash, T.block_number, T.block_hash, T.final, T.created_at,
            ).where(T.nonce.is_not(None), T.id > last_id).order_by(T.id).limit(self.page))
            if not rows:
                break
            last_id = rows[-1].id
            self.rows(rows, before, firsts, states, recorded_unused)
        latest = _counts(self.chain, addresses, "latest", self.page)
        next_nonce = _counts(self.chain, addresses, "pending", self.page)
        for row in recorded_unused:
            if row.nonce >= latest.get(row.signer, 0):
                self.report(Difference(KIND, _row_key(row), "nonce_used", True, False), self.settling(row))
        for signer in signers:
            state = states[signer.address]
            self.result.checked["signer"] += 1
            used = max(before.get(signer.address, 0) - signer.first, 0)
            self.result.checked["nonce"] += used
            if signer.custodial and state.held < used:
                self.missing_rows(signer, before[signer.address])
            self.gap(signer.address, state.in_flight, next_nonce.get(signer.address, 0))
        return self.result

    def rows(self, rows: Sequence[Any], before: dict[str, int], firsts: dict[str, int],
             states: dict[str, _SignerState], recorded_unused: list[Any]) -> None:
        asked = [r for r in rows if r.tx_hash and r.status != OutboxStatus.REJECTED]
        receipts = dict(zip((r.id for r in asked), self.chain.receipts([r.tx_hash for r in asked]), strict=True))
        self.result.checked["transaction"] += len(rows)
        self.result.checked["receipt"] += len(asked)
        for row in rows:
            count = before.get(row.signer, 0)  # 0 for a signer whose first row came after the counts were read
            state = states[row.signer]
            if firsts.get(row.signer, count) <= row.nonce < count:
                state.held += 1
            if row.status in IN_FLIGHT:
                state.in_flight.add(row.nonce)
            receipt = receipts.get(row.id)
            implied: str | None
            if receipt is None:
                implied = OutboxStatus.DROPPED.value if row.nonce < count else None
            else:
                implied = (OutboxStatus.MINED if receipt["status"] == 1 else OutboxStatus.FAILED).value
            if row.status in MINED_STATUSES:
                self.mined_row(row, receipt, implied, count, recorded_unused)
            elif row.status in IN_FLIGHT:
                # No receipt and the nonce free: still on its way (a gap is looked for per signer).
                if implied is not None:
                    self.report(Difference(KIND, _row_key(row), "status", row.status, implied), self.settling(row))
            elif row.status == OutboxStatus.DROPPED and implied != OutboxStatus.DROPPED:
                self.report(Difference(KIND, _row_key(row), "status", row.status, implied))
            elif row.status == OutboxStatus.REPLACED and receipt is not None:  # mined before its replacement
                self.report(Difference(KIND, _row_key(row), "status", row.status, implied),
                            (self.now - _utc(row.created_at)).total_seconds() < self.grace_seconds)

    def mined_row(self, row: Any, receipt: dict[str, Any] | None, implied: str | None, count: int,
                  recorded_unused: list[Any]) -> None:
        settling = self.settling(row)
        if implied != row.status:
            self.report(Difference(KIND, _row_key(row), "status", row.status, implied), settling)
        if receipt is None:
            return
        if row.block_number is not None and row.block_number != receipt["blockNumber"]:
            self.report(Difference(KIND, _row_key(row), "block_number", row.block_number, receipt["blockNumber"]),
                        settling)
        chain_hash = receipt.get("blockHash")
        if row.block_hash is not None and chain_hash is not None and row.block_hash.lower() != chain_hash.lower():
            self.report(Difference(KIND, _row_key(row), "block_hash", row.block_hash, chain_hash), settling)
        if row.nonce >= count:
            recorded_unused.append(row)

    def missing_rows(self, signer: _Signer, count: int) -> None:
        """The nonces in [first, count) no row holds: transactions of ours on chain without their rows."""
        held = _rows(self.source, select(T.nonce).where(
            T.signer == signer.address, T.nonce >= signer.first, T.nonce < count).order_by(T.nonce))
        expected = signer.first
        for (nonce,) in [*held, (count,)]:
            if nonce > expected:
                low, high = expected, nonce - 1
                key = f"{signer.address}/{low}" if low == high else f"{signer.address}/{low}-{high}"
                self.report(Difference(KIND, key, "nonce_used", None, True))
            expected = nonce + 1

    def gap(self, signer: str, in_flight: set[int], next_nonce: int) -> None:
        waiting = [n for n in in_flight if n > next_nonce]
        if waiting and next_nonce not in in_flight:
            self.report(Difference(KIND, signer, "next_nonce", min(waiting), next_nonce))


def _row_key(row: Any) -> str:
    return f"tx {row.id} ({row.signer}/{row.nonce})"


def check_outbox(source: Source, chain: ChainClient, *, grace_seconds: float = 60.0, page: int = PAGE,
                 now: datetime | None = None) -> OutboxCheck:
    """Every difference between the outbox (read through an engine or a session factory) and the chain;
    see the module documentation. `grace_seconds` is how long a recent row in flight may disagree
    (the service passes `receipt_timeout_seconds`); `now` (UTC) is for tests."""
    return _Check(source, chain, grace_seconds, page, now or datetime.now(UTC)).run()


# ------------------------------------------------------------------ readiness


@dataclass(frozen=True)
class StalledSigner:
    """A signer whose signed transaction at `nonce` waits above the nonce the chain takes next
    (`chain_nonce`), which no row of the outbox holds."""

    signer: str
    nonce: int
    chain_nonce: int


@dataclass
class OutboxReadiness:
    """The outbox as /ready sees it: `stalled` is None when the chain could not be asked."""

    ok: bool
    oldest_pending_seconds: float | None
    max_pending_seconds: float
    stalled: list[StalledSigner] | None
    error: str | None = None


def outbox_readiness(source: Source, chain: ChainClient | None, max_pending_seconds: float, *,
                     sample: int = READY_SAMPLE, now: datetime | None = None) -> OutboxReadiness:
    """Whether the outbox moves: no pending row is older than `max_pending_seconds` and no signer waits
    on a nonce gap. Reads only pending rows through the (status, id) index: the oldest of each pending
    status, the `sample` oldest signed and sent rows, one point look-up per signer found waiting above
    the chain's next nonce; and one batch of the chain's pending counts (skipped when `chain` is None)."""
    now = now or datetime.now(UTC)
    try:
        oldest: list[datetime] = []
        waiting: dict[str, set[int]] = defaultdict(set)
        with _reading(source) as reader:
            for status in PENDING_STATUSES:
                created = reader.execute(select(T.created_at).where(T.status == status).order_by(T.id).limit(1)
                                         ).scalar()
                if created is not None:
                    oldest.append(_utc(created))
            for status in IN_FLIGHT:
                for signer, nonce in reader.execute(select(T.signer, T.nonce).where(T.status == status)
                                                    .order_by(T.id).limit(sample)):
                    if nonce is not None:
                        waiting[signer].add(int(nonce))
    except Exception as exc:
        return OutboxReadiness(False, None, max_pending_seconds, None, f"database: {type(exc).__name__}: {exc}")
    age = (now - min(oldest)).total_seconds() if oldest else None
    fresh = age is None or age <= max_pending_seconds
    if chain is None:
        return OutboxReadiness(fresh, age, max_pending_seconds, None, "chain not reachable")
    try:
        signers = sorted(waiting)
        chain_next = dict(zip(signers, chain.nonces(signers, "pending"), strict=True))
        stalled = []
        with _reading(source) as reader:
            for signer in signers:
                above = [n for n in waiting[signer] if n > chain_next[signer]]
                if not above:
                    continue
                filled = reader.execute(select(T.id).where(
                    T.signer == signer, T.nonce == chain_next[signer], T.status.in_(IN_FLIGHT))).first()
                if filled is None:
                    stalled.append(StalledSigner(signer, min(above), chain_next[signer]))
    except Exception as exc:
        return OutboxReadiness(fresh, age, max_pending_seconds, None, f"{type(exc).__name__}: {exc}")
    return OutboxReadiness(fresh and not stalled, age, max_pending_seconds, stalled)

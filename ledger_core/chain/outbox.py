"""The send path: every transaction is written to the outbox, signed, stored, then sent — once.

`Outbox.submit` takes intents (contract, function, arguments, signer) and walks them
through the outbox states in batches: one SQL insert for the intents, one update for
the signed transactions, one JSON-RPC batch to the node, one update for the replies,
and (when asked to wait) one batch of receipts. Each stage is committed before the
next touches the chain, so `Outbox.recover` (run at start-up and by the background
pump) can finish whatever a crash interrupted. A group commit that waits records the
replies with the receipts the first poll finds (one commit fewer): a row still reading
signed after a crash is broadcast again with its stored bytes, which is what recovery does anyway.

Exactly once rests on four rules:
- **One owner per row.** Queued rows are born claimed by the call that wrote them (a token,
  `claimed_by`, valid until `claimed_until`); only the claimant signs them, and signing is a
  compare-and-set (`status = 'queued' AND claimed_by = token`) in the transaction that hands out
  the nonces. A claim that expires (its writer died) is taken over by the pump with a new token.
  Every later change is conditional on the status it expects, so no stale writer can move a row
  backwards.
- **A signed row is only ever re-broadcast with its stored bytes** (same hash). It is given up
  only when provably dead — its nonce was taken on chain, at the confirmation depth, by another
  transaction the chain names — and then it is marked `dropped` and its intent queued again as a new
  row linked to it (`replaces_id`). A nonce spent with no transaction in any block (a node whose state
  ran ahead of its blocks) drops the row without a second attempt.
- **Nonces come from the database**: under a per-signer lock (an advisory lock on PostgreSQL, so
  several service processes can share one database), one past the outbox's highest nonce for the
  signer, or the chain's count where that is higher (transactions sent before the outbox).
- **Mined is provisional until final.** Receipts of rows that are not yet `final` are checked again
  until their block is `confirmations` deep; a receipt that vanished sends the row back to `signed`.
  A head that moves backwards (or a block hash that changed) and every start-up compare each signer's
  nonce on chain with the outbox: rows recorded as mined at nonces the chain has not reached were
  forgotten, and go back to `signed` too.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from coincurve import PrivateKey
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.calldata import CallEncoder, jsonable
from ledger_core.chain.client import ChainClient, ChainUnavailable, NonceHolderUnknown, SendResult
from ledger_core.chain.errors import ContractRevert, RevertDecoder
from ledger_core.chain.nonces import NonceManager
from ledger_core.chain.rawtx import decode_signed
from ledger_core.chain.signing import TxTemplate, signing_key
from ledger_core.db.lists import in_values
from ledger_core.db.locks import DatabaseLocks
from ledger_core.db.models.outbox import (
    MINED_STATUSES,
    PENDING_STATUSES,
    OutboxOrigin,
    OutboxStatus,
    OutboxTransaction,
)
from ledger_core.db.models.types import utc_now
from ledger_core.db.session import database_unavailable

log = logging.getLogger(__name__)
# The gas limit is estimated on the state the transaction meets now; a transaction sent again after the
# chain forgot blocks may meet another (a balance slot empty again costs 20,000 more to write), and must
# still fit: half again as much, plus a margin for fresh storage slots.
GAS_HEADROOM = 1.5
GAS_MARGIN = 30_000
TABLE: Table = OutboxTransaction.__table__  # type: ignore[assignment]
Faults = Callable[[str], None]
IN_FLIGHT = (OutboxStatus.SIGNED, OutboxStatus.SENT)
RECEIPT_PAGE = 2000
STUCK_SECONDS = 3.0  # a sent transaction whose nonce is its signer's next and still unmined after this is stuck
# (anvil mines a transaction as it comes and sweeps its pool every second: three seconds are past both)
UNSTICK_AFTER = 0.5  # a waiting caller's transactions unmined this long: is its signer's next one held? (anvil)
UNSTICK_EVERY = 1.0  # and again this often while they stay unmined
# A waiting caller's receipts (`Outbox.await_receipts`): where a signer has several, its last one is polled this
# often, and all of them once it is mined, at the latest FIRST_POLL_AFTER after they were sent, then after pauses
# that double from 10 ms to 0.5 s.
LAST_POLL_EVERY = 0.001
FIRST_POLL_AFTER = 0.05
# On a local anvil node a signer's transactions are handed over with at most this many of them unmined, in chunks
# of a third of it: with over a thousand of one sender's in its pool, anvil stopped mining them (ready, unmined,
# for minutes, and emptying the pool did not help). A chunk waits for room at most POOL_ROOM_WAIT, then goes
# (a transaction the node holds is then the receipt watcher's to free, which needs the signer's lock).
LOCAL_POOL_WINDOW = 600
POOL_ROOM_WAIT = 3.0
GAS_TOP_UP = "GasTreasury"  # the contract name of the treasury's plain ether transfers
REPLACEMENT_BUMP = 10  # percent, as geth's and Besu's transaction pools require


class RequestClaim(Protocol):
    """A client's request key (`Idempotency-Key`), recorded in the transaction that writes its rows."""

    def reserve(self, connection: Connection) -> bool:
        """Record the claim inside the outbox's write transaction, before its rows are inserted; False when
        another request holds the key (nothing of this request is then written)."""

    def attach(self, connection: Connection, outbox_ids: Sequence[int]) -> None:
        """In the same transaction, after the rows are inserted: remember their ids with the claim."""


Encoded = tuple[bytes, Any]  # an intent's calldata and its arguments as JSON


class WouldRevert(Exception):
    """Intents simulated before anything was written would revert (`GroupCommit.submit_async` with
    `simulate`): each one's decoded revert, or None where it would pass. Nothing was recorded."""

    def __init__(self, reverts: Sequence[ContractRevert | None]) -> None:
        super().__init__(next(str(r) for r in reverts if r is not None))
        self.reverts = list(reverts)


class InvalidIntent(ValueError):
    """An intent's arguments do not fit its function (nothing was written)."""


class DuplicateRequest(Exception):
    """Another request already holds this request's idempotency key: nothing was written or sent."""

    def __init__(self, claim: RequestClaim) -> None:
        super().__init__("a request with this idempotency key was already recorded")
        self.claim = claim


@dataclass(frozen=True)
class Intent:
    """A transaction the service is asked to send, signed with the key of `signer`."""

    contract: str
    function: str
    args: Sequence[Any]
    signer: str
    value: int = 0
    requested_by: str | None = None
    to: str | None = None  # a plain transfer of ether (contract GAS_TOP_UP); a contract of the suite otherwise


@dataclass
class TxRecord:
    """An outbox row as the send path sees it."""

    id: int
    signer: str
    contract: str
    function: str
    to: str
    calldata: bytes
    value: int
    status: str
    nonce: int | None = None
    gas_limit: int | None = None
    raw_tx: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    final: bool = False
    gas_used: int | None = None
    receipt_status: int | None = None
    error_name: str | None = None
    error_args: dict[str, Any] | None = None
    last_error: str | None = None
    origin: str = OutboxOrigin.CUSTODIAL
    replaces_id: int | None = None
    attempts: int = 0
    updated_at: datetime | None = None
    claim: str | None = field(default=None, repr=False)  # the token under which this process may sign it
    defer_sent: bool = field(default=False, repr=False)  # once sent, recorded so with its receipt (`dispatch`)
    sent_unsaved: bool = field(default=False, repr=False)  # sent, not yet recorded so
    revert: ContractRevert | None = field(default=None, repr=False)

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATUSES

    @classmethod
    def from_row(cls, row: OutboxTransaction) -> TxRecord:
        return cls(
            id=row.id, signer=row.signer, contract=row.contract, function=row.function, to=row.to_address,
            calldata=bytes.fromhex(row.calldata[2:]), value=int(row.value), status=row.status, nonce=row.nonce,
            gas_limit=row.gas_limit, raw_tx=row.raw_tx, tx_hash=row.tx_hash, block_number=row.block_number,
            block_hash=row.block_hash, final=bool(row.final), gas_used=row.gas_used,
            receipt_status=row.receipt_status, error_name=row.error_name, error_args=row.error_args,
            last_error=row.last_error, origin=row.origin, replaces_id=row.replaces_id, attempts=row.attempts,
            updated_at=_utc(row.updated_at),
        )

    def refresh(self, other: TxRecord) -> None:
        """Take the stored state of this row (another owner moved it on)."""
        for name in ("status", "nonce", "gas_limit", "raw_tx", "tx_hash", "block_number", "block_hash", "final",
                     "gas_used", "receipt_status", "error_name", "error_args", "last_error", "replaces_id"):
            setattr(self, name, getattr(other, name))
        self.claim = None


class SendDeferred(ChainUnavailable):
    """The chain or the database could not be reached (`dependency`) after the transactions were recorded
    (`outbox_ids`): they will be sent."""

    def __init__(self, message: str, outbox_ids: list[int], dependency: str = "chain") -> None:
        super().__init__(message)
        self.outbox_ids = outbox_ids
        self.dependency = dependency


@dataclass(frozen=True)
class GasTreasury:
    """An account that tops up the gas money of the keys the service keeps, on a network that charges gas:
    a kept key whose balance would fall below `threshold` after its transactions gets enough to hold
    `target` (more when its transactions need more), as an outbox transaction of the treasury."""

    account: LocalAccount
    threshold: int
    target: int
    wait_seconds: float = 30.0


class Outbox:
    """Writes, signs, sends and follows transactions; see the module documentation."""

    def __init__(
        self,
        chain: ChainClient,
        sessions: sessionmaker[Session],
        encoder: CallEncoder,
        addresses: Mapping[str, str],
        decoder: RevertDecoder,
        signers: Callable[[str], LocalAccount],
        faults: Faults | None = None,
        confirmations: int = 0,
        claim_seconds: float = 10.0,
        relay_pending_max: int = 64,
        send_attempts_max: int = 20,
        retry_seconds: float = 0.5,
        treasury: GasTreasury | None = None,
    ) -> None:
        self.chain = chain
        self.sessions = sessions
        self.encoder = encoder
        self.addresses = dict(addresses)
        self.decoder = decoder
        self.signers = signers
        self.faults = faults
        self.confirmations = confirmations
        self.claim_seconds = claim_seconds
        self.relay_pending_max = relay_pending_max
        self.send_attempts_max = send_attempts_max
        self.retry_seconds = retry_seconds
        self.treasury = treasury
        self._top_up_lock = threading.Lock()
        self._mined_count: dict[str, int] = {}  # a signer's count on chain, as last asked (`_pool_chunks`)
        engine = sessions.kw["bind"]
        assert isinstance(engine, Engine)
        self.locks = DatabaseLocks(engine)
        self.nonces = NonceManager(chain.pending_nonce)
        self._keys: dict[str, PrivateKey] = {}
        self._template: TxTemplate | None = None
        self._head: tuple[int, bytes] | None = None  # the head the last `watch` saw
        self._nonce_check_at = 0.0
        self.sending: set[int] = set()  # ids of the rows `dispatch` is preflighting, signing and sending
        self.group = GroupCommit(self)

    # ------------------------------------------------------------------ submit

    def submit(
        self, intents: Sequence[Intent], preflight: bool = False, wait: bool = True, timeout: float = 60.0,
        claim: RequestClaim | None = None, sent_with_receipts: bool = False,
    ) -> list[TxRecord]:
        """Send `intents`; returns their records in order (mined/failed if `wait` and the chain mined them,
        rejected where the preflight found a revert). Raises DuplicateRequest when `claim`'s key is taken,
        SendDeferred when the chain or the database failed after the records were written (they are sent
        later), and the database's own error when nothing could be written. `sent_with_receipts` (with `wait`):
        the rows' move to sent is written with the receipts the first poll finds, as a group commit's is (one
        commit fewer; see `dispatch`)."""
        written = self._write([(intents, claim)])[0]
        if isinstance(written, DuplicateRequest):
            raise written
        self.dispatch(written, [preflight] * len(written), wait, timeout,
                      receipts_follow=[wait and sent_with_receipts] * len(written))
        return written

    def submit_grouped(
        self, intents: Sequence[Intent], preflight: bool = False, wait: bool = True, timeout: float = 60.0,
        claim: RequestClaim | None = None,
    ) -> list[TxRecord]:
        """As `submit`, but written, signed and sent together with the intents of concurrent callers
        (one outbox write, one JSON-RPC batch, one receipt poll for the group); see `GroupCommit`."""
        return self.group.submit(intents, preflight, wait, timeout, claim)

    def dispatch(self, records: Sequence[TxRecord], preflight: Sequence[bool], wait: bool, timeout: float,
                 receipts_follow: Sequence[bool] | None = None) -> None:
        """Preflight, sign, send and (with `wait`) follow written records; outages become SendDeferred.
        `receipts_follow`, per record: its receipt is awaited next, so the row's move to sent is written with
        its receipt (one commit, not two, when the node mined it at once); until then the row reads signed,
        which the pump would broadcast again with the same bytes. A row not followed is recorded as sent
        before this returns."""
        ids = {r.id for r in records}
        self.sending |= ids
        try:
            with self.deferring(records):
                self._fault("queued")
                for record, follows in zip(records, receipts_follow or [False] * len(records), strict=True):
                    record.defer_sent = follows
                self._preflight_sign_and_send(records, preflight)
        finally:
            self.sending -= ids
        with self.deferring(records):
            if wait:
                self.await_receipts([r for r in records if r.status == OutboxStatus.SENT], timeout, unstick=True)

    @contextmanager
    def deferring(self, records: Sequence[TxRecord]) -> Iterator[None]:
        """Around work on recorded rows: an unreachable chain or database raises SendDeferred with their ids
        (the pump finishes them); the rows still queued are given up to the pump at once."""
        try:
            yield
        except ChainUnavailable as exc:
            if isinstance(exc, SendDeferred):
                raise
            self._release(records)
            raise SendDeferred(str(exc), [r.id for r in records], "chain") from exc
        except Exception as exc:
            if not database_unavailable(exc):
                self._release(records)
                raise
            raise SendDeferred(f"database not reachable: {type(exc).__name__}", [r.id for r in records],
                               "database") from exc

    def _preflight_sign_and_send(self, records: Sequence[TxRecord], preflight: Sequence[bool]) -> None:
        checked = [r for r, p in zip(records, preflight, strict=True) if p and r.status == OutboxStatus.QUEUED]
        if checked:
            self._preflight(checked)
        self._sign_and_send([r for r in records if r.status == OutboxStatus.QUEUED])

    def _fault(self, stage: str) -> None:
        if self.faults is not None:
            self.faults(stage)

    def encode(self, intents: Sequence[Intent]) -> list[Encoded]:
        """Each intent's calldata and JSON-safe arguments, before it is written or joins a group: arguments
        that do not fit the function raise InvalidIntent for this caller alone."""
        cache: dict[tuple[str, str, tuple[Any, ...]], Encoded] = {}  # repeated calls in a batch
        out = []
        for intent in intents:
            key = (intent.contract, intent.function, tuple(intent.args))
            hashable = _hashable(key)
            found = cache.get(key) if hashable else None
            if found is None and intent.contract == GAS_TOP_UP:
                found = (b"", jsonable(list(intent.args)))
            if found is None:
                try:
                    calldata = self.encoder.function(intent.contract, intent.function).encode(intent.args)
                    found = (calldata, jsonable(list(intent.args)))
                except Exception as exc:
                    raise InvalidIntent(f"{intent.contract}.{intent.function}: {exc}") from None
                if hashable:
                    cache[key] = found
            out.append(found)
        return out

    def _write(
        self, groups: Sequence[tuple[Sequence[Intent], RequestClaim | None]],
        encoded: Sequence[Sequence[Encoded]] | None = None,
    ) -> list[list[TxRecord] | DuplicateRequest]:
        """Write each group's intents as queued rows claimed by this call, in one database transaction with
        the groups' request claims; a group whose claim is taken gets DuplicateRequest and writes nothing."""
        if encoded is None:
            encoded = [self.encode(intents) for intents, _ in groups]
        now = utc_now()
        token = secrets.token_hex(12)
        until = now + timedelta(seconds=self.claim_seconds)
        results: list[list[TxRecord] | DuplicateRequest] = []
        with self.sessions.begin() as session:
            connection = session.connection()
            rows, records = [], []
            for (intents, claim), calls in zip(groups, encoded, strict=True):
                if claim is not None and not claim.reserve(connection):
                    results.append(DuplicateRequest(claim))
                    continue
                own = []
                for intent, (calldata, args) in zip(intents, calls, strict=True):
                    to = intent.to or self.addresses[intent.contract]
                    rows.append(self._row(intent.signer, intent.contract, intent.function, args, to, calldata,
                                          intent.value, intent.requested_by, now, token, until))
                    own.append(TxRecord(0, intent.signer, intent.contract, intent.function, to, calldata,
                                        intent.value, OutboxStatus.QUEUED, claim=token))
                records.extend(own)
                results.append(own)
            if rows:
                ids = connection.execute(
                    insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True), rows
                ).scalars().all()
                for record, row_id in zip(records, ids, strict=True):
                    record.id = row_id
            for (_, claim), result in zip(groups, results, strict=True):
                if claim is not None and isinstance(result, list):
                    claim.attach(connection, [r.id for r in result])
        return results

    @staticmethod
    def _row(signer: str, contract: str, function: str, args: Any, to: str, calldata: bytes, value: int,
             requested_by: str | None, now: Any, token: str | None, until: Any,
             replaces_id: int | None = None) -> dict[str, Any]:
        return {
            "origin": OutboxOrigin.CUSTODIAL, "requested_by": requested_by, "signer": signer, "contract": contract,
            "function": function, "args": args, "to_address": to, "calldata": "0x" + calldata.hex(),
            "value": str(value), "status": OutboxStatus.QUEUED, "attempts": 0, "created_at": now, "updated_at": now,
            "claimed_by": token, "claimed_until": until, "replaces_id": replaces_id, "final": False,
        }

    def _release(self, records: Sequence[TxRecord]) -> None:
        """Give up the claims on rows still queued (the pump takes them at once); best effort."""
        mine = [r for r in records if r.status == OutboxStatus.QUEUED and r.claim is not None]
        if not mine:
            return
        try:
            with self.sessions.begin() as session:
                for token in {r.claim for r in mine}:
                    session.connection().execute(
                        update(TABLE).where(TABLE.c.id.in_([r.id for r in mine if r.claim == token]),
                                            TABLE.c.status == OutboxStatus.QUEUED, TABLE.c.claimed_by == token)
                        .values(claimed_until=None, updated_at=utc_now()))
        except Exception as exc:
            if not database_unavailable(exc):
                raise  # the claims then expire by themselves

    def _update(self, changes: Sequence[dict[str, Any]], expect: Sequence[str], claim: str | None = None) -> set[int]:
        """Apply per-row changes (each a dict with the row's `id`) to rows whose status is in `expect` (and,
        with `claim`, still claimed with that token), one executemany per set of columns in one database
        transaction. Returns the ids of rows that were not in that state (someone else moved them on)."""
        if not changes:
            return set()
        now = utc_now()
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for change in changes:
            columns = tuple(sorted(k for k in change if k != "id"))
            by_columns[columns].append({"row_id": change["id"], **{f"v_{k}": change[k] for k in columns},
                                        "v_updated_at": now})
        matched = 0
        with self.sessions.begin() as session:
            connection = session.connection()
            for columns, params in by_columns.items():
                # (an IN list would need expanding parameters, which executemany does not take)
                statement = update(TABLE).where(TABLE.c.id == bindparam("row_id"),
                                                or_(*[TABLE.c.status == status for status in expect]))
                if claim is not None:
                    statement = statement.where(TABLE.c.claimed_by == claim)
                statement = statement.values({k: bindparam(f"v_{k}") for k in (*columns, "updated_at")})
                matched += connection.execute(statement, params).rowcount
        if matched == len(changes):
            return set()
        return self._not_in(set(c["id"] for c in changes), expect, claim)

    def _not_in(self, ids: set[int], expect: Sequence[str], claim: str | None) -> set[int]:
        with self.sessions() as session:
            query = select(OutboxTransaction.id).where(OutboxTransaction.id.in_(ids),
                                                       OutboxTransaction.status.in_(expect))
            if claim is not None:
                query = query.where(OutboxTransaction.claimed_by == claim)
            return ids - set(session.scalars(query))

    def _reload(self, records: Sequence[TxRecord], ids: set[int]) -> None:
        """Records whose rows another owner moved on take the stored state."""
        if not ids:
            return
        stored = {r.id: r for r in self.records(ids)}
        for record in records:
            if record.id in stored:
                record.refresh(stored[record.id])

    # ------------------------------------------------------------------ preflight

    def simulate(self, intents: Sequence[Intent]) -> list[ContractRevert | None] | None:
        """Run intents as the preflight would (eth_call from their signers at the latest block, one JSON-RPC
        batch on a node), before anything is written: each one's decoded revert, or None where it would pass.
        None when an intent's arguments do not fit its function (`submit` then refuses them as before).
        A caller that finds no revert submits with `preflight=False`: the transaction is not run twice."""
        try:
            encoded = self.encode(intents)
        except InvalidIntent:
            return None
        return self.simulate_encoded(intents, encoded)

    def simulate_encoded(self, intents: Sequence[Intent], encoded: Sequence[Encoded]) -> list[ContractRevert | None]:
        calls = [self._call(i.signer, i.to or self.addresses[i.contract], calldata, i.value)
                 for i, (calldata, _) in zip(intents, encoded, strict=True)]
        return [self._revert_of(outcome) for outcome in self.chain.calls(calls)] if calls else []

    def _call(self, signer: str, to: str, calldata: bytes, value: int) -> dict[str, Any]:
        call: dict[str, Any] = {"from": signer, "to": to, "data": calldata, "value": value}
        if self.chain.gas_limit:
            call["gas"] = self.chain.gas_limit
        return call

    def _revert_of(self, outcome: bytes | Exception) -> ContractRevert | None:
        if not isinstance(outcome, BaseException):
            return None
        revert = self.decoder.from_exception(outcome)
        if revert is None:
            raise outcome
        return revert

    def _preflight(self, records: Sequence[TxRecord]) -> None:
        """Run each queued transaction as eth_call; a revert rejects it before it takes a nonce."""
        rejected = []
        calls = [self._call(r.signer, r.to, r.calldata, r.value) for r in records]
        for record, outcome in zip(records, self.chain.calls(calls), strict=True):
            revert = self._revert_of(outcome)
            if revert is not None:
                self._set_revert(record, revert, OutboxStatus.REJECTED)
                rejected.append(record)
        self._reject(rejected)

    def _reject(self, records: Sequence[TxRecord]) -> None:
        by_claim: dict[str | None, list[TxRecord]] = defaultdict(list)
        for record in records:
            by_claim[record.claim].append(record)
        for claim, group in by_claim.items():
            self._reload(group, self._update([self._error_change(r) for r in group], (OutboxStatus.QUEUED,), claim))

    def _set_revert(self, record: TxRecord, revert: ContractRevert, status: str) -> None:
        record.status = status
        record.revert = revert
        record.error_name = revert.error
        record.error_args = jsonable(revert.args_by_name)

    @staticmethod
    def _error_change(record: TxRecord) -> dict[str, Any]:
        return {"id": record.id, "status": record.status, "error_name": record.error_name,
                "error_args": record.error_args}

    # ------------------------------------------------------------------ sign and send

    def _gas_limits(self, records: Sequence[TxRecord]) -> list[int | ContractRevert]:
        """Each record's gas limit: the chain's fixed one, or its estimate with headroom (one JSON-RPC batch for
        all of them on a node); a record whose estimate reverts gets its decoded revert instead."""
        if self.chain.gas_limit:
            return [self.chain.gas_limit] * len(records)
        txs = [{"from": r.signer, "to": r.to, "data": r.calldata, "value": r.value} for r in records]
        limits: list[int | ContractRevert] = []
        for outcome in self.chain.estimates(txs) if txs else []:
            if isinstance(outcome, Exception):
                revert = self.decoder.from_exception(outcome)
                if revert is None:
                    raise outcome
                limits.append(revert)
            else:
                limits.append(int(outcome * GAS_HEADROOM) + GAS_MARGIN)
        return limits

    def _sign_and_send(self, records: Sequence[TxRecord]) -> None:
        by_signer: dict[str, list[TxRecord]] = defaultdict(list)
        for record in records:
            by_signer[record.signer].append(record)
        ready: dict[str, list[TxRecord]] = {}
        for signer, group in by_signer.items():
            signable: list[TxRecord] = []
            rejected: list[TxRecord] = []
            for record, limit in zip(group, self._gas_limits(group), strict=True):
                if isinstance(limit, ContractRevert):
                    self._set_revert(record, limit, OutboxStatus.REJECTED)
                    rejected.append(record)
                    continue
                record.gas_limit = limit
                signable.append(record)
            signable = self._affordable(signer, signable, rejected)
            self._reject(rejected)
            signable = [r for r in signable if r.status == OutboxStatus.QUEUED]
            if signable:
                ready[signer] = signable
        if not ready:
            return
        # Every signer's rows are signed in one database transaction and sent in one JSON-RPC batch (each
        # signer's in nonce order): a connection, the locks, a commit and a post a group, not a signer.
        with ExitStack() as held:
            for signer in sorted(ready):  # this process's transactions of a signer reach the node in order
                held.enter_context(self.nonces.lock(signer))
            self._sign(ready)
            signed = [r for group in ready.values() for r in group
                      if r.status == OutboxStatus.SIGNED and r.claim is not None]
            self._fault("signed")
            self._broadcast(signed)
            self._fault("sent")

    def _affordable(self, signer: str, records: list[TxRecord], rejected: list[TxRecord]) -> list[TxRecord]:
        """On a network that charges gas, a signer that cannot pay for its transactions has them rejected at
        once (InsufficientGasFunds) instead of signed and refused by the node for ever. Free gas: all pass."""
        price = self.chain.fees.max_price
        if price == 0 or not records:
            return records
        needed = sum((r.gas_limit or 0) * price + r.value for r in records)
        balance = self.chain.balance(signer)
        treasury = self.treasury
        if treasury is not None and signer != treasury.account.address and balance - needed < treasury.threshold:
            balance = self._top_up(treasury, signer, balance, needed)
        if balance >= needed:
            return records
        revert = ContractRevert("InsufficientGasFunds", {"account": signer, "balance": balance, "needed": needed})
        for record in records:
            self._set_revert(record, revert, OutboxStatus.REJECTED)
        rejected.extend(records)
        return []

    def _top_up(self, treasury: GasTreasury, account: str, balance: int, needed: int) -> int:
        """Send `account` gas money from the treasury unless a top-up to it is on its way already; wait for it
        only when the account cannot pay for what it sends now. Returns the balance to go on with."""
        with self._top_up_lock:
            with self.sessions() as session:
                rows = session.scalars(select(OutboxTransaction).where(
                    OutboxTransaction.contract == GAS_TOP_UP, OutboxTransaction.to_address == account,
                    OutboxTransaction.status.in_(PENDING_STATUSES))).all()
                records = [TxRecord.from_row(r) for r in rows]
            if not records:
                amount = max(treasury.target, needed + treasury.threshold) - balance
                intent = Intent(GAS_TOP_UP, "topUp", (account, amount), treasury.account.address, value=amount,
                                to=account)
                (written,) = self._write([([intent], None)])
                assert isinstance(written, list)
                records = written
                self._sign_and_send(records)
                log.info("treasury %s tops up %s with %d wei (outbox %d)", treasury.account.address, account,
                         amount, records[0].id)
        if balance >= needed:
            return balance
        self.await_receipts([r for r in records if r.tx_hash], treasury.wait_seconds)
        return self.chain.balance(account)

    def _sign(self, by_signer: Mapping[str, Sequence[TxRecord]]) -> None:
        """Queued to signed, once: in one database transaction, under the signers' locks (the caller holds this
        process's; the database's are taken here), confirm the claims (a compare-and-set that also locks the
        rows), take each signer's next nonces and store the signed bytes. Rows whose claim was lost take the
        state their new owner gave them."""
        keys = {signer: self._signing_key(signer) for signer in by_signer}
        floors = {signer: self.nonces.floor(signer) for signer in by_signer}
        template = self._tx_template()
        records = [r for group in by_signer.values() for r in group]
        lost: set[int] = set()
        with self.sessions.begin() as session:
            connection = session.connection()
            self.locks.in_transaction(connection, *(f"nonce:{signer}" for signer in by_signer))
            owned: set[int] = set()
            for token in {r.claim for r in records}:
                owned.update(connection.execute(
                    update(TABLE).where(TABLE.c.id.in_([r.id for r in records if r.claim == token]),
                                        TABLE.c.status == OutboxStatus.QUEUED, TABLE.c.claimed_by == token)
                    .values(claimed_until=utc_now() + timedelta(seconds=self.claim_seconds))
                    .returning(TABLE.c.id)).scalars())
            lost = {r.id for r in records} - owned
            highest = self._highest_nonces(connection, list(by_signer))
            signed: list[tuple[TxRecord, int, str, str]] = []
            for signer, group in by_signer.items():
                stored = highest[signer]
                first = max(floors[signer], 0 if stored is None else stored + 1)
                for offset, record in enumerate(r for r in group if r.id in owned):
                    tx = template.sign(keys[signer], first + offset, record.gas_limit or 0,
                                       bytes.fromhex(record.to[2:]), record.value, record.calldata)
                    signed.append((record, first + offset, "0x" + tx.raw.hex(), "0x" + tx.tx_hash.hex()))
            if signed:
                connection.execute(
                    update(TABLE).where(TABLE.c.id == bindparam("row_id"), TABLE.c.status == OutboxStatus.QUEUED)
                    .values(status=OutboxStatus.SIGNED, nonce=bindparam("v_nonce"),
                            gas_limit=bindparam("v_gas_limit"), raw_tx=bindparam("v_raw_tx"),
                            tx_hash=bindparam("v_tx_hash"), updated_at=utc_now()),
                    [{"row_id": r.id, "v_nonce": n, "v_gas_limit": r.gas_limit, "v_raw_tx": raw, "v_tx_hash": h}
                     for r, n, raw, h in signed])
        for record, nonce, raw, tx_hash in signed:
            record.nonce, record.raw_tx, record.tx_hash = nonce, raw, tx_hash
            record.status = OutboxStatus.SIGNED
        self._reload(records, lost)

    @staticmethod
    def _highest_nonces(connection: Connection, signers: Sequence[str]) -> dict[str, int | None]:
        """Each signer's highest stored nonce, in one statement of one index look-up per signer (a `max` per
        signer, not a scan of their rows as `GROUP BY` would be)."""
        row = connection.execute(select(*(
            select(func.max(TABLE.c.nonce)).where(TABLE.c.signer == signer).scalar_subquery().label(f"n{i}")
            for i, signer in enumerate(signers)))).one()
        return {signer: None if n is None else int(n) for signer, n in zip(signers, row, strict=True)}

    def _signing_key(self, signer: str) -> PrivateKey:
        key = self._keys.get(signer)
        if key is None:
            treasury = self.treasury
            account = treasury.account if treasury and signer == treasury.account.address else self.signers(signer)
            key = self._keys[signer] = signing_key(bytes(account.key))
        return key

    def _tx_template(self) -> TxTemplate:
        """Chain id and fee fields encoded once (again when the chain client's fees change)."""
        template = self._template
        if template is None or template.fees != self.chain.fees.fields or template.chain_id != self.chain.chain_id:
            template = self._template = TxTemplate(self.chain.chain_id, self.chain.fees.fields)
        return template

    def _broadcast(self, records: Sequence[TxRecord]) -> None:
        """Send signed transactions; those the node refuses for a reason other than knowing them
        already are checked for a receipt and otherwise kept `signed` with the node's message.
        Records with `defer_sent` are sent in memory only, until `await_receipts` records them."""
        if not records:
            return
        results: list[SendResult] = []
        for chunk in self._pool_chunks(records):
            results += self.chain.send_raw([r.raw_tx or "" for r in chunk], [r.tx_hash or "" for r in chunk])
        self._fault("broadcast")
        sent, refused = [], []
        for record, result in zip(records, results, strict=True):
            if result.accepted or result.already_known:
                sent.append(record)
            else:
                record.last_error = (result.error or "")[:500]
                refused.append((record, result))
        self._mark_sent([r for r in sent if not r.defer_sent])
        for record in sent:
            if record.defer_sent and record.status == OutboxStatus.SIGNED:
                record.status, record.last_error, record.sent_unsaved = OutboxStatus.SENT, None, True
        if refused:
            self._settle_refused(refused)

    def _pool_chunks(self, records: Sequence[TxRecord]) -> Iterator[Sequence[TxRecord]]:
        """`records` in the parts they go to the node in: all at once, except on a local anvil node (see
        `LOCAL_POOL_WINDOW`). There, a part of a third of the window goes once each of its signers would have at
        most the window unmined with it: once the signer's count on chain has reached the part's highest nonce
        + 1 - the window. The count is asked only when the one last seen is short of that (a count that went back,
        on a node restored from an older state, loosens the window until it is asked again)."""
        if len(records) <= 1 or not self.chain.empties_stuck_pools():
            yield records
            return
        size = max(LOCAL_POOL_WINDOW // 3, 1)
        for first in range(0, len(records), size):
            chunk = records[first:first + size]
            highest: dict[str, int] = {}
            for record in chunk:
                if record.nonce is not None:
                    highest[record.signer] = max(highest.get(record.signer, -1), record.nonce)
            deadline = time.monotonic() + POOL_ROOM_WAIT
            for signer, nonce in highest.items():
                wanted = nonce + 1 - LOCAL_POOL_WINDOW  # the signer's count on chain that leaves room
                while self._mined_count.get(signer, 0) < wanted:
                    self._mined_count[signer] = self.chain.nonces([signer], "latest")[0]
                    if self._mined_count[signer] >= wanted or time.monotonic() >= deadline:
                        break
                    time.sleep(0.002)
            yield chunk

    def _mark_sent(self, records: Sequence[TxRecord]) -> None:
        """Signed rows handed to the node become sent (a row already mined stays mined)."""
        if not records:
            return
        self._save_sent(records)
        for record in records:
            if record.status == OutboxStatus.SIGNED:
                record.status = OutboxStatus.SENT
                record.last_error = None

    def _save_sent(self, records: Sequence[TxRecord]) -> None:
        if not records:
            return
        with self.sessions.begin() as session:
            session.connection().execute(
                update(TABLE).where(TABLE.c.id.in_([r.id for r in records]), TABLE.c.status == OutboxStatus.SIGNED)
                .values(status=OutboxStatus.SENT, last_error=None, attempts=TABLE.c.attempts + 1,
                        updated_at=utc_now()))
        for record in records:
            record.sent_unsaved = False

    def _settle_refused(self, refused: Sequence[tuple[TxRecord, SendResult]]) -> None:
        """A refused transaction whose hash has a receipt was mined earlier. One refused for its nonce with no
        receipt is dead once the chain holds another transaction at that nonce at the confirmation depth: it is
        dropped and its intent queued again. Any other refusal leaves it signed (it keeps its nonce), counted
        (unless it only came ahead of its predecessor), and its signer's nonces are read from the chain again."""
        records = [r for r, _ in refused]
        receipts = self.chain.receipts([r.tx_hash or "" for r in records])
        mined, suspects, waiting, counted = [], [], [], []
        for (record, result), receipt in zip(refused, receipts, strict=True):
            if receipt is not None:
                mined.append((record, receipt))
                continue
            self.nonces.forget(record.signer)
            if result.nonce_too_low:
                suspects.append(record)
            if not result.nonce_too_high:
                counted.append(record)
            waiting.append({"id": record.id, "last_error": record.last_error})
        self._apply_receipts(mined)
        self._reload(records, self._update(waiting, IN_FLIGHT))
        self._count_refusals([r for r in counted if r.status in IN_FLIGHT])
        if suspects:
            self._drop_dead(suspects)

    def _count_refusals(self, records: Sequence[TxRecord]) -> None:
        """One more refusal each. A relayed transaction refused `send_attempts_max` times fails with the node's
        last word (its signer may sign again); one of ours keeps its nonce and is tried on, more slowly."""
        if not records:
            return
        with self.sessions.begin() as session:
            connection = session.connection()
            connection.execute(update(TABLE).where(TABLE.c.id.in_([r.id for r in records]))
                               .values(attempts=TABLE.c.attempts + 1))
            spent = [r for r in records
                     if r.origin == OutboxOrigin.RELAYED and r.attempts + 1 >= self.send_attempts_max]
            for record in spent:
                moved = connection.execute(
                    update(TABLE).where(TABLE.c.id == record.id, TABLE.c.status.in_(IN_FLIGHT))
                    .values(status=OutboxStatus.FAILED, final=True, error_name="RefusedByNode",
                            error_args={"message": record.last_error, "attempts": record.attempts + 1},
                            updated_at=utc_now())).rowcount
                if moved:
                    record.status = OutboxStatus.FAILED
                    log.warning("relayed transaction %s (outbox %d) failed: refused %d times by the node: %s",
                                record.tx_hash, record.id, record.attempts + 1, record.last_error)
        for record in records:
            record.attempts += 1

    def _drop_dead(self, records: Sequence[TxRecord]) -> None:
        """Rows whose nonce the chain counts as spent at the confirmation depth, with no receipt of their own,
        are dropped. A custodial row's intent is queued again only when the chain names another transaction at
        that nonce (or cannot say, on a node that keeps its state and blocks together): a nonce spent with no
        transaction in any block means the node's state ran ahead of its blocks (an anvil node restored from a
        dump written while it mined), where this row's own effect may already be in the state, and a second
        attempt would move the asset twice. Such a row is dropped, not sent again, and reconcile shows the
        difference between the chain's state and its events."""
        head = self.chain.block_number()
        settled = max(head - self.confirmations, 0)
        signers = sorted({r.signer for r in records})
        counts = dict(zip(signers, self.chain.nonces(signers, settled), strict=True))
        dead = [r for r in records if r.nonce is not None and r.nonce < counts[r.signer]
                and r.status in IN_FLIGHT]
        if not dead:
            return
        taken: dict[int, str | None] = {}  # row id -> the hash holding its nonce, None when no block holds one
        for record in dead:
            if record.origin != OutboxOrigin.CUSTODIAL:
                continue
            try:
                taken[record.id] = self.chain.nonce_holder(record.signer, record.nonce or 0, settled)
            except NonceHolderUnknown as exc:
                log.warning("outbox %d: which transaction took nonce %s of %s is unknown (%s): queued again",
                            record.id, record.nonce, record.signer, exc)
                taken[record.id] = "unknown"
        # Held by this very transaction: mined after all, its receipt is collected by the next round.
        dead = [r for r in dead if taken.get(r.id, "") != r.tx_hash]
        now = utc_now()
        with self.sessions.begin() as session:
            connection = session.connection()
            for record in dead:
                custodial = record.origin == OutboxOrigin.CUSTODIAL  # a relayed one is its signer's to re-sign
                named = taken.get(record.id, "") is not None
                reason = (f"nonce {record.nonce} was taken on chain by another transaction" if named else
                          f"nonce {record.nonce} is spent on chain but no transaction in any block holds it (the "
                          "node's state is ahead of its blocks): not sent again, as its effect may be in that state")
                moved = connection.execute(
                    update(TABLE).where(TABLE.c.id == record.id, TABLE.c.status.in_(IN_FLIGHT))
                    .values(status=OutboxStatus.DROPPED, final=True, updated_at=now, last_error=reason)).rowcount
                if not moved:
                    continue
                record.status = OutboxStatus.DROPPED
                if not named:
                    log.error("outbox %d (%s): %s", record.id, record.tx_hash, reason)
                elif custodial:
                    args, requested_by = connection.execute(
                        select(TABLE.c.args, TABLE.c.requested_by).where(TABLE.c.id == record.id)).one()
                    connection.execute(insert(TABLE), [self._row(
                        record.signer, record.contract, record.function, args, record.to, record.calldata,
                        record.value, requested_by, now, None, None, replaces_id=record.id)])

    # ------------------------------------------------------------------ receipts

    def await_receipts(self, records: Sequence[TxRecord], timeout: float = 60.0, unstick: bool = False) -> None:
        """Poll until every record is mined or `timeout` passes (records left pending stay `sent`). Where a
        signer has several, the wait before each poll of them all watches only each signer's last one (`_pause`):
        a node mines a signer's transactions in nonce order, so one poll and one commit then find the others.
        With `unstick` (a caller waiting for its answer, holding no signer's lock), records unmined
        `UNSTICK_AFTER` after the call began, and every `UNSTICK_EVERY` after, have their signers freed if the
        node holds their next transaction (`unstick`), as the receipt watcher does for the callers it follows;
        the pump's rounds leave that to `STUCK_SECONDS`."""
        waiting = [r for r in records if r.tx_hash]
        started = time.monotonic()
        deadline, unstick_at = started + timeout, started + UNSTICK_AFTER
        delay = 0.0
        while waiting:
            self._pause(waiting, delay, deadline)
            receipts = self.chain.receipts([r.tx_hash or "" for r in waiting])
            found = [(r, rc) for r, rc in zip(waiting, receipts, strict=True) if rc is not None]
            self._apply_receipts(found)
            waiting = [r for r, rc in zip(waiting, receipts, strict=True) if rc is None]
            self._save_sent([r for r in waiting if r.sent_unsaved])
            now = time.monotonic()
            if not waiting or now >= deadline:
                return
            if unstick and now >= unstick_at:
                unstick_at = now + UNSTICK_EVERY
                self.unstick(_held_signers(waiting))
            delay = min(max(delay * 2, 0.01), 0.5)

    def _pause(self, waiting: Sequence[TxRecord], delay: float, deadline: float) -> None:
        """The wait before a poll of `waiting`: `delay` (none before the first poll), never past `deadline`.
        Where a signer has several, each signer's highest-nonce one is polled every `LAST_POLL_EVERY` meanwhile
        (nothing recorded), the wait ending once all of those are mined, and lasting up to `FIRST_POLL_AFTER`
        before the first poll."""
        lasts: dict[str, TxRecord] = {}
        for record in waiting:
            last = lasts.get(record.signer)
            if last is None or (record.nonce or 0) > (last.nonce or 0):
                lasts[record.signer] = record
        several = len(lasts) < len(waiting)
        until = min(time.monotonic() + (FIRST_POLL_AFTER if several and not delay else delay), deadline)
        if not several:
            time.sleep(max(until - time.monotonic(), 0.0))
            return
        hashes = [r.tx_hash or "" for r in lasts.values()]
        while time.monotonic() < until:
            if all(self.chain.receipts(hashes)):
                return
            time.sleep(min(LAST_POLL_EVERY, max(until - time.monotonic(), 0.0)))

    def _apply_receipts(self, found: Sequence[tuple[TxRecord, dict[str, Any]]]) -> None:
        changes = []
        for record, receipt in found:
            record.block_number = receipt["blockNumber"]
            record.block_hash = receipt.get("blockHash")
            record.gas_used = receipt["gasUsed"]
            record.receipt_status = receipt["status"]
            record.final = self.confirmations == 0
            record.status = OutboxStatus.MINED if receipt["status"] == 1 else OutboxStatus.FAILED
            change = {"id": record.id, "status": record.status, "block_number": record.block_number,
                      "block_hash": record.block_hash, "gas_used": record.gas_used,
                      "receipt_status": record.receipt_status, "final": record.final}
            if record.status == OutboxStatus.FAILED:
                revert = self._replay(record)
                self._set_revert(record, revert, OutboxStatus.FAILED)
                change.update(error_name=record.error_name, error_args=record.error_args)
            if record.sent_unsaved:  # what `_mark_sent` would have written, in the same commit
                change.update(last_error=None, attempts=record.attempts + 1)
            changes.append(change)
        self._update(changes, (*IN_FLIGHT, *MINED_STATUSES))
        for record, _ in found:
            record.sent_unsaved = False

    def _replay(self, record: TxRecord) -> ContractRevert:
        """Re-run a failed transaction as a call on the state before its block to decode its revert."""
        call = {"from": record.signer, "to": record.to, "data": HexBytes(record.calldata), "value": record.value}
        if record.gas_limit:
            call["gas"] = record.gas_limit
        try:
            self.chain.call(call, max((record.block_number or 1) - 1, 0))
        except Exception as exc:
            revert = self.decoder.from_exception(exc)
            if revert is not None:
                return revert
        return ContractRevert("TransactionFailed", {"tx_hash": record.tx_hash})

    # ------------------------------------------------------------------ recovery

    def pending(self, limit: int = 2000, per_signer: int = 200) -> list[TxRecord]:
        """Rows in flight (signed or sent): every signer's lowest nonces first, so no signer's backlog keeps
        another's rows waiting."""
        rank = func.row_number().over(partition_by=TABLE.c.signer, order_by=(TABLE.c.nonce, TABLE.c.id))
        ranked = select(TABLE.c.id, rank.label("rank")).where(TABLE.c.status.in_(IN_FLIGHT)).subquery()
        chosen = select(ranked.c.id).where(ranked.c.rank <= per_signer).order_by(ranked.c.rank, ranked.c.id)
        with self.sessions() as session:
            rows = session.scalars(
                select(OutboxTransaction).where(OutboxTransaction.id.in_(chosen.limit(limit).scalar_subquery()))
                .order_by(OutboxTransaction.id)
            ).all()
            return [TxRecord.from_row(r) for r in rows]

    def _due(self, record: TxRecord, now: datetime) -> bool:
        """A row the node refused is tried again after a pause that doubles with each refusal (up to a minute)."""
        if record.last_error is None or record.attempts == 0 or record.updated_at is None:
            return True
        pause = min(self.retry_seconds * 2 ** min(record.attempts, 16), 60.0)
        return now >= record.updated_at + timedelta(seconds=pause)

    def _take_over(self, limit: int = 1000) -> list[TxRecord]:
        """Claim queued rows whose claim expired or was given up (their writer died or could not send)."""
        now = utc_now()
        token = secrets.token_hex(12)
        with self.sessions.begin() as session:
            connection = session.connection()
            candidates = select(TABLE.c.id).where(
                TABLE.c.status == OutboxStatus.QUEUED,
                or_(TABLE.c.claimed_until.is_(None), TABLE.c.claimed_until < now),
            ).order_by(TABLE.c.id).limit(limit)
            ids = list(connection.execute(candidates).scalars())
            if not ids:
                return []
            taken = set(connection.execute(
                update(TABLE).where(TABLE.c.id.in_(ids), TABLE.c.status == OutboxStatus.QUEUED,
                                    or_(TABLE.c.claimed_until.is_(None), TABLE.c.claimed_until < now))
                .values(claimed_by=token, claimed_until=now + timedelta(seconds=self.claim_seconds),
                        updated_at=now)
                .returning(TABLE.c.id)).scalars())
            rows = session.scalars(select(OutboxTransaction).where(OutboxTransaction.id.in_(taken))
                                   .order_by(OutboxTransaction.id)).all()
            records = [TxRecord.from_row(r) for r in rows]
        for record in records:
            record.claim = token
            record.gas_limit = None
        return records

    def release_claims(self) -> int:
        """At the start of the only process serving a database (SQLite): the claims of queued rows belong
        to a process that is gone; free them so `recover` sends those rows now."""
        with self.sessions.begin() as session:
            return int(session.connection().execute(
                update(TABLE).where(TABLE.c.status == OutboxStatus.QUEUED, TABLE.c.claimed_until.is_not(None))
                .values(claimed_until=None)).rowcount)

    def recover(self, wait: bool = True, timeout: float = 10.0) -> list[TxRecord]:
        """Finish what was interrupted: follow signed and sent transactions to their receipts, re-broadcast
        (same bytes, in nonce order) those the chain does not have, sign and send the queued intents whose
        claim expired, and check provisional receipts until they are final."""
        self.check_provisional()  # vanished receipts go back to signed and are re-sent below
        self.settle_replaced()
        in_flight = self.pending()
        queued = self._take_over()
        receipts = self.chain.receipts([r.tx_hash or "" for r in in_flight])
        self._apply_receipts([(r, rc) for r, rc in zip(in_flight, receipts, strict=True) if rc is not None])
        now = utc_now()
        # Rows this process is still sending are left to it: sent again now, they could reach the node ahead of
        # their signer's lower nonces (anvil may then leave one unmined for good).
        sending = set(self.sending)
        unmined = [r for r, rc in zip(in_flight, receipts, strict=True)
                   if rc is None and r.id not in sending and self._due(r, now)]
        by_signer: dict[str, list[TxRecord]] = defaultdict(list)
        for record in sorted(unmined, key=lambda r: (r.signer, r.nonce or 0)):
            by_signer[record.signer].append(record)
        self._unstick(by_signer, now)
        for group in by_signer.values():
            self._broadcast(group)
        self._sign_and_send(queued)
        records = in_flight + queued
        if wait:
            self.await_receipts([r for r in records if r.status == OutboxStatus.SENT], timeout)
        return records

    def _unstick(self, by_signer: Mapping[str, Sequence[TxRecord]], now: datetime) -> None:
        """anvil can keep a transaction queued after its nonce became its signer's next (it arrived before its
        predecessors, which a node restarted from an older state had forgotten, or while its predecessor was
        being mined): it neither mines it nor takes it again ("transaction already imported"), and the signer's
        later transactions wait behind it for good. A signer whose lowest unmined row was sent over
        `STUCK_SECONDS` ago is freed (`unstick`). Other nodes (Besu) take a queued transaction up when its turn
        comes."""
        self.unstick([signer for signer, group in by_signer.items()
                      if group[0].status == OutboxStatus.SENT and group[0].updated_at is not None
                      and now - group[0].updated_at > timedelta(seconds=STUCK_SECONDS)])

    def unstick(self, signers: Iterable[str]) -> list[str]:
        """On an anvil node, a signer whose lowest in-flight row holds its next nonce on chain has its pool
        emptied and its in-flight transactions handed over again, same bytes, in nonce order: for rows sent
        `STUCK_SECONDS` ago in the pump's round, for waiting callers after `UNSTICK_AFTER` by the receipt watcher.
        Each under the signer's lock, so none of this process's sends comes between the two. (anvil may hold a
        transaction "queued" although its nonce has become the next, when it arrived while its predecessor was
        being mined: measured, one run in two of 64 clients sending single transfers, and in plain batches of 200
        sends on a loaded machine.) The signers freed."""
        wanted = sorted(set(signers))
        if not wanted or not self.chain.empties_stuck_pools():
            return []
        freed = []
        for signer in wanted:
            with self.nonces.lock(signer):
                with self.sessions() as session:
                    rows = session.scalars(select(OutboxTransaction).where(
                        OutboxTransaction.signer == signer, OutboxTransaction.status.in_(IN_FLIGHT),
                        OutboxTransaction.raw_tx.is_not(None)).order_by(OutboxTransaction.nonce)
                        .limit(RECEIPT_PAGE)).all()
                    records = [TxRecord.from_row(r) for r in rows]
                if not records or records[0].nonce != self.chain.nonces([signer], "latest")[0]:
                    continue
                self.chain.empty_pools([signer])
                self._broadcast(records)
                freed.append(signer)
        if freed:
            log.warning("the node held the next transaction of %s without mining it; emptied their pool and sent "
                        "their transactions again", ", ".join(freed))
        return freed

    def check_provisional(self, limit: int = RECEIPT_PAGE) -> list[TxRecord]:
        """Check again the receipts of rows mined but not yet final: one deep enough becomes final, one whose
        receipt vanished goes back to signed (re-broadcast next). Returns the rows sent back. The pump runs
        this every round over every transaction the service sends, so a row's id, hash and block are all it
        reads; a row whose receipt is where it was is written only when it becomes final, and those that do
        in one statement."""
        with self.sessions() as session:
            rows = session.execute(
                select(TABLE.c.id, TABLE.c.tx_hash, TABLE.c.block_number, TABLE.c.block_hash)
                .where(TABLE.c.status.in_(MINED_STATUSES), TABLE.c.final.is_(False))
                .order_by(TABLE.c.id).limit(limit)).all()
        if not rows:
            return []
        head = self.chain.block_number()
        receipts = self.chain.receipts([r.tx_hash or "" for r in rows])
        vanished, final, moved = [], [], []
        for row, receipt in zip(rows, receipts, strict=True):
            if receipt is None:
                vanished.append(row.id)
                continue
            block, block_hash = receipt["blockNumber"], receipt.get("blockHash")
            deep = head - block >= self.confirmations
            if (block, block_hash) != (row.block_number, row.block_hash):
                moved.append({"id": row.id, "block_number": block, "block_hash": block_hash, "final": deep})
            elif deep:
                final.append(row.id)
        self._update(moved, MINED_STATUSES)
        if final:
            with self.sessions.begin() as session:
                session.connection().execute(
                    update(TABLE).where(in_values(session, TABLE.c.id, final), TABLE.c.status.in_(MINED_STATUSES))
                    .values(final=True, updated_at=utc_now()))
        return self._rewind(self.records(vanished), "its receipt vanished from the chain")

    def settle_replaced(self, limit: int = RECEIPT_PAGE) -> None:
        """Follow replaced transactions until the chain decides. One the node mined before its replacement
        arrived is mined after all, and the replacement is dropped with it (they share a nonce); one whose
        nonce the chain took otherwise, at the confirmation depth, is final as replaced."""
        with self.sessions() as session:
            rows = session.scalars(select(OutboxTransaction).where(
                OutboxTransaction.status == OutboxStatus.REPLACED, OutboxTransaction.final.is_(False))
                .order_by(OutboxTransaction.id).limit(limit)).all()
            records = [TxRecord.from_row(r) for r in rows]
        if not records:
            return
        receipts = self.chain.receipts([r.tx_hash or "" for r in records])
        mined = [(r, rc) for r, rc in zip(records, receipts, strict=True) if rc is not None]
        now = utc_now()
        if mined:
            with self.sessions.begin() as session:
                for record, _ in mined:
                    session.connection().execute(
                        update(TABLE).where(TABLE.c.signer == record.signer, TABLE.c.nonce == record.nonce,
                                            TABLE.c.status.in_(IN_FLIGHT))
                        .values(status=OutboxStatus.DROPPED, final=True, updated_at=now,
                                last_error=f"nonce {record.nonce} was taken by {record.tx_hash}, which it replaced"))
                session.connection().execute(
                    update(TABLE).where(TABLE.c.id.in_([r.id for r, _ in mined]),
                                        TABLE.c.status == OutboxStatus.REPLACED)
                    .values(status=OutboxStatus.SIGNED, updated_at=now))
            for record, _ in mined:
                record.status = OutboxStatus.SIGNED
            self._apply_receipts(mined)
        unmined = [r for r, rc in zip(records, receipts, strict=True) if rc is None]
        if not unmined:
            return
        settled = max(self.chain.block_number() - self.confirmations, 0)
        signers = sorted({r.signer for r in unmined})
        counts = dict(zip(signers, self.chain.nonces(signers, settled), strict=True))
        taken = [r.id for r in unmined if r.nonce is not None and r.nonce < counts[r.signer]]
        if taken:
            with self.sessions.begin() as session:
                session.connection().execute(
                    update(TABLE).where(TABLE.c.id.in_(taken), TABLE.c.status == OutboxStatus.REPLACED)
                    .values(final=True, updated_at=now))

    def watch(self) -> list[TxRecord]:
        """The pump's look at the chain: when the head moved backwards or the block last seen at its height
        changed (a node restarted from an older state, a reorg), and every 10 s, compare each signer's nonce
        on chain with the outbox. Returns the rows sent back to signed."""
        number, block_hash = self.chain.head()
        previous, self._head = self._head, (number, block_hash)
        moved_back = previous is not None and (
            number < previous[0] or (number == previous[0] and block_hash != previous[1])
            or self.chain.block_hash(previous[0]) != previous[1])
        if moved_back or time.monotonic() >= self._nonce_check_at:
            self._nonce_check_at = time.monotonic() + 10.0
            if moved_back:
                self.nonces.forget()
            return self.rewind_by_nonces()
        return []

    def forget_chain_view(self) -> None:
        """Drop what this process remembers of the chain (cached nonce floors, the head last seen)."""
        self.nonces.forget()
        self._head = None

    def rewind_by_nonces(self) -> list[TxRecord]:
        """Rows recorded as mined or failed at a nonce the chain's count for their signer has not reached
        were forgotten by the chain (whatever block they were in, final or not): back to signed."""
        with self.sessions() as session:
            highest: dict[str, int] = {signer: int(nonce) for signer, nonce in session.execute(
                select(OutboxTransaction.signer, func.max(OutboxTransaction.nonce))
                .where(OutboxTransaction.status.in_(MINED_STATUSES))
                .group_by(OutboxTransaction.signer)).all() if nonce is not None}
        if not highest:
            return []
        signers = sorted(highest)
        counts = dict(zip(signers, self.chain.nonces(signers, "latest"), strict=True))
        behind = {s: counts[s] for s in signers if counts[s] <= int(highest[s])}
        if not behind:
            return []
        with self.sessions() as session:
            rows = session.scalars(select(OutboxTransaction).where(
                OutboxTransaction.status.in_(MINED_STATUSES),
                or_(*[(OutboxTransaction.signer == s) & (OutboxTransaction.nonce >= n) for s, n in behind.items()]),
            ).order_by(OutboxTransaction.signer, OutboxTransaction.nonce)).all()
            candidates = [TxRecord.from_row(r) for r in rows]
        for signer in behind:
            self.nonces.forget(signer)
        # A row mined since the counts were read is not forgotten: only those without a receipt are.
        receipts = self.chain.receipts([r.tx_hash or "" for r in candidates])
        forgotten = [r for r, rc in zip(candidates, receipts, strict=True) if rc is None]
        return self._rewind(forgotten, "forgotten by the chain: its signer's nonce on chain is below it")

    def rewind_forgotten(self, from_block: int) -> list[TxRecord]:
        """Mark as signed again the transactions recorded as mined (or failed) at `from_block` or later
        whose receipts the chain no longer has: a node restarted from an older state dump, or a reorg,
        forgot them. Their stored raw transactions are re-broadcast by the next `recover()`."""
        with self.sessions() as session:
            rows = session.scalars(
                select(OutboxTransaction)
                .where(
                    OutboxTransaction.status.in_(MINED_STATUSES),
                    OutboxTransaction.block_number >= from_block,
                    OutboxTransaction.raw_tx.is_not(None),
                )
                .order_by(OutboxTransaction.signer, OutboxTransaction.nonce)
            ).all()
            candidates = [TxRecord.from_row(r) for r in rows]
        receipts = self.chain.receipts([r.tx_hash or "" for r in candidates])
        forgotten = [r for r, rc in zip(candidates, receipts, strict=True) if rc is None]
        return self._rewind(forgotten, f"forgotten by the chain from block {from_block}")

    def _rewind(self, records: Sequence[TxRecord], reason: str) -> list[TxRecord]:
        if not records:
            return []
        changes = [{"id": r.id, "status": OutboxStatus.SIGNED, "block_number": None, "block_hash": None,
                    "gas_used": None, "receipt_status": None, "error_name": None, "error_args": None,
                    "final": False, "last_error": reason, "attempts": 0} for r in records]
        moved_on = self._update(changes, MINED_STATUSES)
        rewound = [r for r in records if r.id not in moved_on]
        for record in rewound:
            record.status = OutboxStatus.SIGNED
            record.block_number = record.gas_used = record.receipt_status = None
            record.block_hash = record.error_name = record.error_args = None
            record.final = False
            record.attempts = 0
            self.nonces.forget(record.signer)
        return rewound

    def record(self, outbox_id: int) -> TxRecord | None:
        with self.sessions() as session:
            row = session.get(OutboxTransaction, outbox_id)
            return None if row is None else TxRecord.from_row(row)

    def records(self, ids: Collection[int]) -> list[TxRecord]:
        """The stored rows with these ids, in id order."""
        if not ids:
            return []
        with self.sessions() as session:
            return [TxRecord.from_row(r) for r in session.scalars(
                select(OutboxTransaction).where(OutboxTransaction.id.in_(ids)).order_by(OutboxTransaction.id))]

    def _admit_relayed(self, tx: RelayedTx, requested_by: str | None) -> TxRecord | None:
        """What a relayed transaction must pass before it is recorded, so that no member can jam the outbox: a
        bounded number pending per member, a nonce neither used nor leaving a gap, and a preflight call that
        does not revert (it would spend the nonce for nothing). A nonce held by one of the signer's relayed
        transactions still unmined is a replacement ("speed up", "cancel"): it must pay at least
        REPLACEMENT_BUMP more per gas, tip and cap, as nodes require; the row it replaces is returned.
        Refusals raise ContractRevert-shaped errors."""
        with self.sessions() as session:
            waiting = int(session.scalar(select(func.count()).select_from(OutboxTransaction).where(
                OutboxTransaction.origin == OutboxOrigin.RELAYED, OutboxTransaction.requested_by == requested_by,
                OutboxTransaction.status.in_(IN_FLIGHT))) or 0)
            highest = session.scalar(select(func.max(OutboxTransaction.nonce)).where(
                OutboxTransaction.signer == tx.sender, OutboxTransaction.status.in_(IN_FLIGHT)))
            holder = session.scalar(select(OutboxTransaction).where(
                OutboxTransaction.signer == tx.sender, OutboxTransaction.nonce == tx.nonce,
                OutboxTransaction.status.in_(IN_FLIGHT)))
            replacing = None if holder is None else TxRecord.from_row(holder)
        (mined_count,) = self.chain.nonces([tx.sender], "latest")
        if tx.nonce < mined_count:
            raise ContractRevert("NonceTooLow", {"account": tx.sender, "nonce": tx.nonce, "next": mined_count})
        if replacing is not None:
            self._check_replacement(tx, replacing)
        else:
            if waiting >= self.relay_pending_max:
                raise ContractRevert("TooManyPendingRelays", {"member": requested_by or tx.sender,
                                                              "pending": waiting, "limit": self.relay_pending_max})
            chain_next, expected = self._next_nonces(tx.sender, highest)
            if tx.nonce < chain_next:  # in the node's pool, sent past the service
                raise ContractRevert("NonceTooLow", {"account": tx.sender, "nonce": tx.nonce, "next": chain_next})
            if tx.nonce > expected:
                raise ContractRevert("NonceGap", {"account": tx.sender, "nonce": tx.nonce, "next": expected})
        (outcome,) = self.chain.calls([{"from": tx.sender, "to": tx.to, "data": tx.calldata, "value": tx.value,
                                        "gas": tx.gas_limit}])
        if isinstance(outcome, BaseException):
            revert = self.decoder.from_exception(outcome)
            if revert is None:
                raise outcome
            raise revert
        return replacing

    def next_nonce(self, account: str) -> int:
        """The nonce an account's next transaction takes: past the node's pending count and past every
        transaction of the account the outbox has in flight (what relaying admits without a gap)."""
        with self.sessions() as session:
            highest = session.scalar(select(func.max(OutboxTransaction.nonce)).where(
                OutboxTransaction.signer == account, OutboxTransaction.status.in_(IN_FLIGHT)))
        return self._next_nonces(account, highest)[1]

    def _next_nonces(self, account: str, highest_in_flight: int | None) -> tuple[int, int]:
        """The node's pending count for `account`, and the nonce its next transaction takes."""
        (chain_next,) = self.chain.nonces([account], "pending")
        return chain_next, max(chain_next, -1 if highest_in_flight is None else int(highest_in_flight) + 1)

    @staticmethod
    def _check_replacement(tx: RelayedTx, replacing: TxRecord) -> None:
        if replacing.origin != OutboxOrigin.RELAYED:
            raise ContractRevert("NonceInUse", {"account": tx.sender, "nonce": tx.nonce})
        old = decode_signed(bytes.fromhex((replacing.raw_tx or "0x")[2:]))
        cap = _bumped(old.max_fee_per_gas)
        tip = _bumped(old.max_priority_fee_per_gas)
        if tx.max_fee_per_gas < cap or tx.max_priority_fee_per_gas < tip:
            raise ContractRevert("ReplacementUnderpriced", {
                "account": tx.sender, "nonce": tx.nonce, "replaces": replacing.tx_hash,
                "max_fee_per_gas": cap, "max_priority_fee_per_gas": tip})

    def relay(self, tx: RelayedTx, requested_by: str | None, wait: bool = True, timeout: float = 60.0,
              claim: RequestClaim | None = None) -> TxRecord:
        """Record and send a transaction its sender signed (the caller has checked what it does).
        Relaying the same signed transaction again returns its existing record."""
        now = utc_now()
        row = {
            "origin": OutboxOrigin.RELAYED, "requested_by": requested_by, "signer": tx.sender,
            "contract": tx.contract, "function": tx.function, "args": jsonable(list(tx.args)), "to_address": tx.to,
            "calldata": "0x" + tx.calldata.hex(), "value": str(tx.value), "status": OutboxStatus.SIGNED,
            "nonce": tx.nonce, "gas_limit": tx.gas_limit, "raw_tx": "0x" + tx.raw.hex(), "tx_hash": tx.tx_hash,
            "attempts": 0, "created_at": now, "updated_at": now, "final": False,
        }
        with self.sessions() as session:
            existing = session.scalar(select(OutboxTransaction).where(OutboxTransaction.tx_hash == row["tx_hash"]))
            if existing is not None:
                return TxRecord.from_row(existing)
        replacing = self._admit_relayed(tx, requested_by)
        with self.sessions.begin() as session:
            existing = session.scalar(select(OutboxTransaction).where(OutboxTransaction.tx_hash == row["tx_hash"]))
            if existing is not None:
                return TxRecord.from_row(existing)
            if claim is not None and not claim.reserve(session.connection()):
                raise DuplicateRequest(claim)
            if replacing is not None:
                row["replaces_id"] = replacing.id
                moved = session.connection().execute(
                    update(TABLE).where(TABLE.c.id == replacing.id, TABLE.c.status.in_(IN_FLIGHT))
                    .values(status=OutboxStatus.REPLACED, updated_at=now,
                            last_error=f"replaced by {tx.tx_hash}")).rowcount
                if not moved:  # mined or replaced meanwhile: the signer looks again
                    raise ContractRevert("NonceTooLow", {"account": tx.sender, "nonce": tx.nonce,
                                                         "next": tx.nonce + 1})
            row_id = int(session.execute(insert(OutboxTransaction).returning(OutboxTransaction.id), [row])
                         .scalar_one())
            if claim is not None:
                claim.attach(session.connection(), [row_id])
        record = self.record(row_id)
        assert record is not None
        with self.deferring([record]):
            self._broadcast([record])
            if wait and record.status == OutboxStatus.SENT:
                self.await_receipts([record], timeout)
        return record


@dataclass
class _Entry:
    """One caller's intents waiting in a group."""

    intents: Sequence[Intent]
    encoded: Sequence[Encoded]
    preflight: bool
    wait: bool
    timeout: float
    claim: RequestClaim | None = None
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    follow: list[_Entry] | None = None  # the waiting entries of its group whose receipts this caller follows
    records: list[TxRecord] = field(default_factory=list)
    error: BaseException | None = None
    future: asyncio.Future[list[TxRecord]] | None = None  # an async caller's answer (see `submit_async`)
    simulate: bool = False  # simulated with its group before anything is written (see `submit_async`)

    def wake_up(self, group: GroupCommit) -> None:
        """Tell the caller it leads, follows or is answered: a blocked thread is woken; an async caller,
        which has no thread to wake, has its lead run on the group's leading thread or its answer set."""
        if self.future is None:
            self.wake.set()
        elif self.lead:
            group.run_lead()
        else:
            self.settle()

    def settle(self) -> None:
        """Set an async caller's answer on its event loop (unless it stopped waiting: its rows stay)."""
        _settle([self])


def _settle(entries: Sequence[_Entry]) -> None:
    """Set async callers' answers on their event loops, one hand-over to each loop for all of its callers: a
    group's answers wake the loop once, not once per caller. A caller that stopped waiting is skipped (its rows
    stay)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[list[TxRecord]], list[TxRecord],
                                                        BaseException | None]]] = defaultdict(list)
    for entry in entries:
        assert entry.future is not None
        by_loop[entry.future.get_loop()].append((entry.future, entry.records, entry.error))
    for loop, answers in by_loop.items():
        def answer(answers: list[tuple[asyncio.Future[list[TxRecord]], list[TxRecord],
                                       BaseException | None]] = answers) -> None:
            for future, records, error in answers:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(records)

        with suppress(RuntimeError):  # its loop has closed: nobody is waiting for the answers
            loop.call_soon_threadsafe(answer)


class GroupCommit:
    """Group commit of concurrent submissions.

    A caller's intents join a queue. If no group is being written and sent, the caller
    leads: it takes every queued entry, writes them to the outbox in one transaction,
    preflights (one JSON-RPC batch), signs and sends them (one batch), then hands the
    lead to the first caller that queued meanwhile. Callers that do not wait are answered
    then, their rows recorded as sent; the receipts of the group's waiting callers are
    followed in one batched poll by the leader if it waits, else by the first of them.
    Callers that arrive while a group is being sent wait and go out in the next group, so
    under load groups grow by themselves and one request alone goes out at once. Each
    caller gets back its own records, or its own SendDeferred
    with its own outbox ids (or its own DuplicateRequest: one caller's repeated key never
    fails another's request). The guarantees are those of `Outbox.submit`.

    Async callers (`submit_async`) hold no thread while they wait: a group they lead is
    written and sent on one leading thread, and the receipts of those that wait are
    followed by one `ReceiptWatcher` for all groups, which answers each group as its
    transactions are mined.
    """

    def __init__(self, outbox: Outbox, max_group: int = 1000) -> None:
        self.outbox = outbox
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Entry] = []
        self._leading = False
        self._leader: ThreadPoolExecutor | None = None  # leads the groups that async callers lead
        self.watcher = ReceiptWatcher(outbox)
        self.groups = 0  # groups sent (for tests and metrics)

    def submit(self, intents: Sequence[Intent], preflight: bool, wait: bool, timeout: float,
               claim: RequestClaim | None = None) -> list[TxRecord]:
        entry = _Entry(intents, self.outbox.encode(intents), preflight, wait, timeout, claim)  # bad arguments fail here
        with self._lock:
            self._queue.append(entry)
            if not self._leading:
                self._leading = entry.lead = True
        if not entry.lead:
            entry.wake.wait()
        if entry.lead:
            self._lead()
        elif entry.follow is not None:
            self._follow(entry.follow)
        if entry.error is not None:
            raise entry.error
        return entry.records

    async def submit_async(self, intents: Sequence[Intent], preflight: bool, wait: bool, timeout: float,
                           claim: RequestClaim | None = None, simulate: bool = False) -> list[TxRecord]:
        """As `submit`, awaited on the caller's event loop without a thread of its own. With `simulate`, the
        intents are run as calls with the group's (one JSON-RPC batch) before anything is written: if one
        would revert, WouldRevert is raised and nothing is recorded; otherwise they go out without a
        preflight, not run twice (what `Outbox.simulate` does for a blocking caller)."""
        future: asyncio.Future[list[TxRecord]] = asyncio.get_running_loop().create_future()
        entry = _Entry(intents, self.outbox.encode(intents), preflight, wait, timeout, claim, future=future,
                       simulate=simulate)
        with self._lock:
            self._queue.append(entry)
            if not self._leading:
                self._leading = entry.lead = True
        if entry.lead:
            self.run_lead()
        return await future

    def run_lead(self) -> None:
        """Lead the next group on the leading thread (the lead was handed to an async caller)."""
        if self._leader is None:
            with self._lock:
                if self._leader is None:
                    self._leader = ThreadPoolExecutor(1, thread_name_prefix="group-commit")
        self._leader.submit(self._lead)

    def close(self) -> None:
        self.watcher.close()
        if self._leader is not None:
            self._leader.shutdown(wait=True)

    def _take(self) -> list[_Entry]:
        with self._lock:
            group: list[_Entry] = []
            count = 0
            while self._queue and (not group or count + len(self._queue[0].intents) <= self.max_group):
                entry = self._queue.pop(0)
                group.append(entry)
                count += len(entry.intents)
            return group

    def _hand_over(self) -> None:
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
            else:
                self._leading = False
                return
        successor.wake_up(self)

    def _lead(self) -> None:
        """Write, send, hand the lead on; then answer the entries that do not wait at once, and follow the
        receipts of those that do: the leader itself if it waits, else the first waiting entry, woken for it."""
        group = self._take()
        outbox = self.outbox
        written: list[_Entry] = []
        try:
            sending = self._simulate_first(group)
            results = outbox._write([(e.intents, e.claim) for e in sending], [e.encoded for e in sending])
            for entry, result in zip(sending, results, strict=True):
                if isinstance(result, DuplicateRequest):
                    entry.error = result
                else:
                    entry.records = result
                    written.append(entry)
            records = [r for e in written for r in e.records]
            flags = [e.preflight for e in written for _ in e.intents]
            follows = [e.wait for e in written for _ in e.intents]
            outbox.dispatch(records, flags, wait=False, timeout=max(e.timeout for e in group),
                            receipts_follow=follows)
            self.groups += 1
        except BaseException as exc:
            self._hand_over()
            self._finish(group, exc)
            return
        self._hand_over()
        waiting = [e for e in written if e.wait]
        self._finish([e for e in group if e not in waiting], None)
        awaiting = [e for e in waiting if e.future is not None]
        if awaiting:
            self.watcher.follow(awaiting, self._finish, poll_now=self._idle())
            waiting = [e for e in waiting if e.future is None]
        if not waiting:
            return
        follower = waiting[0]
        if follower.lead:
            self._follow(waiting)
        else:
            follower.follow = waiting
            follower.wake.set()

    def _idle(self) -> bool:
        """Whether no caller waits for the next group (a poll on this thread would delay nobody)."""
        with self._lock:
            return not self._queue

    def _simulate_first(self, group: Sequence[_Entry]) -> list[_Entry]:
        """Simulate the entries that asked for it in one batch: those that would revert are answered
        WouldRevert and left out; the others need no preflight. The entries to write."""
        first = [e for e in group if e.simulate]
        if not first:
            return list(group)
        outcomes = iter(self.outbox.simulate_encoded([i for e in first for i in e.intents],
                                                     [c for e in first for c in e.encoded]))
        sending = []
        for entry in group:
            if entry.simulate:
                reverts = [next(outcomes) for _ in entry.intents]
                if any(r is not None for r in reverts):
                    entry.error = WouldRevert(reverts)
                    continue
                entry.preflight = False
            sending.append(entry)
        return sending

    def _follow(self, waiting: Sequence[_Entry]) -> None:
        """Await the receipts of the waiting entries of one group (one batched poll) and answer them."""
        records = [r for e in waiting for r in e.records]
        error: BaseException | None = None
        try:
            with self.outbox.deferring(records):
                self.outbox.await_receipts([r for r in records if r.status == OutboxStatus.SENT],
                                           max(e.timeout for e in waiting), unstick=True)
        except BaseException as exc:
            error = exc
        self._finish(waiting, error)

    @staticmethod
    def _finish(group: Sequence[_Entry], error: BaseException | None) -> None:
        """Answer each entry (with its own ids in a SendDeferred); a blocked leader or follower is running and
        answers itself."""
        for entry in group:
            if entry.error is None and error is not None:
                if isinstance(error, SendDeferred):
                    entry.error = SendDeferred(str(error), [r.id for r in entry.records], error.dependency)
                elif isinstance(error, ChainUnavailable) and entry.records:
                    entry.error = SendDeferred(str(error), [r.id for r in entry.records])
                else:
                    entry.error = error
            if entry.future is None and not entry.lead and entry.follow is None:
                entry.wake.set()
        _settle([entry for entry in group if entry.future is not None])


Finish = Callable[[Sequence["_Entry"], BaseException | None], None]  # answers a group's entries (`GroupCommit._finish`)


@dataclass(eq=False)  # each group is itself: found by identity among those watched
class _Watched:
    """A group's waiting async callers, until when they wait, and how they are answered."""

    entries: list[_Entry]
    deadline: float
    finish: Finish
    unstick_at: float = 0.0  # when to look whether the node holds one of its signers' next transactions

    def settled(self) -> bool:
        return not any(r.status == OutboxStatus.SENT for e in self.entries for r in e.records)

    def unmined_signers(self) -> set[str]:
        return _held_signers(r for e in self.entries for r in e.records)


class ReceiptWatcher:
    """Follows the receipts of the waiting async callers of every group on one thread: each round is one
    batched receipt poll for all of them, and a group is answered once all its transactions are mined or
    failed, or its timeout has passed (those still unmined are answered as sent, as `await_receipts` does)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._groups: list[_Watched] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self.rounds = 0  # receipt polls (for tests and metrics)

    def follow(self, entries: list[_Entry], finish: Finish, poll_now: bool = False) -> None:
        """Answer `entries` when their transactions are mined. `poll_now`: poll once on the calling thread
        first (when the node has mined them already, as it usually has, that saves a hand-over between
        threads; for a leader only when no caller waits for the next group)."""
        now = time.monotonic()
        watched = _Watched(entries, now + max(e.timeout for e in entries), finish, now + UNSTICK_AFTER)
        if poll_now and self._round([watched]):
            return
        with self._lock:
            self._groups.append(watched)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="receipt-watcher", daemon=True)
                self._thread.start()
            self._arrived.notify()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._arrived.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def _run(self) -> None:
        delay = 0.0
        while True:
            with self._lock:
                if not self._groups and not self._closed:
                    self._arrived.wait()
                    delay = 0.0
                if self._closed:
                    groups, self._groups = self._groups, []
                    for watched in groups:  # answered as they stand: sent, the pump finishes them
                        watched.finish(watched.entries, None)
                    return
                groups = list(self._groups)
            answered = self._round(groups)
            self._unstick([g for g in groups if g not in answered])
            with self._lock:
                self._groups = [g for g in self._groups if g not in answered]
                if answered or len(self._groups) > len(groups):
                    delay = 0.0  # new groups are polled at once: the node has often mined them already
                else:
                    delay = min(max(delay * 2, 0.002), 0.05)
                    self._arrived.wait(delay)

    def _unstick(self, waiting: Sequence[_Watched]) -> None:
        """Groups unmined for `UNSTICK_AFTER`: free their signers if the node holds their next transaction
        (`Outbox.unstick`), then look again every `UNSTICK_EVERY` while they wait."""
        now = time.monotonic()
        due = [g for g in waiting if now >= g.unstick_at]
        if not due:
            return
        for group in due:
            group.unstick_at = now + UNSTICK_EVERY
        try:
            self.outbox.unstick({s for g in due for s in g.unmined_signers()})
        except Exception as exc:  # the pump's round frees them later; the callers keep waiting meanwhile
            log.warning("could not look for transactions the node holds: %s", exc)

    def _round(self, groups: Sequence[_Watched]) -> list[_Watched]:
        """One poll for every group's unmined transactions; the groups it answered."""
        records = [r for g in groups for e in g.entries for r in e.records]
        error: BaseException | None = None
        try:
            with self.outbox.deferring(records):
                self.outbox.await_receipts([r for r in records if r.status == OutboxStatus.SENT], timeout=0)
        except BaseException as exc:  # answered to each of these callers, with its own ids
            error = exc
        self.rounds += 1
        now = time.monotonic()
        answered = []
        for group in groups:
            if error is not None or now >= group.deadline or group.settled():
                group.finish(group.entries, error)
                answered.append(group)
        return answered


def _held_signers(records: Iterable[TxRecord]) -> set[str]:
    """Signers of unmined transactions whose keys the service keeps, the ones `Outbox.unstick` may free: a member
    signing its own may have sent the node transactions the outbox does not hold, which emptying its pool would
    drop."""
    return {r.signer for r in records if r.status == OutboxStatus.SENT and r.origin == OutboxOrigin.CUSTODIAL}


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _bumped(fee: int) -> int:
    """The least fee per gas a replacement must offer: REPLACEMENT_BUMP percent more, and more than nothing."""
    return max(fee + (fee * REPLACEMENT_BUMP + 99) // 100, fee + 1)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:  # arguments holding lists
        return False
    return True


@dataclass(frozen=True)
class RelayedTx:
    """A client-signed transaction, decoded and matched to a function of the suite."""

    raw: bytes
    tx_hash: str
    sender: str
    nonce: int
    gas_limit: int
    to: str
    value: int
    calldata: bytes
    contract: str
    function: str
    args: Sequence[Any]
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0

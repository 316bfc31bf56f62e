"""Idempotency keys: a request sent again with the same `Idempotency-Key` is answered, not carried out again.

A client that got no answer cannot tell whether its request was carried out. It sends it
again with the same key; the service then answers what the first one was answered, or, if
that one has not finished (or its process died), the transactions it recorded, as they
stand. Nothing is sent twice.

The claim on a key (`IdempotencyClaim`) is recorded in the same database transaction as
the outbox rows of the request: either both are there or neither is. The outbox calls it
as this protocol, owned by `ledger_core.chain.outbox`, describes:

    class RequestClaim(Protocol):
        def reserve(self, connection: Connection) -> bool: ...
            # inside the outbox's write transaction, before its rows are inserted: record the claim;
            # True if this request holds the key, False if another request does
        def attach(self, connection: Connection, outbox_ids: Sequence[int]) -> None: ...
            # in the same transaction, after the rows are inserted: add their ids to the claim

A claim is the caller's (a key is scoped to the authenticated member), with a SHA-256
fingerprint of the request (method, path with query, body bytes): the same key with
another request is refused (`KeyReused`). Keys expire after `idempotency_key_hours`;
an expired key is ignored, and expired rows are deleted now and then. Once the request
is answered, its final response (status and JSON body) is stored with the claim
(`IdempotencyKeys.store_response`) and replayed to any retry.

The claim knows it is recorded only once the transaction that reserved it commits (a
listener on the connection's commit and rollback), so a write that was rolled back, and
retried by the outbox, reserves the key again rather than believing it holds it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RootTransaction
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.models.outbox import IdempotencyRecord
from ledger_core.db.models.types import utc_aware, utc_now

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
MAX_PATH_LENGTH = 512
PURGE_EVERY_SECONDS = 600.0
TABLE: Table = IdempotencyRecord.__table__  # type: ignore[assignment]


class InvalidKey(ValueError):
    """Not 1 to 255 printable ASCII characters."""


def check_key(key: str) -> str:
    """`key` if it is a valid Idempotency-Key (1 to 255 printable ASCII characters, space included)."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidKey(f"an {HEADER} has 1 to {MAX_KEY_LENGTH} characters, this one {len(key)}")
    if not all(" " <= c <= "~" for c in key):
        raise InvalidKey(f"an {HEADER} is printable ASCII only")
    return key


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """SHA-256 of the request: method, path with query, body bytes (each part length-prefixed)."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


class ClaimState(StrEnum):
    NEW = "new"  # nothing recorded
    RESERVED = "reserved"  # inserted in a transaction that has not ended yet
    RECORDED = "recorded"  # committed with outbox rows


@dataclass(eq=False)
class IdempotencyClaim:
    """One request's claim on (caller, key); see the module documentation. Satisfies the outbox's
    `RequestClaim` protocol. Safe to share between the request's thread and the outbox's group commit."""

    caller: str
    key: str
    fingerprint: bytes
    method: str
    path: str
    expires_at: datetime
    state: ClaimState = ClaimState.NEW
    outbox_ids: list[int] = field(default_factory=list)  # committed
    _open: RootTransaction | None = field(default=None, repr=False)  # the transaction holding a reservation
    _open_ids: list[int] = field(default_factory=list, repr=False)  # attached in that transaction
    _was: ClaimState = field(default=ClaimState.NEW, repr=False)  # the state to go back to on rollback
    _watched: weakref.WeakSet[Connection] = field(default_factory=weakref.WeakSet, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def recorded(self) -> bool:
        """The claim was committed (with the outbox rows of this request)."""
        return self.state == ClaimState.RECORDED

    # ------------------------------------------------------------------ the outbox's protocol

    def reserve(self, connection: Connection) -> bool:
        """Record the claim in `connection`'s transaction (before the outbox inserts its rows). True if
        this request holds the key: newly inserted, or recorded earlier by this same claim (a request
        that sends more than once); False if another request holds it."""
        with self._lock:
            transaction = connection.get_transaction()
            if transaction is not None and transaction is self._open:
                return True  # reserved earlier in this very transaction
            now = utc_now()
            where = and_(TABLE.c.caller == self.caller, TABLE.c.key == self.key)
            connection.execute(delete(TABLE).where(where, TABLE.c.expires_at <= now))
            insert = (postgresql.insert(TABLE) if connection.dialect.name == "postgresql" else sqlite.insert(TABLE))
            statement = insert.values(
                caller=self.caller, key=self.key, fingerprint=self.fingerprint, method=self.method,
                path=self.path[:MAX_PATH_LENGTH], outbox_ids=[], response_status=None, response_body=None,
                created_at=now, expires_at=self.expires_at,
            ).on_conflict_do_nothing(index_elements=["caller", "key"]).returning(TABLE.c.key)
            inserted = connection.execute(statement).first() is not None
            if not inserted and not self._still_ours(connection):
                return False
            self._open_in(connection, transaction)
            return True

    def attach(self, connection: Connection, outbox_ids: Sequence[int]) -> None:
        """Add `outbox_ids` (rows inserted in the transaction that reserved the claim) to the claim."""
        with self._lock:
            if self._open is None or connection.get_transaction() is not self._open:
                raise RuntimeError("attach() in a transaction that did not reserve the claim")
            where = and_(TABLE.c.caller == self.caller, TABLE.c.key == self.key)
            stored = connection.execute(select(TABLE.c.outbox_ids).where(where)).scalar_one()
            ids = list(stored or [])
            ids += [int(i) for i in outbox_ids if int(i) not in ids]
            connection.execute(update(TABLE).where(where).values(outbox_ids=ids))
            self._open_ids += [int(i) for i in outbox_ids if int(i) not in self._open_ids]

    # ------------------------------------------------------------------ transaction tracking

    def _still_ours(self, connection: Connection) -> bool:
        """The key's row is this claim's, committed by an earlier transaction of this request."""
        if self.state != ClaimState.RECORDED:
            return False
        query = select(TABLE.c.fingerprint, TABLE.c.outbox_ids).where(
            TABLE.c.caller == self.caller, TABLE.c.key == self.key)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).one_or_none()
        return (row is not None and bytes(row.fingerprint) == self.fingerprint
                and set(self.outbox_ids) <= {int(i) for i in row.outbox_ids or []})

    def _open_in(self, connection: Connection, transaction: RootTransaction | None) -> None:
        self._was = self.state
        self._open = transaction
        self._open_ids = []
        self.state = ClaimState.RESERVED
        if connection not in self._watched:
            self._watched.add(connection)
            event.listen(connection, "commit", self._on_commit)
            event.listen(connection, "rollback", self._on_rollback)

    def _on_commit(self, connection: Connection) -> None:
        with self._lock:
            if self._open is None or connection.get_transaction() is not self._open:
                return
            self.outbox_ids += [i for i in self._open_ids if i not in self.outbox_ids]
            self.state = ClaimState.RECORDED
            self._open, self._open_ids = None, []

    def _on_rollback(self, connection: Connection) -> None:
        with self._lock:
            if self._open is None:
                return
            transaction = connection.get_transaction()
            if transaction is not None and transaction is not self._open:
                return
            self.state = self._was
            self._open, self._open_ids = None, []


@dataclass(frozen=True)
class StoredRequest:
    """What the service remembers of a request sent with a key."""

    caller: str
    key: str
    fingerprint: bytes
    method: str
    path: str
    outbox_ids: list[int]
    response_status: int | None
    response_body: str | None
    created_at: datetime
    expires_at: datetime

    @property
    def answered(self) -> bool:
        return self.response_status is not None

    @classmethod
    def of(cls, row: IdempotencyRecord) -> StoredRequest:
        return cls(row.caller, row.key, bytes(row.fingerprint), row.method, row.path,
                   [int(i) for i in row.outbox_ids or []], row.response_status, row.response_body,
                   utc_aware(row.created_at), utc_aware(row.expires_at))


class IdempotencyKeys:
    """The keys remembered in the database: look one up, start a claim, store a response, purge."""

    def __init__(self, sessions: sessionmaker[Session], hours: float,
                 purge_every_seconds: float = PURGE_EVERY_SECONDS) -> None:
        self.sessions = sessions
        self.lifetime = timedelta(hours=hours)
        self.purge_every_seconds = purge_every_seconds
        self._last_purge = float("-inf")
        self._purge_lock = threading.Lock()

    def find(self, caller: str, key: str) -> StoredRequest | None:
        """The unexpired request `caller` sent with `key`, if any (expired rows are purged now and then)."""
        self.purge_now_and_then()
        with self.sessions() as session:
            row = session.get(IdempotencyRecord, (caller, key))
            if row is None or utc_aware(row.expires_at) <= utc_now():
                return None
            return StoredRequest.of(row)

    def claim(self, caller: str, key: str, method: str, path: str, request_fingerprint: bytes) -> IdempotencyClaim:
        """A claim for a request with `key` (recorded only when the outbox reserves it)."""
        return IdempotencyClaim(caller, check_key(key), request_fingerprint, method.upper(), path,
                                utc_now() + self.lifetime)

    def store_response(self, claim: IdempotencyClaim, status: int, body: str) -> bool:
        """Remember the final answer of a recorded claim; False if the key's row is not this claim's
        (another request's, or gone) or already holds an answer."""
        if not claim.recorded:
            return False
        where = and_(TABLE.c.caller == claim.caller, TABLE.c.key == claim.key)
        with self.sessions.begin() as session:
            connection = session.connection()
            query = select(TABLE.c.fingerprint, TABLE.c.outbox_ids, TABLE.c.response_status).where(where)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).one_or_none()
            if (row is None or row.response_status is not None or bytes(row.fingerprint) != claim.fingerprint
                    or not set(claim.outbox_ids) <= {int(i) for i in row.outbox_ids or []}):
                return False
            connection.execute(update(TABLE).where(where).values(response_status=status, response_body=body))
        return True

    def purge_expired(self) -> int:
        """Delete every expired key; how many."""
        with self.sessions.begin() as session:
            result: Any = session.execute(delete(TABLE).where(TABLE.c.expires_at <= utc_now()))
            return int(result.rowcount or 0)

    def purge_now_and_then(self) -> None:
        """`purge_expired`, at most every `purge_every_seconds` per process; a failure is only logged."""
        with self._purge_lock:
            if time.monotonic() - self._last_purge < self.purge_every_seconds:
                return
            self._last_purge = time.monotonic()
        try:
            purged = self.purge_expired()
        except Exception as exc:  # the request itself goes on (or meets the same database error)
            log.warning("purging expired idempotency keys failed: %s", type(exc).__name__)
            return
        if purged:
            log.info("purged %d expired idempotency keys", purged)

"""API keys: scoped to one member, stored only as SHA-256 hashes, with expiry, rotation and revocation.

A token reads `clk_<key id>_<secret>`; the key id finds the row, the secret's hash must
match it (compared in constant time). Every issue, rotation and revocation is recorded in the
keys' audit log (`api_key_events`) in the same transaction, with who did it.

Keys found valid are remembered, so a request does not read its key's row again: a key revoked or
rotated here is dropped at once, and expiry is checked on every use. Where other processes may change
keys (`shared`, a database several service processes serve), every use first reads the audit log's last
event id, one indexed value, and any new event empties the cache: a key revoked anywhere is refused on
the next request. Concurrent requests share that read (each joins the next one that starts after it came).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.coalesce import Coalescer
from ledger_core.db.models.identity import ApiKey, ApiKeyEvent
from ledger_core.db.models.types import utc_aware, utc_now
from ledger_core.db.session import autocommit_engine

PREFIX = "clk"
_LAST_EVENT = select(func.max(ApiKeyEvent.id))  # built once: every authenticated request on a shared database


class ApiKeyInvalid(PermissionError):
    """Unknown, malformed, expired or revoked key; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    token: str  # shown once
    member: str
    expires_at: datetime


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    member: str
    label: str
    issued_by: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    replaced_by: str | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyInfo:
        return cls(row.id, row.member, row.label, row.issued_by, row.created_at, row.expires_at, row.revoked_at,
                   row.replaced_by)


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class ApiKeys:
    def __init__(self, sessions: sessionmaker[Session], shared: bool = False) -> None:
        self.sessions = sessions
        self.shared = shared
        # key id -> its secret's hash, its record, and its expiry as a POSIX timestamp (compared on every request)
        self._valid: dict[str, tuple[bytes, KeyInfo, float]] = {}
        self._seen_event: int | None = None  # the audit log's last event id when `_valid` was filled
        self._generation = 0  # moves on with every key dropped: a record read before then is not remembered
        self._lock = threading.Lock()
        # Concurrent requests share one read of the audit log's last event: a caller joins the next read that
        # starts after it arrives, so a key revoked before a request came is still seen by that request.
        self._log_reads: Coalescer[None, int] = Coalescer(self._read_log)
        self._log_engine: Engine = autocommit_engine(sessions) or sessions.kw["bind"]

    def issue(self, member: str, lifetime: timedelta, label: str = "", issued_by: str | None = None,
              secret: str | None = None, key_id: str | None = None, actor: str | None = None) -> IssuedKey:
        """A new key for `member`. `actor`, for the audit log: who issued it when that is not a member
        (`issued_by`), such as a local command on the server."""
        with self.sessions.begin() as session:
            return self._issue(session, member, lifetime, label, issued_by, secret, key_id, actor)

    def _issue(self, session: Session, member: str, lifetime: timedelta, label: str, issued_by: str | None,
               secret: str | None = None, key_id: str | None = None, actor: str | None = None) -> IssuedKey:
        key_id = key_id or secrets.token_hex(8)
        secret = secret or secrets.token_urlsafe(32)
        expires_at = utc_now() + lifetime
        session.add(ApiKey(id=key_id, member=member, secret_hash=_hash(secret), label=label, issued_by=issued_by,
                           expires_at=expires_at))
        _record(session, key_id, member, "issued", actor or issued_by, label)
        return IssuedKey(key_id, f"{PREFIX}_{key_id}_{secret}", member, expires_at)

    def events(self, key_id: str | None = None) -> list[KeyEvent]:
        """The audit log of API keys (of one key if given), oldest first."""
        with self.sessions() as session:
            query = select(ApiKeyEvent).order_by(ApiKeyEvent.id)
            if key_id is not None:
                query = query.where(ApiKeyEvent.key_id == key_id)
            return [KeyEvent(r.at, r.key_id, r.member, r.action, r.actor, r.note) for r in session.scalars(query)]

    def cached(self, token: str) -> KeyInfo | None:
        """The key's record when this process alone changes keys and holds it valid in memory (no database
        read, so callers may skip the thread pool); None means ask `authenticate`."""
        if self.shared:
            return None  # another process may have revoked it: the audit log is read first
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        known = self._valid.get(parts[1])
        if known is None or not hmac.compare_digest(known[0], _hash(parts[2])) or known[2] <= time.time():
            return None
        return known[1]

    def authenticate(self, token: str) -> KeyInfo:
        """The key's record if the token is valid now; raises ApiKeyInvalid otherwise."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise ApiKeyInvalid("malformed API key")
        key_id, secret_hash = parts[1], _hash(parts[2])
        if self.shared:
            self._note_log(self._log_reads.run((None,))[0])
        with self._lock:
            generation = self._generation
            known = self._valid.get(key_id)
        if known is not None and hmac.compare_digest(known[0], secret_hash):
            if known[2] > time.time():
                return known[1]
            self.forget(key_id)
        with self.sessions() as session:
            row = session.get(ApiKey, key_id)
            if row is None or not hmac.compare_digest(row.secret_hash, secret_hash):
                raise ApiKeyInvalid("unknown API key")
            if row.revoked_at is not None:
                raise ApiKeyInvalid("API key revoked")
            if utc_aware(row.expires_at) <= utc_now():
                raise ApiKeyInvalid("API key expired")
            info = KeyInfo.of(row)
        with self._lock:
            if generation == self._generation:  # no key was dropped while the row was read
                self._valid[key_id] = (secret_hash, info, utc_aware(info.expires_at).timestamp())
        return info

    def _note_log(self, last_event: int) -> None:
        """Drop every remembered key when the audit log moved on since they were remembered (a key may have been
        revoked or rotated by another process)."""
        with self._lock:
            if last_event != self._seen_event:
                self._valid.clear()
                self._seen_event = last_event
                self._generation += 1

    def _read_log(self, callers: list[None]) -> list[int]:
        """The audit log's last event id, one read for every caller waiting (`_log_reads`), outside a transaction
        on PostgreSQL (`autocommit_engine`: two round trips fewer per request), on a connection of the pool
        rather than a session (a session and its statement built for each read were half a millisecond)."""
        with self._log_engine.connect() as connection:
            return [int(connection.scalar(_LAST_EVENT) or 0)] * len(callers)

    def forget(self, key_id: str | None = None) -> None:
        """Drop a remembered key (every key with no id): its next use reads its row."""
        with self._lock:
            self._generation += 1
            if key_id is None:
                self._valid.clear()
            else:
                self._valid.pop(key_id, None)

    def get(self, key_id: str) -> KeyInfo | None:
        with self.sessions() as session:
            row = session.get(ApiKey, key_id)
            return None if row is None else KeyInfo.of(row)

    def list(self, member: str | None, offset: int, limit: int) -> list[KeyInfo]:
        with self.sessions() as session:
            query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id).offset(offset).limit(limit)
            if member is not None:
                query = query.where(ApiKey.member == member)
            return [KeyInfo.of(r) for r in session.scalars(query)]

    def members_with_live_keys(self, besides: str | None = None) -> set[str]:
        """Members holding a key that is neither revoked nor expired (other than the key `besides`)."""
        with self.sessions() as session:
            rows = session.execute(select(ApiKey.id, ApiKey.member, ApiKey.expires_at)
                                   .where(ApiKey.revoked_at.is_(None))).all()
        now = utc_now()
        return {member for key_id, member, expires in rows if key_id != besides and utc_aware(expires) > now}

    def revoke(self, key_id: str, revoked_by: str | None = None) -> KeyInfo | None:
        try:
            with self.sessions.begin() as session:
                row = session.get(ApiKey, key_id)
                if row is None:
                    return None
                if row.revoked_at is None:
                    row.revoked_at = utc_now()
                    _record(session, key_id, row.member, "revoked", revoked_by)
                return KeyInfo.of(row)
        finally:  # once committed: a request that read the row before does not remember it either
            self.forget(key_id)

    def rotate(self, key_id: str, lifetime: timedelta, issued_by: str | None) -> IssuedKey | None:
        """Revoke a key and issue its successor for the same member, in one transaction."""
        try:
            with self.sessions.begin() as session:
                row = session.get(ApiKey, key_id)
                if row is None:
                    return None
                issued = self._issue(session, row.member, lifetime, row.label, issued_by)
                row.revoked_at = row.revoked_at or utc_now()
                row.replaced_by = issued.key_id
                _record(session, key_id, row.member, "rotated", issued_by, f"replaced by {issued.key_id}")
                return issued
        finally:  # once committed, as in `revoke`
            self.forget(key_id)


@dataclass(frozen=True)
class KeyEvent:
    at: datetime
    key_id: str
    member: str
    action: str  # issued, rotated, revoked
    actor: str
    note: str


def _record(session: Session, key_id: str, member: str, action: str, actor: str | None, note: str = "") -> None:
    session.add(ApiKeyEvent(key_id=key_id, member=member, action=action, actor=(actor or "unknown")[:160],
                            note=note[:255]))

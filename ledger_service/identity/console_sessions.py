"""Web console sessions and Sign-In with Ethereum challenges, kept in the database.

A session is a random token in an HttpOnly cookie; the table keeps only its SHA-256 (and the SHA-256 of the
session's CSRF token), so neither a database read nor a log line gives a usable session. A challenge nonce is
issued for one address, expires, and is consumed at most once (a status-checked update), so a signed message
cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.models.identity import ConsoleChallenge, ConsoleSession
from ledger_core.db.models.types import utc_aware, utc_now

SESSION_LIFETIME = timedelta(hours=8)  # a working day; signing in again is cheap
CHALLENGE_LIFETIME = timedelta(minutes=5)  # long enough to read the message in a wallet, short for a replay


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class OpenedSession:
    token: str  # for the cookie only
    csrf: str  # for the session's forms only
    member: str


@dataclass(frozen=True)
class SessionInfo:
    member: str
    via: str
    key_id: str | None
    language: str
    expires_at: datetime
    csrf_hash: bytes

    def csrf_ok(self, presented: str) -> bool:
        return hmac.compare_digest(self.csrf_hash, _hash(presented))


@dataclass(frozen=True)
class Challenge:
    nonce: str
    address: str
    issued_at: datetime
    expires_at: datetime


class ChallengeRefused(PermissionError):
    """The nonce is unknown, for another address, expired or already used; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConsoleSessions:
    def __init__(self, sessions: sessionmaker[Session], lifetime: timedelta = SESSION_LIFETIME) -> None:
        self.sessions = sessions
        self.lifetime = lifetime

    def open(self, member: str, via: str, key_id: str | None, language: str) -> OpenedSession:
        """A new session for `member` (expired ones are cleared on the way)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utc_now()
        with self.sessions.begin() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
            session.add(ConsoleSession(token_hash=_hash(token), member=member, via=via, key_id=key_id,
                                       csrf_hash=_hash(csrf), language=language, created_at=now,
                                       expires_at=now + self.lifetime))
        return OpenedSession(token, csrf, member)

    def find(self, token: str) -> SessionInfo | None:
        """The live session the cookie's token names; None if unknown or expired."""
        with self.sessions() as session:
            row = session.get(ConsoleSession, _hash(token))
            if row is None or utc_aware(row.expires_at) <= utc_now():
                return None
            return SessionInfo(row.member, row.via, row.key_id, row.language, utc_aware(row.expires_at), row.csrf_hash)

    def set_language(self, token: str, language: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(ConsoleSession).where(ConsoleSession.token_hash == _hash(token))
                            .values(language=language))

    def close(self, token: str) -> None:
        """Sign out: the session's row is gone, so the cookie opens nothing even if it was copied."""
        with self.sessions.begin() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))

    # ------------------------------------------------------------------ Sign-In with Ethereum nonces

    def challenge(self, address: str, lifetime: timedelta = CHALLENGE_LIFETIME) -> Challenge:
        now = utc_now().replace(microsecond=0)  # the message carries whole seconds
        nonce = secrets.token_hex(16)
        with self.sessions.begin() as session:
            session.execute(delete(ConsoleChallenge).where(ConsoleChallenge.expires_at <= now))
            session.add(ConsoleChallenge(nonce=nonce, address=address, issued_at=now, expires_at=now + lifetime))
        return Challenge(nonce, address, now, now + lifetime)

    def find_challenge(self, nonce: str) -> Challenge:
        """The challenge if it is still open (unused, unexpired); raises ChallengeRefused otherwise."""
        with self.sessions() as session:
            row = session.get(ConsoleChallenge, nonce)
            if row is None:
                raise ChallengeRefused("unknown nonce")
            if row.used_at is not None:
                raise ChallengeRefused("nonce already used")
            if utc_aware(row.expires_at) <= utc_now():
                raise ChallengeRefused("nonce expired")
            return Challenge(row.nonce, row.address, utc_aware(row.issued_at), utc_aware(row.expires_at))

    def consume(self, nonce: str) -> None:
        """Mark the nonce used, once: a second consumer (a replay racing the first) is refused."""
        now = utc_now()
        with self.sessions.begin() as session:
            done = session.execute(update(ConsoleChallenge).where(
                ConsoleChallenge.nonce == nonce, ConsoleChallenge.used_at.is_(None),
                ConsoleChallenge.expires_at > now).values(used_at=now))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise ChallengeRefused("nonce already used or expired")

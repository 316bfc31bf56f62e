"""PACT state in the database, so that every service process on it serves the same clients: access tokens (kept
as SHA-256 hashes with their client and expiry; a token issued by one process is accepted by another) and the
events received (`pact_events`, once per client, source and id), with the answer sent to a footprint request.

The in-memory `TokenStore` and `MemoryEventLog` remain for a PACT host without a database (tests, tools)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.models import PactEventRecord, PactToken
from ledger_core.db.models.types import utc_now
from ledger_service.footprints.pact_auth import TOKEN_LIFETIME, IssuedToken, TokenExpired, TokenInvalid, token_hash
from ledger_service.footprints.pact_exchange import EVENT_DATA, CloudEvent, ReceivedEvent

MAX_CLIENT_TOKENS = 100  # live tokens of one client; beyond it its oldest are dropped (it then asks again)


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SqlTokenStore:
    """Opaque bearer tokens by SHA-256 hash in `pact_tokens`, with their client and expiry."""

    def __init__(self, sessions: sessionmaker[Session], lifetime: timedelta = TOKEN_LIFETIME,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.sessions = sessions
        self.lifetime = lifetime
        self.clock = clock

    def issue(self, client: str) -> IssuedToken:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.sessions.begin() as session:
            # Expired tokens are kept for one more lifetime, so their use is answered TokenExpired, not unknown.
            session.execute(delete(PactToken).where(PactToken.expires_at <= now - self.lifetime))
            session.add(PactToken(token_hash=token_hash(token), client=client, issued_at=now,
                                  expires_at=now + self.lifetime))
            session.flush()
            live = session.scalar(select(func.count()).select_from(PactToken).where(PactToken.client == client))
            if live and live > MAX_CLIENT_TOKENS:
                oldest = select(PactToken.id).where(PactToken.client == client).order_by(PactToken.id) \
                    .limit(live - MAX_CLIENT_TOKENS).scalar_subquery()
                session.execute(delete(PactToken).where(PactToken.id.in_(oldest)))
        return IssuedToken(token, client, int(self.lifetime.total_seconds()))

    def client(self, token: str) -> str:
        """The token's client; raises TokenInvalid or TokenExpired."""
        with self.sessions() as session:
            found = session.execute(select(PactToken.client, PactToken.expires_at)
                                    .where(PactToken.token_hash == token_hash(token))).first()
        if found is None:
            raise TokenInvalid("unknown access token")
        client, expires = found
        if _aware(expires) <= self.clock():
            raise TokenExpired("the access token has expired")
        return str(client)


def _received(row: PactEventRecord) -> ReceivedEvent:
    event = CloudEvent.model_validate(row.content)
    return ReceivedEvent(row.client, event, EVENT_DATA[event.type].model_validate(event.data),
                         _aware(row.received_at))


class SqlEventLog:
    """Received events in `pact_events`; an event sent again (same client, source and id) is kept once."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def record(self, received: ReceivedEvent) -> bool:
        """Keep the event; False if it was kept already."""
        event = received.event
        try:
            with self.sessions.begin() as session:
                session.add(PactEventRecord(client=received.client, source=event.source[:512],
                                            event_id=event.id[:255], type=event.type[:128],
                                            received_at=received.received_at,
                                            content=event.model_dump(mode="json")))
        except IntegrityError:
            return False
        return True

    def of_type(self, kind: str) -> list[ReceivedEvent]:
        with self.sessions() as session:
            rows = session.scalars(select(PactEventRecord).where(PactEventRecord.type == kind)
                                   .order_by(PactEventRecord.id)).all()
            return [_received(r) for r in rows]

    @property
    def events(self) -> list[ReceivedEvent]:
        with self.sessions() as session:
            return [_received(r) for r in session.scalars(select(PactEventRecord).order_by(PactEventRecord.id))]

    def answered(self, received: ReceivedEvent, answer_type: str | None, problem: str | None = None) -> None:
        """Note the answer sent to a footprint request (its type), or why none could be sent."""
        with self.sessions.begin() as session:
            session.execute(update(PactEventRecord).where(
                PactEventRecord.client == received.client, PactEventRecord.source == received.event.source[:512],
                PactEventRecord.event_id == received.event.id[:255]).values(
                answer_type=answer_type, answered_at=utc_now(), answer_problem=problem[:512] if problem else None))

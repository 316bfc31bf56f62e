"""Engines and sessions: SQLite by default (WAL, tuned pragmas), PostgreSQL by URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.config import get_settings
from ledger_core.private_files import protect_sqlite_file

# Applied to every SQLite connection. WAL lets readers (proof serving) run beside the
# writer; NORMAL sync is durable across application crashes in WAL mode.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-131072",  # 128 MiB page cache
    "PRAGMA mmap_size=268435456",
)


# Connections a service process keeps open to PostgreSQL, and how many more it may open under load: a
# server serving N processes needs max_connections of at least N * (size + overflow) plus its own.
POSTGRES_POOL_SIZE = 16
POSTGRES_POOL_OVERFLOW = 16


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


class _NoResultRows(logging.Filter):
    """SQLAlchemy's DEBUG log of result rows would carry raw signed transactions, sealed keys and documents (its
    statement parameters are hidden by `hide_parameters`): such records are dropped, whatever the log level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in ("Row %r", "Col %r")


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoResultRows())


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (default: the configured database); a SQLite file is created owner-only (0600, in a
    0700 directory if it makes one). Statement parameters never reach logs or error messages (they carry raw
    signed transactions, sealed keys and documents)."""
    url = url or get_settings().resolved_database_url()
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        protect_sqlite_file(url)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    # A request thread (up to 40 at once), the pump and the indexer each hold a connection while they work: past
    # the pool's size, connections are opened and closed again per use, and each new PostgreSQL backend costs
    # the server a process and its catalog caches (SQLAlchemy's default 5 + 10 opened ~9 a second under load).
    kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
    kwargs.setdefault("max_overflow", POSTGRES_POOL_OVERFLOW)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def autocommit_engine(sessions: sessionmaker[Session]) -> Engine | None:
    """The sessions' engine with autocommit connections (the same pool), on PostgreSQL; None elsewhere. For
    reads: at the server's READ COMMITTED each statement reads what was committed before it either way, and a
    transaction's BEGIN and ROLLBACK are two more round trips. SQLite keeps its transaction, its snapshot."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
        return None
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or dropped the connection (an outage that a
    retry may get past), rather than a bug or a refused statement."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)

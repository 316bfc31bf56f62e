"""Locks that hold across service processes sharing one database.

On PostgreSQL they are advisory locks: a transaction lock (`pg_advisory_xact_lock`) serialises
what must not interleave inside one transaction (handing out a signer's nonces), and a session
lock held on a connection of its own makes one process at a time play a role (the outbox pump,
the indexer); the server releases it the moment the holder's connection dies, so another process
takes the role over at its next try. A SQLite file serves one process only (`SingleProcess`
refuses a second), so there the same calls are locks between the threads of this process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for `name` (stable across processes and Python versions)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class DatabaseLocks:
    """Cross-process locks on PostgreSQL, thread locks on SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.shared = engine.dialect.name == "postgresql"
        self._guard = threading.Lock()
        self._local: dict[str, threading.Lock] = {}

    def _thread_lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._local.setdefault(name, threading.Lock())

    def in_transaction(self, connection: Connection, *names: str) -> None:
        """Hold `names` until `connection`'s transaction ends (PostgreSQL; SQLite's writer lock serves). Several
        are taken in one statement, in the order of their keys, so two transactions taking overlapping sets
        cannot each hold what the other waits for (PostgreSQL evaluates a volatile function of the select list
        after the ORDER BY)."""
        if not self.shared or not names:
            return
        keys = sorted({lock_key(name) for name in names})
        if len(keys) == 1:
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": keys[0]})
        else:
            connection.execute(text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS t(k) "
                                    "ORDER BY k"), {"keys": keys})

    @contextmanager
    def role(self, name: str, wait: bool = False) -> Iterator[bool]:
        """Try to play the role `name` (one process at a time); yields whether this process got it.
        With `wait`, blocks until it does."""
        local = self._thread_lock(name)
        if not local.acquire(blocking=wait):
            yield False
            return
        try:
            if not self.shared:
                yield True
                return
            with self.engine.connect() as conn:
                key = lock_key(name)
                query = "SELECT pg_advisory_lock(:k)" if wait else "SELECT pg_try_advisory_lock(:k)"
                got = conn.execute(text(query), {"k": key}).scalar()
                conn.commit()
                if got is False:
                    yield False
                    return
                try:
                    yield True
                finally:
                    try:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
                    except Exception:  # the connection died, and with it the lock
                        conn.invalidate()
        finally:
            local.release()


class DatabaseInUse(RuntimeError):
    """Another service process already serves this SQLite database."""


class SingleProcess:
    """An exclusive lock on `<database>.lock` beside a SQLite file, held while this process serves it:
    two processes on one SQLite file could not share nonces or the outbox safely."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.path: Path | None = None
        self._file: IO[str] | None = None
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            self.path = Path(parsed.database + ".lock")

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise DatabaseInUse(
                f"the SQLite database {self.path.with_suffix('')} is already served by {holder}; a SQLite file "
                "serves one process only. Stop it, or use PostgreSQL (CARBONLEDGER_DATABASE_URL) to run several "
                "service processes on one database."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

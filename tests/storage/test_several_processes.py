"""Several service processes on one database: PostgreSQL shares nonces and roles between them safely; a SQLite
file serves one process and refuses a second."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from ledger_core.chain.compiler import Artifact
from ledger_core.chain.outbox import Intent, Outbox
from ledger_core.db.locks import DatabaseInUse, DatabaseLocks, SingleProcess
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_core.db.session import make_engine, session_factory
from ledger_service.runtime import Runtime
from tests.service.conftest import service_settings
from tests.storage.conftest import fresh_database
from tests.storage.postgres import ThrowawayPostgres


@pytest.fixture
def postgres_url(postgres: ThrowawayPostgres, tmp_path: Path) -> str:
    return fresh_database(postgres, f"p_{abs(hash(str(tmp_path))) % 10**9}")


def second_process(runtime: Runtime) -> Outbox:
    """Another service process's outbox: its own connections to the same database, nothing shared in memory."""
    engine = make_engine(runtime.settings.database_url)
    return Outbox(runtime.chain, session_factory(engine), runtime.encoder, runtime.deployment.addresses,
                  runtime.decoder, runtime.keystore.account)


def test_two_processes_on_postgresql_hand_out_one_signers_nonces_without_a_clash(
    postgres_url: str, artifacts: dict[str, Artifact], tmp_path: Path
):
    """Reported: two processes on one PostgreSQL database answered 267 of 600 requests with 500 (unique-key
    violations in the outbox) and sent 23 transfers twice."""
    runtime = Runtime.start(service_settings(tmp_path, database_url=postgres_url), artifacts=artifacts)
    try:
        regulator = runtime.bootstrap_regulator
        assert regulator is not None
        first = runtime.chain.pending_nonce(regulator)
        outboxes = [runtime.outbox, second_process(runtime)]
        errors: list[BaseException] = []

        def register(outbox: Outbox, org_ids: list[int]) -> None:
            for org_id in org_ids:
                try:
                    outbox.submit([Intent("Membership", "registerOrganisation", (org_id, 0, 1, f"Park {org_id}"),
                                          regulator)])
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=register, args=(outboxes[i % 2], list(range(200 + i, 224, 4))))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        # The embedded chain refuses a nonce that arrives before its predecessor (a node queues it): one
        # process's transaction may reach it ahead of the other's; the pump re-sends it.
        runtime.outbox.recover()
        with runtime.sessions() as session:
            rows = list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.signer == regulator)
                                        .order_by(OutboxTransaction.nonce)))
        assert [(r.status, r.nonce) for r in rows] == [("mined", first + i) for i in range(24)]
        assert runtime.chain.pending_nonce(regulator) == first + 24
        assert all(runtime.directory.organisation(org_id) is not None for org_id in range(200, 224))
    finally:
        runtime.close()


def test_one_process_at_a_time_plays_a_role_and_another_takes_it_over_when_the_holder_dies(postgres_url: str):
    first, second = make_engine(postgres_url), make_engine(postgres_url)
    try:
        with DatabaseLocks(first).role("outbox-pump") as held:
            assert held
            with DatabaseLocks(second).role("outbox-pump") as also:
                assert not also
            # the holder dies: its connection goes, and with it the lock (only this database's holders: other
            # tests share the server). Termination is a signal; the timeout waits until the backend has exited.
            with second.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' "
                                  "AND pid <> pg_backend_pid() AND database = "
                                  "(SELECT oid FROM pg_database WHERE datname = current_database())"))
            with DatabaseLocks(second).role("outbox-pump") as taken:
                assert taken
        with DatabaseLocks(second).role("outbox-pump") as free_again:
            assert free_again
    finally:
        first.dispose()
        second.dispose()


def test_locks_taken_together_hold_each_one_and_overlapping_sets_taken_in_any_order_do_not_deadlock(
        postgres_url: str):
    # A group's signers' nonce locks are taken in one statement: another process waits for any one of them,
    # and two processes taking overlapping sets, named in opposite orders, take turns rather than deadlock.
    first, second = make_engine(postgres_url), make_engine(postgres_url)
    try:
        with first.begin() as holder:
            DatabaseLocks(first).in_transaction(holder, "nonce:a", "nonce:b", "nonce:c")
            with second.connect() as other:
                other.execute(text("SET lock_timeout = '100ms'"))
                with pytest.raises(OperationalError, match="lock timeout"):
                    DatabaseLocks(second).in_transaction(other, "nonce:b")
                other.rollback()
        with second.begin() as other:  # free once the holder's transaction ended
            DatabaseLocks(second).in_transaction(other, "nonce:b")

        errors: list[BaseException] = []

        def take_turns(engine: Engine, names: list[str]) -> None:
            for _ in range(60):
                try:
                    with engine.begin() as conn:
                        DatabaseLocks(engine).in_transaction(conn, *names)
                        conn.execute(text("SELECT pg_sleep(0.001)"))
                except Exception as exc:  # a deadlock would be reported here
                    errors.append(exc)

        threads = [threading.Thread(target=take_turns, args=(first, ["nonce:x", "nonce:y", "nonce:z"])),
                   threading.Thread(target=take_turns, args=(second, ["nonce:z", "nonce:y", "nonce:x"]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
    finally:
        first.dispose()
        second.dispose()


def test_a_second_process_on_one_sqlite_file_is_refused_with_the_reason(tmp_path: Path,
                                                                       artifacts: dict[str, Artifact]):
    settings = service_settings(tmp_path)
    runtime = Runtime.start(settings, artifacts=artifacts)
    try:
        with pytest.raises(DatabaseInUse, match=r"serves one process only.*PostgreSQL"):
            Runtime.start(settings, artifacts=artifacts)
    finally:
        runtime.close()
    again = Runtime.start(settings, artifacts=artifacts)  # free once the first one stopped
    again.close()


def test_the_file_lock_is_taken_for_a_sqlite_file_only(tmp_path: Path):
    for url in ("postgresql+psycopg://u@localhost/db", "sqlite://", "sqlite:///:memory:"):
        assert SingleProcess(url).path is None
    file_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert SingleProcess(file_url).path == tmp_path / "ledger.db.lock"
    held = SingleProcess(file_url)
    held.acquire()
    with pytest.raises(DatabaseInUse):
        SingleProcess(file_url).acquire()
    held.release()
    SingleProcess(file_url).acquire()  # free again once released

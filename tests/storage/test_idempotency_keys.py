"""Idempotency keys on SQLite and PostgreSQL: a claim is recorded with the outbox's transaction or not at all,
one request holds a key, and a rolled-back write leaves the key free."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models.outbox import IdempotencyRecord
from ledger_core.db.models.types import utc_now
from ledger_core.db.session import make_engine, session_factory
from ledger_service.identity.idempotency import ClaimState, IdempotencyKeys, InvalidKey, check_key, fingerprint

CALLER = "0x" + "aa" * 20
PATH = "/api/v1/allowances/transfers?wait=true"


Store = tuple[Engine, sessionmaker[Session], IdempotencyKeys]


class Rollback(Exception):
    pass


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    yield engine, sessions, IdempotencyKeys(sessions, 24)
    engine.dispose()


def request_fingerprint(body: bytes = b'{"amount": 5}') -> bytes:
    return fingerprint("POST", PATH, body)


def test_a_claim_is_recorded_with_the_transaction_that_writes_its_rows(store: Store):
    _, sessions, keys = store
    claim = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    with sessions.begin() as session:
        assert claim.reserve(session.connection())
        assert claim.reserve(session.connection())  # asked again in the same transaction
        claim.attach(session.connection(), [7, 8])
        assert claim.state == ClaimState.RESERVED and not claim.recorded
    assert claim.recorded and claim.outbox_ids == [7, 8]
    found = keys.find(CALLER, "k1")
    assert found is not None
    assert (found.outbox_ids, found.response_status, found.fingerprint) == ([7, 8], None, request_fingerprint())
    assert found.path == PATH and found.method == "POST"
    assert timedelta(hours=23) < found.expires_at - utc_now() <= timedelta(hours=24)


def test_a_rolled_back_write_leaves_the_key_free_and_the_claim_unrecorded(store: Store):
    _, sessions, keys = store
    claim = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    with pytest.raises(Rollback), sessions.begin() as session:
        assert claim.reserve(session.connection())
        claim.attach(session.connection(), [7])
        raise Rollback
    assert claim.state == ClaimState.NEW and claim.outbox_ids == []
    assert keys.find(CALLER, "k1") is None
    assert not keys.store_response(claim, 200, "{}")
    other = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    with sessions.begin() as session:
        assert other.reserve(session.connection())
    with sessions.begin() as session:  # the first request's retried write now meets another's key
        assert not claim.reserve(session.connection())
    assert not claim.recorded


def test_a_request_that_sends_twice_holds_its_key_in_both_writes(store: Store):
    _, sessions, keys = store
    claim = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    for ids in ([1], [2, 3]):
        with sessions.begin() as session:
            assert claim.reserve(session.connection())
            claim.attach(session.connection(), ids)
    assert claim.outbox_ids == [1, 2, 3]
    assert keys.find(CALLER, "k1").outbox_ids == [1, 2, 3]  # type: ignore[union-attr]
    with pytest.raises(Rollback), sessions.begin() as session:  # a third write that fails
        assert claim.reserve(session.connection())
        claim.attach(session.connection(), [4])
        raise Rollback
    assert claim.recorded and claim.outbox_ids == [1, 2, 3]


def test_another_request_with_the_key_waits_for_the_first_and_does_not_get_it(store: Store):
    _, sessions, keys = store
    first = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    second = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    outcome: list[bool] = []
    with sessions.begin() as session:
        assert first.reserve(session.connection())
        first.attach(session.connection(), [1])

        def duplicate() -> None:
            with sessions.begin() as other:
                outcome.append(second.reserve(other.connection()))

        racer = threading.Thread(target=duplicate)
        racer.start()
        racer.join(0.3)
        assert racer.is_alive()  # blocked by the first's uncommitted claim
    racer.join(30)
    assert outcome == [False]
    assert first.recorded and second.state == ClaimState.NEW
    assert not keys.store_response(second, 200, "{}")


def test_the_final_answer_is_stored_once_and_only_for_the_recorded_claim(store: Store):
    _, sessions, keys = store
    claim = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    assert not keys.store_response(claim, 200, "{}")  # nothing recorded
    with sessions.begin() as session:
        claim.reserve(session.connection())
        claim.attach(session.connection(), [1])
    assert keys.store_response(claim, 409, '{"error": "X"}')
    assert not keys.store_response(claim, 200, "{}")
    found = keys.find(CALLER, "k1")
    assert found is not None and (found.response_status, found.response_body) == (409, '{"error": "X"}')


def test_keys_are_per_caller_and_expired_ones_are_taken_over(store: Store):
    _, sessions, keys = store
    mine = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint())
    theirs = keys.claim("0x" + "bb" * 20, "k1", "POST", PATH, request_fingerprint(b"other"))
    with sessions.begin() as session:
        assert mine.reserve(session.connection()) and theirs.reserve(session.connection())
    with sessions.begin() as session:
        session.execute(update(IdempotencyRecord).where(IdempotencyRecord.caller == CALLER)
                        .values(expires_at=utc_now() - timedelta(seconds=1)))
    assert keys.find(CALLER, "k1") is None
    later = keys.claim(CALLER, "k1", "POST", PATH, request_fingerprint(b"new"))
    with sessions.begin() as session:
        assert later.reserve(session.connection())
    assert keys.find(CALLER, "k1").fingerprint == request_fingerprint(b"new")  # type: ignore[union-attr]
    assert keys.purge_expired() == 0
    with sessions.begin() as session:
        session.execute(update(IdempotencyRecord).values(expires_at=utc_now() - timedelta(seconds=1)))
    assert keys.purge_expired() == 2


def test_a_key_is_1_to_255_printable_ascii_characters():
    assert check_key("a") == "a" and check_key("~ " * 127 + "x") == "~ " * 127 + "x"
    for bad in ("", "x" * 256, "caf\u00e9", "new\nline", "\x7f"):
        with pytest.raises(InvalidKey):
            check_key(bad)


def test_the_fingerprint_covers_method_path_and_body_without_ambiguity():
    base = fingerprint("POST", "/a", b"b")
    assert len(base) == 32
    assert base == fingerprint("post", "/a", b"b")
    assert len({base, fingerprint("PUT", "/a", b"b"), fingerprint("POST", "/a?x=1", b"b"),
                fingerprint("POST", "/a", b"c"), fingerprint("POST", "/ab", b""), fingerprint("POST", "/", b"ab")}) == 6

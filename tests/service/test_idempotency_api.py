"""Idempotency keys: a request sent again with the same `Idempotency-Key` is answered, never carried out twice;
outages of the database answer 503 with Retry-After, never 500."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ledger_core.db.models.outbox import IdempotencyRecord, OutboxTransaction
from ledger_core.db.models.types import utc_now
from ledger_service.api import errors
from ledger_service.api.app import RequestMemory, create_app
from ledger_service.identity.idempotency import IdempotencyKeys
from ledger_service.identity.signed_requests import sign_request
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import V1, allocate, balance, sanction
from tests.service.metering import clear_meter_data
from tests.service.test_transactions_api import signed_call

TRANSFER = f"{V1}/allowances/transfers"


@pytest.fixture
def held(client: TestClient, cast: Cast) -> None:
    allocate(client, cast, {"enterprise_a": 100, "enterprise_b": 100})


def new_key() -> str:
    return str(uuid.uuid4())


def keyed(cast: Cast, name: str, key: str) -> dict[str, str]:
    return {**cast.auth(name), "Idempotency-Key": key}


def send_transfer(client: TestClient, cast: Cast, key: str, amount: int = 5, sender: str = "enterprise_a",
                  to: str = "trader", **params: Any) -> httpx.Response:
    return client.post(TRANSFER, headers=keyed(cast, sender, key), params=params,
                       json={"to": cast.addresses[to], "year": YEAR, "amount": amount})


def requested_by(runtime: Runtime, cast: Cast, name: str) -> list[OutboxTransaction]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxTransaction).where(
            OutboxTransaction.requested_by == cast.addresses[name]).order_by(OutboxTransaction.id)))


def stored(runtime: Runtime, cast: Cast, name: str, key: str) -> IdempotencyRecord | None:
    with runtime.sessions() as session:
        return session.get(IdempotencyRecord, (cast.addresses[name], key))


def replayed(reply: httpx.Response) -> bool:
    return reply.headers.get("Idempotent-Replayed") == "true"


# ------------------------------------------------------------------ the same request again


def test_the_same_key_twice_sends_one_transfer_and_answers_the_first_answer_again(
        client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    first = send_transfer(client, cast, key)
    assert first.status_code == 200, first.text
    assert not replayed(first)
    again = send_transfer(client, cast, key)
    assert again.status_code == 200
    assert replayed(again)
    assert again.content == first.content  # the stored answer, byte for byte
    assert len(requested_by(runtime, cast, "enterprise_a")) == 1
    assert (balance(client, cast, "enterprise_a"), balance(client, cast, "trader")) == (95, 5)
    record = stored(runtime, cast, "enterprise_a", key)
    assert record is not None
    assert (record.outbox_ids, record.response_status, record.method) == ([first.json()["id"]], 200, "POST")
    assert record.path == TRANSFER
    assert len(record.fingerprint) == 32


def test_the_same_key_with_another_body_path_or_query_is_refused_and_sends_nothing(
        client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    assert send_transfer(client, cast, key, amount=5).status_code == 200
    other_body = send_transfer(client, cast, key, amount=6)
    assert other_body.status_code == 422
    assert other_body.json()["error"] == "IdempotencyKeyReused"
    assert not replayed(other_body)
    other_query = send_transfer(client, cast, key, amount=5, wait=False)
    assert other_query.json()["error"] == "IdempotencyKeyReused"
    other_path = client.post(f"{V1}/allowances/surrenders", headers=keyed(cast, "enterprise_a", key),
                             json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 1}]})
    assert other_path.status_code == 422 and other_path.json()["error"] == "IdempotencyKeyReused"
    assert len(requested_by(runtime, cast, "enterprise_a")) == 1
    assert balance(client, cast, "trader") == 5
    assert stored(runtime, cast, "enterprise_a", key).response_status == 200  # type: ignore[union-attr]


def test_keys_belong_to_their_caller_so_two_members_may_use_the_same_one(
        client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    a = send_transfer(client, cast, key, amount=3, sender="enterprise_a")
    b = send_transfer(client, cast, key, amount=4, sender="enterprise_b")  # another body, another caller
    assert (a.status_code, b.status_code) == (200, 200)
    assert not replayed(b) and a.json()["id"] != b.json()["id"]
    assert balance(client, cast, "trader") == 7
    assert send_transfer(client, cast, key, amount=4, sender="enterprise_b").json() == b.json()
    assert balance(client, cast, "trader") == 7


def test_without_a_key_a_repeated_request_is_sent_again(client: TestClient, cast: Cast, held: None):
    for _ in range(2):
        reply = client.post(TRANSFER, headers=cast.auth("enterprise_a"),
                            json={"to": cast.addresses["trader"], "year": YEAR, "amount": 5})
        assert reply.status_code == 200 and not replayed(reply)
    assert balance(client, cast, "trader") == 10


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"], ids=["empty", "long", "latin", "tab"])
def test_a_key_must_be_1_to_255_printable_ascii_characters(client: TestClient, cast: Cast, runtime: Runtime,
                                                           held: None, key: str):
    reply = client.post(TRANSFER, headers={**cast.auth("enterprise_a"), "Idempotency-Key": key.encode("latin-1")},
                        json={"to": cast.addresses["trader"], "year": YEAR, "amount": 5})
    assert reply.status_code == 422
    assert reply.json()["error"] == "InvalidIdempotencyKey"
    assert requested_by(runtime, cast, "enterprise_a") == []


def test_the_longest_key_and_spaces_are_accepted(client: TestClient, cast: Cast, held: None):
    for key in ("k" * 255, "order 42 / attempt #1"):
        assert send_transfer(client, cast, key).status_code == 200
        assert replayed(send_transfer(client, cast, key))
    assert balance(client, cast, "trader") == 10


def test_a_get_with_a_key_is_an_ordinary_read(client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    reply = client.get(f"{V1}/transactions", headers=keyed(cast, "enterprise_a", key))
    assert reply.status_code == 200 and not replayed(reply)
    assert stored(runtime, cast, "enterprise_a", key) is None


# ------------------------------------------------------------------ refusals


def test_a_request_refused_before_anything_was_recorded_stores_nothing_and_runs_again(
        client: TestClient, cast: Cast, runtime: Runtime, held: None):
    frozen_key, short_key = new_key(), new_key()
    sanction(client, cast, "enterprise_a", "freeze")
    frozen = send_transfer(client, cast, frozen_key)
    assert frozen.status_code == 403 and frozen.json()["error"] == "AccountFrozen"
    sanction(client, cast, "enterprise_a", "unfreeze")
    beyond = send_transfer(client, cast, short_key, amount=150)  # the service's own balance check, nothing written
    assert beyond.status_code == 409 and beyond.json()["error"] == "ERC1155InsufficientBalance"
    assert stored(runtime, cast, "enterprise_a", frozen_key) is None
    assert stored(runtime, cast, "enterprise_a", short_key) is None
    assert requested_by(runtime, cast, "enterprise_a") == []

    allocate(client, cast, {"enterprise_a": 100})
    for key, amount in ((frozen_key, 5), (short_key, 150)):
        reply = send_transfer(client, cast, key, amount=amount)
        assert reply.status_code == 200 and not replayed(reply), reply.text
    assert balance(client, cast, "trader") == 155


def test_a_request_the_chain_refused_replays_its_refusal_and_sends_nothing_more(
        client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    body = {"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 1}]}  # no obligation: the preflight reverts
    first = client.post(f"{V1}/allowances/surrenders", headers=keyed(cast, "enterprise_a", key), json=body)
    assert first.status_code == 409, first.text
    assert first.json()["status"] == "rejected"
    again = client.post(f"{V1}/allowances/surrenders", headers=keyed(cast, "enterprise_a", key), json=body)
    assert (again.status_code, again.content) == (409, first.content)
    assert replayed(again)
    assert [r.status for r in requested_by(runtime, cast, "enterprise_a")] == ["rejected"]


# ------------------------------------------------------------------ requests that have not finished


def test_a_duplicate_arriving_while_the_first_is_being_sent_gets_its_transactions_as_they_stand(
        client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    recorded, release = threading.Event(), threading.Event()

    def pause(stage: str) -> None:
        if stage == "queued" and not recorded.is_set():
            recorded.set()
            release.wait(30)

    runtime.outbox.faults = pause
    answers: dict[str, httpx.Response] = {}
    first = threading.Thread(target=lambda: answers.setdefault("first", send_transfer(client, cast, key)))
    first.start()
    try:
        assert recorded.wait(30)
        during = send_transfer(client, cast, key)
    finally:
        release.set()
        first.join(60)
    runtime.outbox.faults = None
    assert during.status_code == 202 and replayed(during)
    body = during.json()
    assert body["state"] == "in_progress"
    assert body["outbox_ids"] == [answers["first"].json()["id"]]
    (tx,) = body["transactions"]
    assert (tx["id"], tx["status"], tx["function"]) == (body["outbox_ids"][0], "queued", "safeTransferFrom")
    assert answers["first"].status_code == 200
    after = send_transfer(client, cast, key)
    assert (after.status_code, after.content) == (200, answers["first"].content)
    assert len(requested_by(runtime, cast, "enterprise_a")) == 1
    assert balance(client, cast, "trader") == 5


def test_concurrent_duplicates_send_once(client: TestClient, cast: Cast, runtime: Runtime, held: None,
                                         monkeypatch: pytest.MonkeyPatch):
    """Four copies of one request pass the key's look-up together (none recorded yet): the outbox records
    the key once, and the others are answered as replays of that one."""
    key, copies = new_key(), 4
    keys: IdempotencyKeys = client.app.state.idempotency_keys  # type: ignore[attr-defined]
    real_find = keys.find
    together = threading.Barrier(copies)
    looked_up = [0]
    lock = threading.Lock()

    def find(caller: str, k: str) -> Any:
        found = real_find(caller, k)
        with lock:
            looked_up[0] += 1
            first_round = looked_up[0] <= copies
        if first_round:
            assert found is None
            together.wait(30)
        return found

    monkeypatch.setattr(keys, "find", find)
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(send_transfer(client, cast, key)))
               for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == copies
    (row,) = requested_by(runtime, cast, "enterprise_a")
    assert balance(client, cast, "trader") == 5
    originals = [a for a in answers if not replayed(a)]
    assert [a.status_code for a in originals] == [200]
    for duplicate in (a for a in answers if replayed(a)):
        assert duplicate.status_code in (200, 202), duplicate.text
        shown = duplicate.json()
        assert (shown["id"] if duplicate.status_code == 200 else shown["outbox_ids"][0]) == row.id


def test_a_request_whose_process_died_after_recording_answers_its_current_status(
        cast: Cast, runtime: Runtime, held: None):
    """The first attempt recorded its transaction and then failed (answered 500, or never answered): a retry
    shows the recorded transaction as it stands, and never sends it again."""
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    key = new_key()

    def die(stage: str) -> None:
        if stage == "queued":
            raise RuntimeError("the process died here")

    runtime.outbox.faults = die
    crashed = send_transfer(client, cast, key)
    runtime.outbox.faults = None
    assert crashed.status_code == 500
    record = stored(runtime, cast, "enterprise_a", key)
    assert record is not None and record.response_status is None and len(record.outbox_ids) == 1
    retry = send_transfer(client, cast, key)
    assert retry.status_code == 202 and replayed(retry)
    assert retry.headers["Retry-After"]
    assert [t["status"] for t in retry.json()["transactions"]] == ["queued"]
    runtime.outbox.recover()
    later = send_transfer(client, cast, key)
    assert later.status_code == 202 and replayed(later)
    (tx,) = later.json()["transactions"]
    assert (tx["id"], tx["status"]) == (record.outbox_ids[0], "mined")
    assert len(requested_by(runtime, cast, "enterprise_a")) == 1
    assert balance(client, cast, "trader") == 5


def test_a_recorded_claim_without_an_answer_shows_the_mined_transaction(
        client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    first = send_transfer(client, cast, key, wait=False)
    assert first.status_code == 202 and first.json()["status"] == "sent"
    with runtime.sessions.begin() as session:  # as if the process had died before storing its answer
        session.execute(update(IdempotencyRecord).values(response_status=None, response_body=None))
    retry = send_transfer(client, cast, key, wait=False)
    assert retry.status_code == 202 and replayed(retry)
    (tx,) = retry.json()["transactions"]
    assert (tx["id"], tx["status"]) == (first.json()["id"], "mined")  # its receipt looked up
    assert balance(client, cast, "trader") == 5


# ------------------------------------------------------------------ expiry


def test_an_expired_key_is_forgotten_and_the_request_runs_again(client: TestClient, cast: Cast, runtime: Runtime,
                                                                held: None):
    key = new_key()
    first = send_transfer(client, cast, key)
    with runtime.sessions.begin() as session:
        session.execute(update(IdempotencyRecord).values(expires_at=utc_now() - timedelta(seconds=1)))
    again = send_transfer(client, cast, key)
    assert again.status_code == 200 and not replayed(again)
    assert again.json()["id"] != first.json()["id"]
    assert balance(client, cast, "trader") == 10
    record = stored(runtime, cast, "enterprise_a", key)
    assert record is not None and record.outbox_ids == [again.json()["id"]]
    hours = runtime.settings.idempotency_key_hours
    expires = record.expires_at.replace(tzinfo=None) - utc_now().replace(tzinfo=None)
    assert timedelta(hours=hours) - timedelta(minutes=1) < expires <= timedelta(hours=hours)


def test_expired_keys_are_purged_now_and_then(runtime: Runtime, cast: Cast):
    now = utc_now()
    with runtime.sessions.begin() as session:
        for name, expires in (("old", now - timedelta(hours=1)), ("live", now + timedelta(hours=1))):
            session.add(IdempotencyRecord(caller=cast.addresses["trader"], key=name, fingerprint=b"\0" * 32,
                                          method="POST", path="/x", outbox_ids=[], created_at=now,
                                          expires_at=expires))
    keys = IdempotencyKeys(runtime.sessions, 24, purge_every_seconds=3600)
    assert keys.find(cast.addresses["trader"], "old") is None
    with runtime.sessions() as session:
        assert session.scalars(select(IdempotencyRecord.key)).all() == ["live"]
    with runtime.sessions.begin() as session:
        session.execute(update(IdempotencyRecord).values(expires_at=now - timedelta(hours=1)))
    assert keys.find(cast.addresses["trader"], "live") is None  # expired, though not purged before an hour
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


# ------------------------------------------------------------------ other endpoints


def test_a_batch_with_a_key_is_sent_once(client: TestClient, cast: Cast, runtime: Runtime, held: None):
    key = new_key()
    body = {"transfers": [{"to": cast.addresses[n], "year": YEAR, "amount": a}
                          for n, a in (("trader", 10), ("enterprise_b", 20), ("trader", 30))]}
    first = client.post(f"{V1}/allowances/transfers/batch", headers=keyed(cast, "enterprise_a", key), json=body)
    assert first.status_code == 200, first.text
    again = client.post(f"{V1}/allowances/transfers/batch", headers=keyed(cast, "enterprise_a", key), json=body)
    assert (again.status_code, again.content) == (200, first.content) and replayed(again)
    assert len(requested_by(runtime, cast, "enterprise_a")) == 3
    assert stored(runtime, cast, "enterprise_a", key).outbox_ids == [  # type: ignore[union-attr]
        t["id"] for t in first.json()["transactions"]]
    assert (balance(client, cast, "enterprise_a"), balance(client, cast, "trader")) == (40, 40)


def test_a_relayed_transaction_with_a_key_is_relayed_once(client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"self_signer": 100})
    me = cast.accounts["self_signer"]
    raw = signed_call(runtime, me, "AllowanceRegistry", "safeTransferFrom", me.address, cast.addresses["trader"],
                      YEAR, 40, b"")
    key = new_key()
    first = client.post(f"{V1}/transactions/relay", headers=keyed(cast, "self_signer", key), json={"raw_tx": raw})
    assert first.status_code == 200, first.text
    again = client.post(f"{V1}/transactions/relay", headers=keyed(cast, "self_signer", key), json={"raw_tx": raw})
    assert (again.status_code, again.content) == (200, first.content) and replayed(again)
    record = stored(runtime, cast, "self_signer", key)
    assert record is not None and record.outbox_ids == [first.json()["id"]]
    other = signed_call(runtime, me, "AllowanceRegistry", "safeTransferFrom", me.address, cast.addresses["trader"],
                        YEAR, 1, b"")
    reused = client.post(f"{V1}/transactions/relay", headers=keyed(cast, "self_signer", key), json={"raw_tx": other})
    assert reused.status_code == 422 and reused.json()["error"] == "IdempotencyKeyReused"
    assert balance(client, cast, "trader") == 40


def test_a_multipart_upload_with_a_key_is_carried_out_once(client: TestClient, cast: Cast, runtime: Runtime):
    """The fingerprint covers the body's bytes as sent: a client repeats the same bytes (one multipart
    boundary), and the endpoint still reads its form."""
    key = new_key()
    request = client.build_request(
        "POST", f"{V1}/emissions/reports", headers=keyed(cast, "enterprise_a", key),
        files={"document": ("r.pdf", b"annual report")},
        data={"year": str(YEAR), "reported_kg_co2e": "12345", "anchors_root": "0x" + "ab" * 32,
              "anchored_mg": "12345000000", "reading_count": "7"})
    request.read()
    try:
        first = client.send(request)
        assert first.status_code == 201, first.text
        again = client.send(request)
        assert (again.status_code, again.content) == (201, first.content) and replayed(again)
        assert len(requested_by(runtime, cast, "enterprise_a")) == 1
    finally:
        clear_meter_data(runtime)


def test_a_signed_multipart_request_with_a_key_is_verified_and_carried_out_once(client: TestClient, cast: Cast,
                                                                                runtime: Runtime):
    """A signed request's retry is signed again (a signature's nonce is used once); the body is the same,
    so the key answers the first result."""
    path, key = f"{V1}/notary/documents", new_key()
    request = client.build_request("POST", path, files={"document": ("contract.pdf", b"a signed contract")},
                                   data={"kind": "CONTRACT"})
    body = request.read()
    answers = []
    for nonce in ("first", "second"):
        signed = sign_request(cast.accounts["enterprise_a"], "POST", path, body, int(time.time()), f"{nonce}-{key}")
        request.headers.update({**signed.as_dict(), "Idempotency-Key": key})
        answers.append(client.send(request))
    first, again = answers
    assert first.status_code == 201, first.text
    assert (again.status_code, again.content) == (201, first.content) and replayed(again)
    assert len(requested_by(runtime, cast, "enterprise_a")) == 1


def test_a_body_too_large_to_keep_is_refused_before_anything_runs(runtime: Runtime, cast: Cast):
    app = create_app(runtime)
    next(m for m in app.user_middleware if m.cls is RequestMemory).kwargs["max_body"] = 64
    client = TestClient(app)
    reply = client.post(TRANSFER, headers=keyed(cast, "enterprise_a", new_key()), content=b"x" * 65)
    assert reply.status_code == 413 and reply.json()["error"] == "RequestTooLarge"
    assert requested_by(runtime, cast, "enterprise_a") == []


# ------------------------------------------------------------------ outages


def unreachable_database(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, engine: Any) -> None:
    monkeypatch.setitem(runtime.sessions.kw, "bind", engine)


def test_a_database_that_cannot_be_opened_answers_503_with_retry_after(
        client: TestClient, cast: Cast, runtime: Runtime, held: None, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Any):
    gone = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'service.db'}")
    unreachable_database(runtime, monkeypatch, gone)
    for reply in (send_transfer(client, cast, new_key()), client.get(f"{V1}/transactions",
                                                                    headers=cast.auth("enterprise_a"))):
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"] == "DatabaseUnavailable"
        assert int(reply.headers["Retry-After"]) > 0
    monkeypatch.undo()
    assert balance(client, cast, "trader") == 0


def test_a_pool_with_no_free_connection_answers_503(client: TestClient, cast: Cast, runtime: Runtime,
                                                     monkeypatch: pytest.MonkeyPatch):
    tight = create_engine(runtime.engine.url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    with tight.connect():  # the pool's one connection, taken
        unreachable_database(runtime, monkeypatch, tight)
        reply = client.get(f"{V1}/transactions", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 503 and reply.json()["error"] == "DatabaseUnavailable"
    assert reply.headers["Retry-After"]
    tight.dispose()


def test_a_database_failing_after_the_rows_were_recorded_answers_503_and_a_retry_never_resends(
        client: TestClient, cast: Cast, runtime: Runtime, held: None, monkeypatch: pytest.MonkeyPatch):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("UPDATE outbox_transactions ...", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(runtime.outbox, "_preflight_sign_and_send", broken)
    key = new_key()
    reply = send_transfer(client, cast, key)
    monkeypatch.undo()
    assert reply.status_code == 503, reply.text
    body = reply.json()
    assert body["error"] == "DatabaseUnavailable" and "database" in body["message"]
    assert reply.headers["Retry-After"]
    (outbox_id,) = body["outbox_ids"]
    assert stored(runtime, cast, "enterprise_a", key).response_status is None  # type: ignore[union-attr]
    with runtime.sessions.begin() as session:  # time passes: the writer's claim on its queued row runs out
        session.execute(update(OutboxTransaction).where(OutboxTransaction.id == outbox_id)
                        .values(claimed_until=utc_now() - timedelta(seconds=1)))
    runtime.outbox.recover()
    retry = send_transfer(client, cast, key)
    assert retry.status_code == 202 and replayed(retry)
    assert [(t["id"], t["status"]) for t in retry.json()["transactions"]] == [(outbox_id, "mined")]
    assert len(requested_by(runtime, cast, "enterprise_a")) == 1
    assert balance(client, cast, "trader") == 5


def test_a_database_failing_while_a_replay_is_answered_is_a_503_too(
        client: TestClient, cast: Cast, runtime: Runtime, held: None, monkeypatch: pytest.MonkeyPatch):
    key = new_key()
    send_transfer(client, cast, key, wait=False)
    with runtime.sessions.begin() as session:
        session.execute(update(IdempotencyRecord).values(response_status=None, response_body=None))

    def broken(*args: Any) -> None:
        raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(errors, "current_transactions", broken)
    reply = send_transfer(client, cast, key, wait=False)
    assert reply.status_code == 503 and reply.json()["error"] == "DatabaseUnavailable"
    assert reply.headers["Retry-After"]


def _raising(exc: Exception) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("exc", [
    OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
    InterfaceError("SELECT 1", {}, Exception("connection already closed")),
    DBAPIError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True),
    PoolTimeout("QueuePool limit of size 5 overflow 10 reached"),
], ids=["operational", "interface", "invalidated", "pool-timeout"])
def test_every_kind_of_database_outage_is_a_503_never_a_500(exc: Exception):
    reply = _raising(exc).get("/boom")
    assert reply.status_code == 503
    assert reply.json()["error"] == "DatabaseUnavailable"
    assert int(reply.headers["Retry-After"]) > 0
    assert "SELECT" not in reply.text  # no statement, no parameters


def test_a_database_error_that_is_not_an_outage_is_not_dressed_up_as_one():
    reply = _raising(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))).get("/boom")
    assert reply.status_code == 500

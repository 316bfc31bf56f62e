"""The outbox: crashes at every stage lose nothing and send nothing twice; an unreachable node gives 503s
and retries; concurrent requests share a signer's nonces safely."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_service.chain.outbox import Intent, Outbox
from ledger_service.db.models.outbox import OutboxTransaction
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import V1, allocate, balance

STAGES = {
    "queued": "queued",  # intents written, nothing signed
    "signed": "signed",  # signed and stored, not yet handed to the node
    "broadcast": "signed",  # the node took them, the outbox had not recorded it
    "sent": "sent",  # recorded as sent, receipts not yet collected
}


class SimulatedCrash(BaseException):
    """The process stops here."""


def crash_at(stage: str):
    def fault(reached: str) -> None:
        if reached == stage:
            raise SimulatedCrash(stage)

    return fault


def restarted(runtime: Runtime) -> Outbox:
    """A fresh outbox over the same database and chain, as after a restart (no nonces in memory)."""
    return Outbox(runtime.chain, runtime.sessions, runtime.encoder, runtime.deployment.addresses, runtime.decoder,
                  runtime.keystore.account)


def rows(runtime: Runtime, ids: list[int]) -> list[OutboxTransaction]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.id.in_(ids))
                                    .order_by(OutboxTransaction.id)))


def transfers(cast: Cast, amounts: list[int]) -> list[Intent]:
    a = cast.addresses["enterprise_a"]
    return [Intent("AllowanceRegistry", "safeTransferFrom", (a, cast.addresses["trader"], YEAR, n, b""), a,
                   requested_by=a) for n in amounts]


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_crash_at_any_stage_is_finished_after_restart_exactly_once(client: TestClient, cast: Cast,
                                                                     runtime: Runtime, stage: str):
    allocate(client, cast, {"enterprise_a": 100})
    sender = cast.addresses["enterprise_a"]
    nonce_before = runtime.chain.pending_nonce(sender)
    runtime.outbox.faults = crash_at(stage)
    with pytest.raises(SimulatedCrash):
        runtime.outbox.submit(transfers(cast, [1, 2, 3]))
    runtime.outbox.faults = None
    with runtime.sessions() as session:
        crashed = list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.requested_by == sender)))
    assert {r.status for r in crashed} == {STAGES[stage]}
    hashes_before = [r.tx_hash for r in crashed]

    recovered = restarted(runtime).recover()

    after = rows(runtime, [r.id for r in crashed])
    assert [r.status for r in after] == ["mined"] * 3
    assert [r.nonce for r in after] == [nonce_before, nonce_before + 1, nonce_before + 2]
    if stage != "queued":
        assert [r.tx_hash for r in after] == hashes_before  # the same signed bytes, not new transactions
    assert runtime.chain.pending_nonce(sender) == nonce_before + 3
    assert (balance(client, cast, "enterprise_a"), balance(client, cast, "trader")) == (94, 6)
    assert restarted(runtime).recover() == []  # nothing left to do
    assert {r.id for r in recovered} == {r.id for r in crashed}


def test_after_a_crash_the_service_keeps_sending_with_the_next_nonce(client: TestClient, cast: Cast,
                                                                     runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 100})
    runtime.outbox.faults = crash_at("signed")
    with pytest.raises(SimulatedCrash):
        runtime.outbox.submit(transfers(cast, [5]))
    runtime.outbox.faults = None
    fresh = restarted(runtime)
    (later,) = fresh.submit(transfers(cast, [7]), wait=False)  # the crashed transaction still owns its nonce
    fresh.recover()
    assert fresh.record(later.id).status == "mined"  # type: ignore[union-attr]
    assert balance(client, cast, "trader") == 12


def flaky(monkeypatch: pytest.MonkeyPatch, runtime: Runtime, failures: int) -> list[int]:
    """The node refuses the connection for the next `failures` sends."""
    real = runtime.chain.w3.eth.send_raw_transaction
    calls = [0]

    def send(raw: bytes):
        calls[0] += 1
        if calls[0] <= failures:
            raise ConnectionError("connection refused")
        return real(raw)

    monkeypatch.setattr(runtime.chain.w3.eth, "send_raw_transaction", send)
    return calls


def test_a_node_that_recovers_within_the_retries_is_invisible(client: TestClient, cast: Cast, runtime: Runtime,
                                                              monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"enterprise_a": 100})
    calls = flaky(monkeypatch, runtime, failures=2)
    reply = client.post(f"{V1}/allowances/transfers", headers=cast.auth("enterprise_a"),
                        json={"to": cast.addresses["trader"], "year": YEAR, "amount": 4})
    assert reply.status_code == 200
    assert calls[0] == 3
    assert balance(client, cast, "trader") == 4


def test_a_node_that_stays_down_gives_503_and_the_transfer_is_sent_later(client: TestClient, cast: Cast,
                                                                         runtime: Runtime,
                                                                         monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"enterprise_a": 100})
    flaky(monkeypatch, runtime, failures=runtime.settings.retry_attempts)
    reply = client.post(f"{V1}/allowances/transfers", headers=cast.auth("enterprise_a"),
                        json={"to": cast.addresses["trader"], "year": YEAR, "amount": 4})
    assert reply.status_code == 503
    assert reply.headers["Retry-After"]
    (outbox_id,) = reply.json()["outbox_ids"]
    assert client.get(f"{V1}/transactions/{outbox_id}", headers=cast.auth("enterprise_a")).json()["status"] == "signed"
    runtime.outbox.recover()
    followed = client.get(f"{V1}/transactions/{outbox_id}", headers=cast.auth("enterprise_a")).json()
    assert followed["status"] == "mined"
    assert balance(client, cast, "trader") == 4


def test_concurrent_requests_of_one_signer_get_distinct_consecutive_nonces(client: TestClient, cast: Cast,
                                                                           runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 100})
    sender = cast.addresses["enterprise_a"]
    first = runtime.chain.pending_nonce(sender)
    records = []
    lock = threading.Lock()

    def work() -> None:
        done = runtime.outbox.submit(transfers(cast, [1, 1]))
        with lock:
            records.extend(done)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.nonce for r in records) == list(range(first, first + 12))  # type: ignore[type-var]
    assert all(r.status == "mined" for r in records)
    assert balance(client, cast, "trader") == 12


def test_a_revert_found_by_the_preflight_spends_no_nonce(cast: Cast, runtime: Runtime):
    sender = cast.addresses["enterprise_a"]
    nonce = runtime.chain.pending_nonce(sender)
    (record,) = runtime.outbox.submit(transfers(cast, [1]), preflight=True)
    assert (record.status, record.nonce, record.error_name) == ("rejected", None, "ERC1155InsufficientBalance")
    assert runtime.chain.pending_nonce(sender) == nonce


def test_a_mined_failure_is_replayed_to_name_its_error(cast: Cast, runtime: Runtime):
    (record,) = runtime.outbox.submit(transfers(cast, [1]), preflight=False)
    assert (record.status, record.receipt_status, record.error_name) == ("failed", 0, "ERC1155InsufficientBalance")
    assert record.error_args["needed"] == 1  # type: ignore[index]


def test_transactions_a_restarted_node_forgot_are_sent_again_with_the_same_hashes(client: TestClient, cast: Cast,
                                                                                   runtime: Runtime):
    """As when a node restarts from a state dump older than its last blocks: the outbox still holds
    the signed transactions, finds their receipts gone, and re-broadcasts them in nonce order."""
    allocate(client, cast, {"enterprise_a": 100})
    assert runtime.chain.embedded is not None
    before_dump = runtime.chain.embedded.snapshot()
    head = runtime.chain.block_number()
    mined = runtime.outbox.submit(transfers(cast, [4, 5]))
    assert [r.status for r in mined] == ["mined", "mined"]
    runtime.chain.embedded.revert(before_dump)  # the node comes back without the last blocks
    assert balance(client, cast, "trader") == 0

    outbox = restarted(runtime)
    forgotten = outbox.rewind_forgotten(head + 1)
    assert [r.id for r in forgotten] == [r.id for r in mined]
    outbox.recover()

    after = rows(runtime, [r.id for r in mined])
    assert [r.status for r in after] == ["mined", "mined"]
    assert [r.tx_hash for r in after] == [r.tx_hash for r in mined]
    assert (balance(client, cast, "enterprise_a"), balance(client, cast, "trader")) == (91, 9)
    assert outbox.rewind_forgotten(head + 1) == []  # what the chain holds is never rewound


def test_when_the_index_finds_forgotten_blocks_the_service_sends_their_transactions_again(
    client: TestClient, cast: Cast, runtime: Runtime
):
    """The whole path of a node restarting from an older state dump: the indexer sees its stored
    block hashes gone, rolls back to the common block, and the outbox re-sends what was lost."""
    allocate(client, cast, {"enterprise_a": 100})
    runtime.sync_index()
    assert runtime.chain.embedded is not None
    before_dump = runtime.chain.embedded.snapshot()
    mined = runtime.outbox.submit(transfers(cast, [7]))
    runtime.sync_index()
    runtime.chain.embedded.revert(before_dump)  # the node forgets the transfer's block

    runtime.index_up_to_date()
    runtime.outbox.recover()  # what the background pump does next: collect the receipts

    (after,) = rows(runtime, [mined[0].id])
    assert after.status == "mined" and after.tx_hash == mined[0].tx_hash
    assert balance(client, cast, "trader") == 7
    runtime.index_up_to_date()
    assert runtime.index_status.last_error is None

"""The outbox: crashes at every stage lose nothing and send nothing twice; an unreachable node gives 503s
and retries; concurrent requests share a signer's nonces safely."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain import outbox as outbox_module
from ledger_core.chain.client import SendResult
from ledger_core.chain.outbox import Intent, Outbox, SendDeferred
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import V1, allocate, balance, counted_commits

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
    """A fresh outbox over the same database and chain, as after a restart (nothing in memory). The claims
    of the dead process's queued rows are freed, as `Runtime.start` does for the only process on a SQLite file."""
    outbox = Outbox(runtime.chain, runtime.sessions, runtime.encoder, runtime.deployment.addresses, runtime.decoder,
                    runtime.keystore.account)
    outbox.release_claims()
    return outbox


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


def test_a_chain_that_is_not_an_anvil_node_takes_a_signers_transactions_in_one_hand_over(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """The pool window (`LOCAL_POOL_WINDOW`) is for anvil's pool only: elsewhere nothing waits or is split."""
    allocate(client, cast, {"enterprise_a": 100})
    monkeypatch.setattr(outbox_module, "LOCAL_POOL_WINDOW", 3)
    handed: list[int] = []
    real_send = runtime.chain.send_raw

    def send_raw(raws: list[str], hashes: list[str]) -> list[SendResult]:
        handed.append(len(raws))
        return real_send(raws, hashes)

    monkeypatch.setattr(runtime.chain, "send_raw", send_raw)
    records = runtime.outbox.submit(transfers(cast, [1] * 12))
    assert all(r.status == "mined" for r in records)
    assert handed == [12]


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
    runtime.indexing.sync()
    assert runtime.chain.embedded is not None
    before_dump = runtime.chain.embedded.snapshot()
    mined = runtime.outbox.submit(transfers(cast, [7]))
    runtime.indexing.sync()
    runtime.chain.embedded.revert(before_dump)  # the node forgets the transfer's block

    runtime.indexing.index_up_to_date()
    runtime.outbox.recover()  # what the background pump does next: collect the receipts

    (after,) = rows(runtime, [mined[0].id])
    assert after.status == "mined" and after.tx_hash == mined[0].tx_hash
    assert balance(client, cast, "trader") == 7
    runtime.indexing.index_up_to_date()
    assert runtime.indexing.status.last_error is None


def test_concurrent_single_sends_are_group_committed_each_caller_getting_its_own_records(
    client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """While one group is being signed and sent, callers that arrive queue up and go out together as the
    next group: one outbox write and one send for all of them, each answered with its own transaction."""
    allocate(client, cast, {"enterprise_a": 100})
    outbox = runtime.outbox
    real = outbox._preflight_sign_and_send
    group_sizes: list[int] = []
    first_inside, release = threading.Event(), threading.Event()

    def gated(records, flags):
        group_sizes.append(len(records))
        if len(group_sizes) == 1:
            first_inside.set()
            release.wait(10)
        real(records, flags)

    monkeypatch.setattr(outbox, "_preflight_sign_and_send", gated)
    results: dict[int, list] = {}

    def work(amount: int) -> None:
        results[amount] = outbox.submit_grouped(transfers(cast, [amount]), preflight=True)

    leader = threading.Thread(target=work, args=(1,))
    leader.start()
    assert first_inside.wait(10)
    followers = [threading.Thread(target=work, args=(n,)) for n in (2, 3, 4, 500)]  # 500: more than the balance
    for t in followers:
        t.start()
    while len(outbox.group._queue) < len(followers):
        threading.Event().wait(0.01)
    release.set()
    for t in [leader, *followers]:
        t.join(30)

    assert group_sizes == [1, 4]
    assert {n: [r.function for r in rs] for n, rs in results.items()} == {n: ["safeTransferFrom"] for n in
                                                                          (1, 2, 3, 4, 500)}
    assert {n: rs[0].status for n, rs in results.items()} == {1: "mined", 2: "mined", 3: "mined", 4: "mined",
                                                              500: "rejected"}
    assert results[500][0].error_name == "ERC1155InsufficientBalance"
    mined = sorted(rs[0].nonce for n, rs in results.items() if n != 500)  # type: ignore[type-var]
    assert mined == list(range(mined[0], mined[0] + 4))
    assert balance(client, cast, "trader") == 10


def _mixed_group(outbox: Outbox, cast: Cast, monkeypatch: pytest.MonkeyPatch, waiting_first: bool,
                 hold_receipts: threading.Event | None = None) -> tuple[dict[int, list], dict[int, threading.Thread]]:
    """While a first caller (amount 1) is held inside its send, two callers queue behind it and go out as one
    group, led by the first of them to queue: amount 2 waits for its receipt, amount 3 does not.
    `hold_receipts`, when given, holds every receipt wait until it is set."""
    real_send, real_await = outbox._preflight_sign_and_send, outbox.await_receipts
    first_inside, release = threading.Event(), threading.Event()
    sends: list[int] = []

    def gated_send(records, flags):
        sends.append(len(records))
        if len(sends) == 1:
            first_inside.set()
            release.wait(10)
        real_send(records, flags)

    def held_await(records, timeout, **options):
        if hold_receipts is not None:
            hold_receipts.wait(10)
        return real_await(records, timeout, **options)

    monkeypatch.setattr(outbox, "_preflight_sign_and_send", gated_send)
    monkeypatch.setattr(outbox, "await_receipts", held_await)
    results: dict[int, list] = {}

    def work(amount: int, wait: bool) -> None:
        results[amount] = outbox.submit_grouped(transfers(cast, [amount]), preflight=True, wait=wait)

    threads = {1: threading.Thread(target=work, args=(1, True))}
    threads[1].start()
    assert first_inside.wait(10)
    for amount in (2, 3) if waiting_first else (3, 2):
        threads[amount] = threading.Thread(target=work, args=(amount, amount == 2))
        threads[amount].start()
        while len(outbox.group._queue) < len(threads) - 1:  # queued in this order
            threading.Event().wait(0.01)
    release.set()
    return results, threads


def test_a_request_that_does_not_wait_is_answered_while_its_group_s_receipts_are_still_awaited(
    client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """wait=false answers once the transaction is durably recorded and sent, even when it went out in a
    group with callers that wait for their receipts."""
    allocate(client, cast, {"enterprise_a": 100})
    hold = threading.Event()
    results, threads = _mixed_group(runtime.outbox, cast, monkeypatch, waiting_first=True, hold_receipts=hold)
    threads[3].join(10)
    assert not threads[3].is_alive(), "the caller that does not wait was held behind the group's receipts"
    assert [r.status for r in results[3]] == ["sent"]
    assert [row.status for row in rows(runtime, [r.id for r in results[3]])] == ["sent"]
    assert threads[2].is_alive()  # the waiting caller of the same group still waits for its receipt
    hold.set()
    for t in threads.values():
        t.join(30)
    assert [r.status for r in results[1]] == [r.status for r in results[2]] == ["mined"]
    assert balance(client, cast, "trader") == 6


def test_a_waiting_request_gets_its_receipt_when_its_group_s_leader_does_not_wait(
    client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    allocate(client, cast, {"enterprise_a": 100})
    results, threads = _mixed_group(runtime.outbox, cast, monkeypatch, waiting_first=False)
    for t in threads.values():
        t.join(30)
    assert [r.status for r in results[3]] == ["sent"]
    assert [r.status for r in results[1]] == [r.status for r in results[2]] == ["mined"]
    (row,) = rows(runtime, [results[2][0].id])
    assert (row.status, row.attempts) == ("mined", 1)
    assert runtime.outbox.group._leading is False
    assert balance(client, cast, "trader") == 6


def test_a_group_whose_chain_is_down_defers_each_caller_with_its_own_outbox_ids(
    cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    flaky(monkeypatch, runtime, failures=100)
    with pytest.raises(SendDeferred) as deferred:
        runtime.outbox.submit_grouped(transfers(cast, [1, 2]))
    (row_a, row_b) = rows(runtime, deferred.value.outbox_ids)
    assert (row_a.status, row_b.status) == ("signed", "signed")
    assert runtime.outbox.group._leading is False  # the next caller leads again


def test_a_waiting_single_request_records_sent_with_its_receipt(cast: Cast, runtime: Runtime,
                                                                client: TestClient):
    """Written, signed (durable before it is sent), then sent and mined recorded in one commit: three commits."""
    allocate(client, cast, {"enterprise_a": 100})
    with counted_commits(runtime) as commits:
        (record,) = runtime.outbox.submit_grouped(transfers(cast, [1]))
    assert len(commits) == 3
    (row,) = rows(runtime, [record.id])
    assert (row.status, row.attempts, row.last_error) == ("mined", 1, None)


def test_a_waiting_batch_records_sent_with_its_receipts(cast: Cast, runtime: Runtime, client: TestClient):
    """A batch request's rows: written, signed (durable before they are sent), then sent and mined recorded in
    one commit, as a group's are: three commits however many transfers."""
    allocate(client, cast, {"enterprise_a": 100})
    with counted_commits(runtime) as commits:
        records = runtime.outbox.submit(transfers(cast, [1, 2, 3]), sent_with_receipts=True)
    assert len(commits) == 3
    assert [(r.status, r.attempts, r.last_error) for r in rows(runtime, [r.id for r in records])] == [
        ("mined", 1, None)] * 3


def test_a_batch_that_does_not_wait_is_recorded_as_sent_before_it_is_answered(cast: Cast, runtime: Runtime,
                                                                               client: TestClient):
    allocate(client, cast, {"enterprise_a": 100})
    records = runtime.outbox.submit(transfers(cast, [1, 2]), wait=False, sent_with_receipts=True)
    assert [(r.status, row.status, row.attempts) for r, row in zip(records, rows(runtime, [r.id for r in records]),
                                                                  strict=True)] == [("sent", "sent", 1)] * 2


def test_a_batch_whose_receipts_are_not_there_at_once_is_left_recorded_as_sent(cast: Cast, runtime: Runtime,
                                                                               client: TestClient,
                                                                               monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"enterprise_a": 100})
    monkeypatch.setattr(runtime.chain, "receipts", lambda hashes: [None] * len(hashes))
    records = runtime.outbox.submit(transfers(cast, [1, 2]), timeout=0, sent_with_receipts=True)
    assert [(r.status, row.status, row.attempts) for r, row in zip(records, rows(runtime, [r.id for r in records]),
                                                                  strict=True)] == [("sent", "sent", 1)] * 2


@pytest.mark.parametrize("stage", ["signed", "broadcast", "sent"])
def test_a_batch_that_crashes_after_signing_is_finished_after_restart_exactly_once_with_its_own_bytes(
        client: TestClient, cast: Cast, runtime: Runtime, stage: str):
    """Recorded "sent" only with its receipts, a batch's rows still read signed after a crash once the node has
    them: recovery hands the node the same bytes again, which it already holds or has mined."""
    allocate(client, cast, {"enterprise_a": 100})
    sender = cast.addresses["enterprise_a"]
    nonce_before = runtime.chain.pending_nonce(sender)
    runtime.outbox.faults = crash_at(stage)
    with pytest.raises(SimulatedCrash):
        runtime.outbox.submit(transfers(cast, [1, 2, 3]), sent_with_receipts=True)
    runtime.outbox.faults = None
    with runtime.sessions() as session:
        crashed = list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.requested_by == sender)))
    assert {r.status for r in crashed} == {"signed"}
    hashes_before = [r.tx_hash for r in crashed]

    restarted(runtime).recover()

    after = rows(runtime, [r.id for r in crashed])
    assert [r.status for r in after] == ["mined"] * 3
    assert [r.tx_hash for r in after] == hashes_before
    assert [r.nonce for r in after] == [nonce_before, nonce_before + 1, nonce_before + 2]
    assert runtime.chain.pending_nonce(sender) == nonce_before + 3
    assert (balance(client, cast, "enterprise_a"), balance(client, cast, "trader")) == (94, 6)


def test_a_waiting_batch_watches_its_last_receipt_and_polls_them_all_once_it_is_mined(
        cast: Cast, runtime: Runtime, client: TestClient, monkeypatch: pytest.MonkeyPatch):
    """A node mines a signer's transactions in nonce order: until the last one is mined only its receipt is
    asked for, then one poll (and one commit) finds them all."""
    allocate(client, cast, {"enterprise_a": 100})
    real = runtime.chain.receipts
    asked: list[int] = []

    def receipts(hashes):
        asked.append(len(hashes))
        if len(asked) <= 3:  # the node has not mined them yet
            return [None] * len(hashes)
        return real(hashes)

    monkeypatch.setattr(runtime.chain, "receipts", receipts)
    monkeypatch.setattr(outbox_module, "FIRST_POLL_AFTER", 30.0)  # however slow the machine, the last one first
    records = runtime.outbox.submit(transfers(cast, [1, 2, 3]), sent_with_receipts=True)
    assert [r.status for r in records] == ["mined"] * 3
    assert asked == [1, 1, 1, 1, 3]


def test_a_request_that_does_not_wait_is_recorded_as_sent_before_it_is_answered(cast: Cast, runtime: Runtime,
                                                                                 client: TestClient):
    allocate(client, cast, {"enterprise_a": 100})
    (record,) = runtime.outbox.submit_grouped(transfers(cast, [1]), wait=False)
    (row,) = rows(runtime, [record.id])
    assert (record.status, row.status, row.attempts) == ("sent", "sent", 1)


def test_a_receipt_not_there_at_once_leaves_the_row_recorded_as_sent(cast: Cast, runtime: Runtime,
                                                                      client: TestClient,
                                                                      monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"enterprise_a": 100})
    monkeypatch.setattr(runtime.chain, "receipts", lambda hashes: [None] * len(hashes))
    (record,) = runtime.outbox.submit_grouped(transfers(cast, [1]), timeout=0)
    (row,) = rows(runtime, [record.id])
    assert (record.status, row.status, row.attempts) == ("sent", "sent", 1)


def test_a_pump_round_between_a_sender_s_signing_and_its_broadcast_leaves_those_rows_to_the_sender(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """Sent again by the pump in between, a signer's later nonces could reach the node before its lower ones
    (anvil may then leave one unmined for good): the pump skips the rows a sender of this process is sending."""
    allocate(client, cast, {"enterprise_a": 100})
    outbox = runtime.outbox
    sender = cast.addresses["enterprise_a"]
    nonce_before = runtime.chain.pending_nonce(sender)
    broadcasts: list[list[int]] = []
    real = outbox._broadcast

    def broadcast(records):
        broadcasts.append([r.nonce for r in records])
        real(records)

    def pump_round_now(stage: str) -> None:
        if stage == "signed":
            outbox.faults = None
            outbox.recover(wait=False)

    monkeypatch.setattr(outbox, "_broadcast", broadcast)
    outbox.faults = pump_round_now
    records = outbox.submit(transfers(cast, [1, 2, 3]))

    assert broadcasts == [[nonce_before, nonce_before + 1, nonce_before + 2]]  # the sender's own, once
    assert [r.status for r in records] == ["mined"] * 3
    assert balance(client, cast, "trader") == 6


def test_a_group_of_several_signers_is_signed_in_one_database_transaction_and_sent_in_one_batch(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    senders = ["enterprise_a", "enterprise_b", "enterprise_c"]
    allocate(client, cast, {name: 10 for name in senders})
    first = {name: runtime.chain.pending_nonce(cast.addresses[name]) for name in senders}
    signings, posts = [], []
    sign, send_raw = runtime.outbox._sign, runtime.chain.send_raw
    monkeypatch.setattr(runtime.outbox, "_sign", lambda by_signer: (signings.append(sorted(by_signer)),
                                                                     sign(by_signer))[1])
    monkeypatch.setattr(runtime.chain, "send_raw", lambda raws, hashes: (posts.append(len(raws)),
                                                                          send_raw(raws, hashes))[1])
    intents = [Intent("AllowanceRegistry", "safeTransferFrom", (cast.addresses[name], cast.addresses["trader"],
                                                                 YEAR, n, b""), cast.addresses[name])
               for n in (1, 2) for name in senders]

    records = runtime.outbox.submit(intents, preflight=False, wait=True)

    assert signings == [sorted(cast.addresses[name] for name in senders)] and posts == [6]
    assert [r.status for r in records] == ["mined"] * 6
    for name in senders:  # each signer's transactions numbered on from its last, in the order asked
        mine = [r for r in records if r.signer == cast.addresses[name]]
        assert [r.nonce for r in mine] == [first[name], first[name] + 1]
    assert balance(client, cast, "trader") == 3 * (1 + 2)

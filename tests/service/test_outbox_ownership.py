"""Exactly once in the outbox: one owner per row, mined only provisionally until final, a chain that forgot
blocks noticed without the index, a transaction whose nonce another took replaced once.

Every test tags its transfers with distinct amounts and counts them on chain (`TransferSingle` events), so a
transfer sent twice shows as two events of its amount whatever the outbox believes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain.outbox import Intent, InvalidIntent, TxRecord
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.membership import ROLE_IDS
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import V1, allocate, balance, counted_statements


def transfers(cast: Cast, amounts: list[int], sender: str = "enterprise_a") -> list[Intent]:
    a = cast.addresses[sender]
    return [Intent("AllowanceRegistry", "safeTransferFrom", (a, cast.addresses["trader"], YEAR, n, b""), a,
                   requested_by=a) for n in amounts]


def on_chain(runtime: Runtime, since: int) -> Counter[int]:
    """How many times each amount moved from enterprise_a to the trader since block `since`."""
    event = runtime.suite.contract("AllowanceRegistry").events.TransferSingle()
    logs = runtime.chain.request(lambda: event.get_logs(from_block=since))
    return Counter(int(log["args"]["value"]) for log in logs)


def stored(runtime: Runtime, ids: list[int]) -> list[OutboxTransaction]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.id.in_(ids))
                                    .order_by(OutboxTransaction.id)))


@pytest.fixture
def funded(client: TestClient, cast: Cast, runtime: Runtime) -> Iterator[int]:
    """enterprise_a holds 10,000 allowances; yields the block after the allocation."""
    allocate(client, cast, {"enterprise_a": 10_000})
    yield runtime.chain.block_number() + 1
    runtime.outbox.claim_seconds = runtime.settings.claim_seconds
    runtime.outbox.confirmations = 0


def run_pump_at(runtime: Runtime, stage: str) -> list[list[TxRecord]]:
    """The background pump runs once when the send path reaches `stage` (the moment of the reported race)."""
    rounds: list[list[TxRecord]] = []

    def fault(reached: str) -> None:
        if reached == stage and not rounds:
            rounds.append(runtime.outbox.recover())

    runtime.outbox.faults = fault
    return rounds


def test_the_pump_leaves_alone_the_queued_rows_a_request_is_about_to_sign(cast: Cast, runtime: Runtime, funded: int):
    rounds = run_pump_at(runtime, "queued")
    records = runtime.outbox.submit(transfers(cast, [11, 12, 13]))
    assert rounds == [[]]  # the rows were claimed by the request that wrote them
    assert on_chain(runtime, funded) == {11: 1, 12: 1, 13: 1}
    assert [r.tx_hash for r in records] == [r.tx_hash for r in stored(runtime, [r.id for r in records])]


def test_a_request_whose_claim_expired_and_was_taken_over_does_not_sign_again(cast: Cast, runtime: Runtime,
                                                                              funded: int):
    runtime.outbox.claim_seconds = 0  # the request stalls past its claim: the pump takes the rows over
    rounds = run_pump_at(runtime, "queued")
    records = runtime.outbox.submit(transfers(cast, [21, 22]))
    assert [r.id for r in rounds[0]] == [r.id for r in records]
    assert on_chain(runtime, funded) == {21: 1, 22: 1}
    rows = stored(runtime, [r.id for r in records])
    assert [(r.status, r.tx_hash) for r in records] == [(row.status, row.tx_hash) for row in rows]
    assert [r.status for r in rows] == ["mined", "mined"]


def test_a_preflight_refusal_never_overwrites_what_another_owner_already_mined(client: TestClient, cast: Cast,
                                                                                runtime: Runtime, funded: int):
    """Reported: a doubled admission answered 409 AlreadyMember although it succeeded, and a mined row was
    marked rejected. Here the pump mines the admission while the request is between writing and preflight."""
    runtime.outbox.claim_seconds = 0
    run_pump_at(runtime, "queued")
    newcomer = runtime.keystore.create(label="newcomer").address
    regulator = cast.addresses["regulator"]
    (record,) = runtime.outbox.submit([Intent("Membership", "admit", (newcomer, 11, [ROLE_IDS["TRADER"]]), regulator,
                                              requested_by=regulator)], preflight=True)
    (row,) = stored(runtime, [record.id])
    assert (record.status, row.status, row.error_name) == ("mined", "mined", None)


def test_concurrent_requests_and_an_eager_pump_move_each_transfer_exactly_once(cast: Cast, runtime: Runtime,
                                                                               funded: int):
    """Claims that expire at once make the pump contend for every row the requests write."""
    runtime.outbox.claim_seconds = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def pump() -> None:
        while not stop.is_set():
            try:
                runtime.outbox.recover(wait=False)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    def client(amounts: list[int]) -> None:
        for amount in amounts:
            try:
                runtime.outbox.submit_grouped(transfers(cast, [amount]), preflight=True)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    amounts = [100 + i for i in range(24)]
    pumping = threading.Thread(target=pump)
    clients = [threading.Thread(target=client, args=(amounts[i::4],)) for i in range(4)]
    pumping.start()
    for t in clients:
        t.start()
    for t in clients:
        t.join(60)
    stop.set()
    pumping.join(30)
    runtime.outbox.recover()
    assert errors == []
    assert on_chain(runtime, funded) == {n: 1 for n in amounts}
    signer = cast.addresses["enterprise_a"]
    with runtime.sessions() as session:
        rows = list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.signer == signer,
                                                                    OutboxTransaction.nonce.is_not(None))))
    nonces = sorted(r.nonce for r in rows if r.nonce is not None)
    assert nonces == list(range(nonces[0], nonces[0] + len(nonces)))  # no gap, none twice


def test_mined_is_provisional_until_the_block_is_deep_enough(cast: Cast, runtime: Runtime, funded: int):
    runtime.outbox.confirmations = 2
    (record,) = runtime.outbox.submit(transfers(cast, [31]))
    assert (record.status, record.final) == ("mined", False)
    runtime.outbox.check_provisional()
    assert stored(runtime, [record.id])[0].final is False
    runtime.outbox.submit(transfers(cast, [32, 33]))  # two more blocks on top
    runtime.outbox.check_provisional()
    assert stored(runtime, [record.id])[0].final is True


def test_checking_provisional_rows_writes_the_ones_that_became_final_in_one_statement_and_leaves_the_rest(
        cast: Cast, runtime: Runtime, funded: int):
    """The pump checks every provisional row each round: a row whose receipt is where it was is not written
    again until it is deep enough, and those that are become final together."""
    runtime.outbox.confirmations = 3
    deep = runtime.outbox.submit(transfers(cast, [51, 52]))
    shallow = runtime.outbox.submit(transfers(cast, [53, 54]))  # the head is now deep[1]'s block + 2
    before = {r.id: r.updated_at for r in stored(runtime, [r.id for r in deep + shallow])}
    with counted_statements(runtime, "UPDATE") as updates:
        assert runtime.outbox.check_provisional() == []
    rows = {r.id: r for r in stored(runtime, [r.id for r in deep + shallow])}
    assert [rows[r.id].final for r in deep + shallow] == [True, False, False, False]
    assert len(updates) == 1
    assert all(rows[r.id].updated_at == before[r.id] for r in deep[1:] + shallow)


def test_a_provisional_row_mined_again_in_another_block_has_its_new_block_recorded(cast: Cast, runtime: Runtime,
                                                                                    funded: int):
    runtime.outbox.confirmations = 5
    assert runtime.chain.embedded is not None
    before = runtime.chain.embedded.snapshot()
    (record,) = runtime.outbox.submit(transfers(cast, [61]))
    (old,) = stored(runtime, [record.id])
    runtime.chain.embedded.revert(before)  # the node forgets the block, then mines another there first
    runtime.chain.forget_receipts()
    runtime.chain.embedded.fund([cast.addresses["trader"]])
    assert old.raw_tx is not None
    runtime.chain.send_raw([old.raw_tx], [record.tx_hash])

    assert runtime.outbox.check_provisional() == []
    (row,) = stored(runtime, [record.id])
    assert (row.status, row.block_number) == ("mined", old.block_number + 1)
    assert row.block_hash != old.block_hash and row.final is False
    assert on_chain(runtime, funded) == {61: 1}


def test_a_provisional_receipt_that_vanished_is_sent_again_with_the_same_bytes(client: TestClient, cast: Cast,
                                                                                runtime: Runtime, funded: int):
    runtime.outbox.confirmations = 5
    assert runtime.chain.embedded is not None
    before = runtime.chain.embedded.snapshot()
    (record,) = runtime.outbox.submit(transfers(cast, [41]))
    runtime.chain.embedded.revert(before)  # the node forgets the block
    runtime.chain.forget_receipts()

    (rewound,) = runtime.outbox.check_provisional()
    assert rewound.id == record.id and stored(runtime, [record.id])[0].status == "signed"
    runtime.outbox.recover()
    (row,) = stored(runtime, [record.id])
    assert (row.status, row.tx_hash) == ("mined", record.tx_hash)
    assert on_chain(runtime, funded) == {41: 1}
    assert balance(client, cast, "trader") == 41


def test_a_head_that_moved_back_is_noticed_without_the_index_even_for_final_rows(client: TestClient, cast: Cast,
                                                                                 runtime: Runtime, funded: int):
    """Reported: rows marked mined in blocks a restarted node forgot stayed mined for good, because only the
    index's stored block hashes could notice and the index lags the head."""
    runtime.outbox.watch()  # the pump has seen the head
    assert runtime.chain.embedded is not None
    before = runtime.chain.embedded.snapshot()
    mined = runtime.outbox.submit(transfers(cast, [51, 52]))
    assert all(r.final for r in mined)  # no confirmations asked for: final at once
    runtime.outbox.watch()
    runtime.chain.embedded.revert(before)
    runtime.chain.forget_receipts()

    rewound = runtime.outbox.watch()
    assert [r.id for r in rewound] == [r.id for r in mined]
    runtime.outbox.recover()
    assert [(r.status, r.tx_hash) for r in stored(runtime, [r.id for r in mined])] == [
        ("mined", r.tx_hash) for r in mined]
    assert on_chain(runtime, funded) == {51: 1, 52: 1}
    assert runtime.outbox.watch() == []  # what the chain holds is never rewound


def test_a_transaction_whose_nonce_another_took_is_dropped_and_its_intent_sent_once_more(
    client: TestClient, cast: Cast, runtime: Runtime, funded: int
):
    """Reported: a row refused with "nonce too low" and no receipt was re-sent forever."""
    def crash_after_signing(stage: str) -> None:
        if stage == "signed":
            raise ConnectionError("the node went away")  # the row stays signed, never broadcast

    runtime.outbox.faults = crash_after_signing
    with pytest.raises(ConnectionError):
        runtime.outbox.submit(transfers(cast, [61]))
    runtime.outbox.faults = None
    (row,) = [r for r in stored(runtime, list(range(1, 10_000))) if r.status == "signed"]
    # The member's key is used outside the service, at the same nonce.
    account = runtime.keystore.account(row.signer)
    other = account.sign_transaction({"to": row.signer, "value": 0, "gas": 21_000, "nonce": row.nonce,
                                      "chainId": runtime.chain.chain_id, **runtime.chain.fees.fields})
    runtime.chain.request(lambda: runtime.chain.w3.eth.send_raw_transaction(other.raw_transaction))

    runtime.outbox.recover()  # refused for its nonce, no receipt, nonce taken on chain: dropped, queued again
    runtime.outbox.recover()  # the new attempt is signed and sent
    with runtime.sessions() as session:
        retry = session.scalar(select(OutboxTransaction).where(OutboxTransaction.replaces_id == row.id))
    (old,) = stored(runtime, [row.id])
    assert retry is not None, (old.status, old.last_error)
    assert (old.status, retry.status) == ("dropped", "mined")
    assert retry.nonce == row.nonce + 1 and retry.args == old.args
    assert on_chain(runtime, funded) == {61: 1}
    shown = client.get(f"{V1}/transactions/{row.id}", headers=cast.auth("enterprise_a")).json()
    assert (shown["status"], shown["replaced_by"]) == ("dropped", retry.id)


def test_the_transactions_api_tells_mined_from_final(client: TestClient, cast: Cast, runtime: Runtime, funded: int):
    runtime.outbox.confirmations = 3
    reply = client.post(f"{V1}/allowances/transfers", headers=cast.auth("enterprise_a"),
                        json={"to": cast.addresses["trader"], "year": YEAR, "amount": 71})
    assert reply.status_code == 200
    assert (reply.json()["status"], reply.json()["final"]) == ("mined", False)


def test_one_callers_unencodable_arguments_fail_alone_and_the_group_goes_on(cast: Cast, runtime: Runtime,
                                                                            funded: int, monkeypatch):
    """Reported: a market order whose expiry could not be encoded failed every request group-committed with
    it (10 of 32 transfers of another member answered 500). Arguments are encoded before joining a group."""
    outbox = runtime.outbox
    real = outbox._preflight_sign_and_send
    first_inside, release = threading.Event(), threading.Event()

    def gated(records, flags):
        if not first_inside.is_set():
            first_inside.set()
            release.wait(10)
        real(records, flags)

    monkeypatch.setattr(outbox, "_preflight_sign_and_send", gated)
    outcomes: dict[int, object] = {}

    def work(amount: int) -> None:
        try:
            outcomes[amount] = outbox.submit_grouped(transfers(cast, [amount]), preflight=True)[0].status
        except InvalidIntent as exc:
            outcomes[amount] = exc

    leader = threading.Thread(target=work, args=(81,))
    leader.start()
    assert first_inside.wait(10)
    others = [threading.Thread(target=work, args=(n,)) for n in (82, -1, 83)]  # -1 is no uint256
    for t in others:
        t.start()
    while len(outbox.group._queue) < 2:
        threading.Event().wait(0.01)
    release.set()
    for t in [leader, *others]:
        t.join(30)
    assert isinstance(outcomes.pop(-1), InvalidIntent)
    assert outcomes == {81: "mined", 82: "mined", 83: "mined"}
    assert on_chain(runtime, funded) == {81: 1, 82: 1, 83: 1}


def test_on_a_network_that_charges_gas_a_signer_that_cannot_pay_is_refused_at_once(runtime: Runtime):
    """Reported: an unfunded member's send answered 202 and was retried for ever. The embedded chain charges
    gas; a key the service keeps but never funded cannot pay."""
    broke = runtime.keystore.create(label="never funded").address
    (record,) = runtime.outbox.submit([Intent("Notary", "notarize", (b"\x01" * 32, b"\x00" * 32, b"\x00" * 32), broke,
                                              requested_by=broke)])
    assert (record.status, record.nonce, record.error_name) == ("rejected", None, "InsufficientGasFunds")
    assert record.error_args is not None and record.error_args["account"] == broke
    assert int(record.error_args["needed"]) > int(record.error_args["balance"]) == 0


def test_a_transaction_shows_its_confirmations_and_the_attempt_that_replaced_it(client: TestClient, cast: Cast,
                                                                                 runtime: Runtime, funded: int):
    reply = client.post(f"{V1}/allowances/transfers", headers=cast.auth("enterprise_a"),
                        json={"to": cast.addresses["trader"], "year": YEAR, "amount": 91})
    runtime.outbox.submit(transfers(cast, [92]))  # one block on top
    followed = client.get(f"{V1}/transactions/{reply.json()['id']}", headers=cast.auth("enterprise_a")).json()
    assert (followed["confirmations"], followed["final"], followed["replaced_by"]) == (2, True, None)

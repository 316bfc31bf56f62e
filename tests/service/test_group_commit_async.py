"""Group commit for requests served on the event loop: async callers hold no thread while they wait, yet get
exactly what blocking callers get: their own records, their own refusals and deferrals, and one receipt poll
shared by every waiting group."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledger_core.chain.outbox import SendDeferred, TxRecord, WouldRevert
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.runtime import Runtime
from tests.service.cast import Cast
from tests.service.helpers import allocate, balance
from tests.service.test_outbox import flaky, rows, transfers


def outbox_rows(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxTransaction)) or 0)


async def send_all(runtime: Runtime, cast: Cast, amounts: list[int], wait: bool = True, simulate: bool = False,
                   timeout: float = 30.0) -> list[list[TxRecord] | BaseException]:
    group = runtime.outbox.group
    return await asyncio.gather(*(group.submit_async(transfers(cast, [n]), False, wait, timeout, simulate=simulate)
                                  for n in amounts), return_exceptions=True)


def test_concurrent_async_callers_share_groups_and_one_receipt_poll_each_answered_with_its_own_transfer(
        client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 100})
    group = runtime.outbox.group
    groups_before, polls_before = group.groups, group.watcher.rounds

    results = asyncio.run(send_all(runtime, cast, list(range(1, 13))))

    assert [[r.function for r in rs] for rs in results] == [["safeTransferFrom"]] * 12  # type: ignore[union-attr]
    assert [rs[0].status for rs in results] == ["mined"] * 12  # type: ignore[index]
    written = {row.id: row for row in rows(runtime, [rs[0].id for rs in results])}  # type: ignore[index]
    assert [int(written[rs[0].id].args[3]) for rs in results] == list(range(1, 13))  # type: ignore[index]
    nonces = sorted(rs[0].nonce for rs in results)  # type: ignore[index, type-var]
    assert nonces == list(range(nonces[0], nonces[0] + 12))
    assert group.groups - groups_before < 12  # callers that arrived while a group was out went in the next one
    assert group.watcher.rounds - polls_before < 12  # one poll covers every waiting group
    assert balance(client, cast, "trader") == sum(range(1, 13))
    assert group._leading is False


def test_a_group_of_async_callers_is_answered_with_one_hand_over_to_their_event_loop(
        client: TestClient, cast: Cast, runtime: Runtime):
    """Each hand-over from the receipt watcher's thread wakes the loop; a group's answers share one."""
    allocate(client, cast, {"enterprise_a": 100})
    group = runtime.outbox.group
    hand_overs: list[str] = []

    async def run() -> tuple[list[list[TxRecord] | BaseException], int]:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counted(callback, *args, **kwargs):  # type: ignore[no-untyped-def]
            hand_overs.append(threading.current_thread().name)
            return original(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        groups_before = group.groups
        results = await send_all(runtime, cast, list(range(1, 13)))
        return results, group.groups - groups_before

    results, groups = asyncio.run(run())

    assert [rs[0].status for rs in results] == ["mined"] * 12  # type: ignore[index]
    assert groups < 12  # callers that arrived while a group was out went in the next one
    assert 1 <= len(hand_overs) <= groups  # one per group answered, not one per caller
    assert balance(client, cast, "trader") == sum(range(1, 13))


def test_an_async_caller_whose_transfer_would_revert_records_nothing_and_fails_no_one_else(
        client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 10})
    before = outbox_rows(runtime)

    good, beyond = asyncio.run(send_all(runtime, cast, [3, 500], simulate=True))

    assert isinstance(beyond, WouldRevert)
    assert [r.error if r else None for r in beyond.reverts] == ["ERC1155InsufficientBalance"]
    assert [r.status for r in good] == ["mined"]  # type: ignore[union-attr]
    assert outbox_rows(runtime) == before + 1  # the refused one wrote nothing
    assert balance(client, cast, "trader") == 3


def test_an_async_caller_that_does_not_wait_is_answered_once_its_transfer_is_recorded_as_sent(
        client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 10})
    ((record,),) = asyncio.run(send_all(runtime, cast, [2], wait=False))  # type: ignore[misc]
    (row,) = rows(runtime, [record.id])
    assert (record.status, row.status, row.attempts) == ("sent", "sent", 1)


def test_a_receipt_not_there_by_the_timeout_is_answered_as_sent(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"enterprise_a": 10})
    monkeypatch.setattr(runtime.chain, "receipts", lambda hashes: [None] * len(hashes))
    ((record,),) = asyncio.run(send_all(runtime, cast, [2], timeout=0.05))  # type: ignore[misc]
    (row,) = rows(runtime, [record.id])
    assert (record.status, row.status, row.attempts) == ("sent", "sent", 1)


def test_async_callers_whose_chain_is_down_are_each_deferred_with_their_own_outbox_ids(
        cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    flaky(monkeypatch, runtime, failures=1000)
    first, second = asyncio.run(send_all(runtime, cast, [1, 2]))
    assert isinstance(first, SendDeferred) and isinstance(second, SendDeferred)
    assert len(first.outbox_ids) == len(second.outbox_ids) == 1
    assert first.outbox_ids != second.outbox_ids
    assert [row.status for row in rows(runtime, first.outbox_ids + second.outbox_ids)] == ["signed", "signed"]
    assert runtime.outbox.group._leading is False  # the next caller leads again


def test_blocking_and_async_callers_share_the_group_commit(client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 100})
    blocking: list[list[TxRecord]] = []

    def block() -> None:
        for amount in (20, 21):
            blocking.append(runtime.outbox.submit_grouped(transfers(cast, [amount])))

    thread = threading.Thread(target=block)
    thread.start()
    results = asyncio.run(send_all(runtime, cast, [1, 2, 3, 4]))
    thread.join(30)

    assert [rs[0].status for rs in results] == ["mined"] * 4  # type: ignore[index]
    assert [rs[0].status for rs in blocking] == ["mined"] * 2
    assert balance(client, cast, "trader") == 1 + 2 + 3 + 4 + 20 + 21
    assert runtime.outbox.group._leading is False


def test_when_no_caller_waits_for_the_next_group_its_leader_polls_the_receipts_itself(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """The node has usually mined a lone request's transaction by the time it is sent: the leading thread
    polls once before handing it to the watcher, a hand-over between threads saved."""
    allocate(client, cast, {"enterprise_a": 10})
    real = runtime.chain.receipts
    polled_by: list[str] = []

    def receipts(hashes):
        polled_by.append(threading.current_thread().name)
        return real(hashes)

    monkeypatch.setattr(runtime.chain, "receipts", receipts)
    ((record,),) = asyncio.run(send_all(runtime, cast, [2]))  # type: ignore[misc]
    assert record.status == "mined"
    assert polled_by and all(name.startswith("group-commit") for name in polled_by)

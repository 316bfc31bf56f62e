"""The member views the service reuses: one chain read per member at a time, however many requests want it,
and never a view read before a change was seen."""

from __future__ import annotations

import threading

import pytest

from ledger_service.membership import MemberStatus, MemberView
from ledger_service.runtime import Runtime
from tests.service.cast import Cast


class SlowReads:
    """Stands in for the chain read of a member view: counts reads and holds each until released."""

    def __init__(self, org_ids: list[int]) -> None:
        self.org_ids = iter(org_ids)
        self.reads = 0
        self.started, self.release = threading.Semaphore(0), threading.Event()

    def __call__(self, address: str) -> MemberView:
        self.reads += 1
        org_id = next(self.org_ids)
        self.started.release()
        self.release.wait(10)
        return MemberView(address, org_id, MemberStatus.ACTIVE, False, frozenset({"TRADER"}))


def ask(runtime: Runtime, address: str, views: list[MemberView]) -> threading.Thread:
    thread = threading.Thread(target=lambda: views.append(runtime.directory.member(address)))
    thread.start()
    return thread


def test_concurrent_requests_for_an_expired_view_share_one_chain_read(runtime: Runtime, cast: Cast,
                                                                      monkeypatch: pytest.MonkeyPatch):
    reads = SlowReads([7, 8, 9])
    monkeypatch.setattr(runtime.directory, "_read_member", reads)
    monkeypatch.setattr(runtime.directory, "ttl", 0)  # nothing is kept: only sharing the read in flight saves one
    address = cast.addresses["trader"]
    views: list[MemberView] = []
    threads = [ask(runtime, address, views)]
    assert reads.started.acquire(timeout=10)
    threads += [ask(runtime, address, views) for _ in range(8)]
    threading.Event().wait(0.3)  # the eight reach the read in flight
    reads.release.set()
    for thread in threads:
        thread.join(10)
    assert reads.reads == 1
    assert [v.org_id for v in views] == [7] * 9
    assert runtime.directory.member(address).org_id == 8  # the next request reads anew


def test_a_request_after_a_change_was_seen_does_not_take_a_view_read_before_it(runtime: Runtime, cast: Cast,
                                                                             monkeypatch: pytest.MonkeyPatch):
    reads = SlowReads([7, 8])
    monkeypatch.setattr(runtime.directory, "_read_member", reads)
    address = cast.addresses["trader"]
    runtime.directory.forget(address)
    before: list[MemberView] = []
    after: list[MemberView] = []
    first = ask(runtime, address, before)
    assert reads.started.acquire(timeout=10)
    runtime.directory.membership_seen(["Membership.MemberSuspended"])  # seen while the first read is out
    second = ask(runtime, address, after)
    assert reads.started.acquire(timeout=10)  # a read of its own
    reads.release.set()
    first.join(10)
    second.join(10)
    assert [v.org_id for v in before] == [7] and [v.org_id for v in after] == [8]
    assert reads.reads == 2
    cached = runtime.directory.cached(address)
    assert cached is not None and cached.org_id == 8  # the read from before the change is not kept


def test_a_failed_read_fails_the_requests_waiting_for_it_and_the_next_request_reads_again(
    runtime: Runtime, cast: Cast, monkeypatch: pytest.MonkeyPatch
):
    address = cast.addresses["trader"]
    runtime.directory.forget(address)
    started, release = threading.Event(), threading.Event()

    def failing(_address: str) -> MemberView:
        started.set()
        release.wait(10)
        raise ConnectionError("node away")

    monkeypatch.setattr(runtime.directory, "_read_member", failing)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runtime.directory.member(address)
        except ConnectionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run)]
    threads[0].start()
    assert started.wait(10)
    threads += [threading.Thread(target=run) for _ in range(3)]
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(errors) == 4
    monkeypatch.undo()
    assert runtime.directory.member(address).address == address  # read again, from the chain

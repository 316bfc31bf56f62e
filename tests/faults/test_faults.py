"""Exactly once, whatever fails: every allowance transfer a client asks for moves exactly once.

Each test runs one scenario of `tests/faults/harness.py` against real processes (an anvil node with
its state file, the service as `python -m ledger_service serve`, SQLite or a throwaway PostgreSQL) while
client threads send tagged transfers with an `Idempotency-Key` and retry until they get a definite
answer. The chain is then counted by the harness itself, not through the service. What each test
guarantees is the same contract under a different fault:

- a transfer the service acknowledged (200, 201, 202, or 207 for that item) is on chain exactly once;
- a transfer the client gave up on is on chain at most once; a refused one not at all;
- the cast's allowances are conserved and each holder's balance is what the counted transfers make it;
- the service's reconciliation of its index, and of its outbox, against the chain is clean;
- no request is answered 500: an outage is a 503 with `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ledger_core.chain.compiler import Artifact
from tests.faults.harness import SCENARIOS, HarnessUnavailable, Scenario, ScenarioResult, run_scenario

Run = Callable[[Scenario], ScenarioResult]


@pytest.fixture
def run(tmp_path: Path, artifacts: dict[str, Artifact]) -> Run:
    def run_one(scenario: Scenario) -> ScenarioResult:
        try:
            return run_scenario(scenario, tmp_path / scenario.name, artifacts, settle_timeout=60)
        except HarnessUnavailable as exc:
            pytest.skip(str(exc))

    return run_one


def assert_exactly_once(result: ScenarioResult) -> None:
    report = result.report()
    # A fault after the last request, or a node crash that forgot no block, tested nothing.
    assert result.faults_missed == 0, f"a fault missed the load (came after it, or forgot nothing)\n{report}"
    # Counting before the outbox is empty would miss what is still on its way (or stuck).
    assert result.settled, f"the outbox did not drain ({result.pending_left} pending)\n{report}"
    assert result.lost == 0, f"{result.lost} acknowledged transfers are not on chain\n{report}"
    assert result.doubled == 0, f"{result.doubled} transfers are on chain more than once\n{report}"
    assert result.refused_on_chain == 0, f"refused transfers are on chain\n{report}"
    assert result.untagged == 0, f"transfers nobody asked for are on chain\n{report}"
    assert result.acknowledged + result.gave_up + result.refused == result.transfers, report


def assert_balances_conserved(result: ScenarioResult) -> None:
    report = result.report()
    assert result.conserved, f"the cast's total changed\n{report}"
    assert result.balance_differences == {}, f"balances differ from the counted transfers\n{report}"


def assert_reconciled(result: ScenarioResult) -> None:
    # Differences the node made itself (state without the events, see ScenarioResult.unlogged) are reconcile's to
    # show, not the service's doing; any other difference fails.
    unexplained = [d for d in result.reconcile_differences if not result.explained_by_the_node(d)]
    assert result.reconcile_ok is not None and unexplained == [], f"reconcile: {unexplained[:10]}\n{result.report()}"
    assert result.reconcile_ok or result.unlogged, result.report()


def assert_no_500(result: ScenarioResult) -> None:
    assert result.errors_500 == 0, (f"{result.errors_500} answers were 500 ({result.requests_with_500} "
                                    f"requests)\n{result.report()}")


def assert_guarantees(result: ScenarioResult) -> None:
    assert_exactly_once(result)
    assert_balances_conserved(result)
    assert_reconciled(result)
    assert_no_500(result)


def test_one_client_sending_one_request_at_a_time_moves_each_transfer_exactly_once(run: Run):
    """The baseline: no fault, no concurrency. If this fails, nothing below means anything."""
    result = run(SCENARIOS["baseline_sequential"])
    assert result.acknowledged == result.transfers, result.report()
    assert_guarantees(result)


def test_a_node_that_stops_answering_for_a_while_neither_doubles_nor_loses_a_transfer(run: Run):
    """The node is paused (SIGSTOP: connections hang) and later stopped and started again (connections
    refused, state kept). Requests meanwhile are answered 503 with their outbox ids and retried with the
    same key: the retry must find the recorded request, not send it again."""
    assert_guarantees(run(SCENARIOS["node_stopped"]))


def test_a_node_restarted_from_its_last_state_dump_gets_every_acknowledged_transfer_back_once(run: Run):
    """The node is SIGKILLed and starts from a dump older than its head: blocks holding acknowledged
    transfers are forgotten. The service must notice and send those again, each once (the same signed
    bytes, so nothing can be mined twice), and nothing acknowledged may stay lost."""
    assert_guarantees(run(SCENARIOS["node_crash_restored_from_dump"]))


def test_a_service_killed_mid_request_on_sqlite_moves_each_retried_transfer_exactly_once(run: Run):
    """SIGKILL at random moments, restart: a request cut after its outbox row was written is retried
    by the client with the same key, and the restarted service must answer it from what it recorded."""
    assert_guarantees(run(SCENARIOS["service_sigkill_sqlite"]))


def test_a_service_killed_mid_request_on_postgresql_moves_each_retried_transfer_exactly_once(run: Run):
    assert_guarantees(run(SCENARIOS["service_sigkill_postgresql"]))


def test_a_postgresql_restart_is_answered_503_and_moves_each_transfer_exactly_once(run: Run):
    """PostgreSQL stops the way a crash stops it (every connection cut) and is back seconds later: the
    service answers 503 meanwhile, never 500, and a retried request is not sent twice."""
    assert_guarantees(run(SCENARIOS["postgresql_restart"]))


def test_two_service_processes_on_one_database_with_one_killed_move_each_transfer_exactly_once(run: Run):
    """Two processes share one PostgreSQL database, clients spread over both and fail over. One is
    SIGKILLed for good: the other takes over its outbox rows once their claim expires, and answers
    retries of its requests from the shared idempotency records."""
    assert_guarantees(run(SCENARIOS["two_services_postgresql_one_killed"]))

"""Every write of the command line carries a fresh Idempotency-Key and is sent again, the same bytes under the
same key, while it gets no answer or a 503: the user sees one answer, or one line if every try failed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger_service.cli import app, service_client
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import allocate, balance

runner = CliRunner()
TX = {"id": 41, "status": "mined", "contract": "AllowanceRegistry", "function": "safeTransferFrom",
      "signer": "0x" + "11" * 20, "nonce": 0, "tx_hash": "0x" + "ab" * 32, "block_number": 9, "gas_used": 50_000}
RECEIVER = "0x" + "22" * 20


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses between tries (not waited)."""
    seen: list[float] = []
    monkeypatch.setattr(service_client, "pause", seen.append)
    return seen


def service(answers: list[Callable[[httpx.Request], httpx.Response]]) -> tuple[httpx.Client, list[httpx.Request]]:
    """A service answering each request with the next of `answers` (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1](request)

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://service"), seen


def refused_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def timed_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=TX)


def unavailable(retry_after: str = "2") -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": retry_after}, json={
            "error": "DatabaseUnavailable", "message": "the database is not available (OperationalError)",
            "args": {}})

    return answer


def transfer(http: httpx.Client, *extra: str) -> Any:
    return runner.invoke(app, ["allowance", "transfer", RECEIVER, "5", "--year", str(YEAR), "--api-key", "k",
                               *extra], obj=http)


def keys_of(requests: list[httpx.Request]) -> list[str | None]:
    return [r.headers.get("Idempotency-Key") for r in requests]


def test_a_write_retried_after_a_connection_error_sends_the_same_key_and_body(waits: list[float]):
    http, seen = service([refused_connection, timed_out, ok])
    result = transfer(http)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "safeTransferFrom: mined" in result.stdout
    assert len(seen) == 3
    (key,) = set(keys_of(seen))
    assert key is not None and uuid.UUID(key).version == 4
    assert {r.content for r in seen} == {seen[0].content}
    assert json.loads(seen[0].content) == {"to": RECEIVER, "year": YEAR, "amount": 5}
    assert {str(r.url) for r in seen} == {"http://service/api/v1/allowances/transfers?wait=true"}
    assert waits == [0.5, 1.0]


def test_a_503_is_retried_after_the_time_the_service_asks_for(waits: list[float]):
    http, seen = service([unavailable("2"), unavailable("3"), ok])
    assert transfer(http).exit_code == 0
    assert len(set(keys_of(seen))) == 1 and len(seen) == 3
    assert waits == [2.0, 3.0]


def test_a_very_long_retry_after_is_cut_short_and_the_whole_wait_is_bounded(waits: list[float]):
    http, seen = service([unavailable("3600")])
    result = transfer(http)
    assert result.exit_code == 1
    assert waits and all(w <= service_client.LONGEST_WAIT_SECONDS for w in waits)
    assert sum(waits) <= service_client.WAIT_BUDGET_SECONDS
    assert len(seen) == len(waits) + 1 <= service_client.WRITE_ATTEMPTS


def test_when_every_try_fails_the_user_sees_one_line_and_a_hint(waits: list[float]):
    http, seen = service([unavailable("1")])
    result = transfer(http)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: service unavailable: the database is not available (OperationalError)", "hint: retry after 1 s"]
    assert len(seen) == service_client.WRITE_ATTEMPTS
    assert len(set(keys_of(seen))) == 1


def test_a_service_that_never_answers_is_reported_once_without_claiming_nothing_happened(waits: list[float]):
    http, seen = service([timed_out, refused_connection])
    result = transfer(http)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: cannot reach the service at http://127.0.0.1:8000 (connection refused)"
    assert "may have been carried out" in lines[1]  # the first try may have reached it
    assert len(seen) == service_client.WRITE_ATTEMPTS


def test_a_refusal_is_not_retried(waits: list[float]):
    def conflict(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error": "ERC1155InsufficientBalance", "message": "not enough", "args": {}})

    http, seen = service([conflict, ok])
    assert transfer(http).exit_code == 1
    assert len(seen) == 1 and waits == []


def test_each_command_has_its_own_key_and_reads_carry_none_and_are_not_retried(waits: list[float]):
    http, seen = service([ok])
    transfer(http)
    transfer(http)
    assert len(set(keys_of(seen))) == 2
    reads, _ = service([refused_connection])
    result = runner.invoke(app, ["tx", "show", "41", "--api-key", "k"], obj=reads)
    assert result.exit_code == 1 and "cannot reach the service" in result.stderr
    assert waits == []
    http, seen = service([lambda request: httpx.Response(200, json=TX)])
    runner.invoke(app, ["tx", "show", "41", "--api-key", "k"], obj=http)
    assert keys_of(seen) == [None]


def test_a_request_the_service_has_not_finished_is_waited_for_then_reported(waits: list[float]):
    def in_progress(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, headers={"Idempotent-Replayed": "true", "Retry-After": "1"}, json={
            "state": "in_progress", "message": "...", "outbox_ids": [41], "transactions": [{**TX, "status": "sent"}]})

    http, seen = service([timed_out, in_progress, ok])
    assert transfer(http).exit_code == 0
    assert len(seen) == 3 and waits == [0.5, 1.0]
    http, seen = service([timed_out, in_progress])
    result = transfer(http)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: the service recorded the request and has not finished it (transactions 41 sent)",
        "hint: it sends them when it can: follow with `carbonledger tx show 41`"]


class LosesTheFirstAnswer(TestClient):
    """The application in process; the answer to the first request is lost on its way back."""

    lost = 0

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().send(request, **kwargs)
        if not self.lost:
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_a_transfer_whose_answer_was_lost_is_carried_out_once(runtime: Runtime, cast: Cast, client: TestClient,
                                                              waits: list[float]):
    allocate(client, cast, {"enterprise_a": 100})
    flaky = LosesTheFirstAnswer(client.app)
    result = runner.invoke(app, ["allowance", "transfer", cast.addresses["trader"], "5", "--year", str(YEAR),
                                 "--json"], obj=flaky, env={"CARBONLEDGER_API_KEY": cast.tokens["enterprise_a"]})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "mined"
    assert flaky.lost == 1 and waits == [0.5]
    assert balance(client, cast, "trader") == 5

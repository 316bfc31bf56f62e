"""The throughput benchmark: its command line, its last line (every key of the issue, named for 64 clients), its
failures in one line, and its summary of what PostgreSQL waits on."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path

import httpx
import pytest

from bench.service_processes import ROOT, WaitSampler, settings_env, statement_label
from bench.service_throughput import (
    BATCH,
    LAST_LINE_KEYS,
    BenchFailure,
    RawSender,
    await_until,
    last_line,
    parser,
    print_table,
    single_figures,
)
from ledger_core.chain.outbox import LOCAL_POOL_WINDOW
from ledger_core.config import Settings

ISSUE_KEYS = ("single_tx_per_s_anvil_64", "single_p99_ms_anvil_64", "single_tx_per_s_anvil_1",
              "ratio_single_anvil_same_signer", "ratio_batch_anvil_same_signer", "two_process_tx_per_s_pg",
              "trace_p99_ms_pg")


def test_the_command_line_measures_64_clients_and_the_service_processes_unless_told_otherwise():
    args = parser().parse_args(["--skip-traces", "--transfers", "20", "--anvil-transfers", "40"])
    assert (args.clients, args.skip_traces, args.skip_processes) == (64, True, False)
    assert (args.process_transfers, args.process_signers) == (1000, 1)
    assert args.batch_rounds == 3  # the batch endpoint and the same-signer raw sends alternate, medians taken
    args = parser().parse_args(["--skip-processes", "--clients", "8", "--process-signers", "4"])
    assert (args.clients, args.skip_processes, args.process_signers) == (8, True, 4)


def test_the_last_line_keeps_the_earlier_keys_and_names_every_figure_of_the_issue_even_when_skipped():
    line = json.loads(last_line({"service_tx_per_s_embedded": 97.6}))
    assert set(ISSUE_KEYS) <= set(line) == set(LAST_LINE_KEYS)
    assert line["service_tx_per_s_embedded"] == 97.6
    assert all(line[k] is None for k in ISSUE_KEYS)
    assert "trace_p99_ms" in line and "ratio_anvil" in line


def test_the_table_shows_the_numbers_and_leaves_the_breakdowns_to_the_json_line(capsys: pytest.CaptureFixture[str]):
    print_table({"single_tx_per_s_anvil_64": 86.9, "single_p99_ms_anvil_64": 1253.3, "two_process_tx_per_s_pg": 23.2,
                 "two_process_cpu_ms_per_transfer_pg": {"service0": 14.3}, "pinned_cores": True,
                 "two_process_waits_pg": {"Lock:advisory": 0.03}, "trace_p99_ms": 31.8})
    table = capsys.readouterr().out
    assert "single_tx_per_s_anvil_64" in table and "1253.3" in table and "31.8" in table
    assert "cpu_ms_per_transfer" not in table and "waits" not in table and "pinned" not in table


def test_the_single_endpoint_figures_at_64_clients_fill_the_issue_keys_with_the_ratios_to_the_same_signer_raw_rate():
    latencies = [float(ms) for ms in range(1, 101)]
    figures = single_figures(single=100.0, concurrent=1000.0, latencies_ms=latencies, batch=1800.0, raw_fast=2000.0,
                             clients=64)
    assert figures["single_tx_per_s_anvil_64"] == 1000.0
    assert figures["single_tx_per_s_anvil_1"] == 100.0
    assert figures["single_p50_ms_anvil_64"] == 50.5
    assert 99.0 <= figures["single_p99_ms_anvil_64"] <= 100.0
    assert figures["ratio_single_anvil_same_signer"] == 0.5
    assert figures["ratio_batch_anvil_same_signer"] == 0.9


def test_another_client_count_gets_keys_of_its_own_and_leaves_the_64_client_keys_null():
    figures = single_figures(single=50.0, concurrent=400.0, latencies_ms=[10.0, 20.0], batch=900.0, raw_fast=1000.0,
                             clients=16)
    assert figures["single_tx_per_s_anvil_16"] == 400.0
    assert figures["single_tx_per_s_anvil_64"] is None and figures["single_p99_ms_anvil_64"] is None
    assert figures["single_clients_anvil"] == 16


def test_what_postgresql_waits_on_is_summarised_per_sample_by_statement():
    assert statement_label("SELECT  a,\n   b FROM t", width=12) == "SELECT a, b "
    sampler = WaitSampler(engine=None)  # type: ignore[arg-type]  # never started: only the arithmetic
    assert sampler.summary() == {"samples": 0, "active_backends": 0.0, "idle_in_transaction_backends": 0.0,
                                 "connections_at_most": 0, "connections_opened": 0, "active": {}}
    sampler.samples, sampler.idle_in_transaction = 4, 2
    sampler.active.update({"Lock:advisory (SELECT pg_advisory_xact_lock($1))": 3, "CPU (COMMIT)": 1})
    summary = sampler.summary(top=1)
    assert summary["active_backends"] == 1.0 and summary["idle_in_transaction_backends"] == 0.5
    assert summary["active"] == {"Lock:advisory (SELECT pg_advisory_xact_lock($1))": 0.75}


def test_transfers_never_mined_end_the_raw_path_with_one_line_saying_which():
    with pytest.raises(BenchFailure) as failure:
        await_until(lambda: False, "the first 200 of 1000 raw transfers", timeout=0.05, interval=0.01)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("raw anvil path: the first 200 of 1000 raw transfers not mined within 0.05 s")


def test_transfers_mined_late_are_waited_for():
    polls = count()
    await_until(lambda: next(polls) == 3, "the last", timeout=5, interval=0.001)
    assert next(polls) == 4


def test_a_transaction_the_node_holds_is_sent_again_and_then_waited_for():
    freed: list[bool] = []  # mined only once the held transaction was sent again
    await_until(lambda: bool(freed), "the last", timeout=5, interval=0.01, unstick=lambda: freed.append(True))
    assert freed == [True]


class FakeNode:
    """A node that mines `per_poll` of the pooled transfers each time it is asked for the sender's nonce."""

    def __init__(self, per_poll: int = 150) -> None:
        self.sent = self.mined = self.most_unmined = 0
        self.per_poll = per_poll
        self.methods: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        calls = payload if isinstance(payload, list) else [payload]
        self.methods += [c["method"] for c in calls]
        if calls[0]["method"] == "eth_getTransactionCount":
            self.mined = min(self.sent, self.mined + self.per_poll)
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": 0, "result": hex(7 + self.mined)})
        self.sent += len(calls)
        self.most_unmined = max(self.most_unmined, self.sent - self.mined)
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": c["id"], "result": "0x" + "ab" * 32}
                                         for c in calls])


def test_the_raw_path_keeps_at_most_the_services_window_unmined_and_ends_when_the_last_is_mined():
    node = FakeNode()
    with httpx.Client(transport=httpx.MockTransport(node.handle)) as http:
        RawSender(http, "http://node", "0xsender", nonce=7, interval=0).send([b"\x01"] * 2400)
    assert node.sent == node.mined == 2400
    assert LOCAL_POOL_WINDOW - BATCH < node.most_unmined <= LOCAL_POOL_WINDOW == 3 * BATCH
    assert node.methods.count("eth_sendRawTransaction") == 2400


def test_a_held_transfer_is_sent_again_with_those_handed_over_after_it_and_none_not_yet_handed_over():
    node = FakeNode(per_poll=0)  # mines nothing: the sender's first transfer is held
    with httpx.Client(transport=httpx.MockTransport(node.handle)) as http:
        sender = RawSender(http, "http://node", "0xsender", nonce=7, interval=0, timeout=0.05)
        with pytest.raises(BenchFailure):
            sender.send([b"\x01"] * 2400)
        assert sender.sent == LOCAL_POOL_WINDOW  # then the window was full
        node.methods.clear()
        sender.send_held_again([b"\x01"] * 2400)
    assert node.methods.count("anvil_removePoolTransactions") == 1
    assert node.methods.count("eth_sendRawTransaction") == LOCAL_POOL_WINDOW


def test_a_node_that_does_not_answer_ends_the_raw_path_with_one_line():
    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with httpx.Client(transport=httpx.MockTransport(silent)) as http, pytest.raises(BenchFailure) as failure:
        RawSender(http, "http://node", "0xsender", nonce=0).send([b"\x01"] * 10)
    assert str(failure.value) == ("raw anvil path: the node did not answer eth_sendRawTransaction "
                                  "(ReadTimeout: timed out)")


def test_a_served_process_gets_the_settings_by_field_name_and_none_the_parent_had(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CARBONLEDGER_CHAIN", "http://elsewhere:8545")
    env = settings_env({"database_url": "sqlite:////tmp/bench/anvil.db", "gas_limit": 600_000,
                        "deployments_dir": Path("/tmp/bench"), "rate_limit_burst": 10**9})
    assert env["CARBONLEDGER_DATABASE_URL"] == "sqlite:////tmp/bench/anvil.db"
    assert (env["CARBONLEDGER_GAS_LIMIT"], env["CARBONLEDGER_DEPLOYMENTS_DIR"]) == ("600000", "/tmp/bench")
    assert "CARBONLEDGER_CHAIN" not in env  # the parent's setting would point the process elsewhere
    named = {k.removeprefix("CARBONLEDGER_").lower() for k in env if k.startswith("CARBONLEDGER_")}
    assert named <= set(Settings.model_fields)
    assert env["PYTHONPATH"] == str(ROOT)  # this checkout's code, whatever is installed

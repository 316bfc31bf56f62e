"""Benchmark: allowance transfers per second through the HTTP API against raw sends on the same chain.

    python bench/service_throughput.py                    # embedded chain, a local anvil node, PostgreSQL
    python bench/service_throughput.py --transfers 400 --skip-anvil --skip-processes
    python bench/service_throughput.py --skip-traces --clients 64 --transfers 200 --anvil-transfers 1000 \
        --process-transfers 600                           # about 3 minutes on 2 cores

The API is the ASGI app served in-process (batches through Starlette's TestClient, single
requests through httpx's AsyncClient; no sockets), except the issue's single-endpoint keys on
anvil (a served process, below), so the figures are the service's own cost: authentication
and membership checks, the balance check, the outbox rows (SQLite, WAL), signing, sending and
receipts, with the outbox pump and the event index running beside it as `carbonledger serve`
runs them. Every measured transfer is mined before its clock stops.

- embedded: the service (single endpoint, then the batch endpoint with 200 transfers a
  request) against raw web3 on the same chain: transactions signed locally from
  pre-encoded calldata and sent one by one with `send_raw_transaction`.
  On this chain the single endpoint's ratio to raw (`ratio_single_embedded`, `--clients`
  clients) has a bound the run measures: a transfer run as a call (`embedded_call_ms`, the
  group's simulation before anything is written) and sent and mined (`embedded_send_ms`)
  both execute in this process, so the ratio is at most send / (send + call)
  (`ratio_single_embedded_bound`) before any of the service's own work.
- anvil: the service's batch endpoint against raw batched JSON-RPC: signed transactions
  posted as arrays of 200 `eth_sendRawTransaction`, at most three arrays unmined at a time
  (`RawSender`), until the last is mined. The batch
  endpoint and the raw sends signed as the service signs alternate `--batch-rounds` times
  (3 by default; each batch run on an index brought up to the head first): the figures are
  their medians, each round's pair is in `batch_rounds_anvil`.
Signing is timed on both sides. The raw side signs with eth-account, the service with
its own libsecp256k1 signer (`ledger_core.chain.signing`); `raw_fast_sign_tx_per_s_*`
and `ratio_*_same_signer` (extras) give the raw figure and the ratio with the raw side
signing the service's way too.
- single endpoint: one client sending one request at a time (`service_single_tx_per_s_*`),
  and `--clients` concurrent clients (64 by default) each sending one request after another
  (`service_single_concurrent_tx_per_s_*`, its p99 `service_single_concurrent_p99_ms_anvil`),
  both through httpx's AsyncClient over the ASGI app in this process (Starlette's TestClient
  hands each request to an event loop in another thread, about 4 ms a request that is not
  the service's: measured alternately on one node, 70 against 100 tx/s for one client), which
  the service group-commits (one outbox write, one JSON-RPC batch and one receipt poll
  for the requests that arrive while the previous group is being sent).
- the single endpoint as users meet it, on anvil (the issue's keys): once the runtime above
  is closed, one `python -m ledger_service serve` process (uvicorn on uvloop and httptools,
  not pinned to a core, as `carbonledger serve` runs: pinned, it answered faster on a quiet
  machine and much slower when another job shared its core) over the same SQLite database
  and node, and the clients in this process
  over real sockets (`bench/http_load.py`, keep-alive, a tenth of a millisecond a request),
  with `bench/service_processes.py`'s machinery: one client (`single_tx_per_s_anvil_1`), then
  `--clients` (`single_tx_per_s_anvil_64`, `single_p99_ms_anvil_64`: each request's latency,
  waiting for its receipt; p50 too), the CPU ms per transfer of the service process, the
  clients, the node and everything else on the machine (`single_cpu_ms_per_transfer_anvil_64`),
  and the single and batch rates over the same-signer raw rate
  (`ratio_single_anvil_same_signer`, `ratio_batch_anvil_same_signer`). The API key's rate
  limit is lifted for the runtime and this process (`CARBONLEDGER_RATE_LIMIT_BURST`): one
  member sends every transfer, more than the default 200 a second. Another `--clients` count
  names its own keys and leaves the 64-client ones null.
- the anvil node mines as the served node does (a block per transaction and, every second,
  a block of whatever waits) and keeps its older blocks' states in memory only, as
  `carbonledger chain start --history memory` does (written to disk, one per block, they
  cost the node as much CPU again: 0.84 against 0.42 ms per single transfer, 734 against
  1,041 tx/s for the served single endpoint, measured at 2,400 transfers). On the raw
  anvil path, a transaction the node holds
  queued although its nonce has become the next is sent again after half a second, with
  what follows it, as the service's receipt watcher does (a line on stderr says so);
  transfers still unmined after 120 s, or a node that does not answer, end the benchmark
  with one line saying which.
- service processes (`bench/service_processes.py`, `--process-transfers`, `--skip-processes`):
  the same single transfers from `--clients` clients over real sockets, round robin over
  one and then two `python -m ledger_service serve` processes (each pinned to a core) on
  one throwaway PostgreSQL and one anvil node: `one_process_tx_per_s_pg`,
  `two_process_tx_per_s_pg`, their ratio, p50/p99, and what PostgreSQL waited on
  (`pg_stat_activity` sampled, `pg_stat_statements`) and the CPU each part spent per transfer.

- traces: the history of `bench/trace_latency.py` (by default 1M readings anchored and
  100k allowance transfers mined on anvil, indexed into SQLite) served by a runtime over
  that node and database; `--trace-samples` requests alternate between the report trace
  (`GET /api/v1/audit/reports/{id}/trace`: versions, commitment over the anchors, 4 readings
  proved, devices) and one page of 500 hops of an allowance vintage's asset trace
  (`GET /api/v1/audit/assets/allowance/{year}/trace`), each answered after the runtime
  checks that the index is at the head: p50/p99 in ms, after one untimed request per target;
  the same again with the history indexed into a throwaway PostgreSQL cluster (keys ending
  `_pg`, e.g. `trace_p99_ms_pg`; `--skip-trace-pg` leaves it out). The measurement is
  `bench.trace_latency.api_trace_latency`.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from bench.service_processes import (
    GAS,
    ProcessBenchFailure,
    ProcessBenchUnavailable,
    metered_load,
    report_lines,
    run_processes,
    served,
    settings_env,
    world_cpu,
)
from bench.trace_latency import add_history_arguments, api_trace_latency, database, history_sizes, percentile
from ledger_core.chain.anvil import AnvilNode, AnvilUnavailable, free_port
from ledger_core.chain.compiler import Artifact, build
from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.deploy import deploy_suite, write_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.outbox import LOCAL_POOL_WINDOW, UNSTICK_AFTER, UNSTICK_EVERY, Intent
from ledger_core.chain.sender import FeePolicy, TransactionSender
from ledger_core.chain.signing import TxTemplate, signing_key
from ledger_core.config import Settings
from ledger_core.private_files import write_private
from ledger_service.api.app import create_app
from ledger_service.membership import ROLE_IDS, OrgKind
from ledger_service.runtime import Runtime, freeze_heap
from tests.storage.postgres import PostgresUnavailable

YEAR = 2025
BATCH = 200
PARK, ENTERPRISE = 10, 11
RECEIPT_TIMEOUT = 120.0
ISSUE_CLIENTS = 64  # the client count the `single_*_anvil_64` keys are named for


class BenchFailure(RuntimeError):
    """A measurement could not finish (a node that mines nothing, a request refused); said in one line."""


def prepare(runtime: Runtime, fund: Callable[[list[str]], None], total: int) -> dict[str, Any]:
    """An enterprise whose key the service keeps (`service`), one that sends raw (`raw`), and a receiver."""
    accounts = {name: Account.create() for name in ("service", "raw", "receiver")}
    fund([a.address for a in accounts.values()])
    runtime.keystore.store(accounts["service"], label="bench")
    regulator = runtime.bootstrap_regulator
    assert regulator is not None
    intents = [Intent("Membership", "registerOrganisation", (PARK, 0, int(OrgKind.PARK), "Bench Park"), regulator),
               Intent("Membership", "registerOrganisation", (ENTERPRISE, PARK, int(OrgKind.ENTERPRISE), "Bench Steel"),
                      regulator)]
    intents += [Intent("Membership", "admit", (a.address, ENTERPRISE, [ROLE_IDS["ENTERPRISE"]]), regulator)
                for a in accounts.values()]
    intents.append(Intent("AllowanceRegistry", "allocate",
                          (YEAR, [accounts["service"].address, accounts["raw"].address], [10 * total, 10 * total]),
                          regulator))
    records = runtime.outbox.submit(intents)
    assert all(r.status == "mined" for r in records), [r.error_name for r in records]
    token = runtime.api_keys.issue(accounts["service"].address, timedelta(hours=1), label="bench").token
    return {"accounts": accounts, "headers": {"Authorization": f"Bearer {token}"}}


def service_single_concurrent(app: Any, setup: dict[str, Any], n: int, clients: int) -> tuple[float, list[float]]:
    """`clients` concurrent clients share `n` single-transfer requests; every one is answered 200 (mined).
    The rate, and each request's latency in ms (from sending it to its answer, which waits for the receipt)."""
    body = {"to": setup["accounts"]["receiver"].address, "year": YEAR, "amount": 1}
    return concurrent_requests(
        app, n, clients, "a single transfer", (200,),
        lambda client, _: client.post("/api/v1/allowances/transfers", json=body, headers=setup["headers"]))


def concurrent_requests(app: Any, n: int, clients: int, what: str, expected: tuple[int, ...],
                        request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
                        ) -> tuple[float, list[float]]:
    """`clients` concurrent clients share `n` requests (`request(client, i)` makes the i-th) to the app in this
    process; each must be answered with one of the `expected` statuses. The rate, and each request's latency in
    ms (from sending it to its answer)."""
    # httpx's ASGI transport tries `import sniffio` on every request; where it is not installed, each
    # failed import searches sys.path again, time the clients in this process would take from the service.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

    async def run() -> tuple[float, list[float]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            taken = count()
            latencies: list[float] = []

            async def worker() -> None:
                while (i := next(taken)) < n:
                    t0 = time.perf_counter()
                    reply = await request(client, i)
                    if reply.status_code not in expected:
                        raise BenchFailure(f"{what} was answered {reply.status_code}: {reply.text[:300]}")
                    latencies.append((time.perf_counter() - t0) * 1000)

            await client.get("/api/v1/health")
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return n / (time.perf_counter() - start), latencies

    return asyncio.run(run())


def service_batch(client: TestClient, setup: dict[str, Any], n: int) -> float:
    item = {"to": setup["accounts"]["receiver"].address, "year": YEAR, "amount": 1}
    start = time.perf_counter()
    for first in range(0, n, BATCH):
        count = min(BATCH, n - first)
        reply = client.post("/api/v1/allowances/transfers/batch", json={"transfers": [item] * count},
                            headers=setup["headers"])
        assert reply.status_code == 200, reply.text[:500]
        unmined = [(t["status"], t["error"] or t["last_error"]) for t in reply.json()["transactions"]
                   if t["status"] != "mined"]
        assert not unmined, f"{len(unmined)} of {count} not mined, e.g. {unmined[:3]}"
    return n / (time.perf_counter() - start)


def transfer_calldata(runtime: Runtime, sender: str, receiver: str) -> bytes:
    return runtime.encoder.encode("AllowanceRegistry", "safeTransferFrom", (sender, receiver, YEAR, 1, b""))


def signed_transfers(runtime: Runtime, account: LocalAccount, receiver: str, n: int, nonce: int,
                     fees: dict[str, int], fast: bool = False) -> list[bytes]:
    data = transfer_calldata(runtime, account.address, receiver)
    to = runtime.deployment.addresses["AllowanceRegistry"]
    chain_id = runtime.chain.chain_id
    if fast:
        template, key, target = TxTemplate(chain_id, fees), signing_key(bytes(account.key)), bytes.fromhex(to[2:])
        return [template.sign(key, nonce + i, GAS, target, 0, data).raw for i in range(n)]
    fields: dict[str, Any] = {"to": to, "data": data, "value": 0, "chainId": chain_id, "gas": GAS, **fees}
    return [bytes(account.sign_transaction({**fields, "nonce": nonce + i}).raw_transaction) for i in range(n)]


def raw_embedded(runtime: Runtime, setup: dict[str, Any], n: int) -> float:
    account, receiver = setup["accounts"]["raw"], setup["accounts"]["receiver"].address
    w3 = runtime.chain.w3
    nonce = w3.eth.get_transaction_count(account.address)
    fees = FeePolicy.detect(w3).fields
    start = time.perf_counter()
    for raw in signed_transfers(runtime, account, receiver, n, nonce, fees):
        w3.eth.send_raw_transaction(raw)
    elapsed = time.perf_counter() - start
    assert w3.eth.get_transaction_count(account.address) == nonce + n
    return n / elapsed


def embedded_call_ms(runtime: Runtime, setup: dict[str, Any], n: int) -> float:
    """What bounds the single endpoint on the embedded chain, measured on it: a transfer run as a call (the
    group's simulation before anything is written, which keeps a request that would revert from recording
    anything) and one sent and mined (the raw side), in ms each. The chain runs in the service's process,
    so a simulated transfer costs its own execution again: the single endpoint's ratio to raw is at most
    send / (send + call), before any of the service's own work."""
    account, receiver = setup["accounts"]["raw"], setup["accounts"]["receiver"].address
    call = {"from": account.address, "to": runtime.deployment.addresses["AllowanceRegistry"], "gas": GAS,
            "data": transfer_calldata(runtime, account.address, receiver)}
    w3 = runtime.chain.w3
    start = time.perf_counter()
    for _ in range(n):
        w3.eth.call(call)  # type: ignore[arg-type]
    return (time.perf_counter() - start) * 1000 / n


def raw_anvil(runtime: Runtime, setup: dict[str, Any], url: str, n: int, fast: bool = False) -> float:
    account, receiver = setup["accounts"]["raw"], setup["accounts"]["receiver"].address
    w3 = runtime.chain.w3
    nonce = w3.eth.get_transaction_count(account.address)
    fees = FeePolicy.detect(w3).fields
    with httpx.Client(timeout=60) as http:
        start = time.perf_counter()
        raws = signed_transfers(runtime, account, receiver, n, nonce, fees, fast)
        RawSender(http, url, account.address, nonce).send(raws)
        elapsed = time.perf_counter() - start
    return n / elapsed


@dataclass
class RawSender:
    """Signed transfers of one account (nonces from `nonce`) sent to a node as JSON-RPC arrays of `BATCH`, with
    at most `window` of them unmined: a batch waits until enough of those before it are mined. Given more (2,400
    sent at once, measured here), anvil's mining went wrong in most runs: ready transactions left unmined while
    it mined empty blocks, a resend that waited a minute for an answer, transactions dropped from its pool.
    With three batches in flight, 12 rounds of 2,400 were all mined, at 4,600 to 6,000 tx/s against 1,200 to
    5,800 for the rounds of the same sends all at once that were mined at all. The window is the service's own
    on an anvil node (`LOCAL_POOL_WINDOW`). A node that stops answering or mining ends the benchmark with one
    line (`BenchFailure`)."""

    http: httpx.Client
    url: str
    sender: str
    nonce: int
    window: int = LOCAL_POOL_WINDOW
    timeout: float = RECEIPT_TIMEOUT
    interval: float = 0.002
    sent: int = field(default=0, init=False)  # how many of the transfers have been handed to the node

    def send(self, raws: list[bytes]) -> None:
        for first in range(0, len(raws), BATCH):
            batch = raws[first:first + BATCH]
            self.await_mined(first + len(batch) - self.window, raws)
            replies = self.rpc([{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction",
                                 "params": ["0x" + r.hex()]} for i, r in enumerate(batch, start=first)])
            self.sent = first + len(batch)
            refused = [r.get("error") for r in replies if "result" not in r]
            if refused:
                raise BenchFailure(f"the node refused {len(refused)} of {len(replies)} raw transfers, "
                                   f"e.g. {refused[0]}")
        self.await_mined(len(raws), raws)

    def rpc(self, payload: Any) -> Any:
        method = payload[0]["method"] if isinstance(payload, list) else payload["method"]
        try:
            return self.http.post(self.url, json=payload).json()
        except httpx.HTTPError as exc:
            raise BenchFailure(f"raw anvil path: the node did not answer {method} ({type(exc).__name__}: "
                               f"{exc or 'no detail'})") from exc

    def mined(self) -> int:
        """How many of the account's transfers from `nonce` on the node's latest block holds."""
        reply = self.rpc({"jsonrpc": "2.0", "id": 0, "method": "eth_getTransactionCount",
                          "params": [self.sender, "latest"]})
        return int(reply["result"], 16) - self.nonce

    def await_mined(self, wanted: int, raws: list[bytes]) -> None:
        if wanted <= 0:
            return
        await_until(lambda: self.mined() >= wanted, f"the first {wanted} of {len(raws)} raw transfers",
                    self.timeout, self.interval, unstick=lambda: self.send_held_again(raws))

    def send_held_again(self, raws: list[bytes]) -> None:
        """As the service's receipt watcher does (`Outbox.unstick`): anvil may hold a transaction queued
        although its nonce has become the next; empty the pool and send what is unmined again, in order."""
        mined = self.mined()
        unmined = raws[mined:self.sent]  # what was handed over only: the window still holds
        if not unmined:
            return
        self.rpc({"jsonrpc": "2.0", "id": 0, "method": "anvil_removePoolTransactions", "params": [self.sender]})
        for first in range(0, len(unmined), BATCH):
            self.rpc([{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + r.hex()]}
                      for i, r in enumerate(unmined[first:first + BATCH])])
        print(f"raw anvil path: the node held nonce {self.nonce + mined} unmined; the transfers from it sent again",
              file=sys.stderr)


def await_until(done: Callable[[], bool], what: str, timeout: float = RECEIPT_TIMEOUT,
                interval: float = 0.001, unstick: Callable[[], None] | None = None) -> None:
    """Poll `done()` until it holds. The node mines as the served node does (`AnvilNode(sweep_seconds=1)`: a
    block per transaction, and a block of whatever waits every second), but it may hold a transaction queued
    although its nonce has become the next, which no block takes: `unstick` runs after `UNSTICK_AFTER` and
    every `UNSTICK_EVERY` after, as the service's receipt watcher frees its signers. Still not done after
    `timeout` means the node is stuck: BenchFailure, one line."""
    started = time.monotonic()
    deadline, unstick_at = started + timeout, started + UNSTICK_AFTER
    while not done():
        now = time.monotonic()
        if now >= deadline:
            raise BenchFailure(f"raw anvil path: {what} not mined within {timeout:g} s, though the node "
                               "mines whatever waits every second")
        if unstick is not None and now >= unstick_at:
            unstick()
            unstick_at = now + UNSTICK_EVERY
        time.sleep(interval)


def key_secret_file(workdir: Path) -> Path:
    """The service's key secret on a node, as a user keeps it: a file of its own (mode 0600)."""
    path = workdir / "key-secret"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32) + "\n")
    return path


def serve_workers(runtime: Runtime) -> None:
    """The outbox pump and the event index run beside the API, as `carbonledger serve` runs them: the pump
    re-broadcasts a transaction the node lost, which a waiting request would otherwise wait out."""
    runtime.pump.start()
    runtime.indexing.start()


def stop_workers(runtime: Runtime) -> None:
    """Before the raw sends: they are measured without the service."""
    runtime.pump.stop()
    runtime.indexing.stop()


def run_embedded(artifacts: dict[str, Artifact], n: int, workdir: Path, results: dict[str, Any],
                 clients: int) -> None:
    settings = Settings(database_url=f"sqlite:///{workdir / 'embedded.db'}", chain="embedded", gas_limit=GAS,
                        data_dir=workdir)  # type: ignore[call-arg]  # the key secret is generated there
    runtime = Runtime.start(settings, artifacts=artifacts)
    embedded = runtime.chain.embedded
    assert embedded is not None
    setup = prepare(runtime, lambda addrs: embedded.fund(addrs), n)
    serve_workers(runtime)
    app = create_app(runtime)
    freeze_heap()  # as `serve` does
    client = TestClient(app)
    service_batch(client, setup, BATCH)  # warm-up: caches, SQLite pages
    single, _ = service_single_concurrent(app, setup, max(n // 5, 20), 1)
    concurrent, _ = service_single_concurrent(app, setup, max(n // 5, 20), clients)
    batch = service_batch(client, setup, n)
    stop_workers(runtime)
    raw = raw_embedded(runtime, setup, n)
    call_ms, send_ms = embedded_call_ms(runtime, setup, min(n, 200)), 1000 / raw
    runtime.close()
    results.update(service_single_tx_per_s_embedded=round(single, 1),
                   service_single_concurrent_tx_per_s_embedded=round(concurrent, 1),
                   service_tx_per_s_embedded=round(batch, 1), raw_tx_per_s_embedded=round(raw, 1),
                   ratio_embedded=round(batch / raw, 3), ratio_single_embedded=round(concurrent / raw, 3),
                   embedded_call_ms=round(call_ms, 2), embedded_send_ms=round(send_ms, 2),
                   ratio_single_embedded_bound=round(send_ms / (send_ms + call_ms), 3))


@contextmanager
def anvil_service(artifacts: dict[str, Artifact], workdir: Path, transfers: int, **settings: Any
                  ) -> Iterator[tuple[AnvilNode, dict[str, Any], Runtime, dict[str, Any], Any]]:
    """A node that mines as the served node does (`carbonledger chain start --history memory`: the benchmark
    calls no further back than a few blocks, and the node then spends half the CPU per transfer), the suite
    deployed on it, a runtime over it and the benchmark's SQLite database (`settings` added to its fields) with
    its workers running, `prepare`d for
    `transfers`, and its app: (node, the runtime's settings fields, runtime, setup, app). One member sends
    every request, faster than the default per-key rate (200 a second): its bucket is made deep enough for the
    whole run (the limiter still runs on every request)."""
    with AnvilNode(free_port(), sweep_seconds=1, history="memory") as node:
        deployer: LocalAccount = Account.create()
        node.fund(deployer.address)
        sender = TransactionSender(connect_rpc(node.url), deployer, RevertDecoder.from_artifacts(artifacts.values()))
        write_deployment(deploy_suite(sender, artifacts, network="bench"), workdir, overwrite=True)
        fields: dict[str, Any] = {"database_url": f"sqlite:///{workdir / 'anvil.db'}", "chain": node.url,
                                  "network": "bench", "deployments_dir": workdir, "gas_limit": GAS,
                                  "key_secret_file": key_secret_file(workdir),
                                  "bootstrap_regulator_key": "0x" + bytes(deployer.key).hex(),
                                  "rate_limit_burst": 10**9, **settings}
        runtime = Runtime.start(Settings(**fields), artifacts=artifacts)

        def fund(addresses: list[str]) -> None:
            for address in addresses:
                node.fund(address)

        setup = prepare(runtime, fund, transfers)
        serve_workers(runtime)
        app = create_app(runtime)
        freeze_heap()  # as `serve` does
        yield node, fields, runtime, setup, app


def run_anvil(artifacts: dict[str, Artifact], n: int, workdir: Path, results: dict[str, Any],
              clients: int, batch_rounds: int = 1) -> None:
    """The batch endpoint and the same-signer raw sends alternate `batch_rounds` times (each batch on an index
    brought up to the head first, each raw run with the workers stopped): their medians are the figures, each
    round's pair is kept (`batch_rounds_anvil`), so a burst of load elsewhere on the machine moves one round,
    not the ratio."""
    with anvil_service(artifacts, workdir, n * batch_rounds) as (node, fields, runtime, setup, app):
        client = TestClient(app)
        service_batch(client, setup, BATCH)
        in_process_single, _ = service_single_concurrent(app, setup, max(n // 5, 20), 1)
        in_process, in_process_latencies = service_single_concurrent(app, setup, max(n // 2, 4 * clients), clients)
        rounds = []
        for _ in range(max(batch_rounds, 1)):
            serve_workers(runtime)
            runtime.indexing.sync()  # the blocks mined before (the single endpoint's, the raw sends') indexed
            batch = service_batch(client, setup, n)
            stop_workers(runtime)
            rounds.append((batch, raw_anvil(runtime, setup, node.url, n, fast=True)))
        raw = raw_anvil(runtime, setup, node.url, n)
        runtime.close()
        single, concurrent, latencies, cpu = served_single(fields, workdir, node, setup, n, clients)
    batch = statistics.median(b for b, _ in rounds)
    raw_fast = statistics.median(r for _, r in rounds)
    results.update(service_single_tx_per_s_anvil=round(in_process_single, 1),
                   service_single_concurrent_tx_per_s_anvil=round(in_process, 1),
                   service_single_concurrent_p99_ms_anvil=round(percentile(in_process_latencies, 99), 1),
                   service_tx_per_s_anvil=round(batch, 1), raw_tx_per_s_anvil=round(raw, 1),
                   ratio_anvil=round(batch / raw, 3), raw_fast_sign_tx_per_s_anvil=round(raw_fast, 1),
                   ratio_anvil_same_signer=round(batch / raw_fast, 3))
    results.update(single_figures(single, concurrent, latencies, batch, raw_fast, clients))
    results[f"single_cpu_ms_per_transfer_anvil_{clients}"] = cpu
    results["batch_rounds_anvil"] = [{"batch": round(b, 1), "raw_fast_sign": round(r, 1)} for b, r in rounds]


def served_single(fields: dict[str, Any], workdir: Path, node: AnvilNode, setup: dict[str, Any], n: int,
                  clients: int) -> tuple[float, float, list[float], dict[str, float]]:
    """The single endpoint as its users meet it: one `python -m ledger_service serve` process (uvicorn, on no
    core in particular) over the runtime's SQLite database and node, the runtime closed first, and the clients in this
    process over real sockets (`bench.http_load`). One client, then `clients`: their rates, the latencies of the
    second load (ms), and the CPU ms per transfer of the service process, the clients and the node in it."""
    env = settings_env({**fields, "data_dir": workdir / "served", "api_host": "127.0.0.1"})
    token = setup["headers"]["Authorization"].removeprefix("Bearer ")
    receiver = setup["accounts"]["receiver"].address
    with served("served", workdir, env, core=None) as service:
        one, _ = metered_load([service], [token], receiver, max(n // 5, 20), 1, world_cpu([service], node))
        many, spent = metered_load([service], [token], receiver, max(n // 2, 4 * clients), clients,
                                   world_cpu([service], node))
    for load in (one, many):
        if load.statuses[200] != load.transfers:
            raise BenchFailure(f"served single transfers: answered {dict(load.statuses)} of {load.transfers}; "
                               f"the service's log: {workdir / 'served.log'}")
    return one.tx_per_s, many.tx_per_s, many.latencies_ms, spent["ms_per_transfer"]


def single_figures(single: float, concurrent: float, latencies_ms: list[float], batch: float, raw_fast: float,
                   clients: int) -> dict[str, Any]:
    """The issue's keys for the single endpoint on anvil: one client, `clients` concurrent ones (named for
    64 clients; another count gets keys of its own and leaves the 64-client keys null), and the ratios to
    the same-signer raw rate."""
    suffix = str(clients)
    figures: dict[str, Any] = {
        f"single_tx_per_s_anvil_{suffix}": round(concurrent, 1),
        f"single_p50_ms_anvil_{suffix}": round(statistics.median(latencies_ms), 1),
        f"single_p99_ms_anvil_{suffix}": round(percentile(latencies_ms, 99), 1),
        "single_tx_per_s_anvil_1": round(single, 1),
        "ratio_single_anvil_same_signer": round(concurrent / raw_fast, 3),
        "ratio_batch_anvil_same_signer": round(batch / raw_fast, 3),
        "single_clients_anvil": clients,
    }
    if clients != ISSUE_CLIENTS:
        figures |= {f"single_tx_per_s_anvil_{ISSUE_CLIENTS}": None, f"single_p99_ms_anvil_{ISSUE_CLIENTS}": None}
    return figures


def run_traces(artifacts: dict[str, Artifact], sizes: argparse.Namespace, workdir: Path,
               results: dict[str, Any], pg: bool = True) -> None:
    """The trace latencies of `bench/trace_latency.py --api`, on SQLite and (`pg`) on a throwaway PostgreSQL."""
    results.update(api_trace_latency(artifacts, sizes, f"sqlite:///{workdir / 'trace.db'}", workdir))
    if pg:
        try:
            with database(None, True, workdir) as url:
                results.update(api_trace_latency(artifacts, sizes, url, workdir, suffix="_pg"))
        except PostgresUnavailable as exc:
            print(f"PostgreSQL traces skipped: {exc}", file=sys.stderr)


# The last line's keys, always present (null when their part was skipped or failed).
LAST_LINE_KEYS = ("service_tx_per_s_embedded", "raw_tx_per_s_embedded", "ratio_embedded", "service_tx_per_s_anvil",
                  "raw_tx_per_s_anvil", "ratio_anvil", "trace_p50_ms", "trace_p99_ms",
                  f"single_tx_per_s_anvil_{ISSUE_CLIENTS}", f"single_p99_ms_anvil_{ISSUE_CLIENTS}",
                  "single_tx_per_s_anvil_1", "ratio_single_anvil_same_signer", "ratio_batch_anvil_same_signer",
                  "two_process_tx_per_s_pg", "trace_p99_ms_pg")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=1000, help="transfers per measurement (embedded)")
    parser.add_argument("--anvil-transfers", type=int, default=2000, help="transfers per measurement (anvil)")
    parser.add_argument("--clients", type=int, default=ISSUE_CLIENTS,
                        help="concurrent clients of the single endpoint (in-process and service processes)")
    parser.add_argument("--batch-rounds", type=int, default=3,
                        help="alternations of the batch endpoint and the same-signer raw sends on anvil (medians)")
    parser.add_argument("--skip-anvil", action="store_true")
    parser.add_argument("--skip-traces", action="store_true", help="no trace latency measurement")
    parser.add_argument("--skip-processes", action="store_true",
                        help="no measurement of one and two service processes on PostgreSQL")
    parser.add_argument("--process-transfers", type=int, default=1000,
                        help="single transfers per measurement of the service processes")
    parser.add_argument("--process-signers", type=int, default=1,
                        help="members the clients of the service processes act for, in turn")
    parser.add_argument("--skip-trace-pg", action="store_true", help="trace latency on SQLite only")
    add_history_arguments(parser, prefix="trace-")
    return parser


def last_line(results: dict[str, Any]) -> str:
    return json.dumps({**{k: results.get(k) for k in LAST_LINE_KEYS}, **results})


def run_all(args: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    """Every measurement asked for, into `results`; the service processes' report (waits, statements, CPU)."""
    report: list[str] = []
    artifacts = build()
    with tempfile.TemporaryDirectory(prefix="carbonledger-bench-") as tmp:
        run_embedded(artifacts, args.transfers, Path(tmp), results, args.clients)
        if not args.skip_anvil:
            try:
                run_anvil(artifacts, args.anvil_transfers, Path(tmp), results, args.clients, args.batch_rounds)
            except AnvilUnavailable as exc:
                print(f"anvil skipped: {exc}", file=sys.stderr)
        if not args.skip_processes:
            try:
                report = report_lines(run_processes(
                    artifacts, args.process_transfers, args.clients, Path(tmp) / "processes", results,
                    signers=args.process_signers, say=lambda message: print(message, file=sys.stderr, flush=True)))
            except (AnvilUnavailable, ProcessBenchUnavailable) as exc:
                print(f"service processes skipped: {exc}", file=sys.stderr)
        if not args.skip_traces:
            try:
                run_traces(artifacts, history_sizes(args, prefix="trace-"), Path(tmp), results,
                           pg=not args.skip_trace_pg)
            except AnvilUnavailable as exc:
                print(f"traces skipped: {exc}", file=sys.stderr)
    return report


def print_table(results: dict[str, Any]) -> None:
    """The figures as a table (numbers only: the JSON line carries the rest)."""
    results = {k: v for k, v in results.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    print(f"{'measurement':38} {'tx/s':>10}")
    for key, value in results.items():
        if "tx_per_s" in key:
            print(f"{key:38} {value:>10}")
    for key in ("ratio_embedded", "ratio_anvil", "ratio_anvil_same_signer"):
        if key in results:
            print(f"{key:38} {results[key]:>10}  (service batch endpoint / raw)")
    for key in ("ratio_single_anvil_same_signer", "ratio_two_one_process_pg"):
        if key in results:
            print(f"{key:38} {results[key]:>10}")
    latencies = [k for k in results if k.startswith(("single_", "one_process_", "two_process_")) and "_ms" in k]
    if latencies:
        print(f"{'single transfer, waiting for its receipt':38} {'ms':>10}")
        for key in latencies:
            print(f"{key:38} {results[key]:>10}")
    traces = [k for k in results if k.endswith("_ms") and k not in latencies]
    if traces:
        print(f"{'trace through the API':38} {'ms':>10}")
        for key in traces:
            print(f"{key:38} {results[key]:>10}")


def main() -> int:
    args = parser().parse_args()
    results: dict[str, Any] = {}
    try:
        report = run_all(args, results)
    except (BenchFailure, ProcessBenchFailure) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_table(results)
    if report:
        print("single transfers through service processes on PostgreSQL (64 clients, round robin):")
        print("\n".join(report))
    print(last_line(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

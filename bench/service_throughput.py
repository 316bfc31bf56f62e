"""Benchmark: allowance transfers per second through the HTTP API against raw sends on the same chain.

    python bench/service_throughput.py                    # embedded chain and a local anvil node
    python bench/service_throughput.py --transfers 400 --skip-anvil

The API is the ASGI app served in-process through Starlette's TestClient (httpx; no
sockets), so the figures are the service's own cost: authentication and membership
checks, the balance check, the outbox rows (SQLite, WAL), signing, sending and
receipts. Every measured transfer is mined before its clock stops.

- embedded: the service (single endpoint, then the batch endpoint with 200 transfers a
  request) against raw web3 on the same chain: transactions signed locally from
  pre-encoded calldata and sent one by one with `send_raw_transaction`.
- anvil: the service's batch endpoint against raw batched JSON-RPC: signed transactions
  posted as arrays of 200 `eth_sendRawTransaction`, then the last receipt awaited.
Signing is timed on both sides. The raw side signs with eth-account, the service with
its own libsecp256k1 signer (`ledger_core.chain.signing`); `raw_fast_sign_tx_per_s_*`
and `ratio_*_same_signer` (extras) give the raw figure and the ratio with the raw side
signing the service's way too.
- single endpoint: one request at a time (`service_single_tx_per_s_*`), and
  `--clients` concurrent clients each sending one request after another
  (`service_single_concurrent_tx_per_s_*`: httpx AsyncClient over the ASGI app), which
  the service group-commits (one outbox write, one JSON-RPC batch and one receipt poll
  for the requests that arrive while the previous group is being sent).

- traces: the history of `bench/trace_latency.py` (by default 1M readings anchored and
  100k allowance transfers mined on anvil, indexed into SQLite) served by a runtime over
  that node and database; `--trace-samples` requests alternate between the report trace
  (`GET /api/v1/audit/reports/{id}/trace`: versions, commitment over the anchors, 4 readings
  proved, devices) and one page of 500 hops of an allowance vintage's asset trace
  (`GET /api/v1/audit/assets/allowance/{year}/trace`), each answered after the runtime
  checks that the index is at the head: p50/p99 in ms, after one untimed request per target.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select

from bench.trace_latency import add_history_arguments, build_history, history_sizes, percentile
from ledger_core.chain.anvil import AnvilNode, AnvilUnavailable, free_port
from ledger_core.chain.compiler import Artifact, build
from ledger_core.chain.deploy import deploy_suite, write_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.outbox import Intent
from ledger_core.chain.sender import FeePolicy, TransactionSender
from ledger_core.chain.signing import TxTemplate, signing_key
from ledger_core.config import Settings
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models import ChainReport
from ledger_core.db.session import make_engine
from ledger_core.private_files import write_private
from ledger_service.api.app import create_app
from ledger_service.membership import ROLE_IDS, OrgKind
from ledger_service.runtime import Runtime

YEAR = 2025
BATCH = 200
PARK, ENTERPRISE = 10, 11
GAS = 400_000


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


def service_single(client: TestClient, setup: dict[str, Any], n: int) -> float:
    body = {"to": setup["accounts"]["receiver"].address, "year": YEAR, "amount": 1}
    start = time.perf_counter()
    for _ in range(n):
        reply = client.post("/api/v1/allowances/transfers", json=body, headers=setup["headers"])
        assert reply.status_code == 200, reply.text
    return n / (time.perf_counter() - start)


def service_single_concurrent(app: Any, setup: dict[str, Any], n: int, clients: int) -> float:
    """`clients` concurrent clients share `n` single-transfer requests; every one is answered 200 (mined)."""
    body = {"to": setup["accounts"]["receiver"].address, "year": YEAR, "amount": 1}

    async def run() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            remaining = [n]

            async def worker() -> None:
                while remaining[0] > 0:
                    remaining[0] -= 1
                    reply = await client.post("/api/v1/allowances/transfers", json=body, headers=setup["headers"])
                    assert reply.status_code == 200, reply.text

            await client.get("/api/v1/health")
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return n / (time.perf_counter() - start)

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
    return [bytes(account.sign_transaction({"to": to, "data": data, "value": 0, "chainId": chain_id,
                                            "nonce": nonce + i, "gas": GAS, **fees}).raw_transaction)
            for i in range(n)]


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


def raw_anvil(runtime: Runtime, setup: dict[str, Any], url: str, n: int, fast: bool = False) -> float:
    account, receiver = setup["accounts"]["raw"], setup["accounts"]["receiver"].address
    w3 = runtime.chain.w3
    nonce = w3.eth.get_transaction_count(account.address)
    fees = FeePolicy.detect(w3).fields
    with httpx.Client(timeout=60) as http:
        start = time.perf_counter()
        raws = signed_transfers(runtime, account, receiver, n, nonce, fees, fast)
        for first in range(0, n, BATCH):
            payload = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + r.hex()]}
                       for i, r in enumerate(raws[first:first + BATCH], start=first)]
            replies = http.post(url, json=payload).json()
            assert all("result" in r for r in replies), replies[:2]
        last = replies[-1]["result"]
        deadline = time.monotonic() + 120
        while True:
            receipt = http.post(url, json={"jsonrpc": "2.0", "id": 0, "method": "eth_getTransactionReceipt",
                                           "params": [last]}).json()["result"]
            if receipt:
                break
            # anvil's automine can leave ready transactions unmined (foundry-rs/foundry#10122)
            assert time.monotonic() < deadline, f"anvil mined no receipt for {last} in 120 s"
            time.sleep(0.001)
        elapsed = time.perf_counter() - start
    assert w3.eth.get_transaction_count(account.address) == nonce + n
    return n / elapsed


def key_secret_file(workdir: Path) -> Path:
    """The service's key secret on a node, as a user keeps it: a file of its own (mode 0600)."""
    path = workdir / "key-secret"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32) + "\n")
    return path


def run_embedded(artifacts: dict[str, Artifact], n: int, workdir: Path, results: dict[str, Any],
                 clients: int) -> None:
    settings = Settings(database_url=f"sqlite:///{workdir / 'embedded.db'}", chain="embedded", gas_limit=GAS,
                        data_dir=workdir)  # type: ignore[call-arg]  # the key secret is generated there
    runtime = Runtime.start(settings, artifacts=artifacts)
    embedded = runtime.chain.embedded
    assert embedded is not None
    setup = prepare(runtime, lambda addrs: embedded.fund(addrs), n)
    app = create_app(runtime)
    client = TestClient(app)
    service_batch(client, setup, BATCH)  # warm-up: caches, SQLite pages
    single = service_single(client, setup, max(n // 5, 20))
    concurrent = service_single_concurrent(app, setup, max(n // 5, 20), clients)
    batch = service_batch(client, setup, n)
    raw = raw_embedded(runtime, setup, n)
    runtime.close()
    results.update(service_single_tx_per_s_embedded=round(single, 1),
                   service_single_concurrent_tx_per_s_embedded=round(concurrent, 1),
                   service_tx_per_s_embedded=round(batch, 1), raw_tx_per_s_embedded=round(raw, 1),
                   ratio_embedded=round(batch / raw, 3))


def run_anvil(artifacts: dict[str, Artifact], n: int, workdir: Path, results: dict[str, Any],
              clients: int) -> None:
    with AnvilNode(free_port(), sweep_seconds=1) as node:
        deployer: LocalAccount = Account.create()
        node.fund(deployer.address)
        from ledger_core.chain.connect import connect_rpc

        sender = TransactionSender(connect_rpc(node.url), deployer, RevertDecoder.from_artifacts(artifacts.values()))
        write_deployment(deploy_suite(sender, artifacts, network="bench"), workdir, overwrite=True)
        settings = Settings(database_url=f"sqlite:///{workdir / 'anvil.db'}", chain=node.url, network="bench",
                            deployments_dir=workdir, gas_limit=GAS, key_secret_file=key_secret_file(workdir),
                            bootstrap_regulator_key="0x" + bytes(deployer.key).hex())  # type: ignore[arg-type]
        runtime = Runtime.start(settings, artifacts=artifacts)
        setup = prepare(runtime, lambda addrs: [node.fund(a) for a in addrs], n)
        app = create_app(runtime)
        client = TestClient(app)
        service_batch(client, setup, BATCH)
        single = service_single(client, setup, max(n // 5, 20))
        concurrent = service_single_concurrent(app, setup, max(n // 5, 20), clients)
        batch = service_batch(client, setup, n)
        raw = raw_anvil(runtime, setup, node.url, n)
        raw_fast = raw_anvil(runtime, setup, node.url, n, fast=True)
        runtime.close()
    results.update(service_single_tx_per_s_anvil=round(single, 1),
                   service_single_concurrent_tx_per_s_anvil=round(concurrent, 1),
                   service_tx_per_s_anvil=round(batch, 1), raw_tx_per_s_anvil=round(raw, 1),
                   ratio_anvil=round(batch / raw, 3), raw_fast_sign_tx_per_s_anvil=round(raw_fast, 1),
                   ratio_anvil_same_signer=round(batch / raw_fast, 3))


def run_traces(artifacts: dict[str, Artifact], sizes: argparse.Namespace, workdir: Path,
               results: dict[str, Any]) -> None:
    db = f"sqlite:///{workdir / 'trace.db'}"
    engine = make_engine(db)
    upgrade_to_head(engine)
    rng = random.Random(11)
    history = build_history(engine, sizes, rng)
    engine.dispose()
    try:
        write_deployment(history.deployment, workdir, overwrite=True)
        settings = Settings(database_url=db, chain=history.node.url, network="bench", deployments_dir=workdir,
                            index_confirmations=0, key_secret_file=key_secret_file(workdir),
                            bootstrap_regulator_key="0x" + bytes(  # type: ignore[arg-type]
                                history.regulator.key).hex())
        runtime = Runtime.start(settings, artifacts=artifacts)
        runtime.indexing.index_up_to_date()
        assert runtime.bootstrap_api_key is not None
        headers = {"Authorization": f"Bearer {runtime.bootstrap_api_key.token}"}
        with runtime.sessions() as session:
            report_ids = list(session.scalars(select(ChainReport.report_id)))
        client = TestClient(create_app(runtime))
        warm_up = [f"/api/v1/audit/reports/{i}/trace" for i in report_ids]
        warm_up += [f"/api/v1/audit/assets/allowance/{y}/trace?limit=500" for y in history.years]
        for url in warm_up:  # caches and SQLite pages, once per target
            assert client.get(url, headers=headers).status_code == 200
        gc.collect()
        gc.freeze()
        kinds: dict[str, list[float]] = {"report": [], "asset": []}
        for i in range(sizes.samples):
            kind = "report" if i % 2 == 0 else "asset"
            if kind == "report":
                url = f"/api/v1/audit/reports/{rng.choice(report_ids)}/trace"
            else:
                url = f"/api/v1/audit/assets/allowance/{rng.choice(history.years)}/trace?limit=500"
            t0 = time.perf_counter()
            reply = client.get(url, headers=headers)
            kinds[kind].append((time.perf_counter() - t0) * 1000)
            assert reply.status_code == 200, reply.text[:300]
            if kind == "report":
                assert reply.json()["verified"], url
        runtime.close()
    finally:
        history.node.stop()
    every = kinds["report"] + kinds["asset"]
    results.update(trace_p50_ms=round(statistics.median(every), 2), trace_p99_ms=round(percentile(every, 99), 2),
                   report_trace_p50_ms=round(statistics.median(kinds["report"]), 2),
                   report_trace_p99_ms=round(percentile(kinds["report"], 99), 2),
                   asset_trace_p50_ms=round(statistics.median(kinds["asset"]), 2),
                   asset_trace_p99_ms=round(percentile(kinds["asset"], 99), 2),
                   trace_indexed_events=history.index.events, trace_transfers_mined=history.transfers_mined,
                   trace_samples=sizes.samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=1000, help="transfers per measurement (embedded)")
    parser.add_argument("--anvil-transfers", type=int, default=2000, help="transfers per measurement (anvil)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of the single endpoint")
    parser.add_argument("--skip-anvil", action="store_true")
    parser.add_argument("--skip-traces", action="store_true", help="no trace latency measurement")
    add_history_arguments(parser, prefix="trace-")
    args = parser.parse_args()
    artifacts = build()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="carbonledger-bench-") as tmp:
        run_embedded(artifacts, args.transfers, Path(tmp), results, args.clients)
        if not args.skip_anvil:
            try:
                run_anvil(artifacts, args.anvil_transfers, Path(tmp), results, args.clients)
            except AnvilUnavailable as exc:
                print(f"anvil skipped: {exc}", file=sys.stderr)
        if not args.skip_traces:
            try:
                run_traces(artifacts, history_sizes(args, prefix="trace-"), Path(tmp), results)
            except AnvilUnavailable as exc:
                print(f"traces skipped: {exc}", file=sys.stderr)
    print(f"{'measurement':38} {'tx/s':>10}")
    for key, value in results.items():
        if "tx_per_s" in key:
            print(f"{key:38} {value:>10}")
    for key in ("ratio_embedded", "ratio_anvil", "ratio_anvil_same_signer"):
        if key in results:
            print(f"{key:38} {results[key]:>10}  (service batch endpoint / raw)")
    traces = [k for k in results if k.endswith("_ms")]
    if traces:
        print(f"{'trace through the API':38} {'ms':>10}")
        for key in traces:
            print(f"{key:38} {results[key]:>10}")
    keys = ("service_tx_per_s_embedded", "raw_tx_per_s_embedded", "ratio_embedded", "service_tx_per_s_anvil",
            "raw_tx_per_s_anvil", "ratio_anvil", "trace_p50_ms", "trace_p99_ms")
    print(json.dumps({**{k: results.get(k) for k in keys}, **results}))


if __name__ == "__main__":
    main()

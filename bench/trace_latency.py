"""Benchmark: index a large history from a local anvil node, then time report and asset traces.

    python bench/trace_latency.py                          # 1,000,000 readings, 100,000 transfers
    python bench/trace_latency.py --readings 50000 --transfers 5000 --samples 300
    python bench/trace_latency.py --pg                     # indexed into a throwaway PostgreSQL cluster
    python bench/trace_latency.py --api --pg               # through the HTTP endpoints
    python bench/trace_latency.py --api --keep /tmp/h      # built once into /tmp/h, timed again by later runs

Set-up (not timed): the suite is deployed on a local anvil node; a park of `--enterprises`
enterprises with `--devices` devices each is admitted, its devices registered; simulated
signed readings go through the oracle (ingest, hourly windows, trees) and every window is
anchored; each enterprise submits its year's report committing to its anchors, which is
verified and finalized; allowances of `--years` vintages are allocated to enterprises and
traders, then `--transfers` random allowance transfers are mined. Bulk transactions are
sent unsigned from impersonated member accounts (`anvil_impersonateAccount`) in JSON-RPC
batch arrays with automine off, a few thousand per block.

Timed: (1) indexing the whole history over JSON-RPC (`eth_getLogs` ranges, batched headers)
into SQLite (or `--db-url`, or `--pg`: a throwaway PostgreSQL cluster): events/s; (2) `--samples`
traces over random targets, alternating report traces (versions, steps, level-5 commitment
recomputed over the anchors, a reading of every anchor proved, devices) and asset traces (every
hop of one vintage and its holders): p50/p99 in ms. Before timing, each report is traced once
(`report_trace_cold_p50_ms`): that first trace rebuilds every window from its stored readings,
later ones use each window's kept verdict (`ledger_service.audit.window_checks`) until its
readings change. With `--api` the same history is served by a runtime and timed through
`GET /api/v1/audit/reports/{id}/trace` and pages of 500 hops of
`GET /api/v1/audit/assets/allowance/{year}/trace` (`api_trace_latency`, which
`bench/service_throughput.py` also runs, on SQLite and on PostgreSQL).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, keccak
from sqlalchemy import Engine, func, make_url, select
from web3 import HTTPProvider, Web3

from ledger_core.chain.anvil import AnvilNode, free_port
from ledger_core.chain.compiler import Artifact, build
from ledger_core.chain.deploy import Deployment, deploy_suite, load_deployment, write_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models import ChainReport, MeterBatch
from ledger_core.db.session import make_engine, session_factory
from ledger_service.audit.asset_trace import trace_asset
from ledger_service.audit.report_trace import trace_report
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import EventIndexer, SyncReport
from ledger_service.indexer.source import RpcSource
from oracles import merkle_sum as ms
from oracles.anchoring import MeterAnchorClient, anchor_pending
from oracles.batches import build_closed_batches
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.reports import period_node
from oracles.simulator import simulate_messages, simulate_park

PARK_KIND, ENTERPRISE_KIND, VERIFICATION_KIND, TRADING_KIND, OPERATOR_KIND = 1, 2, 3, 4, 6
START = 1_704_067_200  # 2024-01-01T00:00:00Z
YEAR = 2024
HOUR = 3600
BULK_GAS = 300_000
SETUP_GAS = 10_000_000
TRANSFER_SELECTOR = function_signature_to_4byte_selector("safeTransferFrom(address,address,uint256,uint256,bytes)")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Rpc:
    """Raw JSON-RPC to anvil: single calls and batch arrays."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=600)

    def call(self, method: str, *params: Any) -> Any:
        reply = self.client.post("", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        reply = self.client.post("", json=body).json()
        if not isinstance(reply, list):
            raise RuntimeError(f"batch of {len(calls)} refused: {reply}")
        replies = sorted(reply, key=lambda r: r["id"])
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise RuntimeError(f"{len(errors)} failed, first: {errors[0]}")
        return [r["result"] for r in replies]

    def send_all(self, txs: list[dict[str, Any]], chunk: int = 2000, check: bool = True) -> int:
        """Send `txs` (from impersonated accounts) with automine off, mine until the pool is empty;
        returns how many were mined successfully (-1 without `check`: anvil builds receipts of
        blocks with thousands of transactions slowly)."""
        first_block = int(self.call("eth_blockNumber"), 16) + 1
        self.call("evm_setAutomine", False)
        senders = sorted({t["from"] for t in txs})
        counts = self.batch([("eth_getTransactionCount", [a, "pending"]) for a in senders])
        nonces = {a: int(n, 16) for a, n in zip(senders, counts, strict=True)}
        for t in txs:
            t["nonce"] = hex(nonces[t["from"]])
            nonces[t["from"]] += 1
        hashes: list[str] = []
        t_send = t_mine = 0.0
        for start in range(0, len(txs), chunk):
            t0 = time.perf_counter()
            hashes += self.batch([("eth_sendTransaction", [tx]) for tx in txs[start:start + chunk]])
            t1 = time.perf_counter()
            self.call("evm_mine")
            t_send, t_mine = t_send + t1 - t0, t_mine + time.perf_counter() - t1
        t0 = time.perf_counter()
        rounds = 0
        while int(self.call("txpool_status")["pending"], 16):
            self.call("evm_mine")
            rounds += 1
        self.call("evm_setAutomine", True)
        if len(txs) > 1000:
            log(f"  {len(txs)} transactions: sent in {t_send:.1f} s, mined in {t_mine:.1f} s, "
                f"then {rounds} more blocks in {time.perf_counter() - t0:.1f} s")
        if not check:
            return -1
        wanted = set(hashes)
        ok = 0
        head = int(self.call("eth_blockNumber"), 16)
        for block in range(first_block, head + 1):
            for r in self.call("eth_getBlockReceipts", hex(block)) or []:
                ok += r["transactionHash"] in wanted and r["status"] == "0x1"
        return ok


def tx(suite: Suite, sender: str, contract: str, function: str, *args: Any) -> dict[str, Any]:
    data = suite.function(contract, function, *args)._encode_transaction_data()
    return {"from": sender, "to": suite.deployment.addresses[contract], "data": data, "gas": hex(SETUP_GAS),
            "gasPrice": "0x0"}  # the node charges no gas


def bench_regulator() -> LocalAccount:
    return Account.from_key(keccak(text="bench-trace-regulator"))


def vintages(count: int) -> list[int]:
    """The allowance vintages of the history (the asset trace targets)."""
    return list(range(YEAR - count + 1, YEAR + 1))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def add_history_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The sizes of the history (`prefix` distinguishes them among another benchmark's options)."""
    parser.add_argument(f"--{prefix}readings", type=int, default=1_000_000)
    parser.add_argument(f"--{prefix}transfers", type=int, default=100_000)
    parser.add_argument(f"--{prefix}enterprises", type=int, default=20)
    parser.add_argument(f"--{prefix}devices", type=int, default=50, help="devices per enterprise")
    parser.add_argument(f"--{prefix}traders", type=int, default=20)
    parser.add_argument(f"--{prefix}years", type=int, default=50, help="allowance vintages (asset trace targets)")
    parser.add_argument(f"--{prefix}samples", type=int, default=2000, help="traces timed")
    parser.add_argument(f"--{prefix}range", type=int, default=20_000, help="blocks per eth_getLogs range")
    parser.add_argument(f"--{prefix}workers", type=int, default=2)


def history_sizes(args: argparse.Namespace, prefix: str = "") -> argparse.Namespace:
    """The sizes given with `add_history_arguments(parser, prefix)`, under their plain names."""
    key = prefix.replace("-", "_")
    return argparse.Namespace(**{k[len(key):]: v for k, v in vars(args).items() if k.startswith(key)})


@dataclass
class History:
    """A large history on a running anvil node, indexed into `engine`."""

    node: AnvilNode
    engine: Engine
    artifacts: dict[str, Artifact]
    deployment: Deployment
    regulator: LocalAccount
    years: list[int]
    index: SyncReport
    transfers_mined: int


def build_history(engine: Engine, sizes: argparse.Namespace, rng: random.Random,
                  state_file: Path | None = None) -> History:
    """Start anvil, make the history `sizes` describe and index it into `engine` (already migrated).
    The caller stops `history.node` (which then dumps the chain into `state_file`, if given)."""
    args = sizes
    sessions = session_factory(engine)
    node = AnvilNode(free_port(), state_file=state_file).start()
    try:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 600}))
        rpc = Rpc(node.url)
        rpc.call("evm_setBlockGasLimit", hex(2_000_000_000))
        artifacts = build()
        decoder = RevertDecoder.from_artifacts(artifacts.values())
        regulator = bench_regulator()
        oracle = Account.from_key(keccak(text="bench-trace-oracle"))
        node.fund(regulator.address)
        node.fund(oracle.address)
        log("deploying the suite on anvil ...")
        deployment = deploy_suite(TransactionSender(w3, regulator, decoder), artifacts, network="bench")
        suite = Suite(w3, artifacts, deployment)

        layout = simulate_park(args.enterprises, args.devices, seed=5)
        enterprise = {org: Account.from_key(keccak(text=f"bench-trace-enterprise-{org}")).address
                      for org, _ in layout.enterprises}
        traders = [Account.from_key(keccak(text=f"bench-trace-trader-{i}")).address for i in range(args.traders)]
        verifier = Account.from_key(keccak(text="bench-trace-verifier")).address
        for account in [regulator.address, *enterprise.values(), *traders, verifier]:
            rpc.call("anvil_impersonateAccount", account)
            node.fund(account)
        reg = regulator.address
        setup = [tx(suite, reg, "Membership", "registerOrganisation", layout.park_org_id, 0, PARK_KIND, "Park"),
                 tx(suite, reg, "Membership", "registerOrganisation", 9000, 0, OPERATOR_KIND, "Oracle"),
                 tx(suite, reg, "Membership", "registerOrganisation", 8000, 0, VERIFICATION_KIND, "Verifier"),
                 tx(suite, reg, "Membership", "registerOrganisation", 7000, 0, TRADING_KIND, "Traders"),
                 tx(suite, reg, "Membership", "admit", oracle.address, 9000, [keccak(text="ORACLE")]),
                 tx(suite, reg, "Membership", "admit", verifier, 8000, [keccak(text="VERIFIER")])]
        for org, name in layout.enterprises:
            setup += [tx(suite, reg, "Membership", "registerOrganisation", org, layout.park_org_id, ENTERPRISE_KIND,
                         name),
                      tx(suite, reg, "Membership", "admit", enterprise[org], org, [keccak(text="ENTERPRISE")]),
                      tx(suite, reg, "MeterAnchor", "setOracleAuthorisation", oracle.address, org, True)]
        setup += [tx(suite, reg, "Membership", "admit", t, 7000, [keccak(text="TRADER")]) for t in traders]
        setup += [tx(suite, enterprise[d.enterprise_org_id], "MeterAnchor", "registerDevice", d.info.device_hash,
                     d.enterprise_org_id, d.info.facility_id, d.info.workshop_id, d.info.public_key_hash)
                  for d in layout.devices]
        assert rpc.send_all(setup) == len(setup)

        devices = args.enterprises * args.devices
        per_device = max(1, args.readings // devices)
        log(f"ingesting {devices} devices x {per_device} readings ...")
        now = START + per_device * 60 + 2 * HOUR
        with sessions() as session:
            register_devices(session, layout.device_infos())
            session.commit()
            ingest_messages(session, simulate_messages(layout, START, per_device, 60, 60),
                            factor_set=get_factor_set("CN-2023-v1"), window_seconds=HOUR, now=now,
                            workers=args.workers, source="bench")
            session.commit()
            built = build_closed_batches(session, now)
            log(f"anchoring {len(built)} windows ...")
            anchor_pending(session, MeterAnchorClient(suite.contract("MeterAnchor"),
                                                      TransactionSender(w3, oracle, decoder)))
            reports = []
            for org, account in enterprise.items():
                batches = session.scalars(select(MeterBatch).where(MeterBatch.enterprise_org_id == org)
                                          .order_by(MeterBatch.anchor_id)).all()
                assert all(b.root is not None for b in batches), "every anchored window has its root"
                period = period_node(org, [ms.Node(b.root or b"", b.total_mg, b.reading_count) for b in batches])
                reports.append(tx(suite, account, "EmissionRegistry", "submitReport", YEAR, keccak(text=f"r{org}"),
                                  period.sum // 10**6, period.hash, period.sum, period.count))
        assert rpc.send_all(reports) == len(reports)
        review = [tx(suite, verifier, "EmissionRegistry", "verifyReport", i, 1, keccak(text="ok"))
                  for i in range(1, len(reports) + 1)]
        review += [tx(suite, reg, "EmissionRegistry", "finalizeReport", i) for i in range(1, len(reports) + 1)]
        assert rpc.send_all(review[: len(reports)]) == len(reports)
        assert rpc.send_all(review[len(reports):]) == len(reports)

        holders = [*enterprise.values(), *traders]
        years = vintages(args.years)
        allocations = [tx(suite, reg, "AllowanceRegistry", "allocate", y, list(enterprise.values()),
                          [10**9] * len(enterprise)) for y in years]
        seeding = [tx(suite, e, "AllowanceRegistry", "safeTransferFrom", e, t, y, 10**6, b"")
                   for y in years for i, t in enumerate(traders)
                   for e in [list(enterprise.values())[i % len(enterprise)]]]
        assert rpc.send_all(allocations) == len(allocations)
        assert rpc.send_all(seeding) == len(seeding)
        log(f"mining {args.transfers} transfers ...")
        started = time.perf_counter()
        transfers = []
        for _ in range(args.transfers):
            src, dst = rng.sample(holders, 2)
            data = "0x" + (TRANSFER_SELECTOR + encode(["address", "address", "uint256", "uint256", "bytes"],
                                                      [src, dst, rng.choice(years), rng.randint(1, 9), b""])).hex()
            transfers.append({"from": src, "to": deployment.addresses["AllowanceRegistry"], "data": data,
                              "gas": hex(BULK_GAS), "gasPrice": "0x0"})
        rpc.send_all(transfers, check=False)
        # The chain moves on after the bulk blocks (each holds a few thousand transfers): a request's check that
        # the index is at the head reads the head block, which would otherwise be one of them (140 kB of JSON for
        # 2,000 transactions, about 20 ms, in every request of the API measurement).
        rpc.call("evm_mine")
        log(f"{len(transfers)} transfers sent and mined in {time.perf_counter() - started:.1f} s; "
            f"head {w3.eth.block_number}")

        log("indexing ...")
        catalog = EventCatalog(artifacts, deployment.addresses)
        indexer = EventIndexer(engine, RpcSource(node.url), catalog, confirmations=0, range_size=args.range,
                               start_block=deployment.block)
        report = indexer.sync()
        mined = report.by_event.get("AllowanceRegistry.TransferSingle", 0) - len(seeding) - len(
            allocations) * len(enterprise)
        log(f"indexed {report.events} events ({report.rows} rows) in {report.seconds:.2f} s: "
            f"{report.events_per_second:,.0f} events/s over {report.ranges} ranges")
    except BaseException:
        node.stop()
        raise
    return History(node, engine, artifacts, deployment, regulator, years, report, mined)


SIZES = ("readings", "transfers", "enterprises", "devices", "traders", "years")


def kept_history(engine: Engine, sizes: argparse.Namespace, rng: random.Random, keep: Path | None) -> History:
    """`build_history`, or with `keep` the history built once into that directory (anvil's state, the
    deployment, what was indexed) and served again by later runs of the same sizes over the same database."""
    if keep is None:
        return build_history(engine, sizes, rng)
    notes, state = keep / "history.json", keep / "anvil-state.json"
    wanted = {k: getattr(sizes, k) for k in SIZES}
    if not notes.exists():
        keep.mkdir(parents=True, exist_ok=True)
        built = build_history(engine, sizes, rng, state_file=state)
        assert built.node.process is not None
        built.node.process.terminate()
        built.node.process.wait()  # anvil dumps its state as it exits: hundreds of MB at the default sizes
        built.node.stop()
        write_deployment(built.deployment, keep, overwrite=True)
        notes.write_text(json.dumps({"sizes": wanted, "events": built.index.events, "head": built.index.head,
                                     "transfers_mined": built.transfers_mined}))
    kept = json.loads(notes.read_text())
    if kept["sizes"] != wanted:
        raise SystemExit(f"{keep} holds a history of {kept['sizes']}, not {wanted}")
    # The node runs on a copy: it dumps its state again when stopped, and a dump cut short would spoil the kept one.
    # A copy of this run's own, removed when the run ends: with one copy for every run over the same kept history,
    # another run's node dumping into it as it stops (hundreds of MB) or another run copying over it could cut it
    # short while this run's node loaded it (anvil: "EOF while parsing").
    serving = keep / f"anvil-state.serving-{os.getpid()}.json"
    shutil.copyfile(state, serving)
    atexit.register(serving.unlink, missing_ok=True)
    node = AnvilNode(free_port(), state_file=serving).start(timeout=600)  # a large state loads slowly
    index = SyncReport(kept["head"], kept["head"], kept["head"], events=kept["events"])
    return History(node, engine, build(), load_deployment("bench", keep), bench_regulator(), vintages(sizes.years),
                   index, kept["transfers_mined"])


def summary(kinds: dict[str, list[float]], suffix: str = "") -> dict[str, float]:
    """p50 and p99 of every trace and of each kind, keys ending with `suffix`."""
    every = kinds["report"] + kinds["asset"]
    out = {"trace_p50_ms": statistics.median(every), "trace_p99_ms": percentile(every, 99)}
    for kind, values in kinds.items():
        out[f"{kind}_trace_p50_ms"] = statistics.median(values)
        out[f"{kind}_trace_p99_ms"] = percentile(values, 99)
    return {k + suffix: round(v, 2) for k, v in out.items()}


def print_table(kinds: dict[str, list[float]]) -> None:
    every = kinds["report"] + kinds["asset"]
    print(f"{'trace':<8} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, values in (*kinds.items(), ("all", every)):
        print(f"{kind:<8} {len(values):>6} {statistics.median(values):>8.2f} {percentile(values, 99):>8.2f} "
              f"{max(values):>8.2f}")


@contextmanager
def database(url: str | None, pg: bool, workdir: Path) -> Iterator[str]:
    """The database to index into: `url`, a throwaway PostgreSQL cluster (`pg`) or a SQLite file in `workdir`."""
    if url:
        yield url
        return
    if not pg:
        yield f"sqlite:///{workdir / 'trace.db'}"
        return
    from tests.storage.postgres import ThrowawayPostgres

    server = ThrowawayPostgres.start()
    try:
        yield server.url
    finally:
        server.stop()


def api_trace_latency(artifacts: dict[str, Artifact], sizes: argparse.Namespace, database_url: str, workdir: Path,
                      suffix: str = "", keep: Path | None = None) -> dict[str, Any]:
    """The history of `sizes` indexed into `database_url` (migrated here), served by a runtime over that node and
    database; `sizes.samples` requests alternate between a report trace and one page of 500 hops of an allowance
    vintage's asset trace, after one untimed request per target. p50/p99 in ms, keys ending with `suffix`.
    With `keep`, the history and the service's keys are kept in that directory for the next run."""
    from bench.service_throughput import key_secret_file
    from ledger_core.config import Settings
    from ledger_core.private_files import write_private
    from ledger_service.api.app import create_app
    from ledger_service.runtime import Runtime

    engine = make_engine(database_url)
    upgrade_to_head(engine)
    history = kept_history(engine, sizes, random.Random(11), keep)
    engine.dispose()
    workdir = keep or workdir
    rng = random.Random(11)
    try:
        write_deployment(history.deployment, workdir, overwrite=True)
        settings = Settings(database_url=database_url, chain=history.node.url, network="bench",
                            deployments_dir=workdir, index_confirmations=0, key_secret_file=key_secret_file(workdir),
                            bootstrap_regulator_key="0x" + bytes(  # type: ignore[arg-type]
                                history.regulator.key).hex())
        runtime = Runtime.start(settings, artifacts=artifacts)
        runtime.indexing.index_up_to_date()
        token_file = workdir / "api-key"
        if runtime.bootstrap_api_key is not None:
            write_private(token_file, runtime.bootstrap_api_key.token)
        headers = {"Authorization": f"Bearer {token_file.read_text()}"}
        with runtime.sessions() as session:
            report_ids = list(session.scalars(select(ChainReport.report_id)))
        # httpx's AsyncClient over the ASGI application on this thread's event loop, as the throughput benchmark
        # sends: no sockets and no thread of the client's own. (Starlette's TestClient hands each request to a
        # loop on another thread; that hand-over, not the service, was a few milliseconds of every request.)
        kinds: dict[str, list[float]] = {"report": [], "asset": []}
        cold: list[float] = []

        async def timed() -> None:
            transport = httpx.ASGITransport(app=create_app(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
                warm_up = [f"/api/v1/audit/reports/{i}/trace" for i in report_ids]
                warm_up += [f"/api/v1/audit/assets/allowance/{y}/trace?limit=500" for y in history.years]
                for url in warm_up:  # each window's verdict, caches and database pages, once per target
                    t0 = time.perf_counter()
                    assert (await client.get(url, headers=headers)).status_code == 200
                    if "/reports/" in url:
                        cold.append((time.perf_counter() - t0) * 1000)
                gc.collect()
                gc.freeze()
                for i in range(sizes.samples):
                    kind = "report" if i % 2 == 0 else "asset"
                    if kind == "report":
                        url = f"/api/v1/audit/reports/{rng.choice(report_ids)}/trace"
                    else:
                        url = f"/api/v1/audit/assets/allowance/{rng.choice(history.years)}/trace?limit=500"
                    t0 = time.perf_counter()
                    reply = await client.get(url, headers=headers)
                    kinds[kind].append((time.perf_counter() - t0) * 1000)
                    assert reply.status_code == 200, reply.text[:300]
                    if kind == "report":
                        assert reply.json()["verified"], url

        asyncio.run(timed())
        gc.unfreeze()
        runtime.close()
    finally:
        history.node.stop()
    return {**summary(kinds, suffix), f"report_trace_cold_p50_ms{suffix}": round(statistics.median(cold), 2),
            f"trace_indexed_events{suffix}": history.index.events,
            f"trace_transfers_mined{suffix}": history.transfers_mined, f"trace_samples{suffix}": sizes.samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_history_arguments(parser)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", help="SQLite file (default: a temporary file)")
    where.add_argument("--db-url", help="a database URL (SQLite or PostgreSQL), migrated here")
    where.add_argument("--pg", action="store_true", help="a throwaway PostgreSQL cluster (initdb, pg_ctl)")
    parser.add_argument("--api", action="store_true",
                        help="time the HTTP endpoints through a runtime (pages of 500 hops) instead of the functions")
    parser.add_argument("--keep", type=Path, help="build the history once into this directory (anvil's state, "
                        "the SQLite database unless --db or --db-url) and time it again on later runs")
    args = parser.parse_args()
    if args.keep and args.pg:
        parser.error("--keep needs a database that outlives the run: --db-url instead of --pg")
    rng = random.Random(11)

    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{Path(args.db)}" if args.db else args.db_url
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    if args.keep and not url:
        url = f"sqlite:///{args.keep.resolve() / 'trace.db'}"
    with database(url, args.pg, Path(tmp.name)) as db_url:
        if args.api:
            results = api_trace_latency(build(), args, db_url, Path(tmp.name), keep=args.keep)
            print(json.dumps(results))
            return
        engine = make_engine(db_url)
        upgrade_to_head(engine)
        sessions = session_factory(engine)
        history = kept_history(engine, args, rng, args.keep)
        history.node.stop()
        report, mined, years = history.index, history.transfers_mined, history.years

        with sessions() as session:
            report_ids = list(session.scalars(select(ChainReport.report_id)))
            readings = session.scalar(select(func.sum(MeterBatch.reading_count)))
            cold = []
            for report_id in report_ids:  # once per report: every window's verdict is kept from then on
                t0 = time.perf_counter()
                trace_report(session, report_id)
                cold.append((time.perf_counter() - t0) * 1000)
                session.rollback()
            gc.collect()
            gc.freeze()  # the set-up's long-lived objects are not rescanned by every collection while timing
            kinds: dict[str, list[float]] = {"report": [], "asset": []}
            for i in range(args.samples):
                kind = "report" if i % 2 == 0 else "asset"
                t0 = time.perf_counter()
                if kind == "report":
                    trace = trace_report(session, rng.choice(report_ids))
                    assert trace.verified
                else:
                    trace_asset(session, "AllowanceRegistry", rng.choice(years))
                kinds[kind].append((time.perf_counter() - t0) * 1000)
                session.rollback()  # as a request ends; the next one reads what was committed since
                session.expunge_all()
        engine.dispose()
    hops = args.transfers / len(years)
    print_table(kinds)
    print(json.dumps({
        **summary(kinds),
        "report_trace_cold_p50_ms": round(statistics.median(cold), 2),
        "index_events_per_s": round(report.events_per_second),
        "indexed_events": report.events,
        "readings": readings,
        "transfers_mined": mined,
        "hops_per_asset_trace": round(hops),
        "samples": args.samples,
        "database": make_url(db_url).get_backend_name(),
    }))


if __name__ == "__main__":
    main()

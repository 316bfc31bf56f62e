"""Single transfers through one and through two real service processes on one PostgreSQL database.

Part of `bench/service_throughput.py` (`--process-transfers`, `--skip-processes`); runnable alone:

    python bench/service_processes.py --clients 64 --transfers 1000

The world is built once: a throwaway PostgreSQL cluster (with `pg_stat_statements` loaded), one anvil
node mining as the served node does (a block per transaction and a sweep of the pool every second),
the suite deployed, and `python -m ledger_service serve` processes over them, each pinned to a core of
its own where the platform allows (`os.sched_setaffinity`). The same load runs twice: against one
process, then against two (the first one and a second started beside it). `--clients` concurrent
clients send single allowance transfers (each waiting for its receipt) over real sockets, request after
request going to the next process in turn (a round-robin proxy, without the proxy); by default every
client acts for one member (`--signers` spreads them over several), as in the in-process benchmark.

While each load runs, PostgreSQL says what the service processes wait on: `pg_stat_activity` is
sampled every 20 ms (a backend running a statement either waits on a lock or an I/O, or is on the CPU;
a backend `idle in transaction` is the service holding a transaction open while it does something else),
and `pg_stat_statements` gives the statements' total time. The CPU time each part of the world spent
per transfer is read from /proc: each service process, the clients (this process), PostgreSQL, the node,
and everything else on the machine (other jobs: the figures of a busy machine say so). Both appear in the
report and, briefly, in the benchmark's JSON line, with the share of a core an idle service process uses.

The services run with a fixed gas limit (400,000), as the in-process benchmark does; `--estimate-gas`
leaves it unset, so that every transaction's gas is estimated as on a node by default.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, create_engine, text

from bench.http_load import Connection, HttpError
from bench.trace_latency import percentile
from ledger_core.chain.anvil import AnvilNode, free_port
from ledger_core.chain.compiler import Artifact, build
from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.deploy import deploy_suite, write_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from tests.faults.harness import NETWORK, SERVICE_SETTINGS, service_env
from tests.storage.postgres import PostgresUnavailable, ThrowawayPostgres, _as_server_user

ROOT = Path(__file__).resolve().parent.parent
V1 = "/api/v1"
YEAR = 2025
PARK, ENTERPRISE = 10, 11
SAMPLE_SECONDS = 0.02
# The throughput benchmarks' fixed gas limit: it must cover every transaction they send, the largest being a
# member's admission (`admit_member` in .gas-snapshot, which grows with each permission mirror).
GAS = 600_000
BENCH_OPERATIONS = ("admit_member", "transfer_allowance", "allocate_per_holder")


class ProcessBenchFailure(RuntimeError):
    """The world could not be built or a measurement could not finish; the message says which and why."""


class ProcessBenchUnavailable(ProcessBenchFailure):
    """PostgreSQL cannot run on this machine: the measurement is skipped, with the reason."""


# ====================================================================== PostgreSQL


def start_postgres() -> tuple[ThrowawayPostgres, str]:
    """A throwaway cluster restarted with `pg_stat_statements` loaded, and the URL of a new database on it."""
    try:
        server = ThrowawayPostgres.start()
    except PostgresUnavailable as exc:
        raise ProcessBenchUnavailable(f"PostgreSQL not available: {exc}") from exc
    except (subprocess.CalledProcessError, OSError) as exc:  # binaries present but not runnable here
        raise ProcessBenchUnavailable(f"PostgreSQL could not be started: {exc}") from exc
    data = server.directory / "data"
    pg_ctl = str(server.bin_dir / "pg_ctl")
    options = (f"-p {server.port} -k {server.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all")
    try:
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), check=True,
                       capture_output=True, timeout=60)
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(server.directory / "log"),
                                        "-w", "start"]), check=True, capture_output=True, timeout=60)
        admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE throughput"))
        admin.dispose()
        url = server.url.rsplit("/", 1)[0] + "/throughput"
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        engine.dispose()
    except Exception as exc:
        server.stop()
        raise ProcessBenchFailure(f"PostgreSQL could not be restarted with pg_stat_statements: {exc}") from exc
    return server, url


# ====================================================================== what the processes wait on


QUERY_WORDS = re.compile(r"\s+")


def statement_label(query: str | None, width: int = 70) -> str:
    """A statement's first words, whitespace folded (enough to tell the outbox's statements apart)."""
    return QUERY_WORDS.sub(" ", query or "").strip()[:width]


@dataclass
class WaitSampler:
    """Samples `pg_stat_activity` of one database in a thread of its own while a load runs."""

    engine: Engine
    samples: int = 0
    active: Counter[str] = field(default_factory=Counter)  # "wait (statement)" of backends running a statement
    idle_in_transaction: int = 0  # backend-samples spent holding a transaction open between statements
    backends: set[int] = field(default_factory=set)  # every backend seen: many more than at once is churn
    most_at_once: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        query = text("SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                     "AND backend_type = 'client backend'")
        with self.engine.connect() as conn:
            while not self._stop.wait(SAMPLE_SECONDS):
                rows = conn.execute(query).all()
                self.samples += 1
                self.most_at_once = max(self.most_at_once, len(rows))
                for pid, state, wait_type, wait, statement in rows:
                    self.backends.add(pid)
                    if state == "active":
                        on = "CPU" if wait_type is None else f"{wait_type}:{wait}"
                        self.active[f"{on} ({statement_label(statement)})"] += 1
                    elif state and state.startswith("idle in transaction"):
                        self.idle_in_transaction += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pg-wait-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def summary(self, top: int = 8) -> dict[str, Any]:
        """Backends per sample: running a statement (split by what they wait on) and idle in a transaction."""
        n = max(self.samples, 1)
        return {"samples": self.samples,
                "active_backends": round(sum(self.active.values()) / n, 2),
                "idle_in_transaction_backends": round(self.idle_in_transaction / n, 2),
                "connections_at_most": self.most_at_once, "connections_opened": len(self.backends),
                "active": {k: round(v / n, 3) for k, v in self.active.most_common(top)}}


def statement_times(engine: Engine, top: int = 8) -> list[dict[str, Any]]:
    """The statements that took the most time since the last reset (pg_stat_statements)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT calls, total_exec_time, mean_exec_time, query FROM pg_stat_statements "
                                 "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                                 "ORDER BY total_exec_time DESC LIMIT :top"), {"top": top}).all()
    return [{"calls": int(calls), "total_ms": round(float(total), 1), "mean_ms": round(float(mean), 3),
             "statement": statement_label(query, 240)} for calls, total, mean, query in rows]


def reset_statements(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_statements_reset()"))


# ====================================================================== where the CPU goes


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time of a process (Linux /proc), with that of its reaped children when `children`; 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def machine_busy_seconds() -> float:
    """Busy CPU time of the whole machine, every core (/proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / TICKS


@dataclass
class CpuMeter:
    """CPU seconds spent during a load by each part of the world, and by everything else on the machine."""

    parts: dict[str, Any]  # name -> () -> seconds so far
    start: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        now = {name: float(f()) for name, f in self.parts.items()}
        now["machine"] = machine_busy_seconds()
        return now

    def begin(self) -> None:
        self.start = self.read()

    def end(self, transfers: int) -> dict[str, Any]:
        now = self.read()
        spent = {name: now[name] - self.start.get(name, 0.0) for name in now}
        ours = sum(v for k, v in spent.items() if k != "machine")
        spent["everything else"] = max(spent.pop("machine") - ours, 0.0)
        return {"seconds": {k: round(v, 2) for k, v in spent.items()},
                "ms_per_transfer": {k: round(1000 * v / max(transfers, 1), 2) for k, v in spent.items()}}


def postgres_cpu(server: ThrowawayPostgres) -> float:
    """The cluster's CPU time: the postmaster's own and its exited backends' (reaped), and its live ones'."""
    try:
        postmaster = int((server.directory / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return cpu_seconds(postmaster, children=True) + sum(cpu_seconds(p) for p in children_of(postmaster))


# ====================================================================== the service processes


def cores() -> list[int]:
    """The cores this process may run on (empty where the platform cannot pin a process)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


class ServiceProcess:
    """One `python -m ledger_service serve` process, pinned to `core` (every thread it starts inherits it)."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str], core: int | None) -> None:
        self.name = name
        self.core = core
        self.port = free_port()
        self.env = {**env, "CARBONLEDGER_API_PORT": str(self.port)}
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return -1 if self.process is None else self.process.pid

    def _pin(self) -> None:
        if self.core is not None:
            os.sched_setaffinity(0, {self.core})

    def start(self, timeout: float = 90.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "ledger_service", "serve"], env=self.env,
                                            cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, preexec_fn=self._pin)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ProcessBenchFailure(f"{self.name} exited with {self.process.returncode} while starting; "
                                          f"its log: {self.log_path}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            if time.monotonic() >= deadline:
                raise ProcessBenchFailure(f"{self.name} did not answer /health within {timeout:.0f} s; "
                                          f"its log: {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def settings_env(settings: Mapping[str, object]) -> dict[str, str]:
    """A service process's environment: the parent's without any CARBONLEDGER_ setting, then `settings` (by
    field name, e.g. `database_url`), running this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARBONLEDGER_")}
    env |= {f"CARBONLEDGER_{name.upper()}": str(value) for name, value in settings.items()}
    env |= {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return env


@contextmanager
def served(name: str, workdir: Path, env: dict[str, str], core: int | None) -> Iterator[ServiceProcess]:
    """One service process started (answering /health), stopped on the way out."""
    service = ServiceProcess(name, workdir, env, core)
    try:
        service.start()
        yield service
    finally:
        service.stop()


def throughput_env(node_url: str, workdir: Path, database_url: str, regulator: LocalAccount, token: str,
                   gas_limit: int | None) -> dict[str, str]:
    """The fault harness's service environment with the service's default timings (the harness shortens
    them so that outages show in seconds; here they would only add work). `gas_limit`: a fixed gas limit,
    as the in-process benchmark sets; None: every transaction's gas is estimated (`eth_estimateGas`)."""
    env = service_env(node_url, workdir, database_url, regulator, token, service_code=ROOT)
    for name in SERVICE_SETTINGS:
        env.pop(f"CARBONLEDGER_{name}", None)
    if gas_limit is not None:
        env["CARBONLEDGER_GAS_LIMIT"] = str(gas_limit)
    return env


# ====================================================================== the load


@dataclass
class LoadResult:
    transfers: int
    seconds: float
    latencies_ms: list[float]
    statuses: Counter[int | str]
    by_process: Counter[str]

    @property
    def tx_per_s(self) -> float:
        return self.statuses[200] / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q) if self.latencies_ms else float("nan")


def post_setup(http: httpx.Client, url: str, token: str, path: str, body: dict[str, Any]) -> Any:
    reply = http.post(url + V1 + path, json=body, headers={"Authorization": f"Bearer {token}"})
    if reply.status_code not in (200, 201):
        raise ProcessBenchFailure(f"setup POST {path}: {reply.status_code} {reply.text[:300]}")
    return reply.json()


def admit_senders(url: str, token: str, signers: int, transfers: int) -> tuple[list[str], str]:
    """`signers` custodial enterprises with allowances for `transfers` each, and a receiver: their API
    keys and the receiver's address."""
    with httpx.Client(timeout=120) as http:
        post_setup(http, url, token, "/organisations", {"org_id": PARK, "parent_id": 0, "kind": "park",
                                                        "name": "Bench Park"})
        post_setup(http, url, token, "/organisations", {"org_id": ENTERPRISE, "parent_id": PARK,
                                                        "kind": "enterprise", "name": "Bench Steel"})
        addresses, tokens = [], []
        for i in range(signers + 1):
            member = post_setup(http, url, token, "/members", {"org_id": ENTERPRISE, "roles": ["ENTERPRISE"],
                                                               "custodial": True})["member"]["address"]
            addresses.append(member)
            if i < signers:
                tokens.append(post_setup(http, url, token, "/api-keys", {"member": member,
                                                                         "label": f"sender {i}"})["token"])
        post_setup(http, url, token, "/allowances/allocations",
                   {"year": YEAR, "allocations": [{"holder": a, "amount": transfers} for a in addresses[:-1]]})
    return tokens, addresses[-1]


def drive(urls: Sequence[str], tokens: Sequence[str], receiver: str, n: int, clients: int) -> LoadResult:
    """`clients` concurrent clients share `n` single-transfer requests; request after request goes to the
    next URL (round robin) and client after client acts for the next signer. Every request waits for its
    receipt; an answer other than 200 is counted, not retried. Each client keeps a connection to each process
    (`bench.http_load`: httpx's client cost more CPU a request than the service did)."""
    body = {"to": receiver, "year": YEAR, "amount": 1}
    path = V1 + "/allowances/transfers"
    turn = itertools.cycle(range(len(urls)))

    async def run() -> LoadResult:
        # No Idempotency-Key, as in the in-process measurement: the figures compare.
        connections = [[Connection(url, {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}) for url in urls]
                       for i in range(clients)]
        remaining = [n]
        latencies: list[float] = []
        statuses: Counter[int | str] = Counter()
        by_process: Counter[str] = Counter()

        async def worker(index: int) -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                at = next(turn)
                t0 = time.perf_counter()
                try:
                    reply = await connections[index][at].post_json(path, body)
                except HttpError as exc:  # counted: a transfer not known to be done
                    statuses[str(exc).partition(":")[0]] += 1
                    continue
                statuses[reply.status] += 1
                if reply.status == 200:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    by_process[urls[at]] += 1

        try:
            # Connections and the processes' caches, untimed: one request for each signer on each process.
            await asyncio.gather(*(connections[i][at].post_json(path, body)
                                   for at in range(len(urls)) for i in range(min(clients, len(tokens)))))
            start = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(clients)))
            return LoadResult(n, time.perf_counter() - start, latencies, statuses, by_process)
        finally:
            await asyncio.gather(*(c.close() for row in connections for c in row))

    return asyncio.run(run())


# ====================================================================== the world


@dataclass
class World:
    workdir: Path
    postgres: ThrowawayPostgres
    database_url: str
    node: AnvilNode
    env: dict[str, str]
    services: list[ServiceProcess] = field(default_factory=list)

    def add_service(self) -> ServiceProcess:
        free = cores()
        core = free[len(self.services) % len(free)] if free else None
        service = ServiceProcess(f"service{len(self.services)}", self.workdir, self.env, core)
        self.services.append(service)
        service.start()
        return service


@contextmanager
def world(artifacts: dict[str, Artifact], workdir: Path, gas_limit: int | None) -> Iterator[World]:
    """PostgreSQL, the node with the suite deployed, no service process yet; everything stopped on the way out."""
    postgres, database_url = start_postgres()
    node = AnvilNode(free_port(), sweep_seconds=1, history="memory")  # as `bench/service_throughput.py`'s
    built: World | None = None
    try:
        node.start()
        regulator: LocalAccount = Account.create()
        node.fund(regulator.address)
        sender = TransactionSender(connect_rpc(node.url), regulator, RevertDecoder.from_artifacts(artifacts.values()))
        write_deployment(deploy_suite(sender, artifacts, network=NETWORK), workdir / "deployments", overwrite=True)
        token = f"clk_bootstrap_{secrets.token_hex(24)}"
        built = World(workdir, postgres, database_url, node,
                      throughput_env(node.url, workdir, database_url, regulator, token, gas_limit))
        yield built
    finally:
        if built is not None:
            for service in built.services:
                with suppress(Exception):
                    service.stop()
        node.stop()
        postgres.stop()


def idle_cpu_share(service: ServiceProcess, seconds: float = 3.0) -> float:
    """The share of a core a service process uses with no request: its pump, indexer and chain-head polls."""
    before = cpu_seconds(service.pid)
    time.sleep(seconds)
    return round((cpu_seconds(service.pid) - before) / seconds, 3)


def unmined(w: World) -> dict[str, Any]:
    """Where the outbox stands against the node, per signer with rows not yet mined: what a load answered
    202 (its receipt did not come within the wait) was stuck on."""
    engine = create_engine(w.database_url)
    try:
        with engine.connect() as conn:
            by_status = {str(status): int(count) for status, count in conn.execute(
                text("SELECT status, count(*) FROM outbox_transactions GROUP BY status"))}
            signers = list(conn.scalars(text("SELECT DISTINCT signer FROM outbox_transactions "
                                             "WHERE status IN ('queued', 'signed', 'sent')")))
            found: dict[str, Any] = {"outbox": by_status, "signers": {}}
            for signer in signers[:3]:
                rows = conn.execute(text("SELECT nonce, status, attempts, last_error FROM outbox_transactions "
                                         "WHERE signer = :s AND status IN ('queued', 'signed', 'sent') "
                                         "ORDER BY nonce NULLS FIRST LIMIT 5"), {"s": signer}).all()
                highest_mined = conn.scalar(text("SELECT max(nonce) FROM outbox_transactions "
                                                 "WHERE signer = :s AND status = 'mined'"), {"s": signer})
                counts = [int(rpc(w.node.url, "eth_getTransactionCount", signer, tag), 16)
                          for tag in ("latest", "pending")]
                found["signers"][signer] = {
                    "highest_mined_in_outbox": highest_mined, "node_latest_nonce": counts[0],
                    "node_pending_nonce": counts[1],
                    "first_unmined": [{"nonce": r[0], "status": r[1], "attempts": r[2],
                                       "last_error": (r[3] or "")[:120]} for r in rows]}
            found["txpool"] = rpc(w.node.url, "txpool_status")
    finally:
        engine.dispose()
    return found


def rpc(url: str, method: str, *params: Any) -> Any:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                      timeout=10).json().get("result")


def world_cpu(services: Sequence[ServiceProcess], node: AnvilNode) -> dict[str, Any]:
    """The parts of a world whose CPU time a load reads: each service process, the clients (this process) and
    the node."""
    parts: dict[str, Any] = {s.name: partial(cpu_seconds, s.pid) for s in services}
    parts["clients (this process)"] = lambda: sum(os.times()[:2])
    if node.process is not None:
        parts["anvil"] = partial(cpu_seconds, node.process.pid)
    return parts


def metered_load(services: Sequence[ServiceProcess], tokens: Sequence[str], receiver: str, n: int, clients: int,
                 parts: dict[str, Any],
                 before: Callable[[], object] = lambda: None) -> tuple[LoadResult, dict[str, Any]]:
    """`drive` against `services` with the CPU each of `parts` spent meanwhile (`CpuMeter.end`); `before` runs
    just before the clock starts (a sampler started)."""
    cpu = CpuMeter(parts)
    before()
    cpu.begin()
    try:
        load = drive([s.url for s in services], tokens, receiver, n, clients)
    finally:
        spent = cpu.end(n)
    return load, spent


def measure(w: World, tokens: Sequence[str], receiver: str, n: int, clients: int) -> dict[str, Any]:
    """One load against every running process, with what PostgreSQL saw meanwhile."""
    engine = create_engine(w.database_url, isolation_level="AUTOCOMMIT")
    parts = world_cpu(w.services, w.node) | {"postgresql": partial(postgres_cpu, w.postgres)}
    try:
        reset_statements(engine)
        sampler = WaitSampler(engine)
        try:
            load, spent = metered_load(w.services, tokens, receiver, n, clients, parts, before=sampler.start)
        finally:
            sampler.stop()
        statements = statement_times(engine)
    finally:
        engine.dispose()
    figures = {"tx_per_s": round(load.tx_per_s, 1), "p50_ms": round(load.p(50), 1),
               "p99_ms": round(load.p(99), 1), "answered": dict(load.statuses), "seconds": round(load.seconds, 2),
               "per_process": [load.by_process[s.url] for s in w.services], "waits": sampler.summary(),
               "statements": statements, "cpu": spent}
    if load.statuses[200] < n:
        figures["unmined"] = unmined(w)
    return figures


def run_processes(artifacts: dict[str, Artifact], n: int, clients: int, workdir: Path, results: dict[str, Any],
                  signers: int = 1, gas_limit: int | None = GAS,
                  say: Callable[[str], object] | None = None) -> dict[str, Any]:
    """One process, then two, under the same load; the benchmark's keys go into `results`, the whole
    report (waits, statements) is returned."""
    def report(message: str) -> None:
        if say is not None:
            say(message)

    workdir.mkdir(parents=True, exist_ok=True)
    with world(artifacts, workdir, gas_limit) as w:
        first = w.add_service()
        idle = idle_cpu_share(first)
        token = w.env["CARBONLEDGER_BOOTSTRAP_API_KEY"]
        # enough for both loads and their warm-up requests, whichever signer the clients act for
        tokens, receiver = admit_senders(first.url, token, signers, 2 * n + 100)
        one = measure(w, tokens, receiver, n, clients)
        report(f"one process: {one['tx_per_s']} tx/s, p99 {one['p99_ms']} ms")
        w.add_service()
        two = measure(w, tokens, receiver, n, clients)
        report(f"two processes: {two['tx_per_s']} tx/s, p99 {two['p99_ms']} ms")
    results.update(one_process_tx_per_s_pg=one["tx_per_s"], one_process_p50_ms_pg=one["p50_ms"],
                   one_process_p99_ms_pg=one["p99_ms"],
                   two_process_tx_per_s_pg=two["tx_per_s"], two_process_p50_ms_pg=two["p50_ms"],
                   two_process_p99_ms_pg=two["p99_ms"],
                   ratio_two_one_process_pg=round(two["tx_per_s"] / one["tx_per_s"], 3) if one["tx_per_s"] else None,
                   process_signers=signers, pinned_cores=bool(cores()), service_idle_cpu_share=idle,
                   one_process_cpu_ms_per_transfer_pg=one["cpu"]["ms_per_transfer"],
                   two_process_cpu_ms_per_transfer_pg=two["cpu"]["ms_per_transfer"],
                   two_process_waits_pg=dict(list(two["waits"]["active"].items())[:3]))
    return {"one_process": one, "two_processes": two}


def report_lines(full: dict[str, Any]) -> list[str]:
    """The measurements of `run_processes` as text: rates, latencies, waits, statements, CPU."""
    lines = []
    for name, run in full.items():
        lines.append(f"{name}: {run['tx_per_s']} tx/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, "
                     f"answered {run['answered']}, per process {run['per_process']}")
        waits = run["waits"]
        lines.append(f"  PostgreSQL backends per sample: {waits['active_backends']} running a statement, "
                     f"{waits['idle_in_transaction_backends']} idle in a transaction; connections: at most "
                     f"{waits['connections_at_most']} at once, {waits['connections_opened']} seen in all")
        lines += [f"    {share:>7} {what}" for what, share in waits["active"].items()]
        lines.append("  statements by total time:")
        lines += [f"    {s['total_ms']:>9} ms {s['calls']:>7} calls {s['mean_ms']:>8} ms  {s['statement'][:150]}"
                  for s in run["statements"]]
        lines.append(f"  CPU ms per transfer: {json.dumps(run['cpu']['ms_per_transfer'])}")
        if "unmined" in run:
            lines.append(f"  not answered 200; after the load: {json.dumps(run['unmined'])}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=1000, help="transfers per measurement")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients")
    parser.add_argument("--signers", type=int, default=1, help="members the clients act for, in turn")
    parser.add_argument("--estimate-gas", action="store_true", help="no fixed gas limit: the service estimates "
                        "every transaction's gas, as it does on a node by default")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (service logs)")
    args = parser.parse_args()
    artifacts = build()
    workdir = Path(tempfile.mkdtemp(prefix="carbonledger-processes-"))
    results: dict[str, Any] = {}
    try:
        full = run_processes(artifacts, args.transfers, args.clients, workdir, results, args.signers,
                             gas_limit=None if args.estimate_gas else GAS,
                             say=lambda m: print(m, file=sys.stderr, flush=True))
    except ProcessBenchFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"work directory: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report_lines(full)))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

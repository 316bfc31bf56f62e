"""Benchmark: a scale model on PostgreSQL, the trace benchmark's history at 1x, 3x and 10x its data.

    python bench/scale_model.py                                   # 1x, 3x, 10x of 1,000,000 readings, 100,000 transfers
    python bench/scale_model.py --scales 1,3 --samples 400
    python bench/scale_model.py --scales 1,2 --base-readings 400 --base-transfers 50 --enterprises 2 --devices 2

At each scale the history of `bench/trace_latency.py` (`build_history`) is made on a fresh anvil node with
`scale` times `--base-readings` readings and `--base-transfers` allowance transfers; the park (`--enterprises` x
`--devices`), the traders and the vintages stay the same, so each device's readings cover `scale` times as many
hourly windows and each vintage's trace `scale` times as many hops. The history goes into a fresh database of one
throwaway PostgreSQL cluster (dropped after its scale), and is served by a runtime whose report and asset traces
are timed through the HTTP API (`api_trace_latency`: pages of 500 hops of an asset trace).

Measured at each scale: the oracle's ingest (readings/s), anchoring, mining the transfers on anvil, indexing the
chain (events/s), the database's size (`pg_total_relation_size` of every table with its indexes and TOAST,
attributed to readings or to transfers; `pg_database_size`; the WAL written while the history was made), the
anvil node's resident memory after indexing, this process's peak, and the trace latencies. The set-up's figures
are logged (stderr) as soon as a scale's history is indexed, and all of its figures when the scale ends. The last
line printed is one JSON object; every key ends with its scale (`_10x`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, make_url, text

from bench import trace_latency
from ledger_core.chain.compiler import build
from oracles.ingest import IngestSummary

# Tables whose rows are there because of the meter readings: the oracle's readings, windows and tree nodes, and the
# index's mirror of the anchors, devices and reports committing to them.
READING_TABLES = frozenset({
    "readings", "meter_batches", "committed_nodes", "meter_devices", "ingest_runs", "quarantined_readings",
    "revaluations", "chain_anchors", "chain_devices", "chain_device_events", "chain_reports", "chain_report_events",
    "chain_oracle_authorisations",
})
# Tables whose rows are there because of the allowance transfers (and their allocations).
TRANSFER_TABLES = frozenset({"chain_transfers", "chain_balances", "chain_allocations"})
MB = 1024 * 1024


def log(text_: str) -> None:
    print(text_, file=sys.stderr, flush=True)


@dataclass
class Phases:
    """What the set-up of one scale took, gathered from the trace benchmark's steps as they run."""

    ingest_seconds: float = 0.0
    readings_ingested: int = 0
    anchor_seconds: float = 0.0
    sends: list[tuple[int, float]] = field(default_factory=list)  # (transactions, seconds) of each bulk send
    build_seconds: float = 0.0
    index_seconds: float = 0.0
    index_events: int = 0
    wal_bytes: int = 0
    database: dict[str, Any] = field(default_factory=dict)
    anvil_rss_bytes: int = 0
    anvil_peak_rss_bytes: int = 0
    building: bool = False  # the runtime serving the traces syncs again afterwards: only the set-up's sync counts


def process_memory(pid: int) -> tuple[int, int]:
    """Resident and peak resident bytes of a running process (Linux `/proc`)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def wal_position(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")).scalar_one())


def database_sizes(engine: Engine) -> dict[str, Any]:
    """Every table's bytes (with its indexes and TOAST), the database's, and the rows of readings and transfers."""
    with engine.connect() as conn:
        tables = {name: int(size) for name, size in conn.execute(text(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"))}
        readings = int(conn.execute(text("SELECT count(*) FROM readings")).scalar_one())
        transfers = int(conn.execute(text("SELECT count(*) FROM chain_transfers")).scalar_one())
        windows = int(conn.execute(text("SELECT count(*) FROM meter_batches")).scalar_one())
        total = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    return {"tables": tables, "readings": readings, "transfers": transfers, "windows": windows, "total": total}


def setup_summary(phases: Phases) -> dict[str, Any]:
    """What the set-up took and what the database holds, before any trace."""
    out = {key: value for key, value in asdict(phases).items() if key not in ("database", "building")}
    tables: dict[str, int] = phases.database.get("tables", {})
    out.update({key: phases.database.get(key) for key in ("readings", "transfers", "windows", "total")})
    out["reading_bytes"] = sum(size for name, size in tables.items() if name in READING_TABLES)
    out["transfer_bytes"] = sum(size for name, size in tables.items() if name in TRANSFER_TABLES)
    out["tables"] = {name: size for name, size in sorted(tables.items(), key=lambda item: -item[1])[:8]}
    return out


@contextmanager
def instrumented(phases_of: Callable[[], Phases], next_port: Callable[[], int] | None) -> Iterator[None]:
    """The trace benchmark's set-up, with each step timed into the current scale's `Phases` and the database
    measured as soon as the history is indexed (before any trace runs). Its module's names are replaced while
    this lasts: the benchmark itself has no hooks."""
    build_history = trace_latency.build_history
    ingest_messages = trace_latency.ingest_messages
    anchor_pending = trace_latency.anchor_pending
    send_all = trace_latency.Rpc.send_all
    sync = trace_latency.EventIndexer.sync

    def timed_ingest(*args: Any, **kwargs: Any) -> IngestSummary:
        summary = ingest_messages(*args, **kwargs)
        phases_of().ingest_seconds += summary.seconds
        phases_of().readings_ingested += summary.accepted
        return summary

    def timed_anchor(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcomes = anchor_pending(*args, **kwargs)
        phases_of().anchor_seconds += time.perf_counter() - started
        return outcomes

    def timed_send_all(self: trace_latency.Rpc, txs: list[dict[str, Any]], chunk: int = 2000,
                       check: bool = True) -> int:
        started = time.perf_counter()
        mined = send_all(self, txs, chunk, check)
        phases_of().sends.append((len(txs), time.perf_counter() - started))
        return mined

    def measured_sync(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not phases_of().building:
            return sync(self, *args, **kwargs)
        before = wal_position(self.engine)
        report = sync(self, *args, **kwargs)
        phases = phases_of()
        phases.wal_bytes = wal_position(self.engine) - before
        phases.index_seconds, phases.index_events = report.seconds, report.events
        return report

    def measured_build(engine: Engine, sizes: argparse.Namespace, rng: random.Random) -> trace_latency.History:
        started = time.perf_counter()
        phases_of().building = True
        try:
            history = build_history(engine, sizes, rng)
        finally:
            phases_of().building = False
        phases = phases_of()
        phases.build_seconds = time.perf_counter() - started
        assert history.node.process is not None
        phases.anvil_rss_bytes, phases.anvil_peak_rss_bytes = process_memory(history.node.process.pid)
        phases.database = database_sizes(engine)
        # Logged now: at large scales the traces that follow take long.
        log(f"set-up measured: {json.dumps(setup_summary(phases))}")
        return history

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(trace_latency, "build_history", measured_build))
        stack.enter_context(mock.patch.object(trace_latency, "ingest_messages", timed_ingest))
        stack.enter_context(mock.patch.object(trace_latency, "anchor_pending", timed_anchor))
        stack.enter_context(mock.patch.object(trace_latency.Rpc, "send_all", timed_send_all))
        stack.enter_context(mock.patch.object(trace_latency.EventIndexer, "sync", measured_sync))
        if next_port is not None:
            from tests.storage import postgres

            stack.enter_context(mock.patch.object(trace_latency, "free_port", next_port))
            stack.enter_context(mock.patch.object(postgres, "free_port", next_port))
        yield


def scale_label(scale: int) -> str:
    return f"{scale}x"


def scale_figures(scale: int, phases: Phases, traces: dict[str, Any], transfers_wanted: int) -> dict[str, Any]:
    """The figures of one scale, keys ending with `_{scale}x`."""
    db = phases.database
    tables: dict[str, int] = db["tables"]
    reading_bytes = sum(size for name, size in tables.items() if name in READING_TABLES)
    transfer_bytes = sum(size for name, size in tables.items() if name in TRANSFER_TABLES)
    # The bulk send of the transfers is the one with exactly that many transactions (the others are set-up).
    mine = [seconds for count, seconds in phases.sends if count == transfers_wanted]
    mine_seconds = mine[-1] if mine else None
    figures: dict[str, Any] = {
        "readings": db["readings"],
        "transfers": db["transfers"],
        "windows": db["windows"],
        "indexed_events": phases.index_events,
        "index_seconds": round(phases.index_seconds, 1),
        "index_events_per_s": round(phases.index_events / phases.index_seconds) if phases.index_seconds else None,
        "ingest_seconds": round(phases.ingest_seconds, 1),
        "ingest_readings_per_s": (round(phases.readings_ingested / phases.ingest_seconds)
                                  if phases.ingest_seconds else None),
        "anchor_seconds": round(phases.anchor_seconds, 1),
        "mine_seconds": round(mine_seconds, 1) if mine_seconds is not None else None,
        "mine_transfers_per_s": round(transfers_wanted / mine_seconds) if mine_seconds else None,
        "setup_seconds": round(phases.build_seconds, 1),
        "db_bytes": db["total"],
        "db_bytes_readings": reading_bytes,
        "db_bytes_transfers": transfer_bytes,
        "db_bytes_other": sum(tables.values()) - reading_bytes - transfer_bytes,
        "db_bytes_per_reading": round(reading_bytes / db["readings"], 1) if db["readings"] else None,
        "readings_table_bytes_per_reading": (round(tables.get("readings", 0) / db["readings"], 1)
                                             if db["readings"] else None),
        "db_bytes_per_transfer": round(transfer_bytes / db["transfers"], 1) if db["transfers"] else None,
        "index_wal_bytes": phases.wal_bytes,
        "anvil_rss_mb": round(phases.anvil_rss_bytes / MB),
        "anvil_peak_rss_mb": round(phases.anvil_peak_rss_bytes / MB),
        # ru_maxrss is in kB on Linux; the peak so far of this process, which runs the scales in increasing order.
        "bench_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "trace_p50_ms_pg": traces["trace_p50_ms"],
        "trace_p99_ms_pg": traces["trace_p99_ms"],
        "report_trace_p50_ms_pg": traces["report_trace_p50_ms"],
        "report_trace_p99_ms_pg": traces["report_trace_p99_ms"],
        "asset_trace_p50_ms_pg": traces["asset_trace_p50_ms"],
        "asset_trace_p99_ms_pg": traces["asset_trace_p99_ms"],
        "report_trace_cold_p50_ms_pg": traces["report_trace_cold_p50_ms"],
    }
    return {f"{key}_{scale_label(scale)}": value for key, value in figures.items()}


def run_scale(artifacts: dict[str, Any], admin: Engine, server_url: str, args: argparse.Namespace, scale: int,
              workdir: Path, phases: Phases) -> dict[str, Any]:
    """Make, index, measure and trace the history of one scale in a database of its own (dropped afterwards)."""
    name = f"scale_{scale}x"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        sizes = argparse.Namespace(readings=args.base_readings * scale, transfers=args.base_transfers * scale,
                                   enterprises=args.enterprises, devices=args.devices, traders=args.traders,
                                   years=args.years, samples=args.samples, range=args.range, workers=args.workers)
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        traces = trace_latency.api_trace_latency(artifacts, sizes, url, workdir)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return scale_figures(scale, phases, traces, sizes.transfers)


ROWS = ("readings", "transfers", "windows", "indexed_events", "setup_seconds", "ingest_readings_per_s",
        "anchor_seconds", "mine_seconds", "mine_transfers_per_s", "index_seconds", "index_events_per_s", "db_bytes",
        "db_bytes_readings", "db_bytes_transfers", "db_bytes_other", "db_bytes_per_reading",
        "readings_table_bytes_per_reading", "db_bytes_per_transfer", "index_wal_bytes", "anvil_rss_mb",
        "anvil_peak_rss_mb", "bench_peak_rss_mb", "report_trace_cold_p50_ms_pg", "report_trace_p50_ms_pg",
        "report_trace_p99_ms_pg", "asset_trace_p50_ms_pg", "asset_trace_p99_ms_pg", "trace_p50_ms_pg",
        "trace_p99_ms_pg")


def print_table(figures: dict[str, Any], scales: list[int], tables: dict[str, int]) -> None:
    labels = [scale_label(s) for s in scales]
    print(f"{'figure':<36}" + "".join(f"{label:>16}" for label in labels))
    for row in ROWS:
        cells = []
        for label in labels:
            value = figures.get(f"{row}_{label}")
            cells.append(f"{value:>16,}" if isinstance(value, int | float) else f"{'-':>16}")
        print(f"{row:<36}" + "".join(cells))
    if tables:
        print(f"\n{'table (largest scale)':<36}{'bytes':>16}  counted for")
        for name, size in sorted(tables.items(), key=lambda item: -item[1]):
            if size:
                side = "readings" if name in READING_TABLES else "transfers" if name in TRANSFER_TABLES else "other"
                print(f"{name:<36}{size:>16,}  {side}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", default="1,3,10", help="multiples of the base sizes, in increasing order")
    p.add_argument("--base-readings", type=int, default=1_000_000)
    p.add_argument("--base-transfers", type=int, default=100_000)
    p.add_argument("--enterprises", type=int, default=20)
    p.add_argument("--devices", type=int, default=50, help="devices per enterprise")
    p.add_argument("--traders", type=int, default=20)
    p.add_argument("--years", type=int, default=50, help="allowance vintages (asset trace targets)")
    p.add_argument("--samples", type=int, default=1000, help="traces timed per scale")
    p.add_argument("--range", type=int, default=20_000, help="blocks per eth_getLogs range")
    p.add_argument("--workers", type=int, default=2, help="the oracle's ingest workers")
    p.add_argument("--first-port", type=int,
                   help="PostgreSQL on this port, each scale's anvil node on the next ones (default: free ports)")
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    if scales != sorted(set(scales)) or scales[0] < 1:
        raise SystemExit("--scales: distinct positive integers in increasing order")
    ports = itertools.count(args.first_port) if args.first_port else None
    current = Phases()
    figures: dict[str, Any] = {}
    tables: dict[str, int] = {}
    artifacts = build()
    from tests.storage.postgres import ThrowawayPostgres

    with tempfile.TemporaryDirectory() as tmp, \
            instrumented(lambda: current, (lambda: next(ports)) if ports else None):
        server = ThrowawayPostgres.start()
        admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
        try:
            for scale in scales:
                current = Phases()
                log(f"scale {scale_label(scale)}: {args.base_readings * scale:,} readings, "
                    f"{args.base_transfers * scale:,} transfers")
                started = time.perf_counter()
                one = run_scale(artifacts, admin, server.url, args, scale, Path(tmp), current)
                figures.update(one)
                tables = current.database["tables"]
                log(f"scale {scale_label(scale)} done in {time.perf_counter() - started:.0f} s: {json.dumps(one)}")
        finally:
            admin.dispose()
            server.stop()
    print_table(figures, scales, tables)
    line = {**figures, "scales": scales, "base_readings": args.base_readings, "base_transfers": args.base_transfers,
            "enterprises": args.enterprises, "devices": args.devices, "samples": args.samples, "traces": "api",
            "database": "postgresql"}
    print(json.dumps(line))
    return line


if __name__ == "__main__":
    main()

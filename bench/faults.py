"""Benchmark: does every allowance transfer move exactly once when things fail?

    python bench/faults.py                          # every scenario at its full size (about 6 minutes on 2 cores)
    python bench/faults.py --scale 0.1              # a tenth of the transfers
    python bench/faults.py --only node_stopped --only postgresql_restart --transfers 400
    python bench/faults.py --service-code /path/to/other/checkout   # measure another revision's service

The scenarios of `tests/faults/harness.py`, larger: a local anvil node with its state file, the service
as real `python -m ledger_service serve` processes (SQLite, or a throwaway PostgreSQL cluster when its
binaries are installed; those scenarios are skipped otherwise), concurrent clients sending tagged
allowance transfers (some through the batch endpoint), each request with an `Idempotency-Key` and
retried on connection errors, timeouts and 5xx until a definite answer or its deadline, and faults
injected while the load runs. Afterwards the outbox is left to drain and the chain is counted: a
transfer is doubled when it is on chain more than once, lost when it was acknowledged and is not on
chain at all.

| scenario | default size | fault |
|---|---|---|
| baseline_sequential | 1 client, 100 transfers | none |
| no_fault_concurrent | 8 clients, 300 | none |
| node_stopped | 8 clients, 1,200 | node paused (SIGSTOP) 30 s, later stopped and started again after 30 s |
| node_crash_restored_from_dump | 8 clients, 1,000 | node SIGKILLed, started from its last state dump |
| service_sigkill_sqlite | 8 clients, 2,000 | service SIGKILLed 3 times, restarted each time |
| service_sigkill_postgresql | 8 clients, 600 | service SIGKILLed once, restarted |
| postgresql_restart | 8 clients, 800 | PostgreSQL stopped `-m immediate`, started again after 5 s |
| two_services_postgresql_one_killed | 8 clients, 600 | one of two processes on one database SIGKILLed for good |

A service that loses its way (a wedged outbox, 500s on every retry) makes each request wait for its
deadline; past a scenario's load timeout (`--load-timeout`) its remaining requests are not sent, and
counted as such, so such a run also ends (in 10-25 minutes rather than 6).

Prints a table (scenario, requests, transfers, acknowledged, gave up, doubled, lost, 500s, ...) and ends
with one JSON line: per scenario its `acknowledged`, `doubled`, `lost` and the other figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger_core.chain.compiler import build
from tests.faults.harness import (
    SCENARIOS,
    Fault,
    HarnessFailure,
    HarnessUnavailable,
    Scenario,
    ScenarioResult,
    run_scenario,
)

# name -> (clients, transfers, outage seconds): the sizes the issue measured at.
FULL_SIZE: dict[str, tuple[int, int, float]] = {
    "baseline_sequential": (1, 100, 0),
    "no_fault_concurrent": (8, 300, 0),
    "node_stopped": (8, 1200, 30),
    "node_crash_restored_from_dump": (8, 1000, 0),
    "service_sigkill_sqlite": (8, 2000, 0),
    "service_sigkill_postgresql": (8, 600, 0),
    "postgresql_restart": (8, 800, 5),
    "two_services_postgresql_one_killed": (8, 600, 0),
}
# Faults at full size where they differ from the tests' (which keep every scenario small).
FULL_FAULTS: dict[str, tuple[Fault, ...]] = {"service_sigkill_sqlite": (Fault.SERVICE_KILL,) * 3}
COLUMNS = ("requests", "transfers", "acknowledged", "gave_up", "refused", "not_sent", "doubled", "lost", "unlogged",
           "errors_500", "conserved", "reconcile_ok", "settled", "seconds")


def sized(name: str, args: argparse.Namespace) -> Scenario:
    base = SCENARIOS[name]
    clients, transfers, outage = FULL_SIZE[name]
    if clients > 1 and args.clients:
        clients = args.clients
    transfers = args.transfers or max(clients, round(transfers * args.scale))
    if args.outage_seconds is not None:
        outage = args.outage_seconds
    # A service that stops answering turns every request into a wait for its deadline: past the load
    # timeout the rest are not sent (counted as such), so a broken revision is measured in minutes.
    load_timeout = args.load_timeout or max(300.0, 0.5 * transfers)
    return replace(base, clients=clients, transfers=transfers, faults=FULL_FAULTS.get(name, base.faults),
                   outage_seconds=outage or base.outage_seconds, deadline_seconds=max(120.0, 3 * outage),
                   load_timeout=load_timeout, seed=args.seed)


def run_one(scenario: Scenario, args: argparse.Namespace, artifacts: Any) -> tuple[ScenarioResult | None, str]:
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    directory = Path(tempfile.mkdtemp(prefix=f"carbonledger-faults-{scenario.name}-"))
    try:
        result = run_scenario(scenario, directory, artifacts, say=say, settle_timeout=args.settle_timeout,
                              service_code=args.service_code)
    except HarnessUnavailable as exc:
        return None, f"skipped: {exc}"
    except HarnessFailure as exc:
        return None, f"failed: {exc}"
    finally:
        if args.keep:
            say(f"  work directory (logs, database, node state): {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return result, "ok"


def cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "NO", None: "-"}[value]
    return f"{value:,}" if isinstance(value, int) else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(FULL_SIZE), help="run only this scenario "
                        "(repeatable)")
    parser.add_argument("--transfers", type=int, help="transfers per scenario (default: each scenario's size)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply each scenario's default transfers")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 8; the baseline keeps 1)")
    parser.add_argument("--outage-seconds", type=float, help="how long a stopped node or PostgreSQL stays down")
    parser.add_argument("--load-timeout", type=float, help="seconds after which a scenario's remaining requests "
                        "are not sent (default: 0.5 s per transfer, at least 300)")
    parser.add_argument("--settle-timeout", type=float, default=300.0, help="longest wait for the outbox to "
                        "drain after the load")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--service-code", type=Path, help="a checkout whose ledger_service the service "
                        "processes run (default: this one)")
    parser.add_argument("--keep", action="store_true", help="keep each scenario's work directory")
    args = parser.parse_args()
    # SIGTERM as Ctrl-C: unwind, so every scenario's node, service processes and PostgreSQL are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    artifacts = build()
    results: dict[str, dict[str, Any]] = {}
    rows: list[tuple[str, list[str], str]] = []
    failed = False
    for name in FULL_SIZE:
        if args.only and name not in args.only:
            continue
        scenario = sized(name, args)
        print(f"{name}: {scenario.clients} clients, {scenario.transfers} transfers, "
              f"faults {[f.name for f in scenario.faults]}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result, status = run_one(scenario, args, artifacts)
        if result is None:
            failed |= status.startswith("failed")
            results[name] = {"status": status}
            rows.append((name, ["-"] * len(COLUMNS), status.splitlines()[0][:160]))
            continue
        figures = result.figures()
        results[name] = {**figures, "refused_on_chain": result.refused_on_chain, "untagged": result.untagged,
                         "faults": result.faults}
        if result.reconcile_first:  # right after settling, and again 10 s later (both kept whole with --keep)
            results[name]["reconcile_first_differences"] = result.reconcile_first[:5]
            results[name]["reconcile_differences"] = result.reconcile_differences[:5]
        rows.append((name, [cell(figures[c]) for c in COLUMNS], "; ".join(result.faults)))
        print(f"  {name}: {time.perf_counter() - started:.0f} s\n{result.report()}", file=sys.stderr, flush=True)
    width = max(len(r[0]) for r in rows) if rows else 10
    widths = [max(len(c), *(len(r[1][i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    print(f"{'scenario':<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
          + "  faults")
    for name, cells, note in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(cells, widths, strict=True))
              + f"  {note}")
    print(json.dumps(results))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run every benchmark and print one summary table; the last line merges their JSON figures.

    .venv/bin/python bench/run_all.py            # full sizes (several minutes on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # small sizes, to check that everything runs

Each benchmark runs in its own process (so peak-memory figures are its own) and ends with
one JSON line; a benchmark that fails is reported with its exit code and the others go on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()


BENCHMARKS = (
    Benchmark("gas", "gas.py"),
    Benchmark(
        "oracle ingest",
        "oracle_ingest.py",
        quick=("--readings", "30000", "--enterprises", "2", "--devices", "5", "--skip-chain-devices"),
    ),
    Benchmark("service throughput", "service_throughput.py", quick=("--transfers", "200", "--anvil-transfers", "400")),
    Benchmark("single endpoints", "single_endpoints.py", quick=("--requests", "100", "--rounds", "1")),
    Benchmark(
        "trace latency", "trace_latency.py", quick=("--readings", "20000", "--transfers", "2000", "--samples", "200")
    ),
    Benchmark("faults", "faults.py", quick=("--scale", "0.05", "--outage-seconds", "3")),
    Benchmark("reconcile readings", "reconcile_readings.py",
              quick=("--readings", "30000", "--enterprises", "2", "--devices", "5")),
    Benchmark("anvil state", "anvil_state.py", quick=("--steps", "2000,4000", "--single", "100")),
    Benchmark("scale model", "scale_model.py",
              quick=("--scales", "1,2", "--base-readings", "20000", "--base-transfers", "2000", "--samples", "100")),
)


def run(bench: Benchmark, quick: bool) -> tuple[dict[str, Any] | None, float, str]:
    args = bench.quick if quick else bench.full
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(BENCH / bench.script), *args], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, seconds, f"failed (exit {proc.returncode}): {tail}"
    try:
        return json.loads(lines[-1]), seconds, "ok"
    except json.JSONDecodeError:
        return None, seconds, "failed: the last line is not JSON"


def show(value: Any) -> str:
    """A figure for the table: integers with thousands separators; a figure made of figures (the faults
    benchmark's per-scenario counts) as `name value` pairs, its lists left out."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {show(v)}" for k, v in value.items() if not isinstance(v, list | dict))
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a check that every benchmark runs")
    parser.add_argument("--only", action="append", help="run only this benchmark (by name; repeatable)")
    args = parser.parse_args(argv)
    merged: dict[str, Any] = {}
    rows: list[tuple[str, str, str]] = []
    failed = False
    for bench in BENCHMARKS:
        if args.only and bench.name not in args.only:
            continue
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        figures, seconds, status = run(bench, args.quick)
        failed |= figures is None
        for key, value in (figures or {}).items():
            if key in merged:  # the issues' keys are unique; a shared helper key gets its benchmark's name
                key = f"{bench.name.replace(' ', '_')}.{key}"
            merged[key] = value
            rows.append((bench.name, key, show(value)))
        rows.append((bench.name, "(run)", f"{status}, {seconds:.1f} s"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'benchmark':<{width[0]}}  {'figure':<{width[1]}}  {'value':>{width[2]}}")
    for r in rows:
        print(f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]:>{width[2]}}")
    print(json.dumps(merged))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: the single-request endpoints besides a transfer, from many clients, against single transfers in the
same run on a local anvil node.

    python bench/single_endpoints.py                      # 64 clients, 600 requests of each kind, 2 rounds
    python bench/single_endpoints.py --clients 8 --requests 200 --rounds 1

Traders and enterprises send one order or one notarization per request, as they send one transfer. Each round
runs, one after the other, `--requests` single transfers, notarizations of distinct documents and listings
(one tonne of allowances at the reference price) from `--clients` concurrent clients, all from one member,
through the app in this process (the benchmark's `service_throughput` set-up: its SQLite database, the outbox
pump and the event index running beside it); every request waits for its receipt. The figures are the medians
of the rounds, and each kind's rate against the transfers' (`ratio_*_transfer`): the machine's other work moves
the rates, much less their ratios. The per-key rate limit is lifted (its bucket made deep enough for the
run), as one member sends everything.

The last line is a JSON object of the headline figures.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service_throughput import (
    YEAR,
    BenchFailure,
    anvil_service,
    concurrent_requests,
    service_single_concurrent,
)
from bench.trace_latency import percentile
from ledger_core.chain.anvil import AnvilUnavailable
from ledger_core.chain.compiler import build
from ledger_service import market
from ledger_service.runtime import Runtime

KINDS = ("transfer", "notarize", "list_order")
PRICE = "50.00"  # CNY a tonne: the reference price, and every listing's


def open_market(runtime: Runtime) -> None:
    """The reference price the listings' price band is computed from, set by the regulator."""
    regulator = runtime.bootstrap_regulator
    assert regulator is not None
    (record,) = runtime.outbox.submit([market.call(regulator, "setReferencePrice",
                                                   runtime.deployment.addresses["AllowanceRegistry"], YEAR,
                                                   market.to_units(PRICE))])
    if record.status != "mined":
        raise BenchFailure(f"the reference price was not set: {record.error_name}")


def notarizations(app: Any, setup: dict[str, Any], n: int, clients: int) -> tuple[float, list[float]]:
    run = secrets.token_hex(8)  # a document notarized in an earlier round would be refused
    return concurrent_requests(app, n, clients, "a notarization", (201,), lambda client, i: client.post(
        "/api/v1/notary/documents", files={"document": ("d.txt", f"{run} {i}".encode())},
        data={"kind": "DOCUMENT"}, headers=setup["headers"]))


def listings(app: Any, setup: dict[str, Any], n: int, clients: int, expiry: int) -> tuple[float, list[float]]:
    body = {"asset": "allowance", "token_id": YEAR, "amount": 1, "price": PRICE, "expiry": expiry}
    return concurrent_requests(app, n, clients, "a listing", (201,), lambda client, _: client.post(
        "/api/v1/market/orders", json=body, headers=setup["headers"]))


def measure(requests: int, clients: int, rounds: int) -> dict[str, Any]:
    artifacts = build()
    with tempfile.TemporaryDirectory() as tmp, anvil_service(
            artifacts, Path(tmp), requests * (rounds + 1) * 2) as (_, _f, runtime, setup, app):
        open_market(runtime)
        expiry = int(runtime.chain.w3.eth.get_block("latest")["timestamp"]) + int(timedelta(days=30).total_seconds())
        runs = {
            "transfer": lambda n: service_single_concurrent(app, setup, n, clients),
            "notarize": lambda n: notarizations(app, setup, n, clients),
            "list_order": lambda n: listings(app, setup, n, clients, expiry),
        }
        for run in runs.values():  # warm every path first
            run(min(requests, 2 * clients))
        measured: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
        for _ in range(rounds):
            for kind, run in runs.items():
                rate, latencies = run(requests)
                measured[kind].append((rate, percentile(latencies, 99)))
                print(f"{kind:<10} {rate:8.1f} req/s  p99 {percentile(latencies, 99):7.1f} ms", flush=True)
        runtime.close()
    figures: dict[str, Any] = {}
    for kind in KINDS:
        rate = statistics.median(r for r, _ in measured[kind])
        figures[f"{kind}_tx_per_s_anvil_{clients}"] = round(rate, 1)
        figures[f"{kind}_p99_ms_anvil_{clients}"] = round(statistics.median(p for _, p in measured[kind]), 1)
    transfer = figures[f"transfer_tx_per_s_anvil_{clients}"]
    for kind in KINDS[1:]:
        figures[f"ratio_{kind}_transfer"] = round(figures[f"{kind}_tx_per_s_anvil_{clients}"] / transfer, 3)
    figures["rounds"] = {kind: [{"tx_per_s": round(r, 1), "p99_ms": round(p, 1)} for r, p in measured[kind]]
                         for kind in KINDS}
    return figures


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parse.add_argument("--clients", type=int, default=64)
    parse.add_argument("--requests", type=int, default=600, help="requests of each kind a round")
    parse.add_argument("--rounds", type=int, default=2)
    return parse


def main() -> int:
    args = parser().parse_args()
    try:
        figures = measure(args.requests, args.clients, args.rounds)
    except (BenchFailure, AnvilUnavailable) as failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: simulated signed meter data through the oracle to anchored roots on the embedded chain.

    python bench/oracle_ingest.py                 # 1,000,000 readings: 20 enterprises x 50 devices
    python bench/oracle_ingest.py --readings 60000 --profile /tmp/oracle.prof

Messages are simulated and the chain is set up (suite deployed, organisations, oracle,
devices registered) before timing. Timed: signature checks, valuation, hashing and
storage (ingestion), tree building, and one anchor transaction per enterprise window.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account import Account
from eth_utils import keccak

from ledger_core.chain.compiler import build
from ledger_core.chain.deploy import bind, deploy_suite
from ledger_core.chain.embedded import start_embedded
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.config import WINDOW_SECONDS
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.session import make_engine, session_factory
from oracles.anchoring import MeterAnchorClient, anchor_pending, register_devices_on_chain
from oracles.batches import build_closed_batches
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.proofs import prove_reading
from oracles.simulator import ParkLayout, simulate_messages, simulate_park

PARK_KIND, ENTERPRISE_KIND, OPERATOR_KIND = 1, 2, 6
START = 1_704_067_200  # 2024-01-01T00:00:00Z


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def setup_chain(layout: ParkLayout, register_on_chain: bool) -> MeterAnchorClient:
    """A fresh embedded chain with the suite, the park's organisations, an authorised oracle and the devices."""
    chain = start_embedded()
    artifacts = build()
    decoder = RevertDecoder.from_artifacts(artifacts.values())
    regulator = Account.from_key(keccak(text="bench-regulator"))
    oracle = Account.from_key(keccak(text="bench-oracle"))
    chain.fund([regulator.address, oracle.address])
    reg = TransactionSender(chain.w3, regulator, decoder)
    deployment = deploy_suite(reg, artifacts, network="embedded")
    contracts = bind(chain.w3, artifacts, deployment.addresses)
    membership, meter = contracts["Membership"], contracts["MeterAnchor"]
    reg.transact(membership.functions.registerOrganisation(layout.park_org_id, 0, PARK_KIND, "Bench Park"))
    for org, name in layout.enterprises:
        reg.transact(membership.functions.registerOrganisation(org, layout.park_org_id, ENTERPRISE_KIND, name))
    oracle_org = 9000
    reg.transact(membership.functions.registerOrganisation(oracle_org, layout.park_org_id, OPERATOR_KIND, "Oracle"))
    reg.transact(membership.functions.admit(oracle.address, oracle_org, [keccak(text="ORACLE")]))
    for org, _ in layout.enterprises:
        reg.transact(meter.functions.setOracleAuthorisation(oracle.address, org, True))
    if register_on_chain:
        register_devices_on_chain(meter, reg, layout.device_infos())
    return MeterAnchorClient(meter, TransactionSender(chain.w3, oracle, decoder))


def rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--enterprises", type=int, default=20)
    parser.add_argument("--devices", type=int, default=50, help="devices per enterprise")
    parser.add_argument("--per-message", type=int, default=60)
    parser.add_argument("--interval", type=int, default=60, help="seconds between readings")
    parser.add_argument("--window", choices=sorted(WINDOW_SECONDS), default="day")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", help="SQLite file (default: a temporary file)")
    parser.add_argument("--skip-chain-devices", action="store_true", help="do not register devices on chain")
    parser.add_argument("--profile", help="write a cProfile of the timed part here")
    args = parser.parse_args()

    devices = args.enterprises * args.devices
    per_device = max(1, args.readings // devices)
    log(f"simulating {devices} devices x {per_device} readings ...")
    layout = simulate_park(args.enterprises, args.devices, seed=7)
    messages = list(simulate_messages(layout, START, per_device, args.interval, args.per_message))
    total = per_device * devices
    log(f"{len(messages)} messages; setting up the chain ...")
    client = setup_chain(layout, not args.skip_chain_devices)

    tmp = tempfile.TemporaryDirectory()
    db_path = Path(args.db) if args.db else Path(tmp.name) / "bench.db"
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        register_devices(session, layout.device_infos())
        session.commit()
    factor_set = get_factor_set("CN-2023-v1")
    window = WINDOW_SECONDS[args.window]
    now = START + per_device * args.interval + 86400

    profiler = cProfile.Profile() if args.profile else None
    log("timing ...")
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    with sessions() as session:
        summary = ingest_messages(session, messages, factor_set=factor_set, window_seconds=window, now=now,
                                  workers=args.workers, source="bench")
        session.commit()
        t_ingest = time.perf_counter() - started
        built = build_closed_batches(session, now)
        t_build = time.perf_counter() - started - t_ingest
        outcomes = anchor_pending(session, client)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    seconds = time.perf_counter() - started
    t_anchor = seconds - t_ingest - t_build
    assert summary.accepted == total, summary.as_dict()
    assert len(outcomes) == len(built)
    log(f"ingest {t_ingest:.2f} s, build {t_build:.2f} s ({len(built)} windows), anchor {t_anchor:.2f} s")

    rng = random.Random(1)
    timings = []
    with sessions() as session:
        for reading_id in rng.sample(range(1, total + 1), 25):
            t = time.perf_counter()
            proof = prove_reading(session, reading_id)
            timings.append((time.perf_counter() - t) * 1000)
            assert proof.verify() is not None
    assert proof.anchor_id is not None
    valid, subtotals = client.verify_reading(proof.anchor_id, proof.digest, proof.value_mg, proof.steps)
    assert valid and len(subtotals) == 4
    result = {
        "readings": total,
        "seconds": round(seconds, 2),
        "readings_per_s": round(total / seconds),
        "peak_rss_mb": round(rss_mb(), 1),
        "proof_ms": round(statistics.median(timings), 2),
        "ingest_s": round(t_ingest, 2),
        "build_s": round(t_build, 2),
        "anchor_s": round(t_anchor, 2),
        "windows": len(built),
        "db_mb": round(sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*")) / 2**20, 1),
    }
    print(f"{total} readings in {seconds:.2f} s: {total / seconds:,.0f} readings/s; "
          f"peak RSS {result['peak_rss_mb']} MB; "
          f"proof {result['proof_ms']} ms (median of {len(timings)}, from SQL); verified on chain: {valid}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Benchmark: reconcile's meter check over 1,000,000 anchored readings on the embedded chain.

    python bench/reconcile_readings.py                  # 1,000,000 readings: 20 enterprises x 50 devices
    python bench/reconcile_readings.py --readings 60000 --profile /tmp/reconcile.prof

Set-up (not timed), as `bench/oracle_ingest.py` does it: simulated signed readings go through the
oracle (ingest, day windows, trees) into SQLite and every window is anchored on the embedded chain.
Timed: `check_meter_data`, the check `carbonledger reconcile` runs: every anchored window read from
the chain, its readings streamed from SQL, each reading's canonical record and leaf hashed again, the
device trees and the levels above rebuilt, the root, total and count compared with the anchor. Then
one reading is edited in SQL and the check must name it. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, update

from bench.oracle_ingest import START, log, rss_mb, setup_chain
from ledger_core.config import WINDOW_SECONDS
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models import Reading
from ledger_core.db.session import make_engine, session_factory
from ledger_service.audit.meter_check import check_meter_data
from oracles.anchor_records import AnchorReader
from oracles.anchoring import OnChainAnchor, anchor_pending
from oracles.batches import build_closed_batches
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.simulator import simulate_messages, simulate_park


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--enterprises", type=int, default=20)
    parser.add_argument("--devices", type=int, default=50, help="devices per enterprise")
    parser.add_argument("--interval", type=int, default=60, help="seconds between readings")
    parser.add_argument("--window", choices=sorted(WINDOW_SECONDS), default="day")
    parser.add_argument("--db", help="SQLite file (default: a temporary file)")
    parser.add_argument("--profile", help="write a cProfile of the timed part here")
    args = parser.parse_args()

    devices = args.enterprises * args.devices
    per_device = max(1, args.readings // devices)
    log(f"simulating {devices} devices x {per_device} readings ...")
    layout = simulate_park(args.enterprises, args.devices, seed=7)
    messages = list(simulate_messages(layout, START, per_device, args.interval, 60))
    client = setup_chain(layout, False)
    tmp = tempfile.TemporaryDirectory()
    db_path = Path(args.db) if args.db else Path(tmp.name) / "bench.db"
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    now = START + per_device * args.interval + 86400
    log("ingesting, building and anchoring (not timed) ...")
    t0 = time.perf_counter()
    with sessions() as session:
        register_devices(session, layout.device_infos())
        session.commit()
        summary = ingest_messages(session, messages, factor_set=get_factor_set("CN-2023-v1"),
                                  window_seconds=WINDOW_SECONDS[args.window], now=now, workers=2, source="bench")
        session.commit()
        build_closed_batches(session, now)
        outcomes = anchor_pending(session, client)
    del messages
    log(f"set up {summary.accepted} readings in {len(outcomes)} anchored windows in {time.perf_counter() - t0:.1f} s")

    contract = client.contract
    reader = AnchorReader(contract, read_all=True)  # the records from the chain's events, read once

    def anchor_view(anchor_id: int) -> tuple:
        window = reader.window(anchor_id)
        assert window is not None, anchor_id
        return tuple(OnChainAnchor.of(window))

    anchored = reader.anchor_ids({o.enterprise_org_id for o in outcomes})
    profiler = cProfile.Profile() if args.profile else None
    log("timing the meter check ...")
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    with engine.connect() as conn:
        check = check_meter_data(conn, anchor_view, anchored)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    seconds = time.perf_counter() - started
    assert check.readings == summary.accepted, (check.readings, summary.accepted)
    assert check.windows_checked == len(outcomes) and not check.found, check.found[:5]

    with engine.begin() as conn:  # one edited reading: the check must name it
        target = conn.scalar(select(Reading.id).order_by(Reading.id.desc()).limit(1))
        conn.execute(update(Reading).where(Reading.id == target).values(value_mg=Reading.value_mg + 1))
    with engine.connect() as conn:
        tampered = check_meter_data(conn, anchor_view, anchored)
    named = {f[0]: f[5] or {} for f in tampered.found}
    assert named["meter_window"].get("reading_id") == target, tampered.found
    assert named["meter_reading"].get("reading_id") == target

    result = {
        "reconcile_readings": check.readings,
        "reconcile_readings_s": round(seconds, 2),
        "reconcile_readings_per_s": round(check.readings / seconds),
        "reconcile_windows": check.windows_checked,
        "reconcile_peak_rss_mb": round(rss_mb(), 1),
    }
    print(f"meter check: {check.readings:,} readings in {check.windows_checked} anchored windows recomputed "
          f"and compared with the chain in {seconds:.2f} s ({check.readings / seconds:,.0f} readings/s); "
          f"an edited reading (id {target}) is named")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""A compliance year in one industrial park, told through the service's own runtime.

    ./run demo        (or: python -m ledger_service demo [--small] [--no-serve] [--data-dir PATH])

A `Runtime` over the embedded chain, with its own data directory and SQLite database:
members admitted with custodial keys, devices registered, a year of signed hourly readings
ingested by the oracle pipeline and anchored in weekly windows, reports submitted (their
documents sealed, their commitment to the anchors on chain), verified and finalized;
allowances allocated, credits issued and retired with a certificate, trades on the market,
surrenders up to the offset cap; then the park's compliance table, green electricity certificates from a
rooftop plant's anchored production sold, consumed and reported in Scope 2 both ways, a report traced down to a
reading proved on chain, the reconciliation of the index, and the HTTP API on the same ledger.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ledger_core.config import Settings
from ledger_service.demo import audit, cast, footprints, green, meters, story
from ledger_service.demo.printing import chapter, say, show, table
from ledger_service.demo.serving import sign_in_keys
from ledger_service.runtime import Runtime
from oracles.simulator import simulate_park

YEAR = 2025
# Weekly windows start on Thursdays at 00:00 UTC (as the Unix epoch did): 2 January 2025 to 1 January 2026
# is 52 whole weeks of 2025.
FIRST_WEEK = 1_735_776_000
ENTERPRISES = 5


class DataDirInUse(RuntimeError):
    """The chosen data directory already holds something."""


@dataclass(frozen=True)
class Options:
    data_dir: Path | None = None
    weeks: int = 52
    devices: int = 12
    interval_minutes: int = 60
    serve: bool = True
    host: str = "127.0.0.1"
    port: int = 8000


SMALL = {"weeks": 4, "devices": 2}


@dataclass(frozen=True)
class Outcome:
    data_dir: Path
    seconds: float
    readings: int
    anchors: int
    blocks: int
    database_bytes: int
    proved_on_chain: bool
    reconciled: bool
    api_key: str
    sign_in_keys: dict[str, str] = field(default_factory=dict)  # actor -> API key, one actor per role


def data_directory(given: Path | None, base: Path) -> Path:
    """The run's directory: `given` if it is empty or absent, else a new timestamped one under `base/demo`."""
    if given is not None:
        if given.exists() and (not given.is_dir() or any(given.iterdir())):
            raise DataDirInUse(f"{given} is not an empty directory")
        given.mkdir(parents=True, exist_ok=True, mode=0o700)
        return given
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ("", *(f"-{i}" for i in range(1, 100))):
        path = base / "demo" / f"{stamp}{suffix}"
        try:
            path.mkdir(parents=True, mode=0o700)
            return path
        except FileExistsError:
            continue
    raise DataDirInUse(f"no free directory under {base / 'demo'} for {stamp}")


def start_runtime(run_dir: Path) -> Runtime:
    settings = Settings(data_dir=run_dir, database_url=f"sqlite:///{run_dir / 'carbonledger.db'}", chain="embedded",
                        window="week")  # type: ignore[call-arg]
    quiet = logging.getLogger("ledger_service.runtime")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the bootstrap API key is printed by the demo itself
    try:
        return Runtime.start(settings)
    finally:
        quiet.setLevel(level)


def tell(runtime: Runtime, options: Options, run_dir: Path, started: float) -> Outcome:
    layout = simulate_park(enterprises=ENTERPRISES, devices_per_enterprise=options.devices, seed=7,
                           park_org_id=cast.PARK, first_enterprise_org_id=cast.FIRST_ENTERPRISE)
    chapter("The park's members, admitted by the regulator (keys kept by the service)")
    people = cast.admit(runtime, layout)
    t = table("member", "organisation", "role", "address")
    for actor, address in people.addresses.items():
        org = people.orgs[actor]
        t.add_row(actor, f"{org} {people.names.get(org, 'regulator')}", people.roles[actor], address)
    show(t)
    meters.register(runtime, people, layout)
    period = meters.Period(FIRST_WEEK, options.weeks, options.interval_minutes * 60)
    metered = meters.ingest_and_anchor(runtime, people, layout, period)
    year = story.Year(YEAR)
    story.reports(runtime, people, year)
    grants = story.allocate(runtime, people, year)
    story.offset_credits(runtime, people, year, run_dir)
    story.trade(runtime, people, year, grants)
    story.surrender(runtime, people, year)
    story.compliance_table(runtime, people, year)
    green.green_electricity(runtime, people, layout.seed, period)
    footprints.product_footprints(runtime, people, layout, period)
    _, proved = audit.trace(runtime, people, year.reports[year.short].report_id)
    reconciled = audit.reconciliation(runtime).ok
    key = runtime.bootstrap_api_key
    assert key is not None
    database = run_dir / "carbonledger.db"
    outcome = Outcome(run_dir, time.perf_counter() - started, metered.readings, metered.anchors,
                      runtime.chain.block_number(), database.stat().st_size if database.exists() else 0, proved,
                      reconciled, key.token, sign_in_keys(runtime, people, key.token))
    chapter("Done")
    say(f"{outcome.seconds:.1f} s; {outcome.readings:,} readings, {outcome.anchors} anchors, {outcome.blocks:,} "
        f"blocks; database {outcome.database_bytes / 2**20:,.1f} MiB in {run_dir}")
    return outcome


def run(options: Options, base: Path, rerun: str = "python -m ledger_service demo") -> Outcome:
    """Tell the story in a fresh data directory, then (unless told not to) serve the API until Ctrl-C."""
    started = time.perf_counter()
    run_dir = data_directory(options.data_dir, base)
    say(f"data directory: {run_dir}")
    runtime = start_runtime(run_dir)
    try:
        outcome = tell(runtime, options, run_dir, started)
        if options.serve:
            from ledger_service.demo.serving import serve

            serve(runtime, options.host, options.port, outcome.api_key, rerun, outcome.sign_in_keys)
        return outcome
    finally:
        runtime.close()

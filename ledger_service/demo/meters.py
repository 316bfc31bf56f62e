"""Meter data of the story: devices registered, a year of signed readings through the oracle pipeline
into the runtime's database, weekly windows built and anchored with the oracle's custodial key.

The readings go straight through the oracle's ingest pipeline (`oracles.ingest`, as `carbonledger oracle
ingest` does) with its parallel workers: a year of a park's readings is far more than the push use case's
request-sized batches are meant for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ledger_service.demo.cast import Cast, caller
from ledger_service.demo.printing import chapter, progress_bar, say, show, table
from ledger_service.runtime import Runtime
from ledger_service.services.wiring import build_services
from oracles.factors import factor_choice
from oracles.ingest import ingest_messages
from oracles.simulator import ParkLayout, simulate_messages

DAY = 86_400
WEEK = 7 * DAY


@dataclass(frozen=True)
class Period:
    """`weeks` weekly windows from `start` (a Thursday, 00:00 UTC), one reading per device every `interval` s."""

    start: int
    weeks: int
    interval: int

    @property
    def end(self) -> int:
        return self.start + self.weeks * WEEK

    @property
    def readings_per_device(self) -> int:
        return self.weeks * WEEK // self.interval


@dataclass(frozen=True)
class MeterSummary:
    readings: int
    quarantined: int
    windows: int
    anchors: int
    seconds_ingest: float


def register(runtime: Runtime, cast: Cast, layout: ParkLayout) -> None:
    """Each enterprise registers its devices in MeterAnchor (chain first, then the oracle's registry) in one
    batch; the regulator authorises the park's oracle for every enterprise: the meter use cases the API calls."""
    chapter(f"Meters: {len(layout.devices)} devices in {len(layout.enterprises)} enterprises")
    use = build_services(runtime).meters
    for org in cast.enterprises:
        use.register_devices(caller(runtime, cast[cast.enterprise(org)]),
                             [d.info for d in layout.devices if d.enterprise_org_id == org])
    regulator = caller(runtime, cast["regulator"])
    for org in cast.enterprises:
        use.authorise_oracle(regulator, org, cast["oracle"], True)
    t = table("enterprise", "facilities", "workshops", "devices", "carriers")
    for org in cast.enterprises:
        mine = [d for d in layout.devices if d.enterprise_org_id == org]
        carriers = Counter(d.carrier for d in mine)
        t.add_row(f"{org} {cast.names[org]}", str(len({d.facility for d in mine})),
                  str(len({d.workshop for d in mine})), str(len(mine)),
                  ", ".join(f"{c} {n}" for c, n in sorted(carriers.items())))
    show(t)


def ingest_and_anchor(runtime: Runtime, cast: Cast, layout: ParkLayout, period: Period) -> MeterSummary:
    """Signed readings simulated, checked, valued and stored; each enterprise's weekly windows built and
    anchored, four weeks at a time, the event index following."""
    hours = period.interval / 3600
    chapter(f"Meter data: {period.weeks} weeks of readings every {period.interval // 60} min, anchored weekly")
    total = period.readings_per_device * len(layout.devices)
    per_message = max(1, DAY // period.interval)
    messages = simulate_messages(layout, period.start, period.readings_per_device, interval_seconds=period.interval,
                                 readings_per_message=per_message)
    windows = period.weeks * len(cast.enterprises)
    anchored = 0
    with progress_bar() as bars:
        ingest = bars.add_task("ingest signed readings", total=total)
        anchoring = bars.add_task("anchor weekly windows", total=windows)
        with runtime.sessions() as session:
            summary = ingest_messages(
                session, messages, factor_set=factor_choice(runtime.settings.factor_set),
                window_seconds=runtime.settings.window_seconds,
                future_skew_seconds=runtime.settings.future_skew_seconds,
                workers=runtime.settings.ingest_workers, source="demo: simulated park",
                progress=lambda n: bars.advance(ingest, n))
            session.commit()
        oracle, use = caller(runtime, cast["oracle"]), build_services(runtime).meters
        for chunk_end in range(period.start + 4 * WEEK, period.end + 4 * WEEK, 4 * WEEK):
            for org in cast.enterprises:
                outcomes = use.build_and_anchor(oracle, org, until=min(chunk_end, period.end)).windows
                anchored += sum(o.action == "anchored" for o in outcomes)
                bars.advance(anchoring, len(outcomes))
            runtime.indexing.sync()
    say(f"{summary.accepted:,} readings accepted ({hours:g} h apart, {summary.messages:,} signed messages), "
        f"{summary.quarantined_total:,} quarantined; {anchored} windows anchored by the oracle "
        f"({summary.seconds:.1f} s to ingest)")
    return MeterSummary(summary.accepted, summary.quarantined_total, windows, anchored, summary.seconds)

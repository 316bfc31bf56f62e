"""Green electricity in the park: a rooftop solar plant's generation meter, its production anchored weekly,
green electricity certificates issued from those anchors, sold on the market to another enterprise, consumed
for that enterprise's electricity, and its Scope 2 reported location-based and market-based; the batch traced
back to the anchored readings. Every step is a use case the API calls."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger_service import market
from ledger_service.demo.cast import Cast, caller
from ledger_service.demo.meters import DAY, Period
from ledger_service.demo.printing import chapter, say, show, table
from ledger_service.runtime import Runtime
from ledger_service.services.wiring import build_services
from oracles.canonical import MessageReading, SignedMessage
from oracles.devices import DeviceInfo
from oracles.factors import factor_choice
from oracles.ingest import ingest_messages
from oracles.measures import MEASURE_PRODUCTION, DeviceKind
from oracles.simulator import device_signing_key, sign_message

CNY = 100
GEC_REFERENCE = 30 * CNY  # per MWh
PEAK_KWH = 2_000  # a 2 MWp rooftop plant's output in its best hour


@dataclass(frozen=True)
class GreenOutcome:
    batch_id: int
    certificates: int
    consumed: int
    anchors: int


def _solar_kwh(ts: int, interval: int) -> str:
    """Output over `[ts, ts + interval)`: a clear-sky curve from 06:00 to 18:00 UTC+8 noon-centred, whole kWh."""
    hour = ((ts + 8 * 3600) % DAY) / 3600 + interval / 7200
    sun = math.sin(math.pi * (hour - 6) / 12) if 6 < hour < 18 else 0.0
    return str(round(PEAK_KWH * sun * interval / 3600))


def _production(device_id: str, seed: int, period: Period) -> list[SignedMessage]:
    """The generation meter's signed readings, one message a day."""
    key = device_signing_key(seed, device_id)
    per_message = max(1, DAY // period.interval)
    readings = [MessageReading(i + 1, period.start + i * period.interval, _solar_kwh(
        period.start + i * period.interval, period.interval), "kWh", "electricity")
        for i in range(period.readings_per_device)]
    return [sign_message(key, device_id, tuple(readings[i:i + per_message]))
            for i in range(0, len(readings), per_message)]


def green_electricity(runtime: Runtime, cast: Cast, seed: int, period: Period) -> GreenOutcome:
    chapter("Green electricity: certificates from anchored solar production, traded, consumed for Scope 2")
    use = build_services(runtime)
    regulator, oracle = caller(runtime, cast["regulator"]), caller(runtime, cast["oracle"])
    generator_org, buyer_org = cast.enterprises[0], cast.enterprises[1]
    generator = caller(runtime, cast[cast.enterprise(generator_org)])
    buyer = caller(runtime, cast[cast.enterprise(buyer_org)])
    device_id = f"ENT{generator_org}-PV-ROOF1"
    key = device_signing_key(seed, device_id)
    use.meters.register_devices(generator, [DeviceInfo(
        device_id, generator_org, f"ENT{generator_org}-F1", f"ENT{generator_org}-F1-PV",
        key.public_key().public_bytes_raw(), DeviceKind.GENERATION_METER)])
    with runtime.sessions() as session:
        stored = ingest_messages(session, _production(device_id, seed, period),
                                 factor_set=factor_choice(runtime.settings.factor_set),
                                 window_seconds=runtime.settings.window_seconds,
                                 future_skew_seconds=runtime.settings.future_skew_seconds, source="demo: rooftop solar")
        session.commit()
    outcomes = use.meters.build_and_anchor(oracle, generator_org, until=period.end).windows
    anchors = [o.anchor_id for o in outcomes if o.measure == MEASURE_PRODUCTION and o.anchor_id is not None]
    say(f"{cast.names[generator_org]} registered generation meter {device_id}: {stored.accepted:,} readings of "
        f"electricity produced, anchored as production in {len(anchors)} weekly windows (Wh, no factor set)")

    batch = use.gec.issue(regulator, generator.address, period.start, period.end, anchors).value
    assert batch is not None, "the demo waits for every transaction"
    say(f"GEC batch {batch.batch_id}: {batch.amount:,} MWh certified from {batch.anchored_wh:,} Wh anchored, serials "
        f"{batch.serial_start:,}-{batch.serial_end:,} to {cast.names[generator_org]}")

    before = use.gec.scope2(buyer, buyer_org, period.start, period.end)
    wanted = min(batch.amount // 2, int(before.electricity_kwh // 2_000))  # about half its electricity
    if wanted > 0:
        use.market.set_reference_price(regulator, "gec", batch.batch_id, GEC_REFERENCE)
        use.settlement.mint(caller(runtime, cast["bank"]), buyer.address, wanted * GEC_REFERENCE * 2)
        expiry = datetime.fromtimestamp(market.chain_time(runtime.chain) + 7 * DAY, UTC)
        order = use.market.list_order(generator, "gec", batch.batch_id, wanted, GEC_REFERENCE, expiry).value
        assert order is not None
        use.market.fill_order(buyer, order.order_id, wanted)
        say(f"{cast.names[buyer_org]} bought {wanted:,} certificates on the market at CNY "
            f"{market.to_cny(GEC_REFERENCE)}/MWh (order {order.order_id})")
        claim = use.gec.consume(buyer, batch.batch_id, wanted, period.start, period.end).value
        assert claim is not None
        say(f"{cast.names[buyer_org]} consumed them for its electricity of the period: serials "
            f"{claim.serial_start:,}-{claim.serial_end:,}")

    t = table("enterprise", "electricity MWh", "certificates MWh", "location-based tCO2e", "market-based tCO2e",
              "counts for compliance")
    for org, who in ((buyer_org, buyer), (generator_org, generator)):
        report = use.gec.scope2(who, org, period.start, period.end)
        t.add_row(f"{org} {cast.names[org]}", f"{report.electricity_kwh / 1000:,.1f}", f"{report.certificates_mwh:,}",
                  f"{report.location_based_kg / 1000:,.3f}", f"{report.market_based_kg / 1000:,.3f}",
                  report.compliance_basis)
    show(t)
    use.gec.set_scope2_rule(regulator, True)
    after = use.gec.scope2(buyer, buyer_org, period.start, period.end)
    say(f"the regulator lets market-based Scope 2 count: {cast.names[buyer_org]}'s Scope 2 for compliance is now "
        f"{after.compliance_kg / 1000:,.3f} t ({after.compliance_basis}, was "
        f"{before.compliance_kg / 1000:,.3f} t location-based)")

    traced = use.gec.trace(regulator, batch.batch_id)
    readings = sum(a.reading_count or 0 for a in traced.origin)
    say(f"trace of batch {batch.batch_id}: {len(traced.origin)} production anchors holding {traced.origin_wh:,} Wh "
        f"over {readings:,} readings → issuance → " + " → ".join(h.kind for h in traced.trace.hops[1:])
        + f"; {len(traced.consumptions)} consumption claim(s)")
    return GreenOutcome(batch.batch_id, batch.amount, traced.trace.retired, len(anchors))

"""Green electricity certificates (GEC): what the service builds, checks and reads around GreenCertificates.

A regulator issues a batch (a token id with a serial range, 1 certificate = 1 MWh) to a renewable generator
for a production period, citing the generator's production anchors (MeterAnchor's anchored generation-meter
readings, read through `IProductionAnchors.productionOf`); holders transfer and trade certificates; an
enterprise consumes them to claim renewable electricity for its organisation and a consumption period.

Scope 2 of an enterprise for a period is reported both ways (GHG Protocol Scope 2 guidance): location-based,
the grid factor times all electricity bought (the stored electricity readings as the oracle valued them), and
market-based, the grid factor times the electricity not covered by certificates consumed for that
organisation with a consumption period inside the reporting period. Which of the two counts for compliance is
the regulator's on-chain rule (`marketBasedScope2Counts`, location-based by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger_core.assets import GEC
from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from ledger_core.db.models import (
    ChainAnchor,
    ChainBalance,
    ChainGecBatch,
    ChainGecBatchAnchor,
    ChainGecConsumption,
    MeterBatch,
    MeterDevice,
    Reading,
)
from ledger_service.audit.results import OnChain, utc

CONTRACT = GEC.contract
PRODUCTION_INTERFACE = "IProductionAnchors"
WH_PER_CERTIFICATE = 1_000_000
KWH_PER_CERTIFICATE = 1_000
ELECTRICITY = "electricity"
SCOPE_2 = 2
KWH_PER_UNIT = {"kWh": Fraction(1), "MWh": Fraction(1000)}


@dataclass(frozen=True)
class Batch:
    """A batch; the index records its issuance, the chain also what is left of it (`supply`, `next_serial`)."""

    batch_id: int
    generator: str
    generator_org_id: int
    period_start: int
    period_end: int
    amount: int
    serial_start: int
    serial_end: int
    anchored_wh: int | None = None
    anchor_ids: tuple[int, ...] = ()
    next_serial: int | None = None
    supply: int | None = None


@dataclass(frozen=True)
class Production:
    """A production anchor as MeterAnchor holds it."""

    anchor_id: int
    enterprise_org_id: int
    window_start: int
    window_end: int
    wh: int
    certified: bool


@dataclass(frozen=True)
class Consumption:
    """A consumption claim: certificates of a batch consumed for an organisation's electricity in a period."""

    batch_id: int
    holder: str
    beneficiary_org_id: int
    amount: int
    serial_start: int
    serial_end: int
    consumption_start: int
    consumption_end: int
    at: OnChain


@dataclass(frozen=True)
class Holding:
    batch_id: int
    amount: int
    generator_org_id: int | None
    period_start: int | None
    period_end: int | None


@dataclass(frozen=True)
class Scope2:
    """An enterprise's Scope 2 electricity emissions for `[start, end)`, both ways, in kgCO2e (exact to the mg).

    `covered_kwh` is the electricity the consumed certificates cover (at most all of it); `compliance_basis`
    says which figure counts for compliance under the regulator's rule, `compliance_kg` is that figure."""

    org_id: int
    start: int
    end: int
    electricity_kwh: Decimal
    reading_count: int
    certificates_mwh: int
    covered_kwh: Decimal
    location_based_kg: Decimal
    market_based_kg: Decimal
    market_based_counts: bool
    consumptions: list[Consumption]

    @property
    def compliance_basis(self) -> str:
        return "market-based" if self.market_based_counts else "location-based"

    @property
    def compliance_kg(self) -> Decimal:
        return self.market_based_kg if self.market_based_counts else self.location_based_kg


# ------------------------------------------------------------------ intents


def issue_intent(signer: str, generator: str, period_start: int, period_end: int, anchor_ids: list[int],
                 amount: int, serial_start: int) -> Intent:
    return Intent(CONTRACT, "issue", (generator, period_start, period_end, anchor_ids, amount, serial_start), signer,
                  requested_by=signer)


def call(signer: str, function: str, *args: Any) -> Intent:
    return Intent(CONTRACT, function, args, signer, requested_by=signer)


# ------------------------------------------------------------------ chain views


def _view(chain: ChainClient, suite: Suite, function: str, *args: Any) -> Any:
    return suite.view(chain, CONTRACT, function, *args)


def next_serial(chain: ChainClient, suite: Suite) -> int:
    """The first serial a new batch may start at."""
    return int(_view(chain, suite, "lastSerialEnd")) + 1


def market_based_counts(chain: ChainClient, suite: Suite) -> bool:
    """The regulator's rule: whether market-based Scope 2 is the figure used for compliance."""
    return bool(_view(chain, suite, "marketBasedScope2Counts"))


def balance(chain: ChainClient, suite: Suite, holder: str, batch_id: int) -> int:
    return int(_view(chain, suite, "balanceOf", holder, batch_id))


def chain_state(chain: ChainClient, suite: Suite, batch_id: int) -> tuple[int, int, int, int, int]:
    """(generator organisation, first serial, last serial, next serial, supply); raises UnknownBatch."""
    org, first, last, nxt = _view(chain, suite, "batch", batch_id)
    supply = _view(chain, suite, "totalSupply(uint256)", batch_id)
    return int(org), int(first), int(last), int(nxt), int(supply)


def production(chain: ChainClient, suite: Suite, artifact_abi: list[dict[str, Any]],
               anchor_ids: list[int]) -> list[Production]:
    """The production anchors as the contract GreenCertificates reads them (`IProductionAnchors.productionOf`);
    raises the anchor registry's NotProductionAnchor for an unknown or emissions anchor."""
    source = suite.view(chain, CONTRACT, "productionAnchors")
    anchors = suite.w3.eth.contract(address=source, abi=artifact_abi)
    out = []
    for anchor_id in anchor_ids:
        try:
            org, start, end, wh = chain.request(anchors.functions.productionOf(anchor_id).call)
        except Exception as exc:
            revert = suite.decoder.from_exception(exc)
            if revert is None:
                raise
            raise revert from None
        certified = bool(_view(chain, suite, "anchorCertified", anchor_id))
        out.append(Production(anchor_id, int(org), int(start), int(end), int(wh), certified))
    return out


def issued_ids(chain: ChainClient, suite: Suite, tx_hash: str) -> list[int]:
    receipt = chain.request(lambda: suite.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
    return [int(e["batchId"]) for e in suite.events(receipt, CONTRACT, "CertificatesIssued")]


# ------------------------------------------------------------------ index views


def _batch(row: ChainGecBatch, anchor_ids: tuple[int, ...] = ()) -> Batch:
    return Batch(row.batch_id, row.generator, row.generator_org_id, row.period_start, row.period_end, row.amount,
                 row.serial_start, row.serial_end, row.anchored_wh, anchor_ids)


def anchor_ids_of(session: Session, batch_id: int) -> tuple[int, ...]:
    return tuple(session.scalars(select(ChainGecBatchAnchor.anchor_id).where(ChainGecBatchAnchor.batch_id == batch_id)
                                 .order_by(ChainGecBatchAnchor.sub_index)))


def indexed_batch(session: Session, batch_id: int) -> Batch | None:
    row = session.scalar(select(ChainGecBatch).where(ChainGecBatch.batch_id == batch_id))
    return None if row is None else _batch(row, anchor_ids_of(session, batch_id))


def batches(session: Session, offset: int, limit: int, generator_org_id: int | None = None) -> tuple[list[Batch], int]:
    """Issued batches from the index (what was issued, not what became of the certificates)."""
    q = select(ChainGecBatch)
    if generator_org_id is not None:
        q = q.where(ChainGecBatch.generator_org_id == generator_org_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(ChainGecBatch.batch_id).offset(offset).limit(limit)).all()
    return [_batch(r, anchor_ids_of(session, r.batch_id)) for r in rows], int(total)


def holdings(session: Session, holder: str) -> list[Holding]:
    """A holder's non-zero certificate balances by batch, from the index."""
    rows = session.execute(
        select(ChainBalance.token_id, ChainBalance.amount, ChainGecBatch.generator_org_id,
               ChainGecBatch.period_start, ChainGecBatch.period_end)
        .outerjoin(ChainGecBatch, ChainGecBatch.batch_id == ChainBalance.token_id)
        .where(ChainBalance.token == CONTRACT, ChainBalance.holder == holder, ChainBalance.amount != 0)
        .order_by(ChainBalance.token_id)).all()
    return [Holding(int(b), int(a), g, s, e) for b, a, g, s, e in rows]


def _consumption(c: ChainGecConsumption) -> Consumption:
    return Consumption(c.batch_id, c.holder, c.beneficiary_org_id, c.amount, c.serial_start, c.serial_end,
                       c.consumption_start, c.consumption_end,
                       OnChain(c.tx_hash, c.block_number, c.log_index, utc(c.block_time), c.pending))


def consumptions_of_batch(session: Session, batch_id: int) -> list[Consumption]:
    return [_consumption(c) for c in session.scalars(select(ChainGecConsumption).where(
        ChainGecConsumption.batch_id == batch_id).order_by(ChainGecConsumption.block_number,
                                                           ChainGecConsumption.log_index))]


def consumptions_for(session: Session, org_id: int, start: int, end: int) -> list[Consumption]:
    """The claims made for an organisation whose consumption period lies inside `[start, end)`."""
    return [_consumption(c) for c in session.scalars(select(ChainGecConsumption).where(
        ChainGecConsumption.beneficiary_org_id == org_id, ChainGecConsumption.consumption_start >= start,
        ChainGecConsumption.consumption_end <= end).order_by(ChainGecConsumption.block_number,
                                                             ChainGecConsumption.log_index))]


@dataclass(frozen=True)
class OriginAnchor:
    """A production anchor a batch cites, as indexed, with the oracle's stored window of readings."""

    anchor_id: int
    enterprise_org_id: int | None
    window_start: int | None
    window_end: int | None
    root: str | None
    wh: int | None  # the anchored sum (MeterAnchor's total of a production window)
    reading_count: int | None
    stored_readings: int  # readings the service holds for the window (0 when kept elsewhere)
    meter_batch_id: int | None
    at: OnChain | None


def origin(session: Session, batch_id: int) -> list[OriginAnchor]:
    """The production anchors a batch cites, each with its indexed anchor and the readings stored for it."""
    out = []
    for anchor_id in anchor_ids_of(session, batch_id):
        a = session.scalar(select(ChainAnchor).where(ChainAnchor.anchor_id == anchor_id))
        meter_batch = session.scalar(select(MeterBatch.id).where(MeterBatch.anchor_id == anchor_id))
        stored = 0 if meter_batch is None else int(session.scalar(
            select(func.count()).select_from(Reading).where(Reading.batch_id == meter_batch)) or 0)
        if a is None:
            out.append(OriginAnchor(anchor_id, None, None, None, None, None, None, stored, meter_batch, None))
            continue
        out.append(OriginAnchor(anchor_id, a.enterprise_org_id, a.window_start, a.window_end, "0x" + a.root.hex(),
                                a.total_mg, a.reading_count, stored, meter_batch,
                                OnChain(a.tx_hash, a.block_number, a.log_index, utc(a.block_time), a.pending)))
    return out


# ------------------------------------------------------------------ Scope 2


def electricity(session: Session, org_id: int, start: int, end: int) -> tuple[Fraction, int, int]:
    """(kWh, mgCO2e as valued, readings) of the organisation's bought electricity in `[start, end)`: its
    devices' Scope 2 electricity readings (generation meters' readings are production, not Scope 2)."""
    kwh, mg, count = Fraction(0), 0, 0
    rows = session.execute(
        select(Reading.quantity, Reading.unit, Reading.value_mg)
        .join(MeterDevice, MeterDevice.id == Reading.device_pk)
        .where(MeterDevice.enterprise_org_id == org_id, Reading.carrier == ELECTRICITY, Reading.scope == SCOPE_2,
               Reading.timestamp >= start, Reading.timestamp < end)
        .execution_options(yield_per=50_000))
    for quantity, unit, value_mg in rows:
        kwh += Fraction(quantity) * KWH_PER_UNIT[unit]
        mg += value_mg
        count += 1
    return kwh, mg, count


def _kg(mg: Fraction) -> Decimal:
    """mg as kg, rounded half up to the mg (exact arithmetic until then)."""
    whole_mg = (mg.numerator * 2 + mg.denominator) // (2 * mg.denominator)
    return Decimal(whole_mg) / Decimal(1_000_000)


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def scope2(session: Session, org_id: int, start: int, end: int, counts: bool) -> Scope2:
    """Scope 2 both ways. Market-based applies the period's grid factor (the location-based emissions per kWh,
    as the oracle valued each reading) to the electricity the consumed certificates do not cover."""
    kwh, mg, count = electricity(session, org_id, start, end)
    claims = consumptions_for(session, org_id, start, end)
    mwh = sum(c.amount for c in claims)
    covered = min(Fraction(mwh * KWH_PER_CERTIFICATE), kwh)
    market_mg = Fraction(mg) * (kwh - covered) / kwh if kwh else Fraction(0)
    return Scope2(org_id, start, end, _decimal(kwh), count, mwh, _decimal(covered), _kg(Fraction(mg)),
                  _kg(market_mg), counts, claims)

"""Green electricity certificates (1 certificate = 1 MWh): issuance from a generator's production anchors,
batches, holdings, transfers, consumption claims, Scope 2 both ways with the regulator's rule, and a batch's
trace from its anchors to its claims. The use cases are `ledger_service.services.gec`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer
from ledger_service.api.deps import AnyMember, Caller, PageDep, Regulator, ServicesDep, member
from ledger_service.api.routers.audit import HoldingOut as HolderOut
from ledger_service.api.routers.audit import HopOut, OnChainOut
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.types import INT64_MAX, LAST_SECOND, MAX_SERIAL, ChainId64, Id64, OrgId, Seconds, Tonnes

router = APIRouter(prefix=f"{API_PREFIX}/gec", tags=["green electricity certificates"])
ADDRESS = "^0x[0-9a-fA-F]{40}$"
BatchId = Annotated[Id64, Field(description="a GEC batch (its token id)")]
Mwh = Annotated[Tonnes, Field(description="certificates, in MWh")]
Holder = Annotated[Caller, Depends(member("ENTERPRISE", "TRADER", moves_assets=True))]
Consumer = Annotated[Caller, Depends(member("ENTERPRISE", moves_assets=True))]
Wait = Annotated[bool, Query(description="wait for the receipt (otherwise answer 202 once sent)")]
Instant = Annotated[int, Query(ge=0, le=LAST_SECOND, description="Unix seconds (UTC)")]


def _period_ordered(start: int, end: int, what: str) -> None:
    if start >= end:
        raise ValueError(f"{what}_start must be before {what}_end")


class IssueIn(BaseModel):
    generator: str = Field(pattern=ADDRESS, description="the renewable generator's account (an enterprise member)")
    period_start: Seconds = Field(gt=0, description="production period start (inclusive)")
    period_end: Seconds = Field(description="production period end (exclusive)")
    anchor_ids: list[Annotated[int, Field(strict=True, ge=1, le=INT64_MAX)]] = Field(
        min_length=1, max_length=500, description="the generator's production anchors (each backs one batch, whole)")
    amount: Mwh | None = Field(default=None, description="default: every whole MWh the anchors hold")
    serial_start: Annotated[int, Field(strict=True)] | None = Field(
        default=None, gt=0, le=MAX_SERIAL, description="first serial; default: right after the last one issued")

    @model_validator(mode="after")
    def _ordered(self) -> IssueIn:
        _period_ordered(self.period_start, self.period_end, "period")
        return self


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    batch_id: int
    generator: str
    generator_org_id: int
    period_start: int
    period_end: int
    amount: int = Field(description="certificates issued (MWh)")
    serial_start: int
    serial_end: int
    anchored_wh: int | None = Field(default=None, description="what the cited anchors hold, in Wh")
    anchor_ids: list[int] = Field(default_factory=list)
    next_serial: int | None = None
    supply: int | None = Field(default=None, description="certificates not yet consumed")


class BatchTx(BaseModel):
    batch: BatchOut | None
    transaction: TxOut


class BatchList(BaseModel):
    items: list[BatchOut]
    page: PageInfo


class HoldingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    batch_id: int
    amount: int
    generator_org_id: int | None
    period_start: int | None
    period_end: int | None


class HoldingsOut(BaseModel):
    address: str
    holdings: list[HoldingOut]


class TransferIn(BaseModel):
    to: str = Field(pattern=ADDRESS)
    batch_id: BatchId
    amount: Mwh


class ConsumeIn(BaseModel):
    batch_id: BatchId
    amount: Mwh
    consumption_start: Seconds = Field(gt=0, description="consumption period start (inclusive)")
    consumption_end: Seconds = Field(description="consumption period end (exclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> ConsumeIn:
        _period_ordered(self.consumption_start, self.consumption_end, "consumption")
        return self


class ConsumptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    batch_id: int
    holder: str
    beneficiary_org_id: int
    amount: int
    serial_start: int
    serial_end: int
    consumption_start: int
    consumption_end: int
    at: OnChainOut


class ConsumptionTx(BaseModel):
    consumption: ConsumptionOut | None
    transaction: TxOut


class RuleIn(BaseModel):
    market_based_counts: bool = Field(description="market-based Scope 2 is the figure used for compliance")


class RuleOut(BaseModel):
    market_based_counts: bool


class RuleTx(BaseModel):
    rule: RuleOut | None
    transaction: TxOut


class Scope2Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    org_id: int
    start: int = Field(description="period start, seconds UTC (inclusive)")
    end: int = Field(description="period end, seconds UTC (exclusive)")
    electricity_kwh: Decimal = Field(description="electricity bought in the period (stored readings)")
    reading_count: int
    certificates_mwh: int = Field(description="certificates consumed for the organisation within the period")
    covered_kwh: Decimal = Field(description="electricity those certificates cover (at most all of it)")
    location_based_kg: Decimal = Field(description="grid factor x all electricity, kgCO2e")
    market_based_kg: Decimal = Field(description="grid factor x electricity not covered by certificates, kgCO2e")
    market_based_counts: bool = Field(description="the regulator's rule")
    compliance_basis: str = Field(description="location-based or market-based: the figure used for compliance")
    compliance_kg: Decimal
    consumptions: list[ConsumptionOut]


class OriginOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    anchor_id: int
    enterprise_org_id: int | None
    window_start: int | None
    window_end: int | None
    root: str | None
    wh: int | None = Field(description="the anchored production, in Wh")
    reading_count: int | None
    stored_readings: int = Field(description="readings the service holds for the anchor's window")
    meter_batch_id: int | None
    at: OnChainOut | None


class TraceOut(BaseModel):
    batch: BatchOut
    origin: list[OriginOut]
    origin_wh: int
    issued: int
    consumed: int
    outstanding: int
    hops: list[HopOut]
    holders: list[HolderOut]
    consumptions: list[ConsumptionOut]


def _batch_tx(batch: object | None, record: object) -> BatchTx:
    return BatchTx(batch=BatchOut.model_validate(batch) if batch else None, transaction=TxOut.model_validate(record))


# ------------------------------------------------------------------ batches


@router.post("/batches", response_model=BatchTx, status_code=status.HTTP_201_CREATED)
def issue(body: IssueIn, caller: Regulator, services: ServicesDep, response: Response, wait: Wait = True) -> BatchTx:
    """Issue certificates to a generator from its production anchors (regulator)."""
    sent = services.gec.issue(caller, body.generator, body.period_start, body.period_end, body.anchor_ids,
                              body.amount, body.serial_start, wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return _batch_tx(sent.value, sent.record)


@router.get("/batches", response_model=BatchList)
def list_batches(caller: AnyMember, services: ServicesDep, page: PageDep,
                 generator_org_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None) -> BatchList:
    items, total = services.gec.batches(page.offset, page.limit, generator_org_id)
    return BatchList(items=[BatchOut.model_validate(b) for b in items],
                     page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: ChainId64, caller: AnyMember, services: ServicesDep) -> BatchOut:
    return BatchOut.model_validate(services.gec.batch(batch_id))


@router.get("/batches/{batch_id}/trace", response_model=TraceOut)
def trace(batch_id: ChainId64, caller: AnyMember, services: ServicesDep) -> TraceOut:
    """A batch from the generator's production anchors (with the readings stored for each) through every
    movement to its consumption claims (for whoever sees the generator's emissions data)."""
    found = services.gec.trace(caller, batch_id)
    t = found.trace
    return TraceOut(batch=BatchOut.model_validate(found.batch),
                    origin=[OriginOut.model_validate(a) for a in found.origin], origin_wh=found.origin_wh,
                    issued=t.issued, consumed=t.retired, outstanding=t.outstanding,
                    hops=[HopOut.model_validate(h) for h in t.hops],
                    holders=[HolderOut.model_validate(h) for h in t.holders],
                    consumptions=[ConsumptionOut.model_validate(c) for c in found.consumptions])


# ------------------------------------------------------------------ holders


@router.get("/holdings/{address}", response_model=HoldingsOut)
def get_holdings(address: Annotated[str, Path(pattern=ADDRESS)], caller: AnyMember,
                 services: ServicesDep) -> HoldingsOut:
    holder, found = services.gec.holdings(caller, address)
    return HoldingsOut(address=holder, holdings=[HoldingOut.model_validate(h) for h in found])


@router.post("/transfers", response_model=TxOut)
async def transfer(body: TransferIn, caller: Holder, services: ServicesDep, response: Response,
                   wait: Wait = True) -> TxOut:
    sent = await services.gec.transfer_async(caller, body.to, body.batch_id, body.amount, wait)
    answer(response, *sent.records)
    return TxOut.model_validate(sent.record)


@router.post("/consumptions", response_model=ConsumptionTx, status_code=status.HTTP_201_CREATED)
def consume(body: ConsumeIn, caller: Consumer, services: ServicesDep, response: Response,
            wait: Wait = True) -> ConsumptionTx:
    """Consume certificates to claim renewable electricity for the caller's organisation and a period."""
    sent = services.gec.consume(caller, body.batch_id, body.amount, body.consumption_start, body.consumption_end,
                                wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return ConsumptionTx(consumption=ConsumptionOut.model_validate(sent.value) if sent.value else None,
                         transaction=TxOut.model_validate(sent.record))


# ------------------------------------------------------------------ Scope 2


@router.get("/scope2-rule", response_model=RuleOut)
def get_rule(caller: AnyMember, services: ServicesDep) -> RuleOut:
    return RuleOut(market_based_counts=services.gec.scope2_rule())


@router.post("/scope2-rule", response_model=RuleTx)
def set_rule(body: RuleIn, caller: Regulator, services: ServicesDep, response: Response,
             wait: Wait = True) -> RuleTx:
    """Say whether market-based Scope 2 counts for compliance (regulator; off by default)."""
    sent = services.gec.set_scope2_rule(caller, body.market_based_counts, wait)
    answer(response, *sent.records)
    return RuleTx(rule=RuleOut(market_based_counts=sent.value) if sent.value is not None else None,
                  transaction=TxOut.model_validate(sent.record))


@router.get("/scope2/{org_id}", response_model=Scope2Out)
def scope2(org_id: OrgId, start: Instant, end: Instant, caller: AnyMember, services: ServicesDep) -> Scope2Out:
    """An enterprise's Scope 2 for `[start, end)`: location-based and market-based, with the certificates
    consumed for it and the figure used for compliance."""
    report = services.gec.scope2(caller, org_id, start, end)
    return Scope2Out.model_validate(report)


"""Early warning: a year's emissions projected from the anchored meter data so far against the allowances and
credits held and surrendered, for an enterprise and for every enterprise of a park. The use cases are
`ledger_service.services.forecast`; the methods are `ledger_service.forecast`'s."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from ledger_service.api import API_PREFIX
from ledger_service.api.deps import Caller, ServicesDep, member
from ledger_service.api.types import LAST_DAY, OrgId
from ledger_service.forecast import Forecast, tonnes

router = APIRouter(prefix=f"{API_PREFIX}/compliance", tags=["compliance"])
ForecastYear = Annotated[int, Path(ge=1971, le=LAST_DAY.year, description="the compliance year (calendar, UTC)")]


class ForecastOut(BaseModel):
    org_id: int
    year: int
    method: str = Field(description="`same period last year scaled`, `run-rate` or `no data`")
    method_note: str = Field(description="the method in words")
    windows: int = Field(description="anchored windows of the year so far")
    data_from: datetime | None = Field(description="where the anchored data of the year starts (UTC)")
    data_to: datetime | None = Field(description="where the anchored data of the year runs to (UTC)")
    anchored_t: Decimal = Field(description="anchored emissions of the year so far, tCO2e")
    last_year_same_period_t: Decimal | None = Field(description="last year's anchored emissions by the same date")
    last_year_total_t: Decimal | None = Field(description="last year's anchored emissions")
    projected_t: Decimal | None = Field(description="the year's projected emissions, tCO2e (null: no data)")
    allowances_held: int = Field(description="allowances of the year's or an earlier vintage held, tCO2e")
    allowances_surrendered: int
    credits_held: int
    credits_surrendered: int
    credit_cap_bps: int = Field(description="the share of an obligation credits may cover, basis points")
    credits_counted: int = Field(description="credits held and surrendered, up to the cap against the projection")
    cover_t: int = Field(description="allowances held and surrendered plus credits counted")
    projected_shortfall_t: Decimal | None = Field(
        description="projected emissions not covered, tCO2e (0 when covered; null: no data)")

    @classmethod
    def of(cls, f: Forecast) -> ForecastOut:
        p, c = f.projection, f.cover
        return cls(
            org_id=f.org_id, year=f.year, method=p.method, method_note=p.note, windows=p.windows,
            data_from=_utc(p.data_from), data_to=_utc(p.data_to), anchored_t=tonnes(p.so_far_mg),
            last_year_same_period_t=None if p.last_year_same_period_mg is None else tonnes(
                p.last_year_same_period_mg),
            last_year_total_t=None if p.last_year_total_mg is None else tonnes(p.last_year_total_mg),
            projected_t=f.projected_t, allowances_held=c.allowances_held,
            allowances_surrendered=c.allowances_surrendered, credits_held=c.credits_held,
            credits_surrendered=c.credits_surrendered, credit_cap_bps=c.credit_cap_bps,
            credits_counted=f.credits_counted, cover_t=f.cover_t, projected_shortfall_t=f.projected_shortfall_t)


class ParkForecastOut(BaseModel):
    park_id: int
    year: int
    enterprises: list[ForecastOut] = Field(description="largest projected shortfall first; no data last")


def _utc(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@router.get("/enterprises/{org_id}/{year}/forecast", response_model=ForecastOut)
def enterprise_forecast(org_id: OrgId, year: ForecastYear, caller: Annotated[Caller, Depends(member())],
                        services: ServicesDep) -> ForecastOut:
    """The year's emissions projected from the enterprise's anchored meter data so far (the method stated), and
    the projected shortfall against the allowances and credits it holds and has surrendered for the year."""
    return ForecastOut.of(services.forecast.enterprise(caller, org_id, year))


@router.get("/parks/{park_id}/{year}/forecast", response_model=ParkForecastOut)
def park_forecast(park_id: OrgId, year: ForecastYear, caller: Annotated[Caller, Depends(member())],
                  services: ServicesDep) -> ParkForecastOut:
    """Every enterprise of the park the caller sees, with its projection, largest projected shortfall first."""
    found = services.forecast.park(caller, park_id, year)
    return ParkForecastOut(park_id=park_id, year=year, enterprises=[ForecastOut.of(f) for f in found.enterprises])

"""The early-warning pages: each enterprise's emissions for the year projected from its anchored meter data so far
(the method stated), against the allowances and credits it holds and has surrendered, and the projected shortfall.

The figures are the forecast use case's (`services.forecast`, the same as `GET /api/v1/compliance/.../forecast`),
which also says who sees them; the monthly figures of the chart are the enterprise's anchored windows
(`services.meters.anchors`), counted as the projection counts them: emissions windows wholly inside the year, each
in the month it starts in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from ledger_service.api.types import LAST_DAY
from ledger_service.audit.report_trace import year_window
from ledger_service.console import charts
from ledger_service.console.i18n import Locale
from ledger_service.console.views import LISTED
from ledger_service.forecast import NO_DATA, RUN_RATE, SAME_PERIOD, Forecast, tonnes
from ledger_service.membership import OrgView
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal
from ledger_service.services.wiring import Services
from oracles.measures import MEASURE_EMISSIONS

METHODS = {SAME_PERIOD: "warning.method_same_period", RUN_RATE: "warning.method_run_rate",
           NO_DATA: "warning.method_no_data"}  # the method -> its message key (its note: the key + "_note")
FIRST_YEAR = 1971  # the forecast API's first year: the year before it must be a Unix year too


@dataclass(frozen=True)
class Month:
    month: int
    anchored: Decimal | None  # tCO2e anchored in windows starting this month; None: past the data
    cumulative: Decimal | None
    projected: Decimal | None  # the projection's path, from the data's last month to December


@dataclass(frozen=True)
class Warning:
    org_id: int
    name: str
    forecast: Forecast
    method: str  # a message key
    anchored: Decimal  # tCO2e so far
    shortfall_coming: bool
    months: list[Month]  # empty where the caller does not see the meter data
    chart: str

    @property
    def cap_percent(self) -> Decimal:
        """The share of the obligation credits may cover, in percent."""
        return Decimal(self.forecast.cover.credit_cap_bps) / 100


@dataclass(frozen=True)
class WarningPage:
    year: int
    scope: OrgView  # the park, or the enterprise
    park: bool
    rows: list[Warning]


def _year(year: int) -> int:
    """A year the forecast takes, refused (422) as the API refuses it otherwise."""
    if not FIRST_YEAR <= year <= LAST_DAY.year:
        raise Refusal(422, "ValidationError", f"year: from {FIRST_YEAR} to {LAST_DAY.year}", {"year": year})
    return year


def park_warning(services: Services, caller: Caller, locale: Locale, park_id: int, year: int) -> WarningPage:
    year = _year(year)
    found = services.forecast.park(caller, park_id, year)  # the park view's rule (403 otherwise)
    return WarningPage(year, services.organisations.organisation(park_id), True,
                       [_row(services, caller, locale, f) for f in found.enterprises])


def enterprise_warning(services: Services, caller: Caller, locale: Locale, org_id: int, year: int) -> WarningPage:
    year = _year(year)
    found = services.forecast.enterprise(caller, org_id, year)  # the compliance status's rule (403 otherwise)
    return WarningPage(year, services.organisations.organisation(org_id), False,
                       [_row(services, caller, locale, found)])


def _row(services: Services, caller: Caller, locale: Locale, f: Forecast) -> Warning:
    name = services.organisations.organisation(f.org_id).name
    shortfall = f.projected_shortfall_t
    months = _months(services, caller, f)
    return Warning(f.org_id, name, f, METHODS[f.projection.method], tonnes(f.projection.so_far_mg),
                   shortfall is not None and shortfall > 0, months, _chart(locale, f, name, months))


def _months(services: Services, caller: Caller, f: Forecast) -> list[Month]:
    """Anchored tonnes by month up to where the data runs, then the projection's straight path to December."""
    p = f.projection
    if p.data_to is None:
        return []
    try:
        anchors = services.meters.anchors(caller, f.org_id, 0, LISTED).items
    except Refusal as exc:
        if exc.status != 403:
            raise
        return []  # the meter data's own rule: this caller sees the forecast, not the windows
    start, end = year_window(f.year)
    by_month = [0] * 13
    for a in anchors:
        if a.measure == MEASURE_EMISSIONS and a.anchor_id is not None and start <= a.window_start \
                and a.window_end <= end:
            by_month[datetime.fromtimestamp(a.window_start, UTC).month] += a.total_mg
    last = datetime.fromtimestamp(p.data_to - 1, UTC).month
    so_far = tonnes(p.so_far_mg)
    projected = f.projected_t or so_far
    out = []
    running = 0
    for m in range(1, 13):
        running += by_month[m]
        seen = m <= last
        path = so_far + (projected - so_far) * (m - last) / (12 - last) if m > last else so_far if m == last else None
        out.append(Month(m, tonnes(by_month[m]) if seen else None, tonnes(running) if seen else None,
                         path.quantize(Decimal("0.001")) if path is not None else None))
    return out


def _chart(locale: Locale, f: Forecast, name: str, months: list[Month]) -> str:
    if not months:
        return ""
    cover = Decimal(f.cover_t)
    return charts.line(
        f"warning-chart-{f.org_id}", locale.t("warning.chart_title", name=name, year=f.year),
        locale.t("warning.chart_desc"), [locale.t(f"month.{m.month}") for m in months],
        [charts.Line(locale.t("warning.cumulative"), "line-actual", tuple(m.cumulative for m in months)),
         charts.Line(locale.t("warning.projected"), "line-projected", tuple(m.projected for m in months), True),
         charts.Line(locale.t("warning.cover"), "line-cover", tuple(cover for _ in months))],
        lambda v: locale.t("unit.tco2e", value=locale.number(v, 0)))

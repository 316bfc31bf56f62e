"""Early warning: a year's emissions projected from the meter data anchored so far, against what an enterprise
holds and has surrendered for that year.

The projection reads only anchored windows (the index of `MeterAnchor`'s records, measure emissions), the same
windows an emission report for the year commits to: those lying wholly inside the calendar year (UTC). Two
methods, the first that applies:

- **same period last year scaled**: last year's anchors cover the same part of the year (from within one window
  of where this year's data starts) and reach the end of last year (within one window: weekly windows do not
  end on 31 December). The projection is this year's anchored total so far x last year's total / last year's
  total over the same part of the year (up to the calendar date this year's data runs to, a window across that
  date counted pro rata by time).
- **run-rate**: this year's anchored total so far annualised by the time it covers (from the first anchored
  window's start to the last one's end); seasonality is not modelled.

Figures are exact until they are shown: mgCO2e as integers, the projection as a fraction, rounded once, half to
even, to tonnes with three decimals (kilograms). Cover is whole tonnes: allowances of the year's or an earlier
vintage (banking) in the organisation's accounts, allowances and credits already surrendered for the year, and
credits held counted up to what the credit cap (`ComplianceLedger.creditCapBps`) would admit against the
projected emissions. Units listed on the market (in escrow) are not counted as held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.assets import ALLOWANCE, CREDIT
from ledger_core.db.models import ChainBalance, ChainMember
from ledger_service.audit.report_trace import report_anchors, year_window

SAME_PERIOD = "same period last year scaled"
RUN_RATE = "run-rate"
NO_DATA = "no data"
METHOD_NOTES = {
    SAME_PERIOD: "this year's anchored emissions so far x last year's total / last year's emissions by the same "
    "date",
    RUN_RATE: "this year's anchored emissions so far annualised by the time they cover; seasonality not modelled",
    NO_DATA: "no meter data of this year is anchored yet",
}
MG_PER_TONNE = 10**9
BPS = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """An anchored window: [start, end) in seconds UTC and its total in mgCO2e."""

    start: int
    end: int
    total_mg: int


@dataclass(frozen=True)
class Projection:
    method: str
    windows: int  # this year's anchored windows
    so_far_mg: int
    data_from: int | None  # the first window's start, seconds UTC
    data_to: int | None  # the last window's end: how far the data runs
    projected_mg: Fraction | None
    last_year_same_period_mg: Fraction | None = None
    last_year_total_mg: int | None = None

    @property
    def note(self) -> str:
        return METHOD_NOTES[self.method]


@dataclass(frozen=True)
class Cover:
    """What would meet the year's obligation, in whole tonnes."""

    allowances_held: int
    allowances_surrendered: int
    credits_held: int
    credits_surrendered: int
    credit_cap_bps: int


@dataclass(frozen=True)
class Forecast:
    org_id: int
    year: int
    projection: Projection
    cover: Cover

    @property
    def projected_t(self) -> Decimal | None:
        p = self.projection.projected_mg
        return None if p is None else tonnes(p)

    @property
    def credits_counted(self) -> int:
        """Credits held and surrendered, up to the cap against the projected emissions (whole tonnes)."""
        c = self.cover
        credits = c.credits_held + c.credits_surrendered
        p = self.projection.projected_mg
        if p is None:
            return credits
        cap = int(p * c.credit_cap_bps / (BPS * MG_PER_TONNE))  # floor, as the contract's cap of an obligation
        return min(credits, cap)

    @property
    def cover_t(self) -> int:
        return self.cover.allowances_held + self.cover.allowances_surrendered + self.credits_counted

    @property
    def projected_shortfall_t(self) -> Decimal | None:
        projected = self.projected_t
        return None if projected is None else max(Decimal(0), projected - self.cover_t)


def tonnes(mg: Fraction | int) -> Decimal:
    """mgCO2e as tCO2e with three decimals, rounded once, half to even."""
    value = Fraction(mg) / MG_PER_TONNE
    kg, rest = divmod(value.numerator * 1000, value.denominator)
    twice = 2 * rest
    if twice > value.denominator or (twice == value.denominator and kg % 2):
        kg += 1
    return Decimal(kg).scaleb(-3)


def project(year: int, this_year: Sequence[Window], last_year: Sequence[Window]) -> Projection:
    """The year's emissions projected from its anchored windows so far and last year's (module docstring)."""
    if not this_year:
        return Projection(NO_DATA, 0, 0, None, None, None)
    start, end = year_window(year)
    so_far = sum(w.total_mg for w in this_year)
    data_from = min(w.start for w in this_year)
    data_to = max(w.end for w in this_year)
    last = _same_period_last_year(year, data_from, data_to, last_year)
    if last is not None:
        same, total = last
        return Projection(SAME_PERIOD, len(this_year), so_far, data_from, data_to, so_far * total / same, same,
                          total)
    return Projection(RUN_RATE, len(this_year), so_far, data_from, data_to,
                      Fraction(so_far * (end - start), data_to - data_from))


def _same_period_last_year(year: int, data_from: int, data_to: int,
                           last_year: Sequence[Window]) -> tuple[Fraction, int] | None:
    """Last year's emissions by the calendar date this year's data runs to (a window across that date counted
    pro rata by time) and its whole total, when last year's anchors cover that period and run to its end (each
    within one of its windows); None otherwise."""
    if not last_year:
        return None
    _, last_end = year_window(year - 1)
    slack = max(w.end - w.start for w in last_year)
    if min(w.start for w in last_year) > a_year_before(data_from) + slack or max(
            w.end for w in last_year) < last_end - slack:
        return None
    cutoff = a_year_before(data_to)
    same = sum((Fraction(w.total_mg * (min(w.end, cutoff) - w.start), w.end - w.start)
                for w in last_year if w.start < cutoff), Fraction(0))
    if same <= 0:
        return None
    return same, sum(w.total_mg for w in last_year)


def a_year_before(seconds: int) -> int:
    """The same calendar date and time a year earlier (UTC); 29 February becomes 1 March."""
    moment = datetime.fromtimestamp(seconds, UTC)
    try:
        return int(moment.replace(year=moment.year - 1).timestamp())
    except ValueError:  # 29 February
        return int((moment.replace(year=moment.year - 1, day=28) + timedelta(days=1)).timestamp())


def anchored_windows(session: Session, org_id: int, year: int) -> list[Window]:
    """The enterprise's emissions windows anchored in the year (as its report would commit to them)."""
    return [Window(a.window_start, a.window_end, a.total_mg) for a in report_anchors(session, org_id, year)]


def holdings(session: Session, org_id: int, year: int) -> tuple[int, int]:
    """Allowances of the year's or an earlier vintage and credits of any batch in the organisation's accounts, from
    the index."""
    accounts = select(ChainMember.account).where(ChainMember.org_id == org_id).scalar_subquery()
    rows = session.execute(select(ChainBalance.token, ChainBalance.token_id, ChainBalance.amount).where(
        ChainBalance.holder.in_(accounts), ChainBalance.token.in_((ALLOWANCE.contract, CREDIT.contract))))
    allowances = credits = 0
    for token, token_id, amount in rows:
        if token == ALLOWANCE.contract and token_id <= year:
            allowances += amount
        elif token == CREDIT.contract:
            credits += amount
    return allowances, credits

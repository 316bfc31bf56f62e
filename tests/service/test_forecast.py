"""Early warning: a year's emissions projected from anchored meter data (same period last year scaled, or
run-rate), against the allowances and credits held and surrendered; worked by hand, then through the API with
anchors sent by the oracle, with the compliance status's visibility rules."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from fastapi.testclient import TestClient

from ledger_service.forecast import NO_DATA, RUN_RATE, SAME_PERIOD, Cover, Forecast, Window, project
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, ENTERPRISE_C, OTHER_PARK, PARK, Cast
from tests.service.credit_steps import verified_batch
from tests.service.helpers import V1, allocate
from tests.service.metering import T, anchor_windows, at

DAY = 86_400


# ------------------------------------------------------------------ the methods, worked by hand


def test_with_last_years_same_months_the_projection_scales_this_years_data_by_last_years_shape():
    # 2025: 2,000 t by 1 April, 8,000 t in all. 2026: 2,500 t by 1 April -> 2,500 x 8,000 / 2,000 = 10,000 t.
    last = [Window(at(2025, 1), at(2025, 4), 2_000 * T), Window(at(2025, 4), at(2026, 1), 6_000 * T)]
    p = project(2026, [Window(at(2026, 1), at(2026, 4), 2_500 * T)], last)
    assert p.method == SAME_PERIOD
    assert (p.so_far_mg, p.data_from, p.data_to) == (2_500 * T, at(2026, 1), at(2026, 4))
    assert (p.last_year_same_period_mg, p.last_year_total_mg) == (2_000 * T, 8_000 * T)
    assert p.projected_mg == 10_000 * T


def test_the_same_period_is_the_same_calendar_date_across_a_leap_year():
    # 2024 is a leap year: 2025's data to 1 March compares with 2024's windows ending by 1 March 2024 (Jan + Feb,
    # 600 t of 3,600 t), so 700 t so far projects to 700 x 3,600 / 600 = 4,200 t.
    last = [Window(at(2024, 1), at(2024, 2), 300 * T), Window(at(2024, 2), at(2024, 3), 300 * T),
            Window(at(2024, 3), at(2025, 1), 3_000 * T)]
    p = project(2025, [Window(at(2025, 1), at(2025, 3), 700 * T)], last)
    assert (p.method, p.last_year_same_period_mg, p.projected_mg) == (SAME_PERIOD, 600 * T, 4_200 * T)


def test_without_last_year_the_projection_is_the_run_rate_over_the_time_covered():
    # 3,100 t in January (31 days) -> 3,100 x 365 / 31 = 36,500 t.
    p = project(2026, [Window(at(2026, 1), at(2026, 2), 3_100 * T)], [])
    assert (p.method, p.projected_mg, p.last_year_total_mg) == (RUN_RATE, 36_500 * T, None)
    # Data starting late in the year is annualised over what it covers: 10 days of 1 t each -> 365 t.
    late = [Window(at(2026, 3) + i * DAY, at(2026, 3) + (i + 1) * DAY, T) for i in range(10)]
    assert project(2026, late, []).projected_mg == 365 * T


def test_last_year_that_stops_early_or_starts_late_falls_back_to_the_run_rate():
    this_year = [Window(at(2026, 1), at(2026, 4), 2_500 * T)]
    stops_in_june = [Window(at(2025, 1), at(2025, 4), 2_000 * T), Window(at(2025, 4), at(2025, 6), 1_000 * T)]
    starts_in_may = [Window(at(2025, 5), at(2025, 9), 2_000 * T), Window(at(2025, 9), at(2026, 1), 2_000 * T)]
    for last in (stops_in_june, starts_in_may):
        p = project(2026, this_year, last)
        # 2,500 t over 90 days (1 January to 1 April 2026) -> 2,500 x 365 / 90 t.
        assert (p.method, p.projected_mg) == (RUN_RATE, Fraction(2_500 * T * 365, 90))


def test_weekly_windows_of_last_year_count_within_one_window_at_each_end_and_pro_rata_across_the_date():
    # Weekly windows run Thursday to Thursday: 2025's first whole one starts 2 January, its last ends 1 January
    # 2026 (the window over 1 January 2026 belongs to no year's report). One tonne a week: 52 t in the year.
    # 2026's 13 weeks run to 2 April; by 2 April 2025, 12 of 2025's weeks had ended and the 13th (27 March to
    # 3 April) was 6 of 7 days in: 12 6/7 t. 2026's 15 t project to 15 x 52 / (90/7) = 5,460/90 = 60.666... t.
    week = 7 * DAY
    first_2025, first_2026 = at(2025, 1, 2), at(2026, 1, 1)
    last = [Window(first_2025 + i * week, first_2025 + (i + 1) * week, T) for i in range(52)]
    this_year = [Window(first_2026 + i * week, first_2026 + (i + 1) * week, 3 * T if i == 12 else T)
                 for i in range(13)]
    p = project(2026, this_year, last)
    assert (p.method, p.so_far_mg, p.data_to) == (SAME_PERIOD, 15 * T, at(2026, 4, 2))
    assert (p.last_year_same_period_mg, p.last_year_total_mg) == (Fraction(90 * T, 7), 52 * T)
    assert p.projected_mg == Fraction(15 * 52 * 7 * T, 90)
    assert Forecast(ENTERPRISE_A, 2026, p, Cover(0, 0, 0, 0, 500)).projected_t == Decimal("60.667")


def test_no_anchored_data_projects_nothing():
    p = project(2026, [], [Window(at(2025, 1), at(2026, 1), 5 * T)])
    assert (p.method, p.projected_mg, p.data_to, p.windows) == (NO_DATA, None, None, 0)
    f = Forecast(ENTERPRISE_A, 2026, p, Cover(10, 0, 3, 0, 500))
    assert (f.projected_t, f.projected_shortfall_t, f.cover_t) == (None, None, 13)


def test_the_shortfall_counts_allowances_held_and_surrendered_and_credits_up_to_the_cap():
    p = project(2026, [Window(at(2026, 1), at(2026, 2), 3_100 * T)], [])  # 36,500 t
    # 5% of 36,500 t is 1,825 t: of 2,000 credits held and 100 surrendered, 1,825 count.
    f = Forecast(ENTERPRISE_B, 2026, p, Cover(30_000, 1_000, 2_000, 100, 500))
    assert (f.credits_counted, f.cover_t) == (1_825, 32_825)
    assert f.projected_t == Decimal("36500.000") and f.projected_shortfall_t == Decimal("3675.000")
    covered = Forecast(ENTERPRISE_B, 2026, p, Cover(40_000, 0, 0, 0, 500))
    assert covered.projected_shortfall_t == Decimal(0)


def test_tonnes_are_rounded_once_to_kilograms_half_to_even():
    # 1 t over 3 of 365 days: 121.6666... t; 1 mg in 1.5 kg steps shows the half-even rule at the kilogram.
    p = project(2026, [Window(at(2026, 1), at(2026, 1) + 3 * DAY, T)], [])
    assert Forecast(ENTERPRISE_A, 2026, p, Cover(0, 0, 0, 0, 500)).projected_t == Decimal("121.667")
    half = project(2026, [Window(at(2026, 1), at(2027, 1), 2_500_000)], [])  # 2.5 kg
    assert Forecast(ENTERPRISE_A, 2026, half, Cover(0, 0, 0, 0, 500)).projected_t == Decimal("0.002")


# ------------------------------------------------------------------ through the API


def forecast(client: TestClient, cast: Cast, name: str, org_id: int, year: int = 2026) -> object:
    return client.get(f"{V1}/compliance/enterprises/{org_id}/{year}/forecast", headers=cast.auth(name))


def set_up_two_enterprises(client: TestClient, cast: Cast, runtime: Runtime) -> None:
    """Riverside Steel: 2025 complete (8,000 t, 2,000 by 1 April), 2026 to 1 April (2,500 t); 8,000 allowances of
    2025 and 2026 vintages (500 of 2027 do not count) and 1,000 credits. Eastern Cement: January 2026 only (3,100
    t), nothing held."""
    anchor_windows(runtime, cast, ENTERPRISE_A, [(at(2025, 1), at(2025, 4), 2_000), (at(2025, 4), at(2026, 1), 6_000),
                                                 (at(2026, 1), at(2026, 4), 2_500)])
    anchor_windows(runtime, cast, ENTERPRISE_B, [(at(2026, 1), at(2026, 2), 3_100)])
    allocate(client, cast, {"enterprise_a": 7_000}, year=2026)
    allocate(client, cast, {"enterprise_a2": 1_000}, year=2025)
    allocate(client, cast, {"enterprise_a": 500}, year=2027)
    verified_batch(client, cast, amount=1_000, owner="enterprise_a")


def test_an_enterprise_sees_its_forecast_with_the_method_and_the_projected_shortfall(
        client: TestClient, cast: Cast, runtime: Runtime):
    set_up_two_enterprises(client, cast, runtime)
    reply = forecast(client, cast, "enterprise_a", ENTERPRISE_A)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["method"], body["windows"]) == (SAME_PERIOD, 1)
    assert (body["data_from"], body["data_to"]) == ("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z")
    assert (body["anchored_t"], body["last_year_same_period_t"], body["last_year_total_t"]) == (
        "2500.000", "2000.000", "8000.000")
    assert body["projected_t"] == "10000.000"
    # 8,000 allowances of vintages up to 2026 (in both of its members' accounts), 1,000 credits of which the cap
    # (5% of 10,000 t) counts 500: 1,500 t short.
    assert (body["allowances_held"], body["credits_held"], body["credit_cap_bps"], body["credits_counted"]) == (
        8_000, 1_000, 500, 500)
    assert (body["cover_t"], body["projected_shortfall_t"]) == (8_500, "1500.000")
    assert body["method_note"].startswith("this year's anchored emissions so far x last year's total")


def test_the_run_rate_is_used_without_last_years_data(client: TestClient, cast: Cast, runtime: Runtime):
    set_up_two_enterprises(client, cast, runtime)
    body = forecast(client, cast, "regulator", ENTERPRISE_B).json()
    assert (body["method"], body["projected_t"], body["last_year_total_t"]) == (RUN_RATE, "36500.000", None)
    assert (body["cover_t"], body["projected_shortfall_t"]) == (0, "36500.000")


def test_an_enterprise_without_anchored_data_has_no_projection(client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_c": 50}, year=2026)
    body = forecast(client, cast, "enterprise_c", ENTERPRISE_C).json()
    assert (body["method"], body["windows"], body["data_to"], body["projected_t"]) == (NO_DATA, 0, None, None)
    assert (body["allowances_held"], body["projected_shortfall_t"]) == (50, None)


def test_another_enterprises_forecast_is_refused_and_an_unknown_one_not_found(
        client: TestClient, cast: Cast, runtime: Runtime):
    for name in ("enterprise_b", "enterprise_c", "trader", "verifier"):
        reply = forecast(client, cast, name, ENTERPRISE_A)
        assert reply.status_code == 403 and reply.json()["error"] == "NotYourData", name
    for org_id in (999, PARK):  # no such organisation; a park is not an enterprise
        reply = forecast(client, cast, "regulator", org_id)
        assert reply.status_code == 404 and reply.json()["error"] == "UnknownOrganisation"
    assert client.get(f"{V1}/compliance/enterprises/{ENTERPRISE_A}/2026/forecast").status_code == 401
    assert forecast(client, cast, "regulator", ENTERPRISE_A, year=1970).status_code == 422


def test_a_parks_forecast_lists_its_enterprises_largest_shortfall_first(
        client: TestClient, cast: Cast, runtime: Runtime):
    set_up_two_enterprises(client, cast, runtime)
    reply = client.get(f"{V1}/compliance/parks/{PARK}/2026/forecast", headers=cast.auth("regulator"))
    assert reply.status_code == 200, reply.text
    rows = reply.json()["enterprises"]
    assert [(r["org_id"], r["projected_shortfall_t"]) for r in rows] == [(ENTERPRISE_B, "36500.000"),
                                                                         (ENTERPRISE_A, "1500.000")]
    # An enterprise sees its own row only; another park's enterprise none of this park.
    own = client.get(f"{V1}/compliance/parks/{PARK}/2026/forecast", headers=cast.auth("enterprise_a")).json()
    assert [r["org_id"] for r in own["enterprises"]] == [ENTERPRISE_A]
    reply = client.get(f"{V1}/compliance/parks/{PARK}/2026/forecast", headers=cast.auth("enterprise_c"))
    assert reply.status_code == 403 and reply.json()["error"] == "NotYourData"
    reply = client.get(f"{V1}/compliance/parks/{OTHER_PARK}/2026/forecast", headers=cast.auth("regulator"))
    assert [(r["org_id"], r["method"]) for r in reply.json()["enterprises"]] == [(ENTERPRISE_C, NO_DATA)]

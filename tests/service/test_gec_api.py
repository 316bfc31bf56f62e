"""Green electricity certificates through the HTTP API: Scope 2 both ways from the stored electricity readings,
the regulator's rule on which figure counts, and the service's own refusals (checked before anything is sent)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import MeterDevice, Reading
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, Cast
from tests.service.helpers import V1
from tests.service.metering import HOUR, START, messages, push, set_up_park

PERIOD = {"start": START, "end": START + 2 * HOUR}


def electricity_of(runtime: Runtime, org_id: int) -> tuple[Fraction, int]:
    """kWh and mgCO2e of an organisation's stored electricity readings, read straight from the table."""
    with runtime.sessions() as session:
        rows = session.execute(select(Reading.quantity, Reading.unit, Reading.value_mg)
                               .join(MeterDevice, MeterDevice.id == Reading.device_pk)
                               .where(MeterDevice.enterprise_org_id == org_id,
                                      Reading.carrier == "electricity")).all()
    kwh = sum((Fraction(q) * (1000 if u == "MWh" else 1) for q, u, _ in rows), Fraction(0))
    return kwh, sum(mg for _, _, mg in rows)


def metered(client: TestClient, cast: Cast, runtime: Runtime) -> None:
    """Two hours of readings of both enterprises' meters, stored by the oracle pipeline."""
    layout = set_up_park(client, cast, runtime, devices=4)
    for org, name in ((ENTERPRISE_A, "enterprise_a"), (ENTERPRISE_B, "enterprise_b")):
        reply = push(client, cast, name, messages(layout, hours=2, org=org))
        assert reply.status_code == 200, reply.text


def test_scope_2_without_certificates_is_the_same_both_ways_and_location_based_counts(
        client: TestClient, cast: Cast, runtime: Runtime):
    metered(client, cast, runtime)
    kwh, mg = electricity_of(runtime, ENTERPRISE_A)
    assert kwh > 0

    reply = client.get(f"{V1}/gec/scope2/{ENTERPRISE_A}", params=PERIOD, headers=cast.auth("enterprise_a"))

    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert Decimal(report["electricity_kwh"]) == Decimal(kwh.numerator) / Decimal(kwh.denominator)
    assert Decimal(report["location_based_kg"]) == Decimal(mg) / 1_000_000
    assert report["market_based_kg"] == report["location_based_kg"] == report["compliance_kg"]
    assert (report["certificates_mwh"], Decimal(report["covered_kwh"]), report["consumptions"]) == (0, 0, [])
    assert (report["market_based_counts"], report["compliance_basis"]) == (False, "location-based")


def test_only_a_regulator_sets_which_scope_2_figure_counts(client: TestClient, cast: Cast):
    assert client.get(f"{V1}/gec/scope2-rule", headers=cast.auth("trader")).json() == {"market_based_counts": False}
    refused = client.post(f"{V1}/gec/scope2-rule", headers=cast.auth("enterprise_a"),
                         json={"market_based_counts": True})
    assert refused.status_code == 403 and refused.json()["error"] == "MissingRole"

    reply = client.post(f"{V1}/gec/scope2-rule", headers=cast.auth("regulator"), json={"market_based_counts": True})

    assert reply.status_code == 200, reply.text
    assert reply.json()["rule"] == {"market_based_counts": True}
    assert client.get(f"{V1}/gec/scope2-rule", headers=cast.auth("trader")).json() == {"market_based_counts": True}
    report = client.get(f"{V1}/gec/scope2/{ENTERPRISE_B}", params=PERIOD, headers=cast.auth("regulator")).json()
    assert report["compliance_basis"] == "market-based"


def test_scope_2_of_an_enterprise_is_seen_by_whoever_sees_its_emissions(client: TestClient, cast: Cast):
    for name, status in (("enterprise_a", 200), ("regulator", 200), ("enterprise_b", 403), ("trader", 403),
                         ("enterprise_c", 403)):
        reply = client.get(f"{V1}/gec/scope2/{ENTERPRISE_A}", params=PERIOD, headers=cast.auth(name))
        assert reply.status_code == status, (name, reply.text)
    bad = client.get(f"{V1}/gec/scope2/{ENTERPRISE_A}", params={"start": START, "end": START},
                     headers=cast.auth("regulator"))
    assert bad.status_code == 422


def test_issuance_consumption_and_transfers_are_refused_to_the_wrong_roles_before_sending(
        client: TestClient, cast: Cast):
    issue = client.post(f"{V1}/gec/batches", headers=cast.auth("enterprise_a"), json={
        "generator": cast.addresses["enterprise_a"], "period_start": START, "period_end": START + HOUR,
        "anchor_ids": [1]})
    assert issue.status_code == 403 and issue.json()["error"] == "MissingRole"
    consume = client.post(f"{V1}/gec/consumptions", headers=cast.auth("trader"), json={
        "batch_id": 1, "amount": 1, "consumption_start": START, "consumption_end": START + HOUR})
    assert consume.status_code == 403 and consume.json()["error"] == "MissingRole"
    backwards = client.post(f"{V1}/gec/consumptions", headers=cast.auth("enterprise_b"), json={
        "batch_id": 1, "amount": 1, "consumption_start": START + HOUR, "consumption_end": START})
    assert backwards.status_code == 422
    transfer = client.post(f"{V1}/gec/transfers", headers=cast.auth("verifier"), json={
        "to": cast.addresses["enterprise_b"], "batch_id": 1, "amount": 1})
    assert transfer.status_code == 403 and transfer.json()["error"] == "MissingRole"

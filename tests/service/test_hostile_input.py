"""Hostile input gets a clear 4xx in the house's error body, never a 500 or "execution reverted": each row is a
request that fuzzing with a member's key once answered with a 500 (or accepted, where the value would have reached
the chain or the index out of range, or is not an amount at all).

Numbers out of range: integers above int64 in query and path (offsets, ids the database or the index keeps),
organisation ids above what the index keeps, years below 1, calendar days and times outside the chain's range.
Amounts and ids in JSON bodies are strict integers (`true`, `1.0` and `"1"` are not amounts); prices and CNY
amounts are ASCII decimal strings greater than zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, PARK, YEAR, Cast
from tests.service.helpers import V1
from tests.service.metering import clear_meter_data

INT64 = 2**63
UINT64 = 2**64
UINT256 = 2**256


@dataclass(frozen=True)
class Row:
    role: str
    method: str
    path: str  # `{name}` is the cast member's address
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    status: int = 422
    error: str = "ValidationError"


def _order(**changes: Any) -> dict[str, Any]:
    return {"asset": "allowance", "token_id": YEAR, "amount": 1, "price": "58.20", "expiry": "2100-01-01T00:00:00Z",
            **changes}


def _allocation(amount: Any) -> dict[str, Any]:
    return {"year": YEAR, "allocations": [{"holder": "0x" + "11" * 20, "amount": amount}]}


ROWS: dict[str, Row] = {
    # integers above int64 in query and path
    "offset above int64: credit batches": Row("enterprise_a", "GET", "/credits/batches", {"offset": INT64}),
    "offset above int64: credit projects": Row("enterprise_a", "GET", "/credits/projects", {"offset": INT64}),
    "offset above int64: own orders": Row("enterprise_a", "GET", "/market/orders", {"offset": INT64}),
    "offset above int64: transactions": Row("enterprise_a", "GET", "/transactions", {"offset": INT64}),
    "offset above int64: api keys": Row("regulator", "GET", "/api-keys", {"offset": INT64}),
    "offset above int64: devices": Row("regulator", "GET", "/meters/devices",
                                       {"enterprise_org_id": ENTERPRISE_A, "offset": INT64}),
    "offset above int64: anchors": Row("regulator", "GET", f"/meters/enterprises/{ENTERPRISE_A}/anchors",
                                       {"offset": INT64}),
    "offset above int64: quarantine": Row("regulator", "GET", f"/meters/enterprises/{ENTERPRISE_A}/quarantine",
                                          {"offset": INT64}),
    "token id above int64: order book": Row("enterprise_a", "GET", f"/market/books/allowance/{INT64}"),
    "token id above int64: trades": Row("enterprise_a", "GET", f"/market/trades/credit/{INT64}"),
    "token id above int64: daily closes": Row("enterprise_a", "GET", f"/market/closes/credit/{INT64}"),
    "token id above int64: asset trace": Row("enterprise_a", "GET", f"/audit/assets/allowance/{INT64}/trace"),
    "report id above int64: report trace": Row("regulator", "GET", f"/audit/reports/{INT64}/trace"),
    "outbox id above int64": Row("regulator", "GET", f"/transactions/{INT64}"),
    "retirement id above int64": Row("regulator", "GET", f"/credits/retirements/{INT64}"),
    "batch id above uint256": Row("regulator", "GET", f"/credits/batches/{UINT256}"),
    "order id above uint256": Row("enterprise_a", "GET", f"/market/orders/{UINT256}"),
    # organisation ids above uint64 (and above what the index keeps)
    "org id above uint64: enterprise compliance": Row("regulator", "GET", f"/compliance/enterprises/{UINT64}/{YEAR}"),
    "org id above uint64: park compliance": Row("regulator", "GET", f"/compliance/parks/{UINT64}/{YEAR}"),
    "org id above uint64: drill-down": Row("regulator", "GET", f"/audit/parks/{UINT64}/drilldown", {"year": YEAR}),
    "org id above int64: devices": Row("regulator", "GET", "/meters/devices", {"enterprise_org_id": UINT64 - 1}),
    "org id above int64: registration": Row("regulator", "POST", "/organisations",
                                            body={"org_id": UINT64 - 1, "kind": "enterprise", "name": "Overflow"}),
    # years, days and times outside the chain's range
    "years=-1": Row("regulator", "GET", "/allowances/balances/{enterprise_a}", {"years": [-1]}),
    "drill-down of year 9999": Row("regulator", "GET", f"/audit/parks/{PARK}/drilldown", {"year": 9999}),
    "drill-down window above int64": Row("regulator", "GET", f"/audit/parks/{PARK}/drilldown",
                                         {"start": 0, "end": INT64}),
    "daily closes until 9999-12-31": Row("enterprise_a", "GET", f"/market/closes/allowance/{YEAR}",
                                         {"from": "9999-12-30", "until": "9999-12-31"}),
    "order expiring before 1970": Row("enterprise_a", "POST", "/market/orders",
                                      body=_order(expiry="1969-12-31T23:59:59Z")),
    "order expiring in year 1": Row("enterprise_a", "POST", "/market/orders",
                                    body=_order(expiry="0001-01-01T00:00:00")),
    # hex and prices
    "odd-length hex raw_tx": Row("enterprise_a", "POST", "/transactions/relay", body={"raw_tx": "0x0"}),
    "reference price 0": Row("regulator", "POST", "/market/reference-prices",
                             body={"asset": "allowance", "token_id": YEAR, "price": "0"}),
    "reference price 0.00": Row("regulator", "POST", "/market/reference-prices",
                                body={"asset": "credit", "token_id": 1, "price": "0.00"}),
    "reference price in fullwidth digits": Row("regulator", "POST", "/market/reference-prices",
                                               body={"asset": "allowance", "token_id": YEAR, "price": "\uff11\uff12"}),
    "order price in fullwidth digits": Row("enterprise_a", "POST", "/market/orders", body=_order(price="\uff15\uff18")),
    # amounts: strict, and within what the index keeps
    "amount true": Row("regulator", "POST", "/allowances/allocations", body=_allocation(True)),
    "amount 1.0": Row("regulator", "POST", "/allowances/allocations", body=_allocation(1.0)),
    "amount \"1\"": Row("regulator", "POST", "/allowances/allocations", body=_allocation("1")),
    "amount 2**255": Row("regulator", "POST", "/allowances/allocations", body=_allocation(2**255)),
    "transfer amount true": Row("enterprise_a", "POST", "/allowances/transfers",
                                body={"to": "0x" + "11" * 20, "year": YEAR, "amount": True}),
    "order amount 1.0": Row("enterprise_a", "POST", "/market/orders", body=_order(amount=1.0)),
    "order token id \"2025\"": Row("enterprise_a", "POST", "/market/orders", body=_order(token_id=str(YEAR))),
    "credit surrender amount true": Row("enterprise_a", "POST", "/credits/surrenders",
                                        body={"batch_id": 1, "amount": True, "compliance_year": YEAR}),
}


@pytest.fixture
def hostile(runtime: Runtime) -> Iterator[TestClient]:
    """A client that shows a 500 as the answer it is (not as the server's exception); documents stored by the
    test are removed after it."""
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client
    clear_meter_data(runtime)


def _path(cast: Cast, path: str) -> str:
    return V1 + path.format(**cast.addresses)


def _house_error(reply: Any) -> dict[str, Any]:
    body = reply.json()
    assert isinstance(body, dict) and {"error", "message", "args"} <= body.keys(), reply.text
    assert isinstance(body["error"], str) and isinstance(body["message"], str) and isinstance(body["args"], dict)
    assert "execution reverted" not in reply.text
    return body


def test_a_report_for_a_year_past_the_calendar_is_refused(hostile: TestClient, cast: Cast):
    """Without an explicit commitment the service computes it from the year's anchored windows: a year past 9998
    has no calendar year window."""
    reply = hostile.post(f"{V1}/emissions/reports", headers=cast.auth("enterprise_a"),
                         files={"document": ("r.pdf", b"report", "application/pdf")},
                         data={"year": 36251, "reported_kg_co2e": 1})
    assert reply.status_code == 422, reply.text
    assert _house_error(reply)["error"] == "ValidationError"


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_hostile_input_is_refused_with_a_clear_4xx(hostile: TestClient, cast: Cast, row: Row):
    reply = hostile.request(row.method, _path(cast, row.path), params=row.params, json=row.body,
                            headers=cast.auth(row.role))
    assert reply.status_code == row.status, reply.text
    assert _house_error(reply)["error"] == row.error


def test_the_framework_s_own_refusals_have_the_house_error_body(hostile: TestClient, cast: Cast):
    not_json = hostile.post(f"{V1}/allowances/transfers", content=b"{not json", headers={
        **cast.auth("enterprise_a"), "Content-Type": "application/json"})
    assert not_json.status_code in (400, 422) and _house_error(not_json)
    no_route = hostile.get(f"{V1}/no-such-thing", headers=cast.auth("enterprise_a"))
    assert no_route.status_code == 404 and _house_error(no_route)["error"] == "NotFound"
    no_method = hostile.delete(f"{V1}/transactions", headers=cast.auth("enterprise_a"))
    assert no_method.status_code == 405 and _house_error(no_method)["error"] == "MethodNotAllowed"


def test_a_download_whose_file_name_is_not_latin_1_is_served_under_its_rfc_6266_name(
        hostile: TestClient, cast: Cast, runtime: Runtime):
    name = "排放报告 2025 — Riverside.pdf"
    submitted = hostile.post(f"{V1}/emissions/reports", headers=cast.auth("enterprise_a"),
                             files={"document": (name, b"report", "application/pdf")},
                             data={"year": YEAR, "reported_kg_co2e": 1, "anchors_root": "0x" + "ab" * 32,
                                   "anchored_mg": 0, "reading_count": 0})
    assert submitted.status_code == 201, submitted.text
    report_id = submitted.json()["report"]["report_id"]
    reply = hostile.get(f"{V1}/emissions/reports/{report_id}/documents/report", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 200, reply.text
    assert reply.content == b"report"
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"")
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    disposition.encode("latin-1")  # a header the server can send

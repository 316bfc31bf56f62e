"""The largest page a list endpoint returns is a setting (`page_size_max`, 500 by default, the bound the API
documents): a larger `limit` is refused with 422 as any invalid query is, never clamped to a shorter page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.helpers import V1

MEMBERS = f"{V1}/organisations/{ENTERPRISE_A}/members"


@pytest.fixture
def smaller_pages(runtime: Runtime) -> Iterator[int]:
    runtime.settings.page_size_max, before = 150, runtime.settings.page_size_max
    yield 150
    runtime.settings.page_size_max = before


def test_a_limit_up_to_the_largest_page_is_served(client: TestClient, cast: Cast, smaller_pages: int):
    reply = client.get(MEMBERS, params={"limit": smaller_pages}, headers=cast.auth("trader"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["page"]["limit"] == smaller_pages


def test_a_limit_above_the_largest_page_is_refused_naming_the_bound(client: TestClient, cast: Cast,
                                                                    smaller_pages: int):
    reply = client.get(MEMBERS, params={"limit": smaller_pages + 1}, headers=cast.auth("trader"))
    assert reply.status_code == 422
    body = reply.json()
    assert body["error"] == "ValidationError"
    assert body["args"]["errors"] == [{"loc": ["query", "limit"], "type": "less_than_equal",
                                       "msg": f"Input should be less than or equal to {smaller_pages}"}]


def test_by_default_the_largest_page_is_the_documented_bound(client: TestClient, cast: Cast, runtime: Runtime):
    assert runtime.settings.page_size_max == 500
    assert client.get(MEMBERS, params={"limit": 500}, headers=cast.auth("trader")).status_code == 200
    assert client.get(MEMBERS, params={"limit": 501}, headers=cast.auth("trader")).status_code == 422

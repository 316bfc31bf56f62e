"""Rate limits: a token bucket per API key (or signing address) for authenticated requests, and one per client
address for failed authentication; over the limit, 429 with `Retry-After`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledger_service.api.app import create_app
from ledger_service.api.limits import TokenBuckets
from ledger_service.runtime import Runtime
from tests.service.cast import Cast
from tests.service.helpers import V1


@pytest.fixture
def limited(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    for name, value in {"rate_limit_per_second": 0.01, "rate_limit_burst": 3,
                        "auth_failures_per_minute": 0.6, "auth_failures_burst": 4}.items():
        monkeypatch.setattr(runtime.settings, name, value)
    return TestClient(create_app(runtime))


def _throttled(reply) -> None:
    assert reply.status_code == 429, reply.text
    assert reply.json()["error"] == "TooManyRequests"
    assert int(reply.headers["Retry-After"]) >= 1


def test_requests_of_one_api_key_beyond_its_bucket_are_throttled(limited: TestClient, cast: Cast):
    for _ in range(3):
        assert limited.get(f"{V1}/organisations/10", headers=cast.auth("enterprise_a")).status_code == 200
    reply = limited.get(f"{V1}/organisations/10", headers=cast.auth("enterprise_a"))
    _throttled(reply)
    assert reply.json()["args"]["limit"] == "api_key"
    # another key has its own bucket
    assert limited.get(f"{V1}/organisations/10", headers=cast.auth("enterprise_b")).status_code == 200


def test_failed_authentication_from_one_client_address_is_throttled(limited: TestClient, cast: Cast):
    for _ in range(4):
        assert limited.get(f"{V1}/organisations/10", headers={"Authorization": "Bearer clk_x_y"}).status_code == 401
    reply = limited.get(f"{V1}/organisations/10", headers={"Authorization": "Bearer clk_x_y"})
    _throttled(reply)
    assert reply.json()["args"]["limit"] == "failed_authentication"
    # the address is blocked until its bucket refills, whatever it sends
    _throttled(limited.get(f"{V1}/organisations/10", headers=cast.auth("enterprise_a")))


def test_the_default_limits_do_not_throttle_a_busy_client(client: TestClient, cast: Cast, runtime: Runtime):
    assert runtime.settings.rate_limit_burst >= 500 and runtime.settings.auth_failures_burst >= 20
    for _ in range(60):
        assert client.get(f"{V1}/organisations/10", headers=cast.auth("enterprise_a")).status_code == 200
    for _ in range(10):
        assert client.get(f"{V1}/organisations/10", headers={"X-API-Key": "nope"}).status_code == 401


def test_a_token_bucket_refills_at_its_rate():
    now = [100.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert buckets.take("k") == 0 and buckets.take("k") == 0
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("k") == 0
    assert buckets.wait("k") == pytest.approx(0.5)


def test_a_token_bucket_keeps_a_bounded_number_of_keys():
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=10)
    for i in range(100):
        buckets.take(str(i))
    assert len(buckets) <= 10

"""A PACT client is a member: its client id is its address, its secret one of its API keys; a revoked key, another
member's key or a non-member gets no token. Served by the whole application over the service runtime."""

from __future__ import annotations

from ledger_service.runtime import Runtime
from tests.footprints.pact_host import basic
from tests.footprints.service_pact import _service, cast, keys_restored, runtime, service_host
from tests.service.cast import Cast

__all__ = ["_service", "cast", "keys_restored", "runtime"]  # the service's fixtures

GRANT = "grant_type=client_credentials"


def test_a_member_gets_a_token_with_its_address_and_api_key_and_lists_footprints(runtime: Runtime, cast: Cast):
    host = service_host(runtime)
    reply = host.post("/auth/token", headers=basic(cast.addresses["enterprise_a"], cast.tokens["enterprise_a"]),
                      content=GRANT)
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]
    assert not token.startswith("clk_")  # an access token of its own, not the API key
    listed = host.get("/3/footprints", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and len(listed.json()["data"]) == 3
    # The API key itself is no PACT access token, nor the other way round.
    assert host.get("/3/footprints", headers=cast.auth("enterprise_a")).status_code == 400
    assert host.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_another_members_key_a_revoked_key_and_a_non_member_get_no_token(runtime: Runtime, cast: Cast,
                                                                          keys_restored: None):
    host = service_host(runtime)
    crossed = host.post("/auth/token", headers=basic(cast.addresses["enterprise_a"], cast.tokens["trader"]),
                        content=GRANT)
    stranger = host.post("/auth/token", headers=basic(cast.addresses["stranger"], cast.tokens["stranger"]),
                         content=GRANT)
    key_id = cast.tokens["enterprise_b"].split("_")[1]
    runtime.api_keys.revoke(key_id)
    revoked = host.post("/auth/token", headers=basic(cast.addresses["enterprise_b"], cast.tokens["enterprise_b"]),
                        content=GRANT)
    assert [r.status_code for r in (crossed, stranger, revoked)] == [401, 401, 401]
    assert {r.json()["error"] for r in (crossed, stranger, revoked)} == {"invalid_client"}

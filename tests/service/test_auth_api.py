"""Authentication: API keys (issued, rotated, revoked, expiring) and signed requests (EIP-191, no replays)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ledger_core.db.models.identity import ApiKey
from ledger_service.identity.api_keys import ApiKeyInvalid, ApiKeys
from ledger_service.identity.signed_requests import sign_request
from ledger_service.runtime import Runtime
from tests.service.cast import PARK, YEAR, Cast
from tests.service.helpers import V1, allocate, balance, sanction

ORG_PATH = f"{V1}/organisations/{PARK}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_credentials_is_unauthenticated(client: TestClient):
    reply = client.get(ORG_PATH)
    assert reply.status_code == 401
    assert reply.json()["error"] == "Unauthenticated"


@pytest.mark.parametrize("token", ["nonsense", "clk_nokey_secret", "clk_bootstrap_wrongsecret"])
def test_an_unknown_or_malformed_key_is_unauthenticated(client: TestClient, token: str):
    assert client.get(ORG_PATH, headers=bearer(token)).status_code == 401


def test_a_key_also_works_in_the_x_api_key_header(client: TestClient, cast: Cast):
    assert client.get(ORG_PATH, headers={"X-API-Key": cast.tokens["trader"]}).status_code == 200


def test_the_regulator_issues_a_key_for_a_member(client: TestClient, cast: Cast, runtime: Runtime):
    reply = client.post(f"{V1}/api-keys", headers=cast.auth("regulator"),
                        json={"member": cast.addresses["trader"], "label": "desk", "expires_in_days": 7})
    assert reply.status_code == 201
    issued = reply.json()
    assert issued["member"] == cast.addresses["trader"]
    assert client.get(ORG_PATH, headers=bearer(issued["token"])).status_code == 200
    with runtime.sessions() as session:
        row = session.get(ApiKey, issued["key_id"])
        assert row is not None and issued["token"].split("_", 2)[-1].encode() not in row.secret_hash


def test_keys_are_issued_only_for_members(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/api-keys", headers=cast.auth("regulator"), json={"member": cast.addresses["stranger"]})
    assert reply.status_code == 404


def test_only_a_regulator_manages_keys(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/api-keys", headers=cast.auth("trader"), json={"member": cast.addresses["trader"]})
    assert reply.status_code == 403
    assert client.get(f"{V1}/api-keys", headers=cast.auth("trader")).status_code == 403


def test_keys_of_a_member_are_listed(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/api-keys", params={"member": cast.addresses["trader"]}, headers=cast.auth("regulator"))
    keys = reply.json()["items"]
    assert "trader" in [k["label"] for k in keys]
    assert {k["member"] for k in keys} == {cast.addresses["trader"]}


def test_a_revoked_key_is_refused(client: TestClient, cast: Cast, runtime: Runtime):
    issued = runtime.api_keys.issue(cast.addresses["trader"], timedelta(days=1))
    reply = client.post(f"{V1}/api-keys/{issued.key_id}/revoke", headers=cast.auth("regulator"))
    assert reply.status_code == 200 and reply.json()["revoked_at"] is not None
    refused = client.get(ORG_PATH, headers=bearer(issued.token))
    assert refused.status_code == 401
    assert refused.json()["message"] == "API key revoked"


def test_rotation_revokes_the_old_key_and_issues_a_new_one(client: TestClient, cast: Cast, runtime: Runtime):
    issued = runtime.api_keys.issue(cast.addresses["trader"], timedelta(days=1))
    reply = client.post(f"{V1}/api-keys/{issued.key_id}/rotate", headers=cast.auth("regulator"))
    assert reply.status_code == 201
    assert client.get(ORG_PATH, headers=bearer(issued.token)).status_code == 401
    assert client.get(ORG_PATH, headers=bearer(reply.json()["token"])).status_code == 200
    assert runtime.api_keys.get(issued.key_id).replaced_by == reply.json()["key_id"]  # type: ignore[union-attr]


def test_a_key_revoked_after_use_is_refused_on_the_next_request(client: TestClient, cast: Cast, runtime: Runtime):
    issued = runtime.api_keys.issue(cast.addresses["trader"], timedelta(days=1))
    assert client.get(ORG_PATH, headers=bearer(issued.token)).status_code == 200  # remembered as valid
    assert client.post(f"{V1}/api-keys/{issued.key_id}/revoke", headers=cast.auth("regulator")).status_code == 200
    refused = client.get(ORG_PATH, headers=bearer(issued.token))
    assert (refused.status_code, refused.json()["message"]) == (401, "API key revoked")


def test_a_key_rotated_after_use_is_refused_on_the_next_request(client: TestClient, cast: Cast, runtime: Runtime):
    issued = runtime.api_keys.issue(cast.addresses["trader"], timedelta(days=1))
    assert client.get(ORG_PATH, headers=bearer(issued.token)).status_code == 200
    assert client.post(f"{V1}/api-keys/{issued.key_id}/rotate", headers=cast.auth("regulator")).status_code == 201
    assert client.get(ORG_PATH, headers=bearer(issued.token)).status_code == 401


def test_a_remembered_key_still_expires(client: TestClient, cast: Cast, runtime: Runtime):
    issued = runtime.api_keys.issue(cast.addresses["trader"], timedelta(seconds=1))
    assert client.get(ORG_PATH, headers=bearer(issued.token)).status_code == 200
    time.sleep(1.1)
    refused = client.get(ORG_PATH, headers=bearer(issued.token))
    assert (refused.status_code, refused.json()["message"]) == (401, "API key expired")


def test_a_remembered_key_does_not_let_a_wrong_secret_in(client: TestClient, cast: Cast, runtime: Runtime):
    issued = runtime.api_keys.issue(cast.addresses["trader"], timedelta(days=1))
    assert client.get(ORG_PATH, headers=bearer(issued.token)).status_code == 200
    forged = f"clk_{issued.key_id}_{'x' * 43}"
    assert client.get(ORG_PATH, headers=bearer(forged)).status_code == 401


def test_on_a_shared_database_a_key_revoked_by_another_process_is_refused_next(cast: Cast, runtime: Runtime):
    here = ApiKeys(runtime.sessions, shared=True)
    elsewhere = ApiKeys(runtime.sessions, shared=True)  # another service process on the same database
    issued = here.issue(cast.addresses["trader"], timedelta(days=1))
    assert here.authenticate(issued.token).key_id == issued.key_id  # remembered as valid
    elsewhere.revoke(issued.key_id)
    with pytest.raises(ApiKeyInvalid, match="API key revoked"):
        here.authenticate(issued.token)


def test_a_member_suspended_after_a_request_is_refused_on_the_next(client: TestClient, cast: Cast):
    assert client.get(ORG_PATH, headers=cast.auth("trader")).status_code == 200  # its member view is remembered
    sanction(client, cast, "trader", "suspend")
    refused = client.get(ORG_PATH, headers=cast.auth("trader"))
    assert (refused.status_code, refused.json()["error"]) == (403, "MemberNotActive")


def test_rotating_or_revoking_an_unknown_key_is_not_found(client: TestClient, cast: Cast):
    assert client.post(f"{V1}/api-keys/nope/rotate", headers=cast.auth("regulator")).status_code == 404
    assert client.post(f"{V1}/api-keys/nope/revoke", headers=cast.auth("regulator")).status_code == 404


def test_an_expired_key_is_refused(client: TestClient, cast: Cast, runtime: Runtime):
    issued = runtime.api_keys.issue(cast.addresses["trader"], timedelta(seconds=-1))
    refused = client.get(ORG_PATH, headers=bearer(issued.token))
    assert refused.status_code == 401
    assert refused.json()["message"] == "API key expired"


def signed(cast: Cast, name: str, method: str, path: str, body: bytes = b"", nonce: str = "n-1",
           timestamp: int | None = None) -> dict[str, str]:
    headers = sign_request(cast.accounts[name], method, path, body, timestamp or int(time.time()), nonce)
    return headers.as_dict()


def test_a_member_signs_a_request_with_its_own_key(client: TestClient, cast: Cast):
    reply = client.get(ORG_PATH, headers=signed(cast, "self_signer", "GET", ORG_PATH))
    assert reply.status_code == 200


def test_a_signed_request_covers_the_body(client: TestClient, cast: Cast):
    allocate(client, cast, {"enterprise_a": 10})
    path = f"{V1}/allowances/transfers"
    body = json.dumps({"to": cast.addresses["trader"], "year": YEAR, "amount": 3}).encode()
    headers = {**signed(cast, "enterprise_a", "POST", path, body), "Content-Type": "application/json"}
    assert client.post(path, content=body, headers=headers).status_code == 200
    assert balance(client, cast, "trader") == 3
    tampered = json.dumps({"to": cast.addresses["trader"], "year": YEAR, "amount": 7}).encode()
    headers = {**signed(cast, "enterprise_a", "POST", path, body, nonce="n-2"), "Content-Type": "application/json"}
    assert client.post(path, content=tampered, headers=headers).status_code == 401


def test_a_replayed_signed_request_is_refused(client: TestClient, cast: Cast):
    headers = signed(cast, "self_signer", "GET", ORG_PATH, nonce="once")
    assert client.get(ORG_PATH, headers=headers).status_code == 200
    replay = client.get(ORG_PATH, headers=headers)
    assert replay.status_code == 401
    assert replay.json()["message"] == "request nonce already used"


def test_a_stale_signed_request_is_refused(client: TestClient, cast: Cast):
    an_hour_ago = int(time.time()) - 3600
    reply = client.get(ORG_PATH, headers=signed(cast, "self_signer", "GET", ORG_PATH, timestamp=an_hour_ago))
    assert reply.status_code == 401
    assert "window" in reply.json()["message"]


def test_a_request_signed_by_someone_else_is_refused(client: TestClient, cast: Cast):
    headers = signed(cast, "stranger", "GET", ORG_PATH)
    headers["X-CL-Address"] = cast.addresses["self_signer"]
    assert client.get(ORG_PATH, headers=headers).status_code == 401


def test_a_signature_for_another_path_is_refused(client: TestClient, cast: Cast):
    headers = signed(cast, "self_signer", "GET", f"{V1}/organisations/1")
    assert client.get(ORG_PATH, headers=headers).status_code == 401


def test_the_last_live_key_of_the_last_active_regulator_cannot_be_revoked(client: TestClient, cast: Cast,
                                                                          runtime: Runtime, keys_restored: None):
    """Reported: a regulator could revoke its own and only key, locking every regulator out."""
    regulators = {cast.addresses["regulator"], cast.addresses["regulator2"]}
    own = cast.auth("regulator")
    live = [k for k in client.get(f"{V1}/api-keys", headers=own, params={"limit": 500}).json()["items"]
            if k["member"] in regulators and k["revoked_at"] is None]
    last = next(k for k in live if k["member"] == cast.addresses["regulator"] and k["key_id"] == "bootstrap")
    for key in live:
        if key is not last:  # every other regulator key may go
            assert client.post(f"{V1}/api-keys/{key['key_id']}/revoke", headers=own).status_code == 200
    refused = client.post(f"{V1}/api-keys/{last['key_id']}/revoke", headers=own)
    assert (refused.status_code, refused.json()["error"]) == (409, "LastRegulatorKey")
    assert client.get(ORG_PATH, headers=own).status_code == 200  # still in


def test_on_a_shared_database_concurrent_requests_share_a_read_of_the_key_log_that_began_after_they_came(
        cast: Cast, runtime: Runtime):
    keys = ApiKeys(runtime.sessions, shared=True)
    elsewhere = ApiKeys(runtime.sessions, shared=True)  # another service process on the same database
    issued = keys.issue(cast.addresses["trader"], timedelta(days=1))
    assert keys.authenticate(issued.token).key_id == issued.key_id  # remembered as valid
    reads: list[int] = []
    read_log, gate = keys._read_log, threading.Event()

    def slow_read(callers: list[None]) -> list[int]:
        found = read_log(callers)
        reads.append(len(callers))
        gate.wait(5)  # the first read is still on its way back when the other requests come
        return found

    keys._log_reads.batch = slow_read
    answers: dict[str, str] = {}

    def request(name: str) -> None:
        try:
            answers[name] = keys.authenticate(issued.token).key_id
        except ApiKeyInvalid as exc:
            answers[name] = str(exc)

    first = threading.Thread(target=request, args=("first",))
    first.start()
    while not reads:
        time.sleep(0.001)
    elsewhere.revoke(issued.key_id)  # after the first read began: requests that come now must see it
    later = [threading.Thread(target=request, args=(f"later {i}",)) for i in range(8)]
    for thread in later:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in [first, *later]:
        thread.join(10)

    assert reads == [1, 8]  # one read for the eight requests that came during the first one
    assert answers.pop("first") == issued.key_id  # its read began before the revocation
    assert set(answers.values()) == {"API key revoked"} and len(answers) == 8

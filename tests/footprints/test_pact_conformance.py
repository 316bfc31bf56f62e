"""The PACT v3.0 conformance test cases (the conformance service's "V3 Test Cases - Expected Results"), one test each.

Implemented: the mandatory cases 1-17 and 20-39. Left out: 18 and 19 (OpenID Connect discovery; not mandatory,
the host has no OpenID configuration, so the tool falls back to /auth/token, cases 1 and 2). Cases 13 and 14 are
tested as the expected-results document states them (the host answers RequestFulfilled and RequestRejected events
200); the conformance tool's callback variant (the host answers a case-12 request by sending the requester a
RequestFulfilled, or a RequestRejected `NotFound`, event) is built and sent by `answer_request` and `send_event`,
tested in test_pact_client.py; nothing sends it on its own yet when a request arrives.

The host serves three footprints (tests/footprints/samples.py): the steel plant's coil, version 1 (Deprecated,
valid 2026-04-15 to 2027-04-15) and version 2 (Active, valid 2026-06-01 to 2027-06-01), and the auto-parts maker's
bracket (Active, valid 2026-07-10 to 2027-07-10); all three made in CN.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledger_service.footprints.pact import ProductFootprint, to_product_footprint
from ledger_service.footprints.pact_auth import TokenStore
from ledger_service.footprints.pact_exchange import PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED
from tests.footprints.pact_host import BASE, CLIENT_ID, CLIENT_SECRET, basic, bearer, pact_app
from tests.footprints.samples import BRACKET, BRACKET_ID, COIL_ID, COIL_V1, COIL_V2, PARTS_COMPANY, STEEL_COMPANY

V1_ID, V2_ID, BRACKET_PF = (str(to_product_footprint(p).id) for p in (COIL_V1, COIL_V2, BRACKET))
EVENT_HEADERS = {"Content-Type": "application/cloudevents+json; charset=UTF-8"}
INVALID = {"Authorization": "Bearer very-invalid-access-token-Zx81kq0PmwA3b7Ty"}


@pytest.fixture
def host() -> TestClient:
    return TestClient(pact_app(), base_url=BASE)


@pytest.fixture
def auth(host: TestClient) -> dict[str, str]:
    return bearer(host)


def listed(host: TestClient, auth: dict[str, str], params: Any) -> list[str]:
    """The ids ListFootprints answers for the query (200, every item a valid v3.0 ProductFootprint)."""
    reply = host.get("/3/footprints", params=params, headers=auth)
    assert reply.status_code == 200, reply.text
    return [str(ProductFootprint.model_validate(item).id) for item in reply.json()["data"]]


def event(kind: str, data: dict[str, Any], event_id: str = "test-run-id-12345") -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": "https://webhook.example.com",
            "time": "2026-05-19T10:30:00Z", "type": kind, "data": data}


def insecure(host: TestClient) -> TestClient:
    return TestClient(host.app, base_url="http://pact.example")


def test_case_1_obtain_auth_token_with_valid_credentials(host: TestClient):
    """#1: POST /auth/token with valid Basic credentials and grant_type=client_credentials -> 200 and a token."""
    reply = host.post("/auth/token", headers=basic(CLIENT_ID, CLIENT_SECRET), content="grant_type=client_credentials")
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) >= 32
    assert reply.headers["cache-control"] == "no-store"


def test_case_2_obtain_auth_token_with_invalid_credentials(host: TestClient):
    """#2: invalid credentials -> 400 or 401 with `invalid_client`."""
    reply = host.post("/auth/token", headers=basic(CLIENT_ID, "clk_wrong_secret"),
                      content="grant_type=client_credentials")
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_client" and "access_token" not in reply.json()


def test_an_unsupported_grant_type_and_a_missing_one_are_refused(host: TestClient):
    """RFC 6749 5.2, beside case 2: the grant type is checked once the client is known."""
    reply = host.post("/auth/token", headers=basic(CLIENT_ID, CLIENT_SECRET), content="grant_type=password")
    assert (reply.status_code, reply.json()["error"]) == (400, "unsupported_grant_type")
    reply = host.post("/auth/token", headers=basic(CLIENT_ID, CLIENT_SECRET), content="")
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_request")
    reply = host.post("/auth/token", content="grant_type=client_credentials")
    assert (reply.status_code, reply.json()["error"]) == (401, "invalid_client")


def test_case_3_get_pcf_using_get_footprint(host: TestClient, auth: dict[str, str]):
    """#3: GET /3/footprints/{id} -> 200, `data` is the footprint with that id."""
    reply = host.get(f"/3/footprints/{V2_ID}", headers=auth)
    assert reply.status_code == 200
    footprint = ProductFootprint.model_validate(reply.json()["data"])
    assert str(footprint.id) == V2_ID and footprint.spec_version == "3.0.0"


def test_case_4_get_all_pcfs_using_list_footprints(host: TestClient, auth: dict[str, str]):
    """#4: GET /3/footprints -> 200 with every footprint."""
    assert listed(host, auth, {}) == [V1_ID, V2_ID, BRACKET_PF]


def test_case_5_pagination_link_implementation_of_list_footprints(host: TestClient, auth: dict[str, str]):
    """#5: with limit=1 the answer links its pages (`Link`: first, next, last); each link answers 200 with a page,
    and following `next` visits every footprint once."""
    reply = host.get("/3/footprints", params={"limit": 1}, headers=auth)
    links = httpx.Response(200, headers={"link": reply.headers["link"]}).links
    assert set(links) == {"first", "next", "last"}
    assert host.get(links["first"]["url"], headers=auth).status_code == 200
    seen = [item["id"] for item in reply.json()["data"]]
    while "next" in links:
        page = host.get(links["next"]["url"], headers=auth)
        assert page.status_code == 200
        seen += [item["id"] for item in page.json()["data"]]
        links = page.links
    assert seen == [V1_ID, V2_ID, BRACKET_PF]
    assert links["prev"]["url"] == f"{BASE}/3/footprints?offset=1&limit=1"


def test_case_6_list_footprints_with_invalid_token(host: TestClient):
    """#6: an invalid token -> 400 `BadRequest`."""
    reply = host.get("/3/footprints", headers=INVALID)
    assert (reply.status_code, reply.json()["code"]) == (400, "BadRequest")


def test_case_7_get_footprint_with_invalid_token(host: TestClient):
    """#7: an invalid token -> 400 `BadRequest`."""
    reply = host.get(f"/3/footprints/{V2_ID}", headers=INVALID)
    assert (reply.status_code, reply.json()["code"]) == (400, "BadRequest")


def test_case_8_get_footprint_with_non_existent_pf_id(host: TestClient, auth: dict[str, str]):
    """#8: an id the host does not hold -> 404 `NotFound`."""
    for unknown in ("non-existent-id", "00000000-0000-0000-0000-000000000000"):
        reply = host.get(f"/3/footprints/{unknown}", headers=auth)
        assert reply.status_code == 404
        assert reply.json() == {"code": "NotFound", "message": f"Footprint with ID '{unknown}' does not exist"}


def test_case_9_authentication_through_http(host: TestClient):
    """#9: the token endpoint over plain HTTP answers no token."""
    reply = insecure(host).post("/auth/token", headers=basic(CLIENT_ID, CLIENT_SECRET),
                                content="grant_type=client_credentials")
    assert reply.status_code == 400 and "access_token" not in reply.json()


def test_case_10_list_footprints_through_http(host: TestClient, auth: dict[str, str]):
    """#10: ListFootprints over plain HTTP answers no `data`."""
    reply = insecure(host).get("/3/footprints", headers=auth)
    assert reply.status_code == 400 and "data" not in reply.json()


def test_case_11_get_footprint_through_http(host: TestClient, auth: dict[str, str]):
    """#11: GetFootprint over plain HTTP answers no `data`."""
    reply = insecure(host).get(f"/3/footprints/{V2_ID}", headers=auth)
    assert reply.status_code == 400 and "data" not in reply.json()


def test_case_12_receive_asynchronous_pcf_request(host: TestClient, auth: dict[str, str]):
    """#12: a RequestCreatedEvent -> 200, kept with the client that sent it."""
    body = event(REQUEST_CREATED, {"productId": [COIL_ID], "comment": "Please send PCF data for this year."})
    reply = host.post("/3/events", json=body, headers={**auth, **EVENT_HEADERS})
    assert reply.status_code == 200
    (kept,) = host.app.state.pact_events.of_type(REQUEST_CREATED)  # type: ignore[attr-defined]
    assert kept.client == CLIENT_ID and kept.event.id == "test-run-id-12345"
    assert kept.data.filter().product_ids == {COIL_ID}


def test_case_13_respond_to_pcf_request_fulfilled_event(host: TestClient, auth: dict[str, str]):
    """#13: a RequestFulfilledEvent with footprints -> 200 (the footprints are checked against the model)."""
    body = event(REQUEST_FULFILLED, {"requestEventId": "test-run-id-12345",
                                     "pfs": [to_product_footprint(BRACKET).document()]}, "505e5d-4f9b")
    reply = host.post("/3/events", json=body, headers={**auth, **EVENT_HEADERS})
    assert reply.status_code == 200
    broken = event(REQUEST_FULFILLED, {"requestEventId": "test-run-id-12345", "pfs": [{"id": "x"}]})
    assert host.post("/3/events", json=broken, headers={**auth, **EVENT_HEADERS}).json()["code"] == "BadRequest"


def test_case_14_respond_to_pcf_request_rejected_event(host: TestClient, auth: dict[str, str]):
    """#14: a RequestRejectedEvent -> 200."""
    body = event(REQUEST_REJECTED, {"requestEventId": "test-run-id-12345", "error": {
        "code": "NotFound", "message": "The requested footprint could not be found."}}, "505e5d-4f9b")
    assert host.post("/3/events", json=body, headers={**auth, **EVENT_HEADERS}).status_code == 200


def test_case_15_receive_notification_of_pcf_update(host: TestClient, auth: dict[str, str]):
    """#15: a PublishedEvent -> 200, kept."""
    body = event(PUBLISHED, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]}, "123e4567")
    assert host.post("/3/events", json=body, headers={**auth, **EVENT_HEADERS}).status_code == 200
    (kept,) = host.app.state.pact_events.of_type(PUBLISHED)  # type: ignore[attr-defined]
    assert kept.data.pf_ids == ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]


def test_an_unknown_or_malformed_event_is_a_bad_request(host: TestClient, auth: dict[str, str]):
    unknown = event("org.wbcsd.pact.ProductFootprint.Unheard.3", {})
    assert host.post("/3/events", json=unknown, headers={**auth, **EVENT_HEADERS}).json()["code"] == "BadRequest"
    reply = host.post("/3/events", content=b"{not json", headers={**auth, **EVENT_HEADERS})
    assert (reply.status_code, reply.json()["code"]) == (400, "BadRequest")
    assert host.app.state.pact_events.events == []  # type: ignore[attr-defined]


def test_case_16_action_events_with_invalid_token(host: TestClient):
    """#16: an event with an invalid token -> 400 `BadRequest`, not kept."""
    body = event(PUBLISHED, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]})
    reply = host.post("/3/events", json=body, headers={**INVALID, **EVENT_HEADERS})
    assert (reply.status_code, reply.json()["code"]) == (400, "BadRequest")
    assert host.app.state.pact_events.events == []  # type: ignore[attr-defined]


def test_case_17_action_events_through_http(host: TestClient, auth: dict[str, str]):
    """#17: the events endpoint over plain HTTP keeps nothing and answers no `data`."""
    body = event(PUBLISHED, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]})
    reply = insecure(host).post("/3/events", json=body, headers={**auth, **EVENT_HEADERS})
    assert reply.status_code == 400 and "data" not in reply.json()
    assert host.app.state.pact_events.events == []  # type: ignore[attr-defined]


def test_case_20_filter_by_product_id(host: TestClient, auth: dict[str, str]):
    """#20: productId matches an item of productIds."""
    assert listed(host, auth, {"productId": COIL_ID}) == [V1_ID, V2_ID]


def test_case_21_filter_by_company_id(host: TestClient, auth: dict[str, str]):
    """#21: companyId matches an item of companyIds."""
    assert listed(host, auth, {"companyId": PARTS_COMPANY}) == [BRACKET_PF]


def test_case_22_filter_by_geography(host: TestClient, auth: dict[str, str]):
    """#22: geography matches the country, region or subdivision."""
    assert listed(host, auth, {"geography": "CN"}) == [V1_ID, V2_ID, BRACKET_PF]


def test_case_23_filter_by_classification(host: TestClient, auth: dict[str, str]):
    """#23: classification matches an item of productClassifications."""
    assert listed(host, auth, {"classification": "urn:pact:productclassification:un-cpc:49129"}) == [BRACKET_PF]


def test_case_24_filter_by_valid_on(host: TestClient, auth: dict[str, str]):
    """#24: validOn within the validity period (only version 1 of the coil is valid in May 2026)."""
    assert listed(host, auth, {"validOn": "2026-05-01T00:00:00Z"}) == [V1_ID]


def test_case_25_filter_by_valid_after(host: TestClient, auth: dict[str, str]):
    """#25: validAfter before the validity period's start."""
    assert listed(host, auth, {"validAfter": "2026-05-01T00:00:00Z"}) == [V2_ID, BRACKET_PF]


def test_case_26_filter_by_valid_before(host: TestClient, auth: dict[str, str]):
    """#26: validBefore after the validity period's end."""
    assert listed(host, auth, {"validBefore": "2027-05-01T00:00:00Z"}) == [V1_ID]


def test_case_27_filter_by_status(host: TestClient, auth: dict[str, str]):
    """#27: status matches the footprint's status."""
    assert listed(host, auth, {"status": "Active"}) == [V2_ID, BRACKET_PF]
    assert listed(host, auth, {"status": "Deprecated"}) == [V1_ID]


def test_case_28_filter_by_status_and_product_id(host: TestClient, auth: dict[str, str]):
    """#28: different parameters must all match."""
    assert listed(host, auth, {"status": "Active", "productId": COIL_ID}) == [V2_ID]


def test_case_29_filter_by_company_ids_with_or_logic(host: TestClient, auth: dict[str, str]):
    """#29: one parameter given several times matches any of its values."""
    params = [("companyId", STEEL_COMPANY), ("companyId", "urn:uuid:other-company"), ("companyId", PARTS_COMPANY)]
    assert listed(host, auth, params) == [V1_ID, V2_ID, BRACKET_PF]


def test_case_30_filter_by_product_id_negative(host: TestClient, auth: dict[str, str]):
    """#30: an unknown productId -> 200 and no footprint."""
    assert listed(host, auth, {"productId": "urn:bogus:product:nonexistent123"}) == []


def test_case_31_filter_by_company_id_negative(host: TestClient, auth: dict[str, str]):
    """#31: an unknown companyId -> 200 and no footprint."""
    assert listed(host, auth, {"companyId": "urn:bogus:company:nonexistent456"}) == []


def test_case_32_filter_by_geography_negative(host: TestClient, auth: dict[str, str]):
    """#32: an unknown geography -> 200 and no footprint."""
    assert listed(host, auth, {"geography": "XX"}) == []


def test_case_33_filter_by_classification_negative(host: TestClient, auth: dict[str, str]):
    """#33: an unknown classification -> 200 and no footprint."""
    assert listed(host, auth, {"classification": "urn:bogus:classification:nonexistent789"}) == []


def test_case_34_filter_by_valid_on_negative(host: TestClient, auth: dict[str, str]):
    """#34: a date no footprint is valid on -> 200 and no footprint."""
    assert listed(host, auth, {"validOn": "1900-01-01T00:00:00Z"}) == []


def test_case_35_filter_by_valid_after_negative(host: TestClient, auth: dict[str, str]):
    """#35: a far future validAfter -> 200 and no footprint."""
    assert listed(host, auth, {"validAfter": "2099-12-31T23:59:59Z"}) == []


def test_case_36_filter_by_valid_before_negative(host: TestClient, auth: dict[str, str]):
    """#36: a far past validBefore -> 200 and no footprint."""
    assert listed(host, auth, {"validBefore": "1900-01-01T00:00:00Z"}) == []


def test_case_37_filter_by_status_negative(host: TestClient, auth: dict[str, str]):
    """#37: an unknown status -> 200 and no footprint."""
    assert listed(host, auth, {"status": "BogusStatusValue"}) == []


def test_case_38_filter_with_and_logic_negative(host: TestClient, auth: dict[str, str]):
    """#38: two unknown parameters together -> 200 and no footprint."""
    assert listed(host, auth, {"companyId": "urn:bogus:company:5FIi8zS3",
                               "productId": "urn:bogus:product:nonexistent123"}) == []
    assert listed(host, auth, {"companyId": PARTS_COMPANY, "productId": COIL_ID}) == []  # each known, never together


def test_case_39_filter_with_or_logic_negative(host: TestClient, auth: dict[str, str]):
    """#39: several unknown values of one parameter -> 200 and no footprint."""
    params = [("companyId", f"urn:bogus:company:nonexistent{i}") for i in (1, 2, 3)]
    assert listed(host, auth, params) == []


def test_a_bad_query_parameter_is_a_bad_request(host: TestClient, auth: dict[str, str]):
    for params in ({"limit": "0"}, {"limit": "lots"}, {"offset": "-1"}, {"validOn": "yesterday"}):
        reply = host.get("/3/footprints", params=params, headers=auth)
        assert (reply.status_code, reply.json()["code"]) == (400, "BadRequest"), params


def test_an_expired_token_is_answered_token_expired():
    """An expired token -> 401 `TokenExpired` (the client asks for a new one); the store keeps only its hash."""
    now = [datetime(2026, 7, 1, tzinfo=UTC)]
    store = TokenStore(timedelta(hours=1), clock=lambda: now[0])
    host = TestClient(pact_app(store=store), base_url=BASE)
    auth = bearer(host)
    assert host.get("/3/footprints", headers=auth).status_code == 200
    now[0] += timedelta(hours=1)
    reply = host.get("/3/footprints", headers=auth)
    assert (reply.status_code, reply.json()["code"]) == (401, "TokenExpired")
    assert auth["Authorization"].split()[1].encode() not in repr(store.__dict__).encode()


def test_a_token_of_a_client_no_longer_allowed_is_access_denied(host: TestClient, auth: dict[str, str]):
    """A member suspended after it got its token is refused (403 `AccessDenied`) before the token expires."""
    host.app.state.pact_credentials.clients.clear()  # type: ignore[attr-defined]
    reply = host.get("/3/footprints", headers=auth)
    assert (reply.status_code, reply.json()["code"]) == (403, "AccessDenied")


def test_a_missing_token_is_a_bad_request(host: TestClient):
    reply = host.get("/3/footprints")
    assert (reply.status_code, reply.json()["code"]) == (400, "BadRequest")


def test_the_filter_sees_the_products_of_the_parts_maker(host: TestClient, auth: dict[str, str]):
    assert listed(host, auth, {"productId": BRACKET_ID, "geography": "CN", "status": "Active"}) == [BRACKET_PF]

"""Meters through the API: devices registered on chain and in the oracle's registry, signed readings pushed
(bad ones quarantined), windows built and anchored by an authorised oracle, anchors, quarantine and proofs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain.client import SendResult
from ledger_core.db.models import Reading
from ledger_service.runtime import Runtime
from oracles.anchor_records import AnchorReader
from oracles.canonical import public_key_hash
from oracles.simulator import device_signing_key
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, ENTERPRISE_C, PARK, YEAR, Cast
from tests.service.helpers import V1, sanction
from tests.service.metering import (
    HOUR,
    START,
    anchor,
    authorise_oracle,
    clear_meter_data,
    messages,
    park,
    push,
    register,
    set_up_park,
)


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def on_chain(runtime: Runtime, device_hash: str) -> tuple:
    return tuple(runtime.suite.call("MeterAnchor", "getDevice", bytes.fromhex(device_hash[2:])))


# ---------------------------------------------------------------------- devices


def test_an_enterprise_registers_its_device_on_chain_and_in_the_oracle(client: TestClient, cast: Cast,
                                                                      runtime: Runtime):
    device = park().devices[0]
    reply = register(client, cast, "enterprise_a", device)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["transaction"]["status"] == "mined" and body["transaction"]["function"] == "registerDevice"
    assert body["device"]["enterprise_org_id"] == ENTERPRISE_A and body["device"]["active"] is True
    org, _, _, key_hash, active = on_chain(runtime, body["device"]["device_hash"])
    assert (org, bytes(key_hash), active) == (ENTERPRISE_A, public_key_hash(device.public_key), True)
    again = register(client, cast, "enterprise_a", device)
    assert again.status_code == 200 and again.json()["transaction"] is None
    listed = client.get(f"{V1}/meters/devices", params={"enterprise_org_id": ENTERPRISE_A},
                        headers=cast.auth("enterprise_a2"))
    assert [d["device_id"] for d in listed.json()["devices"]] == [device.device_id]
    assert listed.json()["page"]["total"] == 1


def test_a_regulator_registers_any_enterprise_s_device(client: TestClient, cast: Cast):
    device = park().devices[-1]
    assert register(client, cast, "regulator", device).status_code == 201


def test_device_registration_refusals(client: TestClient, cast: Cast):
    device = park().devices[0]  # of enterprise A
    other = register(client, cast, "enterprise_b", device)
    assert other.status_code == 403 and other.json()["error"] == "NotYourDevice"
    assert register(client, cast, "trader", device).json()["error"] == "MissingRole"
    assert register(client, cast, "oracle", device).status_code == 403
    assert client.post(f"{V1}/meters/devices", json={}).status_code == 401
    bad_key = register(client, cast, "enterprise_a", device, public_key="12" * 31)
    assert bad_key.status_code == 422
    assert register(client, cast, "enterprise_a", device).status_code == 201
    conflict = register(client, cast, "enterprise_a", device, workshop="elsewhere")
    assert conflict.status_code == 409 and conflict.json()["error"] == "DeviceConflict"
    sanction(client, cast, "enterprise_a2", "suspend")
    suspended = register(client, cast, "enterprise_a2", park().devices[1])
    assert suspended.status_code == 403 and suspended.json()["error"] == "MemberNotActive"


def test_a_device_registered_on_chain_by_another_route_conflicts_when_details_differ(client: TestClient, cast: Cast):
    device = park().devices[0]
    assert register(client, cast, "enterprise_a", device).status_code == 201
    clear_meter_data(client.app.state.runtime)  # the oracle's registry loses the device; the chain keeps it
    reply = register(client, cast, "enterprise_a", device, facility="another facility")
    assert reply.status_code == 409 and reply.json()["error"] == "DeviceAlreadyRegistered"
    completed = register(client, cast, "enterprise_a", device)
    assert completed.status_code == 200 and completed.json()["transaction"] is None


def test_deactivate_reactivate_and_rotate_a_device_s_key(client: TestClient, cast: Cast, runtime: Runtime):
    layout = set_up_park(client, cast, runtime, devices=1)
    device = layout.devices[0]
    base = f"{V1}/meters/devices/{device.device_id}"
    off = client.post(f"{base}/deactivate", headers=cast.auth("enterprise_a2"))
    assert off.status_code == 200 and off.json()["device"]["active"] is False
    assert on_chain(runtime, off.json()["device"]["device_hash"])[4] is False
    pushed = push(client, cast, "enterprise_a", messages(layout, hours=1, org=ENTERPRISE_A))
    assert pushed.json()["quarantined"] == {"device_inactive": 60} and pushed.json()["accepted"] == 0
    on = client.post(f"{base}/reactivate", headers=cast.auth("regulator"))
    assert on.status_code == 200 and on.json()["device"]["active"] is True
    new_key = device_signing_key(99, device.device_id).public_key().public_bytes_raw()
    rotated = client.post(f"{base}/key", headers=cast.auth("enterprise_a"), json={"public_key": new_key.hex()})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["device"]["public_key"] == new_key.hex()
    assert bytes(on_chain(runtime, rotated.json()["device"]["device_hash"])[3]) == public_key_hash(new_key)
    old_signature = push(client, cast, "enterprise_a", messages(layout, hours=1, org=ENTERPRISE_A))
    assert old_signature.json()["quarantined"] == {"bad_signature": 60}
    same = client.post(f"{base}/key", headers=cast.auth("enterprise_a"), json={"public_key": new_key.hex()})
    assert same.status_code == 409 and same.json()["error"] == "DeviceKeyUnchanged"


def test_device_management_refusals(client: TestClient, cast: Cast, runtime: Runtime):
    layout = set_up_park(client, cast, runtime, devices=1)
    base = f"{V1}/meters/devices/{layout.devices[0].device_id}"
    assert client.post(f"{base}/deactivate", headers=cast.auth("enterprise_b")).json()["error"] == "NotYourDevice"
    assert client.post(f"{base}/deactivate", headers=cast.auth("verifier")).json()["error"] == "MissingRole"
    unknown = client.post(f"{V1}/meters/devices/NO-SUCH-DEVICE/deactivate", headers=cast.auth("regulator"))
    assert unknown.status_code == 404 and unknown.json()["error"] == "UnknownDevice"
    bad = client.post(f"{base}/key", headers=cast.auth("enterprise_a"), json={"public_key": "zz"})
    assert bad.status_code == 422
    assert client.get(base, headers=cast.auth("enterprise_c")).json()["error"] == "NotYourData"
    assert client.get(base, headers=cast.auth("verifier")).status_code == 200
    assert client.get(base, headers=cast.auth("oracle")).status_code == 200  # authorised for A


# ---------------------------------------------------------------------- oracles


def authorisation(client: TestClient, cast: Cast, org_id: int, name: str = "regulator", oracle: str = "oracle",
                  authorised: bool = True) -> Any:
    return client.post(f"{V1}/meters/enterprises/{org_id}/oracles", headers=cast.auth(name),
                       json={"oracle": cast.addresses[oracle], "authorised": authorised})


def test_a_regulator_authorises_an_oracle_for_an_enterprise_and_withdraws_it(client: TestClient, cast: Cast,
                                                                            runtime: Runtime):
    oracle = cast.addresses["oracle"]
    reply = authorisation(client, cast, ENTERPRISE_A)
    assert reply.status_code == 200, reply.text
    assert reply.json()["authorisation"] == {"oracle": oracle, "enterprise_org_id": ENTERPRISE_A, "authorised": True}
    tx = reply.json()["transaction"]
    assert (tx["contract"], tx["function"], tx["status"]) == ("MeterAnchor", "setOracleAuthorisation", "mined")
    assert runtime.suite.call("MeterAnchor", "isOracleAuthorised", oracle, ENTERPRISE_A) is True
    url = f"{V1}/meters/enterprises/{ENTERPRISE_A}/oracles/{oracle}"
    for name in ("oracle", "enterprise_a", "enterprise_a2", "verifier", "regulator"):
        seen = client.get(url, headers=cast.auth(name))
        assert seen.status_code == 200, name
        assert seen.json() == {"oracle": oracle, "enterprise_org_id": ENTERPRISE_A, "authorised": True}
    assert client.get(f"{V1}/meters/enterprises/{ENTERPRISE_B}/oracles/{oracle}",
                      headers=cast.auth("oracle")).json()["authorised"] is False

    withdrawn = authorisation(client, cast, ENTERPRISE_A, "regulator2", authorised=False)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["authorisation"]["authorised"] is False
    assert client.get(url, headers=cast.auth("enterprise_a")).json()["authorised"] is False
    refused = anchor(client, cast, ENTERPRISE_A)
    assert refused.status_code == 403 and refused.json()["error"] == "OracleNotAuthorised"


def test_oracle_authorisation_refusals(client: TestClient, cast: Cast):
    for name in ("enterprise_a", "verifier", "oracle"):
        reply = authorisation(client, cast, ENTERPRISE_A, name)
        assert reply.status_code == 403 and reply.json()["error"] == "MissingRole", name
    not_an_oracle = authorisation(client, cast, ENTERPRISE_A, oracle="trader")
    assert not_an_oracle.status_code == 403 and not_an_oracle.json()["error"] == "MissingRole"
    assert not_an_oracle.json()["args"]["account"] == cast.addresses["trader"]
    for org_id in (999, PARK):
        unknown = authorisation(client, cast, org_id)
        assert unknown.status_code == 404 and unknown.json()["error"] == "UnknownOrganisation", org_id
    bad = client.post(f"{V1}/meters/enterprises/{ENTERPRISE_A}/oracles", headers=cast.auth("regulator"),
                      json={"oracle": "0x1234"})
    assert bad.status_code == 422
    assert client.post(f"{V1}/meters/enterprises/{ENTERPRISE_A}/oracles",
                       json={"oracle": cast.addresses["oracle"]}).status_code == 401
    sanction(client, cast, "oracle", "suspend")
    suspended = authorisation(client, cast, ENTERPRISE_A)
    assert suspended.status_code == 403 and suspended.json()["error"] == "MissingRole"
    sanction(client, cast, "regulator2", "suspend")
    assert authorisation(client, cast, ENTERPRISE_A, "regulator2").json()["error"] == "MemberNotActive"


def test_an_oracle_s_authorisation_is_not_shown_to_other_organisations(client: TestClient, cast: Cast):
    url = f"{V1}/meters/enterprises/{ENTERPRISE_A}/oracles/{cast.addresses['oracle']}"
    for name in ("enterprise_b", "enterprise_c", "trader"):
        reply = client.get(url, headers=cast.auth(name))
        assert reply.status_code == 403 and reply.json()["error"] == "NotYourData", name
    assert client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/oracles/0x12", headers=cast.auth("regulator")) \
        .status_code == 422


# ---------------------------------------------------------------------- readings


def test_an_enterprise_pushes_its_readings_and_malformed_messages_are_quarantined(client: TestClient, cast: Cast,
                                                                                  runtime: Runtime):
    layout = set_up_park(client, cast, runtime)
    batch = messages(layout, hours=1, org=ENTERPRISE_A)
    batch.append({"device": layout.devices[0].device_id, "readings": "not a list", "signature": "00"})
    nameless = push(client, cast, "enterprise_a", [*batch, {"no": "device"}])
    assert nameless.status_code == 422 and nameless.json()["error"] == "UnattributedMessages"  # nothing stored
    reply = push(client, cast, "enterprise_a", batch)
    assert reply.status_code == 200, reply.text
    assert reply.json()["accepted"] == 120 and reply.json()["quarantined"] == {"malformed_message": 1}
    again = push(client, cast, "enterprise_a", batch[:1])
    assert again.json()["quarantined"] == {"sequence_repeated": 60}
    q = client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/quarantine", headers=cast.auth("enterprise_a"),
                   params={"reason": "sequence_repeated", "limit": 5})
    assert q.status_code == 200
    assert q.json()["by_reason"] == {"malformed_message": 1, "sequence_repeated": 60}
    assert q.json()["page"]["total"] == 60 and len(q.json()["readings"]) == 5
    assert client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/quarantine",
                      headers=cast.auth("enterprise_b")).json()["error"] == "NotYourData"


def test_who_may_push_readings(client: TestClient, cast: Cast, runtime: Runtime):
    layout = set_up_park(client, cast, runtime)
    of_a = messages(layout, hours=1, org=ENTERPRISE_A)
    refused = push(client, cast, "enterprise_b", of_a)
    assert refused.status_code == 403 and refused.json()["error"] == "NotYourDevice"
    assert refused.json()["args"]["orgIds"] == [ENTERPRISE_A]
    assert push(client, cast, "trader", of_a).json()["error"] == "MissingRole"
    authorise_oracle(runtime, cast, ENTERPRISE_A, False)
    not_authorised = push(client, cast, "oracle", of_a)
    assert not_authorised.status_code == 403 and not_authorised.json()["error"] == "NotYourDevice"
    both = push(client, cast, "oracle", messages(layout, hours=1))
    assert both.status_code == 403  # B is authorised, A no longer
    assert client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/quarantine",
                      headers=cast.auth("regulator")).json()["page"]["total"] == 0  # nothing stored
    ok = push(client, cast, "oracle", messages(layout, hours=1, org=ENTERPRISE_B))
    assert ok.status_code == 200 and ok.json()["accepted"] == 120
    unknown = push(client, cast, "enterprise_a", [{**of_a[0], "device": "NOT-REGISTERED"}])
    assert unknown.status_code == 422 and unknown.json()["args"]["messages"][0]["reason"] == "unknown_device"
    assert client.post(f"{V1}/meters/messages", json={"messages": of_a}).status_code == 401
    assert push(client, cast, "enterprise_a", []).status_code == 422


# ---------------------------------------------------------------------- windows, anchors, proofs


def test_an_authorised_oracle_builds_and_anchors_windows_once(client: TestClient, cast: Cast, runtime: Runtime):
    layout = set_up_park(client, cast, runtime)
    assert push(client, cast, "oracle", messages(layout, hours=3)).status_code == 200
    reply = anchor(client, cast, ENTERPRISE_A)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["built"] == 3
    assert [w["action"] for w in body["windows"]] == ["anchored"] * 3
    assert [w["window_start"] for w in body["windows"]] == [START, START + HOUR, START + 2 * HOUR]
    head = runtime.suite.call("MeterAnchor", "headOf", ENTERPRISE_A, 0)
    assert head[0] == body["windows"][-1]["anchor_id"]
    again = anchor(client, cast, ENTERPRISE_A)
    assert again.status_code == 200 and again.json()["windows"] == [] and again.json()["built"] == 0
    assert runtime.suite.call("MeterAnchor", "headOf", ENTERPRISE_A, 0) == head
    listed = client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/anchors", params={"limit": 2},
                        headers=cast.auth("verifier"))
    assert listed.json()["page"]["total"] == 3 and len(listed.json()["anchors"]) == 2
    first = listed.json()["anchors"][0]
    one = client.get(f"{V1}/meters/anchors/{first['anchor_id']}", headers=cast.auth("enterprise_a"))
    assert one.status_code == 200
    assert (one.json()["root"], one.json()["total_mg"], one.json()["oracle"]) == (
        first["root"], first["total_mg"], cast.addresses["oracle"])
    assert one.json()["reading_count"] == 120
    pending_b = client.get(f"{V1}/meters/enterprises/{ENTERPRISE_B}/anchors", headers=cast.auth("enterprise_b"),
                           params={"include_unanchored": True})
    assert pending_b.json()["anchors"] == []  # B's windows are not built yet


def test_new_windows_are_anchored_without_scanning_the_chain_s_logs(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    # Each mined window's anchor id comes from its transaction's receipt: finding it by its window in the logs
    # scanned the whole chain once per window (a year of weekly windows in the demo took many minutes).
    layout = set_up_park(client, cast, runtime)
    assert push(client, cast, "oracle", messages(layout, hours=3)).status_code == 200

    def no_scan(*_: object) -> None:
        raise AssertionError("anchoring scanned the chain's logs")

    monkeypatch.setattr(AnchorReader, "_logs", no_scan)
    reply = anchor(client, cast, ENTERPRISE_A)
    assert reply.status_code == 200, reply.text
    assert [w["action"] for w in reply.json()["windows"]] == ["anchored"] * 3
    assert len({w["anchor_id"] for w in reply.json()["windows"]}) == 3


def test_anchoring_refusals(client: TestClient, cast: Cast, runtime: Runtime):
    set_up_park(client, cast, runtime)
    refused = anchor(client, cast, ENTERPRISE_C)
    assert refused.status_code == 403 and refused.json()["error"] == "OracleNotAuthorised"
    assert anchor(client, cast, ENTERPRISE_A, "enterprise_a").json()["error"] == "MissingRole"
    assert anchor(client, cast, ENTERPRISE_A, "regulator").json()["error"] == "MissingRole"
    sanction(client, cast, "oracle", "suspend")
    assert anchor(client, cast, ENTERPRISE_A).json()["error"] == "MemberNotActive"


def test_anchor_reads_are_refused_to_others(client: TestClient, cast: Cast, runtime: Runtime):
    layout = set_up_park(client, cast, runtime)
    push(client, cast, "oracle", messages(layout, hours=1, org=ENTERPRISE_A))
    anchor_id = anchor(client, cast, ENTERPRISE_A).json()["windows"][0]["anchor_id"]
    assert client.get(f"{V1}/meters/anchors/{anchor_id}", headers=cast.auth("enterprise_b")).status_code == 403
    assert client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/anchors",
                      headers=cast.auth("trader")).json()["error"] == "NotYourData"
    unknown = client.get(f"{V1}/meters/anchors/999", headers=cast.auth("regulator"))
    assert unknown.status_code == 404 and unknown.json()["error"] == "UnknownAnchor"


def test_a_reading_s_proof_is_verified_on_chain(client: TestClient, cast: Cast, runtime: Runtime):
    layout = set_up_park(client, cast, runtime)
    push(client, cast, "oracle", messages(layout, hours=1, org=ENTERPRISE_A))
    with runtime.sessions() as session:
        reading_id = session.scalar(select(Reading.id).order_by(Reading.id))
    not_built = client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("enterprise_a"))
    assert not_built.status_code == 409 and not_built.json()["error"] == "ReadingNotCommitted"
    anchor(client, cast, ENTERPRISE_A)
    reply = client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 200, reply.text
    proof = reply.json()
    assert proof["verified_on_chain"] is True and proof["anchor_id"] is not None
    assert [t["name"] for t in proof["subtotals"]] == ["device", "workshop", "facility", "enterprise"]
    assert proof["subtotals"][0]["label"] == layout.devices[0].device_id
    assert proof["subtotals"][-1]["label"] == str(ENTERPRISE_A) and proof["subtotals"][-1]["count"] == 120
    assert proof["subtotals"][0]["count"] == 60 and int(proof["value_mg"]) > 0
    assert client.get(f"{V1}/meters/readings/{reading_id}/proof",
                      headers=cast.auth("enterprise_b")).json()["error"] == "NotYourData"
    missing = client.get(f"{V1}/meters/readings/987654/proof", headers=cast.auth("regulator"))
    assert missing.status_code == 404 and missing.json()["error"] == "UnknownReading"


def test_end_to_end_from_signed_readings_to_a_compliance_obligation(client: TestClient, cast: Cast,
                                                                    runtime: Runtime):
    layout = set_up_park(client, cast, runtime, devices=3)
    assert push(client, cast, "oracle", messages(layout, hours=2)).json()["accepted"] == 2 * 3 * 120
    windows = anchor(client, cast, ENTERPRISE_A).json()["windows"]
    assert [w["action"] for w in windows] == ["anchored", "anchored"]
    proof = client.get(f"{V1}/meters/readings/1/proof", headers=cast.auth("regulator")).json()
    assert proof["verified_on_chain"] is True
    anchored_mg = sum(int(a["total_mg"]) for a in client.get(
        f"{V1}/meters/enterprises/{ENTERPRISE_A}/anchors", headers=cast.auth("enterprise_a")).json()["anchors"])
    reported_kg = (anchored_mg + 500_000) // 1_000_000
    submitted = client.post(f"{V1}/emissions/reports", headers=cast.auth("enterprise_a"),
                            files={"document": ("report.pdf", b"%PDF report of Riverside Steel")},
                            data={"year": YEAR, "reported_kg_co2e": reported_kg})
    assert submitted.status_code == 201, submitted.text
    commitment = submitted.json()["commitment"]
    assert commitment["source"] == "anchors"
    assert commitment["anchor_ids"] == [w["anchor_id"] for w in windows]
    assert int(commitment["anchored_mg"]) == anchored_mg and commitment["reading_count"] == 3 * 120
    report = submitted.json()["report"]
    assert report["anchors_root"] == commitment["anchors_root"]
    report_id = report["report_id"]
    verified = client.post(f"{V1}/emissions/reports/{report_id}/verification", headers=cast.auth("verifier"),
                           files={"statement": ("statement.pdf", b"verified")},
                           data={"verified_kg_co2e": reported_kg + 1500})
    assert verified.status_code == 200, verified.text
    finalized = client.post(f"{V1}/emissions/reports/{report_id}/finalization", headers=cast.auth("regulator"))
    assert finalized.status_code == 200, finalized.text
    expected_tonnes = (reported_kg + 1500 + 500) // 1000
    assert finalized.json()["report"]["obligation_tonnes"] == expected_tonnes
    status = client.get(f"{V1}/compliance/enterprises/{ENTERPRISE_A}/{YEAR}", headers=cast.auth("enterprise_a"))
    assert status.json()["obligation"] == expected_tonnes and status.json()["finalized"] is True


def test_a_registration_still_on_its_way_answers_202_and_the_registry_waits_for_it(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    device = park().devices[0]
    monkeypatch.setattr(runtime.settings, "receipt_timeout_seconds", 0.5)
    monkeypatch.setattr(runtime.chain, "send_raw",  # the node turns the transaction away for now: it stays signed
                        lambda raws, hashes: [SendResult(h, "transaction underpriced") for h in hashes])
    reply = register(client, cast, "enterprise_a", device)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["transaction"]["status"] == "signed" and body["transaction"]["function"] == "registerDevice"
    assert (body["device"]["device_id"], body["device"]["public_key"]) == (device.device_id, device.public_key.hex())
    unknown = client.get(f"{V1}/meters/devices/{device.device_id}", headers=cast.auth("enterprise_a"))
    assert (unknown.status_code, unknown.json()["error"]) == (404, "UnknownDevice")

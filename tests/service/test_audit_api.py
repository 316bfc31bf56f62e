"""Audit endpoints: who may see which trace, pagination, validation; the index kept by the runtime,
its lag in /ready and /metrics, and the background indexer."""

from __future__ import annotations

import time
from datetime import timedelta

from eth_utils import keccak
from fastapi.testclient import TestClient

from ledger_core.chain.outbox import Intent
from ledger_service.api.routers.audit import AssetTraceOut, HopOut, OnChainOut
from ledger_service.audit.asset_trace import trace_asset
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, OTHER_PARK, PARK, Cast
from tests.service.helpers import V1, allocate, sanction, submit, transfer, view
from tests.support import snapshots

AUDIT = f"{V1}/audit"
YEAR = 2024


def submit_report(runtime: Runtime, cast: Cast) -> int:
    """A report of Riverside Steel committing to no anchors (so its trace has none)."""
    submit(runtime, Intent("EmissionRegistry", "submitReport", (YEAR, keccak(text="doc"), 1500, keccak(text="root"),
                                                                1_500_000_000, 60), cast.addresses["enterprise_a"]))
    return int(view(runtime, "EmissionRegistry", "reportCount"))


# ------------------------------------------------------------------ report trace


def test_a_report_trace_is_visible_to_its_enterprise_and_regulators(client: TestClient, cast: Cast,
                                                                     runtime: Runtime):
    report_id = submit_report(runtime, cast)
    for name in ("enterprise_a", "enterprise_a2", "regulator", "regulator2"):
        reply = client.get(f"{AUDIT}/reports/{report_id}/trace", headers=cast.auth(name))
        assert reply.status_code == 200, (name, reply.text)
        body = reply.json()
        assert (body["report_id"], body["org_id"], body["year"]) == (report_id, ENTERPRISE_A, YEAR)
        (version,) = body["versions"]
        assert [s["kind"] for s in version["steps"]] == ["submitted"]
        assert version["steps"][0]["at"]["tx_hash"].startswith("0x") and len(version["steps"][0]["at"]["tx_hash"]) == 66
        assert version["anchors_root"] == "0x" + keccak(text="root").hex()
        assert (version["anchored_mg"], version["reading_count"]) == (1_500_000_000, 60)
        # Nothing anchored covers it: the commitment does not match, so the trace is not verified.
        assert not body["commitment"]["matches"] and body["anchors"] == [] and not body["verified"]


def test_another_organisations_report_trace_is_refused(client: TestClient, cast: Cast, runtime: Runtime):
    report_id = submit_report(runtime, cast)
    for name in ("enterprise_b", "enterprise_c", "trader", "verifier"):
        reply = client.get(f"{AUDIT}/reports/{report_id}/trace", headers=cast.auth(name))
        assert reply.status_code == 403, name
        assert reply.json()["error"] == "NotYourData"


def test_a_report_trace_needs_an_active_authenticated_member(client: TestClient, cast: Cast, runtime: Runtime):
    report_id = submit_report(runtime, cast)
    assert client.get(f"{AUDIT}/reports/{report_id}/trace").status_code == 401
    assert client.get(f"{AUDIT}/reports/{report_id}/trace", headers=cast.auth("stranger")).status_code == 403
    sanction(client, cast, "enterprise_a", "suspend")
    reply = client.get(f"{AUDIT}/reports/{report_id}/trace", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 403 and reply.json()["error"] == "MemberNotActive"


def test_an_unknown_report_is_not_found_and_the_sample_is_bounded(client: TestClient, cast: Cast):
    reply = client.get(f"{AUDIT}/reports/999/trace", headers=cast.auth("regulator"))
    assert reply.status_code == 404 and reply.json()["error"] == "UnknownReport"
    assert client.get(f"{AUDIT}/reports/0/trace", headers=cast.auth("regulator")).status_code == 422
    reply = client.get(f"{AUDIT}/reports/1/trace", headers=cast.auth("regulator"), params={"readings": 51})
    assert reply.status_code == 422 and reply.json()["error"] == "ValidationError"


# ------------------------------------------------------------------ asset trace


def _moves(client: TestClient, cast: Cast) -> None:
    allocate(client, cast, {"enterprise_a": 100, "enterprise_b": 100, "enterprise_c": 100}, year=YEAR)
    for sender, receiver, amount in (("enterprise_b", "trader", 10), ("trader", "enterprise_a2", 5),
                                     ("enterprise_b", "enterprise_c", 10)):
        assert transfer(client, cast, sender, receiver, amount, year=YEAR).status_code == 200


def test_a_regulator_pages_through_every_hop_of_a_vintage(client: TestClient, cast: Cast):
    _moves(client, cast)
    first = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("regulator"),
                       params={"limit": 4}).json()
    rest = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("regulator"),
                      params={"offset": 4, "limit": 4}).json()
    assert first["page"] == {"offset": 0, "limit": 4, "total": 6} and rest["page"]["total"] == 6
    assert [h["kind"] for h in first["hops"] + rest["hops"]] == ["allocation"] * 3 + ["transfer"] * 3
    assert [h["to_address"] for h in rest["hops"]] == [cast.addresses["enterprise_a2"],
                                                       cast.addresses["enterprise_c"]]
    assert first["issued"] == 300 and first["outstanding"] == 300 and len(first["holders"]) == 5
    assert first["holders"] == rest["holders"]


def test_an_asset_traces_answer_is_its_documented_response_model(client: TestClient, cast: Cast, runtime: Runtime):
    """The endpoint writes its answer from the typed results without validating them into `AssetTraceOut`: the
    JSON is the model's, field for field, for a regulator's page and for a member's."""
    _moves(client, cast)
    reply = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("regulator"),
                       params={"offset": 1, "limit": 3})
    with runtime.sessions() as session:  # the index the request brought up; a regulator's page reads 1 + 3 hops
        trace = trace_asset(session, "AllowanceRegistry", YEAR, limit=4)
    documented = AssetTraceOut.model_validate({
        "asset": "allowance", "token_id": YEAR, "issued": trace.issued, "surrendered": trace.surrendered,
        "outstanding": trace.outstanding, "holders": trace.holders, "hops": trace.hops[1:4],
        "page": {"offset": 1, "limit": 3, "total": 6}}, from_attributes=True).model_dump(mode="json")
    assert reply.headers["content-type"] == "application/json" and len(documented["hops"]) == 3
    assert reply.json() == documented
    mine = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("trader")).json()
    assert mine == AssetTraceOut.model_validate(mine).model_dump(mode="json")
    assert set(mine["hops"][0]) == set(HopOut.model_fields) and set(mine["hops"][0]["at"]) == set(
        OnChainOut.model_fields)


def test_a_member_sees_only_the_hops_and_holdings_of_its_organisation(client: TestClient, cast: Cast):
    _moves(client, cast)
    mine = {cast.addresses["enterprise_a"], cast.addresses["enterprise_a2"]}
    body = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("enterprise_a")).json()
    assert [(h["kind"], h["amount"]) for h in body["hops"]] == [("allocation", 100), ("transfer", 5)]
    assert all(h["to_address"] in mine or h["from_address"] in mine for h in body["hops"])
    assert {h["holder"]: h["amount"] for h in body["holders"]} == {cast.addresses["enterprise_a"]: 100,
                                                                   cast.addresses["enterprise_a2"]: 5}
    assert body["page"]["total"] == 2 and body["outstanding"] == 105
    trader = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("trader")).json()
    assert [h["amount"] for h in trader["hops"]] == [10, 5]
    assert [h["holder"] for h in trader["holders"]] == [cast.addresses["trader"]]


def test_an_asset_with_no_history_is_empty_and_bad_assets_are_refused(client: TestClient, cast: Cast):
    body = client.get(f"{AUDIT}/assets/credit/7/trace", headers=cast.auth("regulator")).json()
    assert (body["asset"], body["token_id"], body["hops"], body["holders"], body["issued"]) == ("credit", 7, [], [], 0)
    assert client.get(f"{AUDIT}/assets/bonds/1/trace", headers=cast.auth("regulator")).status_code == 422
    assert client.get(f"{AUDIT}/assets/allowance/-1/trace", headers=cast.auth("regulator")).status_code == 422
    reply = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("regulator"), params={"limit": 501})
    assert reply.status_code == 422
    assert client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace").status_code == 401


def test_a_vintages_lineage_is_a_graph_of_its_holders_with_an_edge_per_hop(client: TestClient, cast: Cast):
    _moves(client, cast)
    reply = client.get(f"{AUDIT}/assets/allowance/{YEAR}/lineage", headers=cast.auth("regulator"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    a, b, c = (cast.addresses[n] for n in ("enterprise_a", "enterprise_b", "enterprise_c"))
    trader, a2 = cast.addresses["trader"], cast.addresses["enterprise_a2"]
    (allocation,) = [n for n in body["nodes"] if n["kind"] == "allocation"]
    accounts = {n["address"]: n for n in body["nodes"] if n["kind"] == "account"}
    assert set(accounts) == {a, b, c, trader, a2} and len(body["nodes"]) == 6
    assert accounts[b]["label"] == f"Eastern Cement ({b[:6]}...{b[-4:]})" and accounts[b]["org_id"] == ENTERPRISE_B
    assert {address: n["holding"] for address, n in accounts.items()} == {a: 100, b: 80, c: 110, trader: 5, a2: 5}
    assert [(e["kind"], e["source"], e["target"], e["amount"]) for e in body["edges"]] == [
        ("allocation", allocation["id"], f"account:{a}", 100), ("allocation", allocation["id"], f"account:{b}", 100),
        ("allocation", allocation["id"], f"account:{c}", 100), ("transfer", f"account:{b}", f"account:{trader}", 10),
        ("transfer", f"account:{trader}", f"account:{a2}", 5), ("transfer", f"account:{b}", f"account:{c}", 10)]
    edge = body["edges"][3]
    assert edge["at"]["tx_hash"].startswith("0x") and edge["at"]["block_number"] > 0
    assert edge["at"]["block_time"].endswith("Z")
    assert (body["issued"], body["outstanding"], body["truncated"]) == (300, 300, False)
    cut = client.get(f"{AUDIT}/assets/allowance/{YEAR}/lineage", headers=cast.auth("regulator"),
                     params={"max_edges": 2}).json()
    assert (len(cut["edges"]), cut["truncated"]) == (2, True)


def test_a_member_sees_the_lineage_of_its_own_hops_and_bad_requests_are_refused(client: TestClient, cast: Cast):
    _moves(client, cast)
    body = client.get(f"{AUDIT}/assets/allowance/{YEAR}/lineage", headers=cast.auth("trader")).json()
    assert [(e["kind"], e["amount"]) for e in body["edges"]] == [("transfer", 10), ("transfer", 5)]
    assert client.get(f"{AUDIT}/assets/settlement/1/lineage", headers=cast.auth("regulator")).status_code == 422
    assert client.get(f"{AUDIT}/assets/allowance/{YEAR}/lineage", headers=cast.auth("regulator"),
                      params={"max_edges": 5_001}).status_code == 422
    assert client.get(f"{AUDIT}/assets/allowance/{YEAR}/lineage").status_code == 401


# ------------------------------------------------------------------ drill-down and reconcile


def test_a_drill_down_takes_a_year_or_a_window(client: TestClient, cast: Cast):
    regulator = cast.auth("regulator")
    url = f"{AUDIT}/parks/{PARK}/drilldown"
    body = client.get(url, headers=regulator, params={"year": YEAR}).json()
    assert (body["start"], body["end"]) == (1_704_067_200, 1_735_689_600)
    assert body["tree"] == {"level": "park", "label": str(PARK), "sum_mg": 0, "count": 0, "anchored_mg": 0,
                            "anchored_count": 0, "matches_anchored": True, "children": []}
    assert client.get(url, headers=regulator, params={"start": 0, "end": 3600}).json()["end"] == 3600
    for params in ({}, {"year": YEAR, "start": 0}, {"start": 0}, {"start": 10, "end": 10}):
        reply = client.get(url, headers=regulator, params=params)
        assert reply.status_code == 422, params
        assert reply.json()["error"] == "ValidationError"


def test_a_drill_down_is_refused_outside_the_members_park(client: TestClient, cast: Cast):
    reply = client.get(f"{AUDIT}/parks/{PARK}/drilldown", headers=cast.auth("enterprise_c"), params={"year": YEAR})
    assert reply.status_code == 403 and reply.json()["error"] == "NotYourData"
    assert client.get(f"{AUDIT}/parks/{PARK}/drilldown", headers=cast.auth("trader"),
                      params={"year": YEAR}).status_code == 403
    own = client.get(f"{AUDIT}/parks/{OTHER_PARK}/drilldown", headers=cast.auth("enterprise_c"),
                     params={"year": YEAR})
    assert own.status_code == 200 and own.json()["tree"]["children"] == []
    reply = client.get(f"{AUDIT}/parks/{ENTERPRISE_A}/drilldown", headers=cast.auth("regulator"),
                       params={"year": YEAR})
    assert reply.status_code == 404 and reply.json()["error"] == "UnknownOrganisation"


def admit_park_member(client: TestClient, cast: Cast, runtime: Runtime) -> tuple[str, dict[str, str]]:
    """A custodial member of the park organisation itself (its operator): its address and API-key header."""
    reply = client.post(f"{V1}/members", headers=cast.auth("regulator"),
                        json={"org_id": PARK, "roles": ["ENTERPRISE"], "custodial": True})
    assert reply.status_code == 201, reply.text
    address = str(reply.json()["member"]["address"])
    token = runtime.api_keys.issue(address, timedelta(hours=1), label="park operator").token
    return address, {"Authorization": f"Bearer {token}"}


def test_a_member_of_the_park_organisation_drills_down_into_its_own_park_only(client: TestClient, cast: Cast,
                                                                             runtime: Runtime):
    address, operator = admit_park_member(client, cast, runtime)
    reply = client.get(f"{AUDIT}/parks/{PARK}/drilldown", headers=operator, params={"year": YEAR})
    assert reply.status_code == 200, reply.text
    whole = client.get(f"{AUDIT}/parks/{PARK}/drilldown", headers=cast.auth("regulator"), params={"year": YEAR})
    assert reply.json()["tree"] == whole.json()["tree"] == {  # a park administrator sees its whole park
        "level": "park", "label": str(PARK), "sum_mg": 0, "count": 0, "anchored_mg": 0, "anchored_count": 0,
        "matches_anchored": True, "children": []}
    reply = client.get(f"{AUDIT}/parks/{OTHER_PARK}/drilldown", headers=operator, params={"year": YEAR})
    assert reply.status_code == 403 and reply.json()["error"] == "NotYourData"
    assert f"park {OTHER_PARK}" in reply.json()["message"]
    reply = client.post(f"{V1}/members/{address}/suspend", headers=cast.auth("regulator"), json={"reason": "audit"})
    assert reply.status_code == 200, reply.text
    reply = client.get(f"{AUDIT}/parks/{PARK}/drilldown", headers=operator, params={"year": YEAR})
    assert reply.status_code == 403 and reply.json()["error"] == "MemberNotActive"


def test_only_a_regulator_reconciles(client: TestClient, cast: Cast):
    for name in ("enterprise_a", "verifier", "trader"):
        reply = client.get(f"{AUDIT}/reconcile", headers=cast.auth(name))
        assert reply.status_code == 403 and reply.json()["error"] == "MissingRole"
    body = client.get(f"{AUDIT}/reconcile", headers=cast.auth("regulator2")).json()
    assert body["ok"] and body["checked"]["member"] >= 9, body["differences"]


# ------------------------------------------------------------------ the index in the runtime


def test_ready_fails_when_the_index_lags_and_metrics_show_the_index(client: TestClient, cast: Cast,
                                                                    runtime: Runtime):
    runtime.indexing.index_up_to_date()
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["index"]["lag_blocks"] == 0
    allocate(client, cast, {"enterprise_a": 5}, year=YEAR)
    allocate(client, cast, {"enterprise_a": 5}, year=YEAR)
    limit = runtime.settings.index_max_lag_blocks
    runtime.settings.index_max_lag_blocks = 1
    try:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["index"] | {"last_error": None} == {
            "ok": False, "indexed_block": runtime.chain.block_number() - 2, "lag_blocks": 2, "max_lag_blocks": 1,
            "last_error": None}
        dependencies = ready.json()["dependencies"]
        assert dependencies["index"] == ready.json()["index"]  # the one dependency that is down
        assert [name for name, d in dependencies.items() if not d["ok"]] == ["index"]
        metrics = client.get("/metrics").text
        assert f"carbonledger_index_block {runtime.chain.block_number() - 2}" in metrics
        assert "carbonledger_index_lag_blocks 2" in metrics
        events_before = runtime.indexing.status.events
        runtime.indexing.index_up_to_date()
        assert client.get("/ready").status_code == 200
        assert runtime.indexing.status.events == events_before + 2 * 2  # allocation and transfer events
        assert "carbonledger_index_lag_blocks 0" in client.get("/metrics").text
    finally:
        runtime.settings.index_max_lag_blocks = limit


def test_the_background_indexer_follows_the_chain(client: TestClient, cast: Cast, runtime: Runtime):
    runtime.settings.index_interval_seconds, interval = 0.05, runtime.settings.index_interval_seconds
    runtime.indexing.start()
    try:
        allocate(client, cast, {"enterprise_b": 9}, year=YEAR)
        deadline = time.monotonic() + 10
        while runtime.indexing.indexed_block() < runtime.chain.block_number() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.indexing.indexed_block() == runtime.chain.block_number()
    finally:
        runtime.indexing.stop()
        runtime.settings.index_interval_seconds = interval


def test_organisation_look_ups_read_the_index(client: TestClient, cast: Cast, runtime: Runtime):
    syncs = runtime.indexing.status.syncs
    reply = client.post(f"{V1}/organisations", headers=cast.auth("regulator"),
                        json={"org_id": 14, "parent_id": PARK, "kind": "enterprise", "name": "Northern Paper"})
    assert reply.status_code == 201, reply.text
    assert [o.org_id for o in runtime.directory.children(PARK)] == [ENTERPRISE_A, ENTERPRISE_A + 1, 14]
    assert runtime.indexing.status.syncs == syncs + 1
    assert runtime.directory.member_addresses(ENTERPRISE_A) == [cast.addresses["enterprise_a"],
                                                                cast.addresses["enterprise_a2"]]


def test_reverting_the_chain_rolls_the_index_back(client: TestClient, cast: Cast, runtime: Runtime):
    before = snapshots.snapshot(runtime)
    head = runtime.chain.block_number()
    allocate(client, cast, {"enterprise_a": 42}, year=YEAR)
    runtime.indexing.index_up_to_date()
    assert runtime.indexing.indexed_block() == head + 1
    snapshots.revert(runtime, before)
    assert runtime.indexing.indexed_block() == head
    body = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("regulator")).json()
    assert body["hops"] == [] and body["issued"] == 0

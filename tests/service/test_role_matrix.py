"""What each role sees: every GET route that spans organisations, for every kind of caller, from one table.

One world is built per module (two parks, meter data anchored for both enterprises of the first, a report of
each of them of which the verifier attested only Riverside Steel's, obligations, two allowance trades and an
open order), then each row of `MATRIX` asks one endpoint as one caller and checks the status and which
organisations' rows the answer shows. `test_every_get_route_is_classified` keeps the table complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger_core.chain.outbox import Intent
from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.service.cast import (
    ENTERPRISE_A,
    ENTERPRISE_B,
    ENTERPRISE_C,
    MEMBERS,
    OTHER_PARK,
    PARK,
    TRADERS,
    YEAR,
    Cast,
)
from tests.service.credit_steps import admit_bank, chain_now, mint
from tests.service.footprint_steps import supply_chain
from tests.service.helpers import V1, allocate
from tests.service.metering import anchor, clear_meter_data, messages, push, set_up_park
from tests.support import snapshots

A, B, C = ENTERPRISE_A, ENTERPRISE_B, ENTERPRISE_C
ROLES = ("regulator", "park_admin", "enterprise_a", "enterprise_b", "enterprise_c", "verifier", "trader", "oracle",
         "stranger", "anonymous")


@dataclass
class World:
    client: TestClient
    cast: Cast
    headers: dict[str, dict[str, str]]
    org_of: dict[str, int]  # address -> organisation
    report_a: int
    report_b: int
    open_order: int  # Eastern Cement's, partly filled
    part_epd: int  # Eastern Cement's bracket EPD, citing Riverside Steel's coil EPD


def _ok(reply: Any) -> Any:
    assert reply.status_code in (200, 201), reply.text
    return reply.json()


def _report(client: TestClient, cast: Cast, name: str) -> int:
    data = {"year": YEAR, "reported_kg_co2e": 12_345, "anchors_root": "0x" + "ab" * 32,
            "anchored_mg": 12_345_000_000, "reading_count": 7}
    body = _ok(client.post(f"{V1}/emissions/reports", headers=cast.auth(name),
                           files={"document": ("r.pdf", f"report of {name}".encode())}, data=data))
    return int(body["report"]["report_id"])


def _list(client: TestClient, cast: Cast, runtime: Runtime, seller: str, amount: int) -> int:
    body = _ok(client.post(f"{V1}/market/orders", headers=cast.auth(seller), json={
        "asset": "allowance", "token_id": YEAR, "amount": amount, "price": "50.00",
        "expiry": chain_now(runtime) + 86_400}))
    return int(body["order"]["order_id"])


def _fill(client: TestClient, cast: Cast, buyer: str, order_id: int, amount: int) -> None:
    _ok(client.post(f"{V1}/market/orders/{order_id}/fill", headers=cast.auth(buyer), json={"amount": amount}))


@pytest.fixture(scope="module")
def world(_service: tuple[Runtime, Cast]) -> Iterator[World]:
    runtime, cast = _service
    snapshot = snapshots.snapshot(runtime)
    client = TestClient(create_app(runtime), raise_server_exceptions=True)
    try:
        admin = _ok(client.post(f"{V1}/members", headers=cast.auth("regulator"),
                                json={"org_id": PARK, "roles": ["ENTERPRISE"], "custodial": True}))["member"]["address"]
        headers = {name: cast.auth(name) for name in ROLES if name not in ("park_admin", "anonymous")}
        headers["park_admin"] = {"Authorization": "Bearer " + runtime.api_keys.issue(
            admin, timedelta(hours=1), label="park administrator").token}
        headers["anonymous"] = {}
        org_of = {cast.addresses[name]: org for name, (org, _, _) in MEMBERS.items()}
        org_of[admin] = PARK
        org_of[cast.addresses["regulator"]] = runtime.directory.member(cast.addresses["regulator"]).org_id

        layout = set_up_park(client, cast, runtime, devices=1)
        _ok(push(client, cast, "oracle", messages(layout, hours=2)))
        for org in (A, B):
            _ok(anchor(client, cast, org))
        report_a, report_b = _report(client, cast, "enterprise_a"), _report(client, cast, "enterprise_b")
        _ok(client.post(f"{V1}/emissions/reports/{report_a}/verification", headers=cast.auth("verifier"),
                        data={"verified_kg_co2e": 12_400, "statement_hash": "0x" + "5a" * 32}))
        regulator = cast.addresses["regulator"]
        records = runtime.outbox.submit(
            [Intent("ComplianceLedger", "setObligationSource", (regulator, True), regulator)]
            + [Intent("ComplianceLedger", "setObligation", (org, YEAR, t), regulator)
               for org, t in ((A, 500), (B, 700), (C, 50))])
        assert all(r.status == "mined" for r in records)

        allocate(client, cast, {"enterprise_a": 100, "enterprise_b": 100})
        _ok(client.post(f"{V1}/market/reference-prices", headers=cast.auth("regulator"),
                        json={"asset": "allowance", "token_id": YEAR, "price": "50.00"}))
        admit_bank(runtime, cast)
        for buyer in ("trader", "enterprise_c"):
            mint(client, cast, buyer, "10000.00")
        _fill(client, cast, "trader", _list(client, cast, runtime, "enterprise_a", 10), 10)
        open_order = _list(client, cast, runtime, "enterprise_b", 20)
        _fill(client, cast, "enterprise_c", open_order, 5)
        part_epd = supply_chain(client, cast)["part_epd"]
        yield World(client, cast, headers, org_of, report_a, report_b, open_order, part_epd)
    finally:
        snapshots.revert(runtime, snapshot)
        clear_meter_data(runtime)


# ------------------------------------------------------------------ what an answer shows


def _park_view(body: Any) -> set[int]:
    """The park's total (the park's id) and the enterprises' rows."""
    return {body["park"]["org_id"], *(e["org_id"] for e in body["enterprises"])}


def _tree(body: Any) -> set[int]:
    """The park's total (the park's id) and its branches (enterprises; the park's own facilities)."""
    tree = body["tree"]
    return {int(tree["label"]), *(int(c["label"]) for c in tree["children"])}


def _parties(w: World, *addresses: str | None) -> set[int]:
    return {w.org_of[a] for a in addresses if a is not None and a in w.org_of}


def _asset_trace(w: World, body: Any) -> set[int]:
    hops = {o for h in body["hops"] for o in _parties(w, h["from_address"], h["to_address"])}
    return hops | {h["org_id"] for h in body["holders"] if h["org_id"] is not None}  # not the market's escrow


def _lineage(w: World, body: Any) -> set[int]:
    """The accounts' organisations in the graph, and the sellers named on its trades."""
    accounts = {n["org_id"] for n in body["nodes"] if n["org_id"] is not None}
    return accounts | _parties(w, *(e["seller"] for e in body["edges"]))


def _forecast_park(body: Any) -> set[int]:
    return {body["park_id"], *(e["org_id"] for e in body["enterprises"])}


def _trades(w: World, body: Any) -> set[int]:
    assert len(body["items"]) == 2  # every trade is listed; parties only where the caller sees one of them
    return {o for t in body["items"] for o in _parties(w, t["seller"], t["buyer"])}


def _book(w: World, body: Any) -> set[int]:
    assert [o["order_id"] for o in body["orders"]] == [w.open_order]
    return _parties(w, *(o["seller"] for o in body["orders"]))


def _product_trace(w: World, body: Any) -> set[int]:
    """The organisations whose footprint data (provenance) the trace shows; every tier's on-chain facts are shown
    to all."""
    assert [h["tier"] for h in body["hops"]] == [0, 1]
    return {h["epd"]["owner_org_id"] for h in body["hops"] if h["access"]["shown"]}


@dataclass(frozen=True)
class Endpoint:
    url: Callable[[World], str]
    shows: Callable[[World, Any], set[int]]
    params: tuple[tuple[str, Any], ...] = ()


ENDPOINTS: dict[str, Endpoint] = {
    "compliance park": Endpoint(lambda w: f"{V1}/compliance/parks/{PARK}/{YEAR}", lambda w, b: _park_view(b)),
    "compliance other park": Endpoint(lambda w: f"{V1}/compliance/parks/{OTHER_PARK}/{YEAR}",
                                      lambda w, b: _park_view(b)),
    "compliance enterprise B": Endpoint(lambda w: f"{V1}/compliance/enterprises/{B}/{YEAR}",
                                        lambda w, b: {b["org_id"]}),
    "forecast park": Endpoint(lambda w: f"{V1}/compliance/parks/{PARK}/{YEAR}/forecast",
                              lambda w, b: _forecast_park(b)),
    "forecast other park": Endpoint(lambda w: f"{V1}/compliance/parks/{OTHER_PARK}/{YEAR}/forecast",
                                    lambda w, b: _forecast_park(b)),
    "forecast enterprise B": Endpoint(lambda w: f"{V1}/compliance/enterprises/{B}/{YEAR}/forecast",
                                      lambda w, b: {b["org_id"]}),
    "drill-down": Endpoint(lambda w: f"{V1}/audit/parks/{PARK}/drilldown", lambda w, b: _tree(b),
                           (("year", YEAR),)),
    "report trace A": Endpoint(lambda w: f"{V1}/audit/reports/{w.report_a}/trace", lambda w, b: {b["org_id"]}),
    "report trace B": Endpoint(lambda w: f"{V1}/audit/reports/{w.report_b}/trace", lambda w, b: {b["org_id"]}),
    "asset trace": Endpoint(lambda w: f"{V1}/audit/assets/allowance/{YEAR}/trace", _asset_trace),
    "asset lineage": Endpoint(lambda w: f"{V1}/audit/assets/allowance/{YEAR}/lineage", _lineage),
    "product trace": Endpoint(lambda w: f"{V1}/audit/epds/{w.part_epd}/trace", _product_trace),
    "trades": Endpoint(lambda w: f"{V1}/market/trades/allowance/{YEAR}", _trades),
    "order book": Endpoint(lambda w: f"{V1}/market/books/allowance/{YEAR}", _book),
    "order": Endpoint(lambda w: f"{V1}/market/orders/{w.open_order}", lambda w, b: _parties(w, b["seller"])),
    "reconcile": Endpoint(lambda w: f"{V1}/audit/reconcile", lambda w, b: set()),
}

# The route each endpoint above asks (the templates of `app.routes`).
ROUTES = {
    "compliance park": "/api/v1/compliance/parks/{park_id}/{year}",
    "compliance other park": "/api/v1/compliance/parks/{park_id}/{year}",
    "compliance enterprise B": "/api/v1/compliance/enterprises/{org_id}/{year}",
    "forecast park": "/api/v1/compliance/parks/{park_id}/{year}/forecast",
    "forecast other park": "/api/v1/compliance/parks/{park_id}/{year}/forecast",
    "forecast enterprise B": "/api/v1/compliance/enterprises/{org_id}/{year}/forecast",
    "drill-down": "/api/v1/audit/parks/{park_id}/drilldown",
    "report trace A": "/api/v1/audit/reports/{report_id}/trace",
    "report trace B": "/api/v1/audit/reports/{report_id}/trace",
    "asset trace": "/api/v1/audit/assets/{asset}/{token_id}/trace",
    "asset lineage": "/api/v1/audit/assets/{asset}/{token_id}/lineage",
    "product trace": "/api/v1/audit/epds/{epd_id}/trace",
    "trades": "/api/v1/market/trades/{asset}/{token_id}",
    "order book": "/api/v1/market/books/{asset}/{token_id}",
    "order": "/api/v1/market/orders/{order_id}",
    "reconcile": "/api/v1/audit/reconcile",
}

NO, DENIED, UNAUTHENTICATED = frozenset(), 403, 401
# Every member is refused (403) and an unauthenticated caller 401 unless its row says otherwise.
OUTSIDERS = {"stranger": (403, NO), "anonymous": (401, NO)}

# endpoint -> role -> (status, organisations whose rows are shown)
MATRIX: dict[str, dict[str, tuple[int, frozenset[int]]]] = {
    "compliance park": {
        "regulator": (200, frozenset({PARK, A, B})),
        "park_admin": (200, frozenset({PARK, A, B})),
        "enterprise_a": (200, frozenset({PARK, A})),  # its own row and the park's total, not Eastern Cement's
        "enterprise_b": (200, frozenset({PARK, B})),
        "enterprise_c": (DENIED, NO),  # another park's enterprise
        "verifier": (200, frozenset({PARK, A})),  # attested Riverside Steel's report only
        "trader": (DENIED, NO),
        "oracle": (DENIED, NO),
    },
    "compliance other park": {
        "regulator": (200, frozenset({OTHER_PARK, C})),
        "park_admin": (DENIED, NO),
        "enterprise_a": (DENIED, NO),
        "enterprise_b": (DENIED, NO),
        "enterprise_c": (200, frozenset({OTHER_PARK, C})),
        "verifier": (DENIED, NO),  # attested nothing there
        "trader": (DENIED, NO),
        "oracle": (DENIED, NO),
    },
    "compliance enterprise B": {
        "regulator": (200, frozenset({B})),
        "park_admin": (200, frozenset({B})),
        "enterprise_a": (DENIED, NO),
        "enterprise_b": (200, frozenset({B})),
        "enterprise_c": (DENIED, NO),
        "verifier": (DENIED, NO),  # never attested Eastern Cement
        "trader": (DENIED, NO),
        "oracle": (DENIED, NO),
    },
    "drill-down": {
        "regulator": (200, frozenset({PARK, A, B})),
        "park_admin": (200, frozenset({PARK, A, B})),
        "enterprise_a": (200, frozenset({PARK, A})),
        "enterprise_b": (200, frozenset({PARK, B})),
        "enterprise_c": (DENIED, NO),
        "verifier": (200, frozenset({PARK, A})),
        "trader": (DENIED, NO),
        "oracle": (DENIED, NO),
    },
    "report trace A": {
        "regulator": (200, frozenset({A})),
        "park_admin": (200, frozenset({A})),
        "enterprise_a": (200, frozenset({A})),
        "enterprise_b": (DENIED, NO),
        "enterprise_c": (DENIED, NO),
        "verifier": (200, frozenset({A})),
        "trader": (DENIED, NO),
        "oracle": (DENIED, NO),
    },
    "report trace B": {
        "regulator": (200, frozenset({B})),
        "park_admin": (200, frozenset({B})),
        "enterprise_a": (DENIED, NO),
        "enterprise_b": (200, frozenset({B})),
        "enterprise_c": (DENIED, NO),
        "verifier": (DENIED, NO),
        "trader": (DENIED, NO),
        "oracle": (DENIED, NO),
    },
    # hops a visible organisation took part in (with their counterparty) and visible holdings
    "asset trace": {
        "regulator": (200, frozenset({A, B, C, TRADERS})),
        "park_admin": (200, NO),
        "enterprise_a": (200, frozenset({A, TRADERS})),
        "enterprise_b": (200, frozenset({B, C})),
        "enterprise_c": (200, frozenset({B, C})),
        "verifier": (200, NO),
        "trader": (200, frozenset({A, TRADERS})),
        "oracle": (200, NO),
    },
    # both tiers for every member; the provenance of those whose footprint data it sees (verifiers attest any)
    "product trace": {
        "regulator": (200, frozenset({A, B})),
        "park_admin": (200, NO),
        "enterprise_a": (200, frozenset({A})),
        "enterprise_b": (200, frozenset({B})),
        "enterprise_c": (200, NO),
        "verifier": (200, frozenset({A, B})),
        "trader": (200, NO),
        "oracle": (200, NO),
    },
    # the open order is listed for everyone; its seller named to the seller's organisation and regulators
    "order book": {
        "regulator": (200, frozenset({B})),
        "park_admin": (200, NO),
        "enterprise_a": (200, NO),
        "enterprise_b": (200, frozenset({B})),
        "enterprise_c": (200, NO),
        "verifier": (200, NO),
        "trader": (200, NO),
        "oracle": (200, NO),
    },
    "reconcile": {
        "regulator": (200, NO),
        **{role: (DENIED, NO) for role in ROLES if role not in ("regulator", "stranger", "anonymous")},
    },
}
MATRIX["order"] = MATRIX["order book"]  # one order reads as it does in the book
# Both trades are listed; their parties are named as in the asset trace: only on the caller's own trades.
MATRIX["trades"] = MATRIX["asset trace"]
# The lineage draws the hops of the asset trace; the forecasts follow the compliance status's rule.
MATRIX["asset lineage"] = MATRIX["asset trace"]
for _view in ("park", "other park", "enterprise B"):
    MATRIX[f"forecast {_view}"] = MATRIX[f"compliance {_view}"]


ROWS = [(endpoint, role, *({**OUTSIDERS, **by_role}[role]))
        for endpoint, by_role in MATRIX.items() for role in ROLES]

# GET routes showing a single organisation's data, each guarded by its own check (or the caller's own rows).
SINGLE_ORGANISATION = {
    "/api/v1/allowances/balances/{address}", "/api/v1/credits/holdings/{address}",
    "/api/v1/credits/retirements/{retirement_id}", "/api/v1/credits/retirements/{retirement_id}/certificate.html",
    "/api/v1/emissions/reports/{report_id}", "/api/v1/emissions/enterprises/{org_id}/reports",
    "/api/v1/emissions/reports/{report_id}/history", "/api/v1/emissions/reports/{report_id}/documents/{kind}",
    "/api/v1/meters/devices", "/api/v1/meters/devices/{device_id}",
    "/api/v1/meters/enterprises/{org_id}/oracles/{address}",
    "/api/v1/meters/readings/{reading_id}/proof", "/api/v1/meters/enterprises/{org_id}/anchors",
    "/api/v1/meters/anchors/{anchor_id}", "/api/v1/meters/enterprises/{org_id}/quarantine",
    "/api/v1/settlement/balances/{address}", "/api/v1/market/orders", "/api/v1/transactions",
    "/api/v1/transactions/{outbox_id}", "/api/v1/transactions/signing", "/api/v1/api-keys",
    "/api/v1/gec/holdings/{address}", "/api/v1/gec/scope2/{org_id}", "/api/v1/gec/batches/{batch_id}/trace",
    "/api/v1/products/{product_id}/output", "/api/v1/epds/drafts", "/api/v1/epds/drafts/{draft_id}",
    "/api/v1/footprints/imports/{import_id}",
    "/api/v1/epds/flagged",
    "/api/v1/products/{product_id}/output/{index}/evidence",
    "/api/v1/epds/{epd_id}/supplier-proof",  # one supplier's totals: to it, verifiers, regulators and its customers
}
# GET routes showing registry facts that are the same for every member (no organisation's rows), or the
# process's own health.
SHARED = {
    "/api/v1/organisations/{org_id}", "/api/v1/organisations/{org_id}/hierarchy",
    "/api/v1/organisations/{org_id}/members", "/api/v1/members/{address}", "/api/v1/compliance/windows/{year}",
    "/api/v1/notary/documents/{document_hash}", "/api/v1/credits/projects", "/api/v1/credits/projects/{project_id}",
    "/api/v1/credits/batches", "/api/v1/credits/batches/{batch_id}", "/api/v1/market/closes/{asset}/{token_id}",
    "/api/v1/transactions/abi/{contract}", "/api/v1/gec/batches", "/api/v1/gec/batches/{batch_id}",
    "/api/v1/gec/scope2-rule", "/api/v1/pcrs", "/api/v1/products", "/api/v1/products/{product_id}",
    "/api/v1/epds", "/api/v1/epds/{epd_id}", "/api/v1/epds/{epd_id}/epd.html", "/api/v1/audit/epds/{epd_id}/lineage",
    "/3/footprints", "/3/footprints/{pf_id}",  # published footprints, to any PACT client (a member with a token)
    "/api/v1/chain",  # the chain and the suite's addresses, to anyone (public facts)
    "/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
}


def _get_routes(app: Any) -> set[str]:
    """The path of every GET route of the application (from its OpenAPI document, plus FastAPI's own)."""
    paths = {path for path, operations in app.openapi()["paths"].items() if "get" in operations}
    return paths | {r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or ())}


def test_every_get_route_is_classified(runtime: Runtime):
    routes = _get_routes(create_app(runtime))
    in_matrix = set(ROUTES.values())
    assert set(ROUTES) == set(MATRIX)
    assert not (in_matrix & SINGLE_ORGANISATION) and not (in_matrix & SHARED) and not (SINGLE_ORGANISATION & SHARED)
    unclassified = routes - in_matrix - SINGLE_ORGANISATION - SHARED
    assert unclassified == set(), "add each new GET route to MATRIX (with every role) or to a list above"
    assert (in_matrix | SINGLE_ORGANISATION | SHARED) - routes == set(), "a classified route no longer exists"
    assert all(set(by_role) | set(OUTSIDERS) == set(ROLES) for by_role in MATRIX.values())


@pytest.mark.parametrize(("endpoint", "role", "status", "shown"), ROWS, ids=[f"{e}-{r}" for e, r, *_ in ROWS])
def test_what_each_role_sees(world: World, endpoint: str, role: str, status: int, shown: frozenset[int]):
    spec = ENDPOINTS[endpoint]
    reply = world.client.get(spec.url(world), headers=world.headers[role], params=dict(spec.params))
    assert reply.status_code == status, reply.text
    if status != 200:
        assert reply.json()["error"] in {"NotYourData", "MissingRole", "MemberNotActive", "Unauthenticated"}
        return
    assert spec.shows(world, reply.json()) == shown


@pytest.mark.parametrize("endpoint", ["compliance park", "drill-down"])
def test_every_caller_of_a_park_view_gets_the_whole_parks_total(world: World, endpoint: str):
    spec = ENDPOINTS[endpoint]
    totals = {}
    for role in ("regulator", "park_admin", "enterprise_a", "enterprise_b", "verifier"):
        body = world.client.get(spec.url(world), headers=world.headers[role], params=dict(spec.params)).json()
        total = body["park"] if "park" in body else {k: body["tree"][k] for k in ("sum_mg", "count", "anchored_mg")}
        totals[role] = total
    assert all(t == totals["regulator"] for t in totals.values()), totals
    assert totals["regulator"].get("obligation", 1200) == 1200 and totals["regulator"].get("count", 1) > 0


def test_anonymised_trades_keep_amount_price_and_time(world: World):
    mine = world.client.get(f"{V1}/market/trades/allowance/{YEAR}", headers=world.headers["enterprise_a"]).json()
    theirs, own = mine["items"]  # newest first: Eastern Cement's fill, then Riverside Steel's
    assert (own["seller"], own["buyer"]) == (world.cast.addresses["enterprise_a"], world.cast.addresses["trader"])
    assert own["tx_hash"] is not None and own["order_id"] is not None
    assert (theirs["seller"], theirs["buyer"], theirs["tx_hash"]) == (None, None, None)
    assert (theirs["amount"], theirs["price"], theirs["payment"]) == (5, "50.00", "250.00")

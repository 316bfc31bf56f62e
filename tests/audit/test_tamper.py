"""Tamper evidence to the last reading: one direct SQL edit each, to meter data, to the index or to a sealed
document, is found by `reconcile` with its location, and no read endpoint answers 5xx over the edited data.

The ledger of each test: enterprise A's two hourly windows anchored (two devices each, B's readings pushed),
its report submitted with its document and committed to the anchors, verified with a statement; a verified
credit batch held by A, part of it listed on the market. The ledger is built once per module (no test changes it
but by its edits); each test starts from it: each edit is undone, then the chain and the outbox are reverted to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ledger_core.db.models import (
    ChainAnchor,
    ChainBalance,
    ChainCreditBatch,
    ChainOrder,
    ChainReport,
    CommittedNode,
    MeterBatch,
    MeterDevice,
    Reading,
    StoredDocument,
)
from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, PARK, YEAR, Cast
from tests.service.conftest import _service, cast, client
from tests.service.credit_steps import chain_now, verified_batch
from tests.service.helpers import V1
from tests.service.metering import anchor, clear_meter_data, messages, push, set_up_park
from tests.support import snapshots

__all__ = ["_service", "cast", "client"]

AUDIT = f"{V1}/audit"


@dataclass
class Ledger:
    anchor_id: int
    batch_id: int  # the oracle's batch of the anchored window
    window: tuple[int, int]
    device: str
    reading_id: int  # the first reading of `device` in the window
    neighbour_id: int  # the next reading of the same device
    report_id: int
    document_hash: str
    credit_batch_id: int
    order_id: int
    undo: list[Callable[[], None]] = field(default_factory=list)


def _key(w: Ledger) -> str:
    return f"{ENTERPRISE_A}/{w.anchor_id}/{w.window[0]}-{w.window[1]}"


@pytest.fixture(scope="module")
def _built(_service: tuple[Runtime, Cast]) -> Iterator[tuple[Runtime, Ledger]]:
    """The ledger, built once for the module on the session's runtime, which gets its state back afterwards."""
    runtime, cast = _service
    before = snapshots.snapshot(runtime)
    try:
        yield runtime, _build(TestClient(create_app(runtime), raise_server_exceptions=True), cast, runtime)
    finally:
        runtime.outbox.faults = None
        snapshots.revert(runtime, before)
        clear_meter_data(runtime)


@pytest.fixture
def runtime(_built: tuple[Runtime, Ledger]) -> Iterator[Runtime]:
    """The runtime holding the built ledger; the chain and outbox are reverted to it after each test (its meter
    data and documents stay: the module's tests share them, and their edits are undone by `ledger`)."""
    runtime = _built[0]
    snapshot = snapshots.snapshot(runtime)
    yield runtime
    runtime.outbox.faults = None
    snapshots.revert(runtime, snapshot)


@pytest.fixture
def ledger(runtime: Runtime, _built: tuple[Runtime, Ledger]) -> Iterator[Ledger]:
    state = replace(_built[1], undo=[])
    yield state
    for undo in reversed(state.undo):
        undo()


def _build(client: TestClient, cast: Cast, runtime: Runtime) -> Ledger:
    layout = set_up_park(client, cast, runtime)
    assert push(client, cast, "oracle", messages(layout, hours=2)).status_code == 200
    windows = anchor(client, cast, ENTERPRISE_A).json()["windows"]
    assert [w["action"] for w in windows] == ["anchored", "anchored"]
    submitted = client.post(f"{V1}/emissions/reports", headers=cast.auth("enterprise_a"),
                            files={"document": ("report.pdf", b"%PDF Riverside Steel: emissions of the year")},
                            data={"year": YEAR, "reported_kg_co2e": 12_345})
    assert submitted.status_code == 201, submitted.text
    report = submitted.json()["report"]
    verified = client.post(f"{V1}/emissions/reports/{report['report_id']}/verification", headers=cast.auth("verifier"),
                           files={"statement": ("statement.pdf", b"verified")}, data={"verified_kg_co2e": 12_400})
    assert verified.status_code == 200, verified.text
    batch = verified_batch(client, cast)
    priced = client.post(f"{V1}/market/reference-prices", headers=cast.auth("regulator"),
                         json={"asset": "credit", "token_id": batch["batch_id"], "price": "50.00"})
    assert priced.status_code == 200, priced.text
    listed = client.post(f"{V1}/market/orders", headers=cast.auth("enterprise_a"), json={
        "asset": "credit", "token_id": batch["batch_id"], "amount": 300, "price": "50.00",
        "expiry": chain_now(runtime) + 86_400})
    assert listed.status_code == 201, listed.text
    first = windows[0]
    with runtime.sessions() as session:
        batch_row = session.scalars(select(MeterBatch).where(MeterBatch.anchor_id == first["anchor_id"])).one()
        (reading_id, neighbour_id), device = [r for r, in session.execute(
            select(Reading.id).join(MeterDevice, MeterDevice.id == Reading.device_pk)
            .where(Reading.batch_id == batch_row.id, MeterDevice.device_id == layout.devices[0].device_id)
            .order_by(Reading.timestamp, Reading.sequence).limit(2))], layout.devices[0].device_id
        state = Ledger(first["anchor_id"], batch_row.id, (batch_row.window_start, batch_row.window_end), device,
                       reading_id, neighbour_id, int(report["report_id"]), report["document_hash"],
                       int(batch["batch_id"]), int(listed.json()["order"]["order_id"]))
    runtime.indexing.index_up_to_date()  # the index holds every event before anything is edited
    return state


def edit(runtime: Runtime, w: Ledger, model: Any, where: Any, **values: Any) -> None:
    """One direct SQL edit of exactly one row; undone after the test (before the runtime reverts)."""
    columns = [getattr(model, name) for name in values]
    with runtime.engine.begin() as conn:
        rows = conn.execute(select(*columns).where(where)).all()
        assert len(rows) == 1, rows
        before = dict(zip(values, rows[0], strict=True))
        assert conn.execute(update(model).where(where).values(**values)).rowcount == 1

    def undo() -> None:
        with runtime.engine.begin() as conn:
            conn.execute(update(model).where(where).values(**before))

    w.undo.append(undo)


def differences(client: TestClient, cast: Cast) -> dict[tuple[str, str, str], dict[str, Any]]:
    reply = client.get(f"{AUDIT}/reconcile", headers=cast.auth("regulator"))
    assert reply.status_code == 200, reply.text
    return {(d["kind"], d["key"], d["field"]): d for d in reply.json()["differences"]}


def reads_answer_without_5xx(runtime: Runtime, cast: Cast, w: Ledger) -> None:
    """Every read over the edited data answers, perhaps with a refusal (409), never with a server error."""
    reader = TestClient(create_app(runtime), raise_server_exceptions=False)
    regulator, enterprise = cast.auth("regulator"), cast.auth("enterprise_a")
    reads = [
        (f"{V1}/meters/readings/{w.reading_id}/proof", enterprise, None),
        (f"{V1}/meters/readings/{w.neighbour_id}/proof", regulator, None),
        (f"{V1}/meters/anchors/{w.anchor_id}", regulator, None),
        (f"{AUDIT}/parks/{PARK}/drilldown", regulator, {"start": w.window[0], "end": w.window[1] + 3600,
                                                        "verify_roots": "true"}),
        (f"{AUDIT}/reports/{w.report_id}/trace", regulator, {"readings": 8}),
        (f"{AUDIT}/reconcile", regulator, None),
        (f"{V1}/credits/holdings/{cast.addresses['enterprise_a']}", enterprise, None),
        (f"{V1}/allowances/balances/{cast.addresses['enterprise_a']}", enterprise, None),
        (f"{V1}/market/orders/{w.order_id}", regulator, None),
        (f"{V1}/credits/batches/{w.credit_batch_id}", regulator, None),
        (f"{V1}/emissions/reports/{w.report_id}", regulator, None),
        (f"{V1}/emissions/reports/{w.report_id}/documents/report", enterprise, None),
        (f"{V1}/emissions/reports/{w.report_id}/documents/statement", regulator, None),
    ]
    failed = {}
    for path, headers, params in reads:
        reply = reader.get(path, headers=headers, params=params)
        if reply.status_code >= 500:
            failed[path] = (reply.status_code, reply.text[:300])
    assert not failed, failed


def test_the_untouched_ledger_reconciles_clean_and_reads_answer(client: TestClient, cast: Cast,
                                                                runtime: Runtime, ledger: Ledger):
    reply = client.get(f"{AUDIT}/reconcile", headers=cast.auth("regulator"))
    body = reply.json()
    assert body["ok"], body["differences"]
    assert body["checked"]["meter_window"] == 2 and body["checked"]["meter_reading"] == 2 * 2 * 60
    assert body["checked"]["document"] == 2  # the report and the verification statement
    reads_answer_without_5xx(runtime, cast, ledger)


def _reading_found(found: dict[tuple[str, str, str], dict[str, Any]], w: Ledger) -> None:
    window = found[("meter_window", _key(w), "root")]
    assert window["where"]["device"] == w.device and window["where"]["reading_id"] == w.reading_id
    assert (window["where"]["enterprise_org_id"], window["where"]["anchor_id"]) == (ENTERPRISE_A, w.anchor_id)
    assert (window["where"]["window_start"], window["where"]["window_end"]) == w.window
    reading = found[("meter_reading", f"{ENTERPRISE_A}/{w.anchor_id}/{w.device}/{w.reading_id}", "digest")]
    assert reading["where"]["reading_id"] == w.reading_id


def test_an_edited_reading_quantity_is_found_to_its_reading(client: TestClient, cast: Cast,
                                                            runtime: Runtime, ledger: Ledger):
    with runtime.sessions() as session:
        quantity = session.get_one(Reading, ledger.reading_id).quantity
    edit(runtime, ledger, Reading, Reading.id == ledger.reading_id, quantity=str(Decimal(quantity) + 1))
    found = differences(client, cast)
    window = found[("meter_window", _key(ledger), "root")]
    assert (window["where"]["device"], window["where"]["reading_id"]) == (ledger.device, ledger.reading_id)
    assert (window["where"]["window_start"], window["where"]["window_end"]) == ledger.window
    assert ("meter_window", _key(ledger), "total_mg") not in found  # the quantity alone moves no total
    assert ("meter_reading", f"{ENTERPRISE_A}/{ledger.anchor_id}/{ledger.device}/{ledger.reading_id}",
            "digest") in found
    assert {k[0] for k in found} == {"meter_window", "meter_reading"}
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_reading_value_is_found_to_its_reading(client: TestClient, cast: Cast,
                                                         runtime: Runtime, ledger: Ledger):
    edit(runtime, ledger, Reading, Reading.id == ledger.reading_id, value_mg=Reading.value_mg + 1000)
    found = differences(client, cast)
    _reading_found(found, ledger)
    total = found[("meter_window", _key(ledger), "total_mg")]
    assert total["index"] == total["chain"] + 1000
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_device_node_is_found_to_its_device(client: TestClient, cast: Cast,
                                                      runtime: Runtime, ledger: Ledger):
    edit(runtime, ledger, CommittedNode, (CommittedNode.batch_id == ledger.batch_id) & (CommittedNode.level == 1)
         & (CommittedNode.label == ledger.device), hash=b"\x01" * 32)
    found = differences(client, cast)
    node = found[("meter_node", f"{ENTERPRISE_A}/{ledger.anchor_id}/device/{ledger.device}", "hash")]
    assert node["index"] == "0x" + "01" * 32 and node["chain"] != node["index"]
    assert list(found) == [("meter_node", f"{ENTERPRISE_A}/{ledger.anchor_id}/device/{ledger.device}", "hash")]
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_anchor_row_is_found(client: TestClient, cast: Cast, runtime: Runtime,
                                       ledger: Ledger):
    edit(runtime, ledger, ChainAnchor, ChainAnchor.anchor_id == ledger.anchor_id, root=b"\x02" * 32)
    found = differences(client, cast)
    assert found[("anchor", str(ledger.anchor_id), "root")]["index"] == "0x" + "02" * 32
    assert list(found) == [("anchor", str(ledger.anchor_id), "root")]  # the readings still reproduce the chain
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_oracle_batch_row_is_found(client: TestClient, cast: Cast, runtime: Runtime,
                                             ledger: Ledger):
    edit(runtime, ledger, MeterBatch, MeterBatch.id == ledger.batch_id, root=b"\x03" * 32)
    found = differences(client, cast)
    assert found[("meter_batch", f"{ENTERPRISE_A}/{ledger.window[0]}", "root")]["index"] == "0x" + "03" * 32
    assert list(found) == [("meter_batch", f"{ENTERPRISE_A}/{ledger.window[0]}", "root")]
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_balance_is_found(client: TestClient, cast: Cast, runtime: Runtime, ledger: Ledger):
    holder = cast.addresses["enterprise_a"]
    edit(runtime, ledger, ChainBalance, (ChainBalance.token == "CreditRegistry")
         & (ChainBalance.token_id == ledger.credit_batch_id) & (ChainBalance.holder == holder),
         amount=ChainBalance.amount + 7)
    found = differences(client, cast)
    balance = found[("balance", f"CreditRegistry/{ledger.credit_batch_id}/{holder}", "amount")]
    assert balance["index"] == balance["chain"] + 7
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_report_is_found(client: TestClient, cast: Cast, runtime: Runtime, ledger: Ledger):
    edit(runtime, ledger, ChainReport, ChainReport.report_id == ledger.report_id, reported_kg=1)
    found = differences(client, cast)
    assert found[("report", str(ledger.report_id), "reported_kg")]["index"] == 1
    assert list(found) == [("report", str(ledger.report_id), "reported_kg")]
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_credit_batch_is_found(client: TestClient, cast: Cast, runtime: Runtime,
                                         ledger: Ledger):
    edit(runtime, ledger, ChainCreditBatch, ChainCreditBatch.batch_id == ledger.credit_batch_id, amount=5)
    found = differences(client, cast)
    assert found[("credit_batch", str(ledger.credit_batch_id), "amount")]["index"] == 5
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_order_is_found(client: TestClient, cast: Cast, runtime: Runtime, ledger: Ledger):
    edit(runtime, ledger, ChainOrder, ChainOrder.order_id == ledger.order_id, remaining=1)
    found = differences(client, cast)
    assert found[("order", str(ledger.order_id), "remaining")]["index"] == 1
    reads_answer_without_5xx(runtime, cast, ledger)


def test_an_edited_sealed_document_is_found(client: TestClient, cast: Cast, runtime: Runtime,
                                            ledger: Ledger):
    digest = bytes.fromhex(ledger.document_hash[2:])
    with runtime.sessions() as session:
        sealed = session.scalars(select(StoredDocument.ciphertext).where(
            StoredDocument.document_hash == digest, StoredDocument.kind == "report")).one()
    edit(runtime, ledger, StoredDocument, (StoredDocument.document_hash == digest) & (StoredDocument.kind == "report"),
         ciphertext=bytes([sealed[0] ^ 1]) + sealed[1:])
    found = differences(client, cast)
    key = f"{ENTERPRISE_A}/report/{ledger.document_hash}"
    assert found[("document", key, "content")]["chain"] == ledger.document_hash
    assert list(found) == [("document", key, "content")]
    reads_answer_without_5xx(runtime, cast, ledger)
    reply = client.get(f"{V1}/emissions/reports/{ledger.report_id}/documents/report",
                       headers=cast.auth("enterprise_a"))
    assert reply.status_code == 409 and reply.json()["error"] == "StoredDataInconsistent"


# ------------------------------------------------------------------ routine runs: since and sample


def test_since_and_a_seeded_sample_narrow_the_meter_check(client: TestClient, cast: Cast,
                                                          runtime: Runtime, ledger: Ledger):
    regulator = cast.auth("regulator")
    later = client.get(f"{AUDIT}/reconcile", headers=regulator, params={"since": ledger.window[1]}).json()
    assert later["checked"]["meter_window"] == 1 and later["meters"]["windows_anchored"] == 2
    assert later["meters"]["since"].startswith("2025-04-01T01:00:00")
    iso = client.get(f"{AUDIT}/reconcile", headers=regulator, params={"since": "2025-04-01T01:00:00"}).json()
    assert iso["checked"]["meter_window"] == 1
    edit(runtime, ledger, Reading, Reading.id == ledger.reading_id, value_mg=Reading.value_mg + 1)
    assert client.get(f"{AUDIT}/reconcile", headers=regulator, params={"since": ledger.window[1]}).json()["ok"]
    drawn = client.get(f"{AUDIT}/reconcile", headers=regulator, params={"sample": 1}).json()
    seed = drawn["meters"]["seed"]
    assert drawn["checked"]["meter_window"] == 1 and isinstance(seed, int)
    again = client.get(f"{AUDIT}/reconcile", headers=regulator, params={"sample": 1, "seed": seed}).json()
    assert again["ok"] == drawn["ok"] and again["meters"]["seed"] == seed
    assert not client.get(f"{AUDIT}/reconcile", headers=regulator, params={"sample": 2, "seed": 1}).json()["ok"]
    bad = client.get(f"{AUDIT}/reconcile", headers=regulator, params={"sample": 0})
    assert bad.status_code == 422

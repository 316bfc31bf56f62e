"""The outbox against the chain: every transaction the outbox lost, doubled or waits for in vain is found
and named; ordinary traffic shows no difference; reconcile (library, API, CLI) and /ready report it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from ledger_core.chain.outbox import Intent
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_core.db.models.types import utc_now
from ledger_service.audit.outbox_check import OutboxCheck, check_outbox
from ledger_service.audit.reconcile import reconcile
from ledger_service.runtime import Runtime
from tests.cli.test_business_commands import cli
from tests.service.cast import YEAR, Cast
from tests.service.conftest import _service, cast, client, runtime
from tests.service.helpers import V1, allocate, submit, transfer
from tests.service.test_transactions_api import relay, signed_call

__all__ = ["_service", "cast", "cli", "client", "runtime"]

T = OutboxTransaction


# ------------------------------------------------------------------ helpers


def check(runtime: Runtime, **options: Any) -> OutboxCheck:
    return check_outbox(runtime.sessions, runtime.chain, **options)


def named(differences: list[Any]) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {(d.key, d.field): (d.index, d.chain) for d in differences}


def past_the_grace(runtime: Runtime) -> Any:
    return utc_now() + timedelta(seconds=runtime.settings.receipt_timeout_seconds + 1)


def row_of(runtime: Runtime, tx_hash: str) -> OutboxTransaction:
    with runtime.sessions() as session:
        return session.scalars(select(T).where(T.tx_hash == tx_hash)).one()


def key(row: OutboxTransaction) -> str:
    return f"tx {row.id} ({row.signer}/{row.nonce})"


def approve(cast: Cast, name: str) -> Intent:
    """A harmless transaction any member may send: approve the trader as an operator of its allowances."""
    return Intent("AllowanceRegistry", "setApprovalForAll", (cast.addresses["trader"], True), cast.addresses[name])


def next_nonce(runtime: Runtime, cast: Cast, name: str) -> int:
    (count,) = runtime.chain.nonces([cast.addresses[name]], "pending")
    return count


def send_outside(runtime: Runtime, cast: Cast, name: str, nonce: int) -> str:
    """A transaction signed with a custodial key and sent straight to the chain, past the outbox."""
    raw = signed_call(runtime, cast.accounts[name], "AllowanceRegistry", "setApprovalForAll",
                      cast.addresses["verifier"], True, nonce=nonce)
    tx_hash = "0x" + keccak(hexstr=raw).hex()
    (sent,) = runtime.chain.send_raw([raw], [tx_hash])
    assert sent.accepted, sent.error
    return tx_hash


def in_flight_row(runtime: Runtime, cast: Cast, name: str, nonce: int, status: str = "signed") -> tuple[int, str]:
    """An outbox row signed (or sent) at `nonce` whose transaction the chain has not seen; its id and raw bytes."""
    trader = cast.addresses["trader"]
    raw = signed_call(runtime, cast.accounts[name], "AllowanceRegistry", "setApprovalForAll", trader, True,
                      nonce=nonce)
    calldata = runtime.encoder.encode("AllowanceRegistry", "setApprovalForAll", (trader, True))
    now = utc_now()
    with runtime.sessions.begin() as session:
        row_id = session.execute(insert(T).returning(T.id), [{
            "origin": "custodial", "requested_by": cast.addresses[name], "signer": cast.addresses[name],
            "contract": "AllowanceRegistry", "function": "setApprovalForAll", "args": [trader, True],
            "to_address": runtime.deployment.addresses["AllowanceRegistry"], "calldata": "0x" + calldata.hex(),
            "value": "0", "status": status, "nonce": nonce, "gas_limit": 500_000, "raw_tx": raw,
            "tx_hash": "0x" + keccak(hexstr=raw).hex(), "attempts": 0, "created_at": now, "updated_at": now,
        }]).scalar_one()
    return int(row_id), raw


def forget_since(runtime: Runtime, chain_snapshot: int) -> None:
    """The chain goes back to an earlier state, as a node restarted from an older state dump; the outbox
    keeps what it recorded."""
    assert runtime.chain.embedded is not None
    with runtime.chain.exclusive():
        runtime.chain.embedded.revert(chain_snapshot)
    runtime.chain.forget_receipts()


def chain_snapshot(runtime: Runtime) -> int:
    assert runtime.chain.embedded is not None
    with runtime.chain.exclusive():
        return runtime.chain.embedded.snapshot()


# ------------------------------------------------------------------ agreement


def test_ordinary_traffic_leaves_the_outbox_in_agreement_with_the_chain(client: TestClient, cast: Cast,
                                                                         runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 50, "enterprise_b": 50})
    for sender, receiver in (("enterprise_a", "trader"), ("enterprise_b", "enterprise_a"), ("trader", "enterprise_c")):
        assert transfer(client, cast, sender, receiver, 5).status_code == 200
    a = cast.addresses["enterprise_a"]
    (failed,) = runtime.outbox.submit([Intent("AllowanceRegistry", "safeTransferFrom",
                                              (a, cast.addresses["trader"], YEAR, 10**6, b""), a)])
    assert failed.status == "failed"  # mined with status 0: its failed receipt agrees with the row
    result = check(runtime)
    assert result.ok and result.differences == [] and result.pending == []
    with runtime.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(T).where(T.nonce.is_not(None)))
        signers = session.scalar(select(func.count(func.distinct(T.signer))).where(T.nonce.is_not(None)))
        first_of_regulator = session.scalar(select(func.min(T.nonce)).where(T.signer == cast.addresses["regulator"]))
    assert result.checked == {"transaction": rows, "receipt": rows, "signer": signers, "nonce": rows}
    # The regulator deployed the suite before the outbox existed: those nonces have no rows, and need none.
    assert first_of_regulator is not None and first_of_regulator > 0
    # Read in pages of any size, the outbox gives the same answer.
    paged = check(runtime, page=3)
    assert (paged.checked, paged.differences, paged.pending) == (result.checked, [], [])


# ------------------------------------------------------------------ lost: mined rows the chain does not hold


def test_a_mined_transaction_the_chain_forgot_is_named(client: TestClient, cast: Cast, runtime: Runtime):
    before = chain_snapshot(runtime)
    (tx_hash,) = submit(runtime, approve(cast, "enterprise_a"))
    forget_since(runtime, before)
    row = row_of(runtime, tx_hash)
    result = check(runtime, now=past_the_grace(runtime))
    # Recorded as mined; the chain has neither its receipt nor anything else at its nonce.
    assert named(result.differences) == {(key(row), "status"): ("mined", None)}
    assert not result.ok


def test_a_mined_row_pointing_at_a_transaction_never_sent_is_named(cast: Cast, runtime: Runtime):
    (tx_hash,) = submit(runtime, approve(cast, "enterprise_a"))
    never_sent = "0x" + keccak(text="never sent").hex()
    with runtime.sessions.begin() as session:
        session.execute(update(T).where(T.tx_hash == tx_hash).values(tx_hash=never_sent))
    row = row_of(runtime, never_sent)
    # Its nonce was used on chain by another transaction: as far as the chain knows, this one was dropped.
    assert named(check(runtime, now=past_the_grace(runtime)).differences) == {
        (key(row), "status"): ("mined", "dropped")}


def test_a_mined_row_must_match_its_receipts_status_and_block(cast: Cast, runtime: Runtime):
    mined, recorded_failed = submit(runtime, approve(cast, "enterprise_a"), approve(cast, "enterprise_b"))
    (receipt,) = runtime.chain.receipts([mined])
    assert receipt is not None
    other_block = "0x" + "ab" * 32
    with runtime.sessions.begin() as session:
        session.execute(update(T).where(T.tx_hash == mined).values(block_hash=other_block,
                                                                   block_number=receipt["blockNumber"] + 1))
        session.execute(update(T).where(T.tx_hash == recorded_failed).values(status="failed", receipt_status=0))
    row, failed = row_of(runtime, mined), row_of(runtime, recorded_failed)
    assert named(check(runtime, now=past_the_grace(runtime)).differences) == {
        (key(row), "block_hash"): (other_block, receipt["blockHash"]),
        (key(row), "block_number"): (receipt["blockNumber"] + 1, receipt["blockNumber"]),
        (key(failed), "status"): ("failed", "mined"),
    }


# ------------------------------------------------------------------ doubled: transactions of ours without their rows


def test_a_nonce_used_on_chain_without_its_outbox_row_is_named(cast: Cast, runtime: Runtime):
    submit(runtime, approve(cast, "enterprise_a"))
    nonce = next_nonce(runtime, cast, "enterprise_a")
    send_outside(runtime, cast, "enterprise_a", nonce)
    a = cast.addresses["enterprise_a"]
    result = check(runtime)
    assert named(result.differences) == {(f"{a}/{nonce}", "nonce_used"): (None, True)}
    # Sent past the outbox, three in a row are one range.
    for n in (nonce + 1, nonce + 2):
        send_outside(runtime, cast, "enterprise_a", n)
    assert named(check(runtime).differences) == {(f"{a}/{nonce}-{nonce + 2}", "nonce_used"): (None, True)}


def test_a_signers_nonces_before_its_first_outbox_row_are_not_the_outboxs(cast: Cast, runtime: Runtime):
    nonce = next_nonce(runtime, cast, "enterprise_b")
    send_outside(runtime, cast, "enterprise_b", nonce)  # before the outbox ever signed for it
    submit(runtime, approve(cast, "enterprise_b"))
    assert check(runtime).ok


def test_a_relayed_signer_may_use_nonces_outside_the_outbox(client: TestClient, cast: Cast, runtime: Runtime):
    me = cast.accounts["self_signer"]
    raw = signed_call(runtime, me, "AllowanceRegistry", "setApprovalForAll", cast.addresses["trader"], True)
    assert relay(client, cast, "self_signer", raw).json()["status"] == "mined"
    send_outside(runtime, cast, "self_signer", next_nonce(runtime, cast, "self_signer"))  # it keeps its own key
    assert check(runtime).ok


def test_a_dropped_row_whose_transaction_was_mined_after_all_is_named(cast: Cast, runtime: Runtime):
    (tx_hash,) = submit(runtime, approve(cast, "enterprise_a"))
    with runtime.sessions.begin() as session:
        session.execute(update(T).where(T.tx_hash == tx_hash).values(
            status="dropped", block_number=None, block_hash=None, receipt_status=None))
    row = row_of(runtime, tx_hash)
    # Its intent, queued again as a new row, would run twice; dropped is final, so no grace.
    assert named(check(runtime).differences) == {(key(row), "status"): ("dropped", "mined")}


# ------------------------------------------------------------------ waiting in vain: dead rows and gaps


def test_a_signed_row_whose_nonce_another_transaction_took_is_dead(cast: Cast, runtime: Runtime):
    nonce = next_nonce(runtime, cast, "enterprise_a")
    row_id, _ = in_flight_row(runtime, cast, "enterprise_a", nonce)
    send_outside(runtime, cast, "enterprise_a", nonce)
    a = cast.addresses["enterprise_a"]
    expected = {(f"tx {row_id} ({a}/{nonce})", "status"): ("signed", "dropped")}
    recent = check(runtime)
    # Written just now: the outbox may not have seen it yet, so it is settling, not a difference.
    assert recent.ok and named(recent.pending) == expected
    assert named(check(runtime, now=past_the_grace(runtime)).differences) == expected


def test_a_sent_transaction_mined_but_not_collected_is_pending_then_a_difference(cast: Cast, runtime: Runtime):
    nonce = next_nonce(runtime, cast, "enterprise_a")
    row_id, raw = in_flight_row(runtime, cast, "enterprise_a", nonce, status="sent")
    tx_hash = "0x" + keccak(hexstr=raw).hex()
    runtime.chain.send_raw([raw], [tx_hash])
    a = cast.addresses["enterprise_a"]
    expected = {(f"tx {row_id} ({a}/{nonce})", "status"): ("sent", "mined")}
    assert named(check(runtime).pending) == expected
    assert named(check(runtime, now=past_the_grace(runtime)).differences) == expected


def test_a_nonce_gap_that_stalls_a_signer_is_named(cast: Cast, runtime: Runtime):
    nonce = next_nonce(runtime, cast, "enterprise_a")
    in_flight_row(runtime, cast, "enterprise_a", nonce + 1)  # nonce itself is held by no row
    a = cast.addresses["enterprise_a"]
    result = check(runtime)
    assert named(result.differences) == {(a, "next_nonce"): (nonce + 1, nonce)}
    assert result.pending == []


def test_signed_rows_waiting_in_order_are_no_gap(cast: Cast, runtime: Runtime):
    nonce = next_nonce(runtime, cast, "enterprise_a")
    in_flight_row(runtime, cast, "enterprise_a", nonce)
    in_flight_row(runtime, cast, "enterprise_a", nonce + 1)
    assert check(runtime).ok


# ------------------------------------------------------------------ reconcile, its API and its command


def test_reconcile_reports_the_outbox_beside_the_index(cast: Cast, runtime: Runtime):
    runtime.indexing.index_up_to_date()
    report = reconcile(runtime.engine, runtime.suite, chain=runtime.chain)
    assert report.ok and report.outbox is not None and report.outbox.checked["transaction"] > 0
    assert reconcile(runtime.engine, runtime.suite).outbox is None  # without the chain client: the index only
    nonce = next_nonce(runtime, cast, "enterprise_a")
    in_flight_row(runtime, cast, "enterprise_a", nonce + 1)
    report = reconcile(runtime.engine, runtime.suite, chain=runtime.chain)
    assert report.differences == [] and report.outbox is not None and not report.outbox.ok and not report.ok


def test_the_reconcile_endpoint_has_an_outbox_section(client: TestClient, cast: Cast, runtime: Runtime):
    body = client.get(f"{V1}/audit/reconcile", headers=cast.auth("regulator")).json()
    assert body["ok"] and body["outbox"]["ok"] and body["outbox"]["differences"] == []
    assert set(body["outbox"]["checked"]) == {"transaction", "receipt", "signer", "nonce"}
    nonce = next_nonce(runtime, cast, "enterprise_a")
    in_flight_row(runtime, cast, "enterprise_a", nonce + 1)
    body = client.get(f"{V1}/audit/reconcile", headers=cast.auth("regulator")).json()
    assert not body["ok"] and body["differences"] == [] and not body["outbox"]["ok"]
    assert body["outbox"]["differences"] == [{"kind": "outbox", "key": cast.addresses["enterprise_a"],
                                              "field": "next_nonce", "index": nonce + 1, "chain": nonce}]


def test_carbonledger_reconcile_exits_3_when_the_outbox_disagrees(cli: Any, cast: Cast, runtime: Runtime):
    out = cli.ok("regulator", "reconcile")
    assert "the index agrees with the chain" in out and "the outbox agrees with the chain" in out
    submit(runtime, approve(cast, "enterprise_a"))
    nonce = next_nonce(runtime, cast, "enterprise_a")
    send_outside(runtime, cast, "enterprise_a", nonce)
    result = cli("regulator", "reconcile")
    assert result.exit_code == 3
    assert "the index agrees with the chain" in result.stdout and "1 outbox differences" in result.stdout
    assert f"{cast.addresses['enterprise_a']}/{nonce}" in result.stdout and "nonce_used" in result.stdout
    body = json.loads(cli("regulator", "reconcile", "--json").stdout)
    assert not body["ok"] and [d["field"] for d in body["outbox"]["differences"]] == ["nonce_used"]


# ------------------------------------------------------------------ /ready


def test_ready_reports_the_outbox_moving(client: TestClient, runtime: Runtime):
    runtime.indexing.index_up_to_date()
    ready = client.get("/ready")
    assert ready.status_code == 200
    outbox = ready.json()["dependencies"]["outbox"]
    assert outbox == {"ok": True, "oldest_pending_seconds": None,
                      "max_pending_seconds": runtime.settings.receipt_timeout_seconds, "stalled_signers": [],
                      "error": None}


def test_ready_fails_on_a_signer_stalled_by_a_nonce_gap(client: TestClient, cast: Cast, runtime: Runtime):
    runtime.indexing.index_up_to_date()
    nonce = next_nonce(runtime, cast, "enterprise_a")
    in_flight_row(runtime, cast, "enterprise_a", nonce + 1)
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    dependencies = ready.json()["dependencies"]
    assert dependencies["chain"]["ok"] and dependencies["database"]["ok"] and dependencies["index"]["ok"]
    assert not dependencies["outbox"]["ok"]
    assert dependencies["outbox"]["stalled_signers"] == [
        {"signer": cast.addresses["enterprise_a"], "nonce": nonce + 1, "chain_nonce": nonce}]
    in_flight_row(runtime, cast, "enterprise_a", nonce)  # the gap is filled: the signer moves again
    assert client.get("/ready").status_code == 200


def test_ready_fails_when_a_transaction_waits_longer_than_the_receipt_timeout(client: TestClient, cast: Cast,
                                                                              runtime: Runtime):
    runtime.indexing.index_up_to_date()
    row_id, _ = in_flight_row(runtime, cast, "enterprise_a", next_nonce(runtime, cast, "enterprise_a"), "sent")
    assert client.get("/ready").status_code == 200  # waiting, but not for long
    waited = runtime.settings.receipt_timeout_seconds + 30
    with runtime.sessions.begin() as session:
        session.execute(update(T).where(T.id == row_id).values(created_at=utc_now() - timedelta(seconds=waited)))
    ready = client.get("/ready")
    assert ready.status_code == 503
    outbox = ready.json()["dependencies"]["outbox"]
    assert not outbox["ok"] and outbox["stalled_signers"] == []
    assert waited <= outbox["oldest_pending_seconds"] < waited + 30

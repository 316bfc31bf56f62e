"""The tests' snapshots take back everything a test wrote that follows the chain: the chain, the outbox and the
requests' idempotency keys, so that the next test's request with the same key and body is sent, not answered
from a stored reply whose transactions the chain no longer has."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ledger_service.identity.idempotency import REPLAYED_HEADER
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import V1, allocate, balance
from tests.support import snapshots


def test_a_request_keyed_after_a_snapshot_is_sent_again_once_the_runtime_went_back_to_it(
        client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 10})
    taken = snapshots.snapshot(runtime)
    keyed = {**cast.auth("enterprise_a"), "Idempotency-Key": "same-request"}
    body = {"to": cast.addresses["trader"], "year": YEAR, "amount": 4}
    first = client.post(f"{V1}/allowances/transfers", headers=keyed, json=body)
    assert first.status_code == 200 and balance(client, cast, "trader") == 4

    snapshots.revert(runtime, taken)
    assert balance(client, cast, "trader") == 0
    again = client.post(f"{V1}/allowances/transfers", headers=keyed, json=body)

    assert again.status_code == 200 and balance(client, cast, "trader") == 4
    assert again.json()["tx_hash"] == first.json()["tx_hash"]  # the same signed transaction, mined again
    assert REPLAYED_HEADER not in again.headers

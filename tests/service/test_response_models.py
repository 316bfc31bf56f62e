"""The transaction answer is one model built from either source: the send path's record answers what the send path
knows, the outbox row also its origin, arguments and times; a chain error is decoded into words."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger_core.chain.outbox import TxRecord
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.api.schemas import TxOut

SIGNER = "0x" + "11" * 20
WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _record() -> TxRecord:
    return TxRecord(id=7, signer=SIGNER, contract="AllowanceRegistry", function="transfer", to=SIGNER, calldata=b"",
                    value=0, status="rejected", nonce=None, error_name="AccountFrozen",
                    error_args={"account": SIGNER}, origin="custodial", updated_at=WHEN)


def _row() -> OutboxTransaction:
    return OutboxTransaction(id=7, origin="custodial", signer=SIGNER, contract="AllowanceRegistry",
                             function="transfer", args=[SIGNER, "5"], to_address=SIGNER, calldata="0x", value="0",
                             status="mined", nonce=3, tx_hash="0x" + "ab" * 32, block_number=12, final=True,
                             gas_used=51_000, error_name=None, error_args=None, last_error=None, replaces_id=None,
                             created_at=WHEN, updated_at=WHEN)


def test_a_record_answers_what_the_send_path_knows_with_its_error_decoded():
    body = TxOut.model_validate(_record()).model_dump(mode="json")
    assert (body["id"], body["status"], body["signer"], body["final"]) == (7, "rejected", SIGNER, False)
    assert body["error"]["name"] == "AccountFrozen" and body["error"]["args"] == {"account": SIGNER}
    assert body["error"]["message"]
    assert (body["origin"], body["args"], body["created_at"], body["updated_at"]) == (None, None, None, None)


def test_an_outbox_row_also_answers_its_origin_arguments_and_times():
    body = TxOut.model_validate(_row()).model_dump(mode="json")
    assert (body["status"], body["nonce"], body["block_number"], body["gas_used"], body["final"]) == (
        "mined", 3, 12, 51_000, True)
    assert body["error"] is None
    assert (body["origin"], body["args"]) == ("custodial", [SIGNER, "5"])
    assert body["created_at"] is not None and body["updated_at"] is not None

"""Notary, transaction and settlement use cases called directly."""

from __future__ import annotations

import pytest

from ledger_service.runtime import Runtime
from ledger_service.services.errors import TransactionRefused
from tests.service.acting import acting, refused, services
from tests.service.cast import Cast
from tests.service.credit_steps import admit_bank


def test_a_member_notarizes_a_document_once_and_anyone_finds_it(runtime: Runtime, cast: Cast):
    notary = services(runtime).notary
    done = notary.notarize(acting(runtime, cast, "trader"), b"minutes of the board", "MINUTES")
    assert done.record.status == "mined" and done.notarization.notary == cast.addresses["trader"]
    assert notary.verify(b"minutes of the board") == done.notarization
    refused(404, "NotNotarized", notary.verify, b"minutes of another board")


def test_a_transaction_is_followed_by_whoever_asked_for_it(runtime: Runtime, cast: Cast):
    transactions = services(runtime).transactions
    done = services(runtime).notary.notarize(acting(runtime, cast, "trader"), b"a trader's note")
    followed = transactions.transaction(acting(runtime, cast, "trader"), done.record.id)
    assert followed.row.status == "mined" and followed.confirmations is not None and followed.confirmations >= 1
    assert transactions.transactions(acting(runtime, cast, "trader"), 0, 10).items[0].id == done.record.id
    refused(403, "NotYourData", transactions.transaction, acting(runtime, cast, "enterprise_a"), done.record.id)
    assert transactions.transaction(acting(runtime, cast, "regulator"), done.record.id).row.id == done.record.id
    refused(422, "MalformedTransaction", transactions.relay, acting(runtime, cast, "self_signer"), b"\x01\x02")
    refused(404, "UnknownContract", transactions.abi, "Nothing")


def test_a_bank_mints_and_balances_are_not_for_everyone(runtime: Runtime, cast: Cast):
    admit_bank(runtime, cast)
    settlement = services(runtime).settlement
    minted = settlement.mint(acting(runtime, cast, "bank"), cast.addresses["trader"], 12_345)
    assert minted.status == "mined"
    seen = settlement.balance(acting(runtime, cast, "regulator"), cast.addresses["trader"])
    assert (seen.units, seen.balance) == (12_345, "123.45")
    refused(403, "NotYourData", settlement.balance, acting(runtime, cast, "enterprise_a"), cast.addresses["trader"])
    with pytest.raises(TransactionRefused):  # the chain: only a settlement bank mints
        settlement.mint(acting(runtime, cast, "trader"), cast.addresses["trader"], 1)

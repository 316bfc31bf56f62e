"""On a network that charges gas, a treasury account tops up the keys the service keeps, through the outbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from ledger_core.chain.outbox import GAS_TOP_UP, GasTreasury, Intent
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.membership import ROLE_IDS
from ledger_service.runtime import Runtime, gas_treasury
from tests.service.cast import ENTERPRISE_A

THRESHOLD, TARGET = 10**16, 10**17


def treasury_for(runtime: Runtime, tmp_path: Path, funded: bool) -> GasTreasury:
    """A treasury configured as an operator would (a key file, mode 0600), funded by its operator or not."""
    key_file = tmp_path / "treasury.key"
    key_file.write_text(Account.create().key.hex())
    os.chmod(key_file, 0o600)
    settings = runtime.settings.model_copy(update={"treasury_key_file": key_file, "gas_topup_threshold_wei": THRESHOLD,
                                                   "gas_topup_target_wei": TARGET})
    treasury = gas_treasury(settings)
    assert treasury is not None
    if funded:
        assert runtime.chain.embedded is not None
        runtime.chain.embedded.fund([treasury.account.address])
    return treasury


def unfunded_member(runtime: Runtime) -> str:
    """A key the service keeps, admitted by the regulator the way the API does it, with no ether at all."""
    address = runtime.keystore.create(label="never funded").address
    regulator = runtime.bootstrap_regulator
    assert regulator is not None
    admit = Intent("Membership", "admit", (address, ENTERPRISE_A, [ROLE_IDS["ENTERPRISE"]]), regulator,
                   requested_by=regulator)
    (admitted,) = runtime.outbox.submit([admit])
    assert admitted.status == "mined" and runtime.chain.balance(address) == 0
    return address


def notarize(runtime: Runtime, signer: str, seed: int):
    (record,) = runtime.outbox.submit([Intent("Notary", "notarize", (bytes([seed]) * 32, b"\x00" * 32, b"\x00" * 32),
                                              signer, requested_by=signer)])
    return record


def top_ups(runtime: Runtime) -> list[OutboxTransaction]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.contract == GAS_TOP_UP)))


def test_a_kept_key_without_gas_money_is_topped_up_by_the_treasury_and_its_transaction_mined(
        runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.outbox, "treasury", treasury_for(runtime, tmp_path, funded=True))
    broke = unfunded_member(runtime)
    record = notarize(runtime, broke, 1)
    assert record.status == "mined", (record.error_name, record.error_args)
    (top_up,) = top_ups(runtime)
    treasury = runtime.outbox.treasury
    assert treasury is not None
    assert (top_up.to_address, top_up.status, top_up.signer) == (broke, "mined", treasury.account.address)
    assert int(top_up.value) == TARGET  # from nothing to the target: far more than one notarization needs
    assert THRESHOLD < runtime.chain.balance(broke) < TARGET


def test_a_key_that_holds_enough_is_not_topped_up_again(runtime: Runtime, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.outbox, "treasury", treasury_for(runtime, tmp_path, funded=True))
    broke = unfunded_member(runtime)
    for seed in (1, 2, 3):
        assert notarize(runtime, broke, seed).status == "mined"
    assert len(top_ups(runtime)) == 1


def test_a_treasury_that_cannot_pay_leaves_the_send_refused_with_the_reason(runtime: Runtime, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.outbox, "treasury", treasury_for(runtime, tmp_path, funded=False))
    broke = unfunded_member(runtime)
    record = notarize(runtime, broke, 1)
    assert (record.status, record.error_name, record.nonce) == ("rejected", "InsufficientGasFunds", None)
    (top_up,) = top_ups(runtime)
    assert (top_up.status, top_up.error_name) == ("rejected", "InsufficientGasFunds")


def test_without_a_treasury_key_file_there_is_no_treasury(runtime: Runtime):
    assert runtime.settings.treasury_key_file is None and gas_treasury(runtime.settings) is None

"""Logs never carry keys, secrets, raw signed transactions or document contents: a whole flow through the HTTP
API (start-up, members admitted with keys kept by the service, API keys issued, allowances allocated and
transferred, a report document uploaded and downloaded, a self-signed transaction relayed) with every logger at
DEBUG, and the captured log searched for each of them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.security.conftest import embedded_settings
from tests.service.cast import ENTERPRISE_A, TRADERS, YEAR, account_of
from tests.service.test_transactions_api import signed_call

V1 = "/api/v1"
DOCUMENT = b"CONFIDENTIAL-REPORT-CONTENT Riverside Steel 2025: 12,345 kgCO2e\n"


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Root and every logger that exists (libraries' own levels included, such as SQLAlchemy's) at DEBUG."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    before = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    caplog.set_level(logging.DEBUG)
    yield caplog
    for logger, level, disabled in before:
        logger.setLevel(level)
        logger.disabled = disabled


def forms(value: bytes) -> list[str]:
    """How bytes could show in a log line: hex (any case, with or without 0x) and Python's repr."""
    return [value.hex(), value.hex().upper(), repr(value)[2:-1]]


def test_logs_carry_no_key_secret_api_key_private_key_raw_transaction_or_document(
        tmp_path: Path, artifacts, clean_env, every_logger_at_debug: pytest.LogCaptureFixture):
    runtime = Runtime.start(embedded_settings(tmp_path), artifacts=artifacts)
    try:
        assert runtime.bootstrap_api_key is not None and runtime.chain.embedded is not None
        client = TestClient(create_app(runtime))
        regulator = {"Authorization": f"Bearer {runtime.bootstrap_api_key.token}"}

        def post(path: str, headers: dict[str, str], **kwargs) -> dict:
            reply = client.post(f"{V1}{path}", headers=headers, **kwargs)
            assert reply.status_code in (200, 201), reply.text
            return reply.json()

        for org_id, kind, name in ((ENTERPRISE_A, "enterprise", "Riverside Steel"),
                                   (TRADERS, "trading_firm", "Harbour Carbon Trading")):
            post("/organisations", regulator, json={"org_id": org_id, "parent_id": 0, "kind": kind, "name": name})
        tokens = [runtime.bootstrap_api_key.token]
        custodial: dict[str, str] = {}
        for name, org_id, role in (("enterprise", ENTERPRISE_A, "ENTERPRISE"), ("trader", TRADERS, "TRADER")):
            address = post("/members", regulator, json={"org_id": org_id, "roles": [role], "custodial": True})[
                "member"]["address"]
            custodial[name] = address
            tokens.append(post("/api-keys", regulator, json={"member": address, "label": name})["token"])
        signer = account_of("log-test-self-signer")
        runtime.chain.embedded.fund([signer.address])
        post("/members", regulator, json={"org_id": TRADERS, "roles": ["TRADER"], "address": signer.address})
        tokens.append(post("/api-keys", regulator, json={"member": signer.address})["token"])
        enterprise, trader, self_signer = ({"Authorization": f"Bearer {t}"} for t in tokens[1:])
        rotated = client.post(f"{V1}/api-keys/{tokens[2].split('_')[1]}/rotate", headers=regulator)
        assert rotated.status_code == 201, rotated.text
        tokens.append(rotated.json()["token"])
        trader = {"Authorization": f"Bearer {tokens[-1]}"}

        post("/allowances/allocations", regulator, json={
            "year": YEAR, "allocations": [{"holder": custodial["enterprise"], "amount": 500}]})
        post("/allowances/transfers", enterprise, json={"to": custodial["trader"], "year": YEAR, "amount": 50})
        post("/allowances/transfers", enterprise, json={"to": signer.address, "year": YEAR, "amount": 100})
        post("/allowances/transfers", trader, json={"to": custodial["enterprise"], "year": YEAR, "amount": 5})
        report = post("/emissions/reports", enterprise, files={"document": ("r.pdf", DOCUMENT)}, data={
            "year": YEAR, "reported_kg_co2e": 12_345, "anchors_root": "0x" + "ab" * 32,
            "anchored_mg": 12_345_000_000, "reading_count": 7})
        report_id = report["report"]["report_id"]
        downloaded = client.get(f"{V1}/emissions/reports/{report_id}/documents/report", headers=enterprise)
        assert downloaded.content == DOCUMENT
        raw = signed_call(runtime, signer, "AllowanceRegistry", "safeTransferFrom", signer.address,
                          custodial["trader"], YEAR, 40, b"")
        assert post("/transactions/relay", self_signer, json={"raw_tx": raw})["status"] == "mined"
        runtime.indexing.sync()
        private_keys = [bytes(runtime.keystore.account(a).key)
                        for a in (str(runtime.bootstrap_regulator), *custodial.values())]
        with runtime.sessions() as session:
            signed_raw = [bytes.fromhex(r.removeprefix("0x")) for r in session.scalars(select(OutboxTransaction.raw_tx))
                          if r]
        assert bytes.fromhex(raw[2:]) in signed_raw
    finally:
        runtime.close()

    log = "\n".join(f"{r.name} {r.levelname} {r.getMessage()}" for r in every_logger_at_debug.records)
    assert len(every_logger_at_debug.records) > 100, "every logger at DEBUG: the flow was logged"
    secret = (tmp_path / "key-secret").read_text().strip()
    found = {"the key secret": secret in log}
    for token in tokens:
        found[f"API key {token[:12]}..."] = token in log or token.split("_", 2)[2] in log
    for key in private_keys:
        found[f"private key of {key.hex()[:6]}..."] = any(form in log for form in forms(key))
    for tx in signed_raw:
        found[f"raw transaction {tx.hex()[:10]}..."] = any(form in log for form in forms(tx[-40:]))
    found["document content"] = b"CONFIDENTIAL-REPORT-CONTENT".decode() in log or DOCUMENT.hex() in log
    assert [what for what, leaked in found.items() if leaked] == []

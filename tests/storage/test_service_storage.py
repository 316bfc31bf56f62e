"""The service's tables on SQLite and PostgreSQL: migrations to every head, sealed keys, API keys, and the
outbox finishing a crashed send exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eth_account import Account
from sqlalchemy import inspect, select

from ledger_core.chain.compiler import Artifact
from ledger_core.chain.outbox import Intent, Outbox
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models.identity import CustodialKey
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_core.db.session import make_engine, session_factory
from ledger_service.identity.api_keys import ApiKeyInvalid, ApiKeys
from ledger_service.identity.keystore import KeyStore, KeyUnsealError
from ledger_service.runtime import Runtime
from tests.service.conftest import service_settings


def test_migrations_create_the_service_tables_beside_the_meter_data(database_url: str):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"outbox_transactions", "custodial_keys", "api_keys", "request_nonces", "readings"} <= tables
    engine.dispose()


def test_a_custodial_key_is_sealed_at_rest_and_opens_only_with_the_secret(database_url: str):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    account = Account.create()
    KeyStore(sessions, "the secret").store(account)
    with sessions() as session:
        row = session.get(CustodialKey, account.address)
        assert row is not None and bytes(account.key) not in row.ciphertext
    assert KeyStore(sessions, "the secret").account(account.address).address == account.address
    with pytest.raises(KeyUnsealError):
        KeyStore(sessions, "another secret").account(account.address)
    engine.dispose()


def test_api_keys_expire_and_are_revoked(database_url: str):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    keys = ApiKeys(session_factory(engine))
    live = keys.issue("0x" + "11" * 20, timedelta(hours=1))
    assert keys.authenticate(live.token).member == "0x" + "11" * 20
    keys.revoke(live.key_id)
    with pytest.raises(ApiKeyInvalid, match="revoked"):
        keys.authenticate(live.token)
    with pytest.raises(ApiKeyInvalid, match="expired"):
        keys.authenticate(keys.issue("0x" + "11" * 20, timedelta(seconds=-5)).token)
    engine.dispose()


def test_on_a_shared_database_a_key_revoked_by_another_process_is_refused_at_its_next_use(database_url: str):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    here = ApiKeys(session_factory(engine), shared=True)
    other = make_engine(database_url)
    elsewhere = ApiKeys(session_factory(other), shared=True)  # another process: its own connections
    live = here.issue("0x" + "11" * 20, timedelta(hours=1))
    assert here.authenticate(live.token).key_id == live.key_id  # remembered as valid
    elsewhere.revoke(live.key_id)
    with pytest.raises(ApiKeyInvalid, match="revoked"):
        here.authenticate(live.token)
    engine.dispose()
    other.dispose()


class Crash(BaseException):
    pass


def test_the_outbox_finishes_a_crashed_batch_exactly_once(database_url: str, artifacts: dict[str, Artifact],
                                                          tmp_path):
    runtime = Runtime.start(service_settings(tmp_path, database_url=database_url), artifacts=artifacts)
    try:
        regulator = runtime.bootstrap_regulator
        assert regulator is not None
        first = runtime.chain.pending_nonce(regulator)
        intents = [Intent("Membership", "registerOrganisation", (100 + i, 0, 1, f"Park {i}"), regulator)
                   for i in range(4)]

        def crash(stage: str) -> None:
            if stage == "broadcast":
                raise Crash

        runtime.outbox.faults = crash
        with pytest.raises(Crash):
            runtime.outbox.submit(intents)
        restarted = Outbox(runtime.chain, runtime.sessions, runtime.encoder, runtime.deployment.addresses,
                           runtime.decoder, runtime.keystore.account)
        restarted.recover()
        with runtime.sessions() as session:
            rows = list(session.scalars(select(OutboxTransaction).where(OutboxTransaction.nonce >= first)
                                        .order_by(OutboxTransaction.nonce)))
        assert [(r.status, r.nonce) for r in rows] == [("mined", first + i) for i in range(4)]
        assert runtime.chain.pending_nonce(regulator) == first + 4
        assert all(runtime.directory.organisation(100 + i) is not None for i in range(4))
    finally:
        runtime.close()

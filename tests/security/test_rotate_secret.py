"""`carbonledger admin rotate-secret`: every custodial key and document re-sealed under a new secret in one
database transaction, all or nothing, and the new secret written where the service reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from ledger_core.chain.compiler import Artifact
from ledger_core.config import Settings, get_settings
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.session import make_engine
from ledger_core.key_secret import LEGACY_DEFAULT, KeySecretError
from ledger_service.cli import app
from ledger_service.documents import DocumentKind, DocumentUnsealError, DocumentVault
from ledger_service.identity.keystore import KeyStore, KeyUnsealError
from ledger_service.identity.rotation import reseal_everything
from ledger_service.runtime import Runtime
from tests.security.conftest import embedded_settings, opened, secret_file

runner = CliRunner()
DOCUMENTS = [b"report of Riverside Steel, 2025\n", b"verification statement, 2025\n", b"rejection reason\n"]


def sealed_database(settings: Settings, artifacts: dict[str, Artifact]) -> tuple[list[str], list[bytes]]:
    """A service's database with custodial keys (the bootstrap regulator's and two members') and three documents;
    the service stopped. Their addresses and document hashes."""
    runtime = Runtime.start(settings, artifacts=artifacts)
    try:
        assert runtime.bootstrap_regulator is not None
        addresses = [runtime.bootstrap_regulator, runtime.keystore.create().address, runtime.keystore.create().address]
        digests = [runtime.documents.store(content, 11, DocumentKind.REPORT, addresses[0]) for content in DOCUMENTS]
        return addresses, digests
    finally:
        runtime.close()


def opens_everything(url: str, secret: str, addresses: list[str], digests: list[bytes]) -> bool:
    """Whether `secret` opens every key and document (False if it opens none; a mixture fails the test)."""
    opened_any = opened_all = False
    with opened(url) as sessions:
        keys, vault = KeyStore(sessions, secret), DocumentVault(sessions, secret)
        results: list[bool] = []
        for address in addresses:
            try:
                results.append(keys.account(address).address == address)
            except KeyUnsealError:
                results.append(False)
        for digest, content in zip(digests, DOCUMENTS, strict=True):
            try:
                document = vault.open(digest, 11, DocumentKind.REPORT)
                results.append(document is not None and document.content == content)
            except DocumentUnsealError:
                results.append(False)
    opened_any, opened_all = any(results), all(results)
    assert opened_any == opened_all, f"some rows open with this secret and some do not: {results}"
    return opened_all


def rotate(env: dict[str, str], new_secret: Path, *extra: str):
    get_settings.cache_clear()  # each invocation reads its environment, as a new process would
    return runner.invoke(app, ["admin", "rotate-secret", "--new-secret-file", str(new_secret), *extra], env=env)


def test_rotation_reseals_every_key_and_document_and_writes_the_new_secret_where_the_service_reads_it(
        tmp_path: Path, artifacts, clean_env):
    data = tmp_path / "data"
    settings = embedded_settings(data)
    addresses, digests = sealed_database(settings, artifacts)
    old = (data / "key-secret").read_text().strip()
    new = secret_file(tmp_path / "new-secret")

    result = rotate({"CARBONLEDGER_DATA_DIR": str(data), "CARBONLEDGER_DATABASE_URL": settings.database_url or ""},
                    new)
    assert result.exit_code == 0, result.output
    assert f"re-sealed 3 custodial keys and 3 documents under the new secret; the new secret: written to " \
           f"{data / 'key-secret'}" in result.output
    assert (data / "key-secret").read_text() == new.read_text()
    assert (data / "key-secret").stat().st_mode & 0o077 == 0
    url = settings.resolved_database_url()
    assert opens_everything(url, new.read_text().strip(), addresses, digests)
    assert not opens_everything(url, old, addresses, digests)
    Runtime.start(settings, artifacts=artifacts).close()  # the service starts on it with the secret it reads


def test_a_failure_midway_leaves_everything_readable_under_the_old_secret(tmp_path: Path, artifacts, clean_env,
                                                                          monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    settings = embedded_settings(data)
    addresses, digests = sealed_database(settings, artifacts)
    old = (data / "key-secret").read_text().strip()
    new = secret_file(tmp_path / "new-secret")
    sealed = DocumentVault._seal
    calls = []

    def fails_at_the_second_document(self: DocumentVault, *args):  # every key and one document re-sealed by then
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return sealed(self, *args)

    monkeypatch.setattr(DocumentVault, "_seal", fails_at_the_second_document)
    result = rotate({"CARBONLEDGER_DATA_DIR": str(data), "CARBONLEDGER_DATABASE_URL": settings.database_url or ""},
                    new)
    assert result.exit_code != 0 and isinstance(result.exception, OSError)
    assert len(calls) == 2
    monkeypatch.setattr(DocumentVault, "_seal", sealed)

    url = settings.resolved_database_url()
    assert opens_everything(url, old, addresses, digests)
    assert not opens_everything(url, new.read_text().strip(), addresses, digests)
    assert (data / "key-secret").read_text().strip() == old  # the service still reads the secret that opens it


def test_a_database_sealed_under_the_old_default_is_moved_to_a_secret_of_its_own(tmp_path: Path, clean_env):
    """A database from before this change, sealed under the development constant: the service refuses it, and
    rotation (given the constant as the current secret) moves it off; the user is told what to set."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    regulator = Account.create()
    with opened(url) as sessions:
        KeyStore(sessions, LEGACY_DEFAULT).store(regulator)
        digest = DocumentVault(sessions, LEGACY_DEFAULT).store(DOCUMENTS[0], 11, DocumentKind.REPORT,
                                                               regulator.address)
    node = {"CARBONLEDGER_CHAIN": "http://127.0.0.1:9", "CARBONLEDGER_DATABASE_URL": url}
    with pytest.raises(KeySecretError, match="development default"):
        Runtime.start(Settings(**{"chain": node["CARBONLEDGER_CHAIN"], "database_url": url,  # type: ignore[arg-type]
                                  "key_secret": LEGACY_DEFAULT}))

    new = secret_file(tmp_path / "new-secret")
    result = rotate({**node, "CARBONLEDGER_KEY_SECRET": LEGACY_DEFAULT}, new)
    assert result.exit_code == 0, result.output
    assert f"set CARBONLEDGER_KEY_SECRET_FILE={new} (and unset CARBONLEDGER_KEY_SECRET)" in result.output
    with opened(url) as sessions:
        assert KeyStore(sessions, new.read_text().strip()).account(regulator.address).key == regulator.key
        with pytest.raises(KeyUnsealError):
            KeyStore(sessions, LEGACY_DEFAULT).account(regulator.address)
        with pytest.raises(DocumentUnsealError):
            DocumentVault(sessions, LEGACY_DEFAULT).open(digest, 11, DocumentKind.REPORT)


def test_rotation_is_refused_while_the_service_serves_the_database_and_with_a_wrong_current_secret(
        tmp_path: Path, artifacts, clean_env):
    data = tmp_path / "data"
    settings = embedded_settings(data)
    env = {"CARBONLEDGER_DATA_DIR": str(data), "CARBONLEDGER_DATABASE_URL": settings.database_url or ""}
    new = secret_file(tmp_path / "new-secret")
    runtime = Runtime.start(settings, artifacts=artifacts)
    try:
        busy = rotate(env, new)
    finally:
        runtime.close()
    assert busy.exit_code == 1 and "serves one process only" in busy.output and "hint: stop the service" in busy.output

    wrong = rotate({**env, "CARBONLEDGER_KEY_SECRET": "a-secret-that-never-sealed-anything"}, new)
    assert wrong.exit_code == 1 and "does not open the custodial keys" in wrong.output

    same = rotate({**env, "CARBONLEDGER_KEY_SECRET_FILE": str(new)}, new)
    assert same.exit_code == 1 and "the new secret is the current one" in same.output


def test_reseal_everything_is_one_transaction(tmp_path: Path, clean_env):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    accounts = sorted((Account.create() for _ in range(3)), key=lambda a: a.address)  # re-sealed in this order
    with opened(url) as sessions:
        for account in accounts[:2]:
            KeyStore(sessions, "the-old-secret-0123456789").store(account)
        KeyStore(sessions, "a-stray-secret-0123456789").store(accounts[2])  # fails after two were re-sealed
        with pytest.raises(KeyUnsealError):
            reseal_everything(sessions, "the-old-secret-0123456789", "the-new-secret-0123456789")
        for account in accounts:
            with pytest.raises(KeyUnsealError):
                KeyStore(sessions, "the-new-secret-0123456789").account(account.address)
        assert [KeyStore(sessions, "the-old-secret-0123456789").account(a.address).address for a in accounts[:2]] \
            == [a.address for a in accounts[:2]]

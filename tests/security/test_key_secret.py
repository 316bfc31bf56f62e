"""Secrets are secret: no default secret anywhere; on a node the service needs one of its own, on the embedded
chain one is generated into the data directory; what the service keeps is readable by its owner only."""

from __future__ import annotations

import logging
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger_core.chain.compiler import Artifact
from ledger_core.config import Settings
from ledger_core.key_secret import LEGACY_DEFAULT, KeySecretError, generated_secret, resolve_key_secret
from ledger_service.cli import app
from ledger_service.documents import DocumentKind, DocumentUnsealError, DocumentVault
from ledger_service.identity.keystore import KeyStore, KeyUnsealError
from ledger_service.runtime import Runtime
from tests.security.conftest import embedded_settings, opened, secret_file

runner = CliRunner()
REPORT = b"Riverside Steel: annual emission report 2025 (confidential)\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def started_with_a_document(settings: Settings, artifacts: dict[str, Artifact]) -> tuple[str, bytes]:
    """Start a runtime, seal a document in it and stop: the bootstrap regulator's address and the document hash."""
    runtime = Runtime.start(settings, artifacts=artifacts)
    try:
        assert runtime.bootstrap_regulator is not None
        digest = runtime.documents.store(REPORT, 11, DocumentKind.REPORT, runtime.bootstrap_regulator)
        return runtime.bootstrap_regulator, digest
    finally:
        runtime.close()


def test_a_copied_database_does_not_open_with_the_old_default_constant(tmp_path: Path, artifacts, clean_env):
    """Reported: every custodial key and sealed document of a copied database, the regulator's included, opened
    with the development secret everyone could read in the repository."""
    settings = embedded_settings(tmp_path)
    regulator, digest = started_with_a_document(settings, artifacts)

    with opened(settings.resolved_database_url()) as sessions:
        with pytest.raises(KeyUnsealError):
            KeyStore(sessions, LEGACY_DEFAULT).account(regulator)
        with pytest.raises(DocumentUnsealError):
            DocumentVault(sessions, LEGACY_DEFAULT).open(digest, 11, DocumentKind.REPORT)
        secret = (tmp_path / "key-secret").read_text().strip()  # the owner's: generated in the data directory
        assert KeyStore(sessions, secret).account(regulator).address == regulator
        opened_document = DocumentVault(sessions, secret).open(digest, 11, DocumentKind.REPORT)
        assert opened_document is not None and opened_document.content == REPORT


def test_there_is_no_default_secret_and_each_embedded_data_directory_generates_its_own(tmp_path: Path, clean_env):
    assert Settings().key_secret is None and Settings().key_secret_file is None
    first = resolve_key_secret(Settings(chain="embedded", data_dir=tmp_path / "one"))
    second = resolve_key_secret(Settings(chain="embedded", data_dir=tmp_path / "two"))
    assert first.source == second.source == "generated"
    assert first.value != second.value and len(first.value) >= 32
    assert resolve_key_secret(Settings(chain="embedded", data_dir=tmp_path / "one")).value == first.value
    assert mode(tmp_path / "one") == 0o700 and mode(tmp_path / "one" / "key-secret") == 0o600
    assert first.value not in repr(first)


def _generate(path: str) -> str:
    return generated_secret(Path(path))


def test_processes_racing_to_generate_the_secret_all_read_the_same_one(tmp_path: Path):
    with ProcessPoolExecutor(4) as pool:
        values = set(pool.map(_generate, [str(tmp_path / "data" / "key-secret")] * 8))
    assert len(values) == 1
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["key-secret"]  # no temporary left behind


def test_on_a_node_serve_refuses_to_start_without_a_secret_of_its_own(tmp_path: Path, clean_env):
    clean_env.setenv("CARBONLEDGER_CHAIN", "http://127.0.0.1:9")
    clean_env.setenv("CARBONLEDGER_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "error: no key secret: on a node (http://127.0.0.1:9)" in result.output
    assert "hint: set CARBONLEDGER_KEY_SECRET_FILE" in result.output
    assert list(tmp_path.iterdir()) == []  # refused before anything was created


def test_on_a_node_the_secret_comes_from_the_setting_or_the_file_it_names(tmp_path: Path, clean_env):
    node = "http://127.0.0.1:9"
    path = secret_file(tmp_path / "secret", "a-long-random-secret-of-the-operator")
    clean_env.setenv("CARBONLEDGER_KEY_SECRET_FILE", str(path))
    from_file = resolve_key_secret(Settings(chain=node))
    assert (from_file.value, from_file.source, from_file.path) == (
        "a-long-random-secret-of-the-operator", "file", path)

    clean_env.setenv("CARBONLEDGER_KEY_SECRET", "another-long-random-secret")
    with pytest.raises(KeySecretError, match="both"):
        resolve_key_secret(Settings(chain=node))
    clean_env.delenv("CARBONLEDGER_KEY_SECRET_FILE")
    assert resolve_key_secret(Settings(chain=node)).value == "another-long-random-secret"

    for weak, why in ((LEGACY_DEFAULT, "development default"), ("short", "shorter than 16")):
        clean_env.setenv("CARBONLEDGER_KEY_SECRET", weak)
        with pytest.raises(KeySecretError, match=why):
            resolve_key_secret(Settings(chain=node))
    clean_env.delenv("CARBONLEDGER_KEY_SECRET")
    with pytest.raises(KeySecretError, match="does not exist"):
        resolve_key_secret(Settings(chain=node, key_secret_file=tmp_path / "missing"))  # type: ignore[call-arg]


def test_a_secret_file_others_can_read_is_warned_about(tmp_path: Path, clean_env, caplog):
    path = secret_file(tmp_path / "secret")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="ledger_core.private_files"):
        resolve_key_secret(Settings(chain="http://127.0.0.1:9", key_secret_file=path))  # type: ignore[call-arg]
    assert f"{path} is mode 644: group or others can read it" in caplog.text
    assert mode(path) == 0o644  # the operator's file: warned about, not changed


def test_the_data_directory_database_and_secret_are_owner_only(tmp_path: Path, artifacts, clean_env):
    data = tmp_path / "data"
    runtime = Runtime.start(embedded_settings(data), artifacts=artifacts)
    try:
        assert mode(data) == 0o700
        assert mode(data / "key-secret") == 0o600
        assert {p.name: mode(p) for p in data.glob("service.db*") if p.suffix != ".lock"} == {
            "service.db": 0o600, "service.db-wal": 0o600, "service.db-shm": 0o600}
    finally:
        runtime.close()


def test_a_database_and_data_directory_open_to_others_are_narrowed_at_start_with_a_warning(
        tmp_path: Path, artifacts, clean_env, caplog):
    data = tmp_path / "data"
    settings = embedded_settings(data)
    Runtime.start(settings, artifacts=artifacts).close()
    data.chmod(0o755)
    (data / "service.db").chmod(0o644)
    (data / "key-secret").chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="ledger_core.private_files"):
        Runtime.start(settings, artifacts=artifacts).close()
    assert (mode(data), mode(data / "service.db"), mode(data / "key-secret")) == (0o700, 0o600, 0o600)
    for path, was in ((data, "755"), (data / "service.db", "644"), (data / "key-secret", "644")):
        assert f"{path} was mode {was} (group or others could read it); set to" in caplog.text


def test_a_service_started_with_another_secret_than_its_database_refuses_to_start(
        tmp_path: Path, artifacts, clean_env):
    settings = embedded_settings(tmp_path)
    started_with_a_document(settings, artifacts)
    other = embedded_settings(tmp_path, key_secret="not-the-secret-this-database-was-sealed-with")
    with pytest.raises(KeySecretError, match="does not open the custodial keys and documents in this database"):
        Runtime.start(other, artifacts=artifacts)
    Runtime.start(settings, artifacts=artifacts).close()  # its own secret still opens it (the lock was released)

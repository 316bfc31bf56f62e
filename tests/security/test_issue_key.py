"""Nobody locks the regulator out: `carbonledger admin issue-key`, run on the server against the database and the
key secret (no HTTP), issues an API key for an active regulator, prints it once and records it in the audit log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger_core.chain.compiler import Artifact
from ledger_core.chain.outbox import Intent
from ledger_core.config import Settings, get_settings
from ledger_service.cli import app
from ledger_service.identity.api_keys import ApiKeyInvalid, ApiKeys
from ledger_service.membership import ROLE_IDS, OrgKind
from ledger_service.runtime import BOOTSTRAP_KEY_ID, Runtime
from tests.security.conftest import embedded_settings, opened

runner = CliRunner()
ENTERPRISE, PROVINCE = 11, 5


def locked_out(settings: Settings, artifacts: dict[str, Artifact]) -> dict[str, str]:
    """A service whose regulators hold no live API key any more (the bootstrap key revoked), with a second
    regulator (of another authority) and an enterprise admitted, its index up to date; stopped. Addresses by name."""
    runtime = Runtime.start(settings, artifacts=artifacts)
    try:
        regulator = runtime.bootstrap_regulator
        assert regulator is not None
        second, enterprise = runtime.keystore.create(), runtime.keystore.create()
        records = runtime.outbox.submit([
            Intent("Membership", "registerOrganisation", (ENTERPRISE, 0, int(OrgKind.ENTERPRISE), "Riverside Steel"),
                   regulator),
            Intent("Membership", "registerOrganisation", (PROVINCE, 0, int(OrgKind.AUTHORITY), "Provincial Bureau"),
                   regulator),
            Intent("Membership", "admit", (second.address, PROVINCE, [ROLE_IDS["REGULATOR"]]), regulator),
            Intent("Membership", "admit", (enterprise.address, ENTERPRISE, [ROLE_IDS["ENTERPRISE"]]), regulator),
        ])
        assert all(r.status == "mined" for r in records), records
        runtime.indexing.sync()
        runtime.api_keys.revoke(BOOTSTRAP_KEY_ID, revoked_by=regulator)
        return {"regulator": regulator, "second": second.address, "enterprise": enterprise.address}
    finally:
        runtime.close()


def issue_key(settings: Settings, *args: str, **env: str):
    get_settings.cache_clear()  # each invocation reads its environment, as a new process would
    base = {"CARBONLEDGER_DATA_DIR": str(settings.data_dir), "CARBONLEDGER_DATABASE_URL": settings.database_url or ""}
    return runner.invoke(app, ["admin", "issue-key", *args], env={**base, **env})


@pytest.fixture
def server(tmp_path: Path, artifacts: dict[str, Artifact], clean_env) -> tuple[Settings, dict[str, str]]:
    settings = embedded_settings(tmp_path / "data")
    return settings, locked_out(settings, artifacts)


def test_a_locked_out_regulator_gets_a_key_from_the_server_recorded_in_the_audit_log(server, caplog):
    settings, members = server
    with caplog.at_level(logging.DEBUG):
        result = issue_key(settings, "--json")
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    assert issued["member"] == members["regulator"]  # the first active regulator admitted
    assert issued["api_key"] not in caplog.text  # printed once, to the terminal only

    with opened(settings.resolved_database_url()) as sessions:
        keys = ApiKeys(sessions)
        assert keys.authenticate(issued["api_key"]).member == members["regulator"]
        (event,) = [e for e in keys.events() if e.key_id == issued["key_id"]]
    assert (event.action, event.member, event.note) == ("issued", members["regulator"], "recovery (admin issue-key)")
    assert event.actor.startswith("local: carbonledger admin issue-key by ")
    assert event.at.tzinfo is not None or event.at.utcoffset() is None  # stored and compared as UTC


def test_the_key_is_issued_while_the_service_runs_and_it_accepts_it(tmp_path: Path, artifacts, clean_env):
    settings = embedded_settings(tmp_path / "data")
    runtime = Runtime.start(settings, artifacts=artifacts)
    try:
        runtime.indexing.sync()
        assert runtime.bootstrap_api_key is not None and runtime.bootstrap_regulator is not None
        runtime.api_keys.revoke(BOOTSTRAP_KEY_ID)
        with pytest.raises(ApiKeyInvalid, match="revoked"):
            runtime.api_keys.authenticate(runtime.bootstrap_api_key.token)
        result = issue_key(settings, "--json")
        assert result.exit_code == 0, result.output
        token = json.loads(result.output)["api_key"]
        assert runtime.api_keys.authenticate(token).member == runtime.bootstrap_regulator
    finally:
        runtime.close()


def test_the_regulator_is_chosen_by_address_or_organisation(server):
    settings, members = server
    by_org = issue_key(settings, "--org", str(PROVINCE), "--json")
    assert by_org.exit_code == 0, by_org.output
    assert json.loads(by_org.output)["member"] == members["second"]
    by_address = issue_key(settings, "--regulator", members["second"].lower(), "--days", "1", "--json")
    assert by_address.exit_code == 0, by_address.output
    assert json.loads(by_address.output)["member"] == members["second"]


def test_no_key_for_a_member_that_is_not_an_active_regulator(server):
    settings, members = server
    refused = issue_key(settings, "--regulator", members["enterprise"])
    assert refused.exit_code == 1
    assert "error: no active regulator matches" in refused.output
    assert members["regulator"] in refused.output and members["second"] in refused.output  # the hint lists them
    assert issue_key(settings, "--regulator", "0x1234").exit_code == 1


def test_no_key_without_the_servers_secret(server):
    settings, _ = server
    refused = issue_key(settings, CARBONLEDGER_KEY_SECRET="a-copy-of-the-database-and-a-guess")
    assert refused.exit_code == 1 and "does not open the custodial keys" in refused.output
    with opened(settings.resolved_database_url()) as sessions:
        assert [e.action for e in ApiKeys(sessions).events()] == ["issued", "revoked"]  # the bootstrap key only


def test_no_key_where_there_is_no_database(tmp_path: Path, clean_env):
    settings = embedded_settings(tmp_path / "elsewhere")
    refused = issue_key(settings)
    assert refused.exit_code == 1 and "no database at" in refused.output
    assert not (tmp_path / "elsewhere" / "service.db").exists()

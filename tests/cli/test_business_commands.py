"""The business commands speak to the service's HTTP API (here the application in process, through a
TestClient): tables for people, JSON for scripts, and every refusal as one line with a hint and a
non-zero exit status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from ledger_core.chain.anvil import free_port
from ledger_core.chain.outbox import Intent
from ledger_core.db.models import ChainBalance, MeterBatch, Reading
from ledger_service.cli import app, output
from ledger_service.cli.output import DIFFERENCES_EXIT
from ledger_service.runtime import Runtime
from tests.cli.meter_story import anchor_meter_data, report_and_finalize
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, PARK, YEAR, Cast
from tests.service.credit_steps import PERIOD_2024, admit_bank, mint, travel
from tests.service.helpers import allocate, submit, view
from tests.service.metering import anchor_windows, at, clear_meter_data

runner = CliRunner()


@dataclass
class Cli:
    """`carbonledger ...` as a member of the cast (by name; None: without an API key)."""

    client: httpx.Client
    cast: Cast

    def __call__(self, who: str | None, *args: str) -> Result:
        env = {"CARBONLEDGER_API_KEY": self.cast.tokens[who] if who else None, "CARBONLEDGER_URL": None,
               "COLUMNS": "250"}
        return runner.invoke(app, list(args), obj=self.client, env=env)

    def ok(self, who: str | None, *args: str) -> str:
        result = self(who, *args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, who: str | None, *args: str) -> Any:
        return json.loads(self.ok(who, *args, "--json"))

    def failed_check(self, who: str | None, *args: str) -> str:
        """A command that ran and found a check failed: its output, and exit code 3 for scripts."""
        result = self(who, *args)
        assert result.exit_code == DIFFERENCES_EXIT, result.output
        return result.stdout

    def refused(self, who: str | None, *args: str) -> str:
        result = self(who, *args)
        assert result.exit_code == 1, result.output
        assert result.stdout == "" and result.stderr.startswith("error: "), result.output
        return result.stderr


@pytest.fixture
def cli(client: TestClient, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(output.console, "_width", 250)
    monkeypatch.setattr(output.errors, "_width", 250)
    return Cli(client, cast)


@pytest.fixture
def clean_sql(runtime: Runtime) -> Iterator[None]:
    """Documents and meter data are kept in SQL, outside the chain snapshot."""
    yield
    clear_meter_data(runtime)


def one_line(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ refusals every group shares

ONE_COMMAND_PER_GROUP = [
    ("member", "show", "0x" + "11" * 20),
    ("allowance", "compliance", "enterprise", str(ENTERPRISE_A), str(YEAR)),
    ("report", "show", "1"),
    ("credit", "project", "list"),
    ("market", "book", "credit", "1"),
    ("trace", "asset", "allowance", str(YEAR)),
    ("gec", "batches"),
    ("reconcile",),
    ("tx", "list"),
]


@pytest.mark.parametrize("command", ONE_COMMAND_PER_GROUP, ids=lambda c: c[0])
def test_without_an_api_key_the_service_refuses_and_the_hint_says_where_the_key_goes(cli: Cli, command: tuple):
    error = cli.refused(None, *command)
    assert error.splitlines() == ["error: not authenticated: an API key or a signed request is required",
                                  "hint: set CARBONLEDGER_API_KEY or pass --api-key"]


@pytest.mark.parametrize("command", ONE_COMMAND_PER_GROUP, ids=lambda c: c[0])
def test_with_the_service_down_the_hint_says_how_to_start_it(cast: Cast, command: tuple):
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, [*command, "--url", url], env={"CARBONLEDGER_API_KEY": cast.tokens["regulator"]})
    assert result.exit_code == 1
    assert one_line(result.stderr) == (f"error: cannot reach the service at {url} (connection refused) hint: start "
                                       "the service with `carbonledger serve`, or set CARBONLEDGER_URL / --url")


def test_an_unknown_api_key_and_a_member_who_was_never_admitted_are_refused(cli: Cli, cast: Cast):
    result = runner.invoke(app, ["tx", "list", "--api-key", "clk_not-a-key"], obj=cli.client)
    assert result.exit_code == 1 and "error: not authenticated" in result.stderr
    assert "hint: set CARBONLEDGER_API_KEY or pass --api-key" in result.stderr
    error = cli.refused("stranger", "tx", "list")
    assert "is not an active member" in error and "hint:" in error


def test_a_malformed_api_key_is_refused_before_anything_is_sent(cli: Cli):
    result = runner.invoke(app, ["tx", "list"], obj=cli.client, env={"CARBONLEDGER_API_KEY": "clk_a\nclk_b"})
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: the API key is malformed (it contains spaces or line breaks)",
                                          "hint: set CARBONLEDGER_API_KEY or --api-key to the key alone (clk_...)"]


def test_a_busy_chain_answers_503_and_the_hint_says_when_to_retry():
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "5"}, json={
            "error": "ChainUnavailable", "message": "the chain is not reachable", "args": {}, "outbox_ids": [7, 8]})

    with httpx.Client(transport=httpx.MockTransport(busy), base_url="http://service") as http:
        result = runner.invoke(app, ["tx", "list", "--api-key", "k"], obj=http)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: service unavailable: the chain is not reachable",
        "hint: retry after 5 s; outbox ids 7, 8 will be sent when it is back"]


def test_an_invalid_request_names_the_field(cli: Cli):
    error = cli.refused("enterprise_a", "allowance", "transfer", "0xnot-an-address", "5", "--year", str(YEAR))
    assert error.startswith("error: the request is not valid: to: String should match pattern")


def test_quantities_are_whole_numbers_checked_before_anything_is_sent(cli: Cli):
    result = cli("enterprise_a", "allowance", "transfer", cli.cast.addresses["trader"], "1.5", "--year", str(YEAR))
    assert result.exit_code == 2 and "not a positive whole number" in result.output


# ------------------------------------------------------------------ member


def test_a_regulator_registers_an_organisation_and_admits_and_sanctions_a_member(cli: Cli, cast: Cast):
    out = cli.ok("regulator", "member", "org", "register", "14", "--kind", "enterprise", "--name", "Northern Paper",
                 "--parent", str(PARK))
    assert "Northern Paper" in out and "Membership.registerOrganisation: mined 0x" in out
    admitted = cli.json("regulator", "member", "admit", "14", "--role", "enterprise", "--custodial")
    member = admitted["member"]
    assert (member["org_id"], member["roles"], member["status"], member["custodial"]) == (14, ["ENTERPRISE"],
                                                                                          "active", True)
    assert admitted["transaction"]["function"] == "admit" and admitted["transaction"]["status"] == "mined"
    address = member["address"]

    shown = cli.ok("enterprise_a", "member", "show", address)
    assert address in shown and "ENTERPRISE" in shown and "active" in shown
    steps = [("suspend", "suspended", False), ("reinstate", "active", False), ("freeze", "active", True),
             ("unfreeze", "active", False), ("revoke", "revoked", False)]
    for action, status, frozen in steps:
        reason = ["--reason", f"decision {action}"] if action in ("suspend", "freeze", "revoke") else []
        body = cli.json("regulator", "member", action, address, *reason)
        assert (body["member"]["status"], body["member"]["frozen"]) == (status, frozen), action
        assert body["transaction"]["function"] == action
    again = cli.refused("regulator", "member", "revoke", address, "--reason", "again")
    assert again.splitlines()[0] == f"error: MemberNotActive: {address} is not active (status: revoked)"
    assert again.splitlines()[1].startswith("hint: see the transaction with `carbonledger tx show ")


def test_a_regulator_issues_rotates_and_revokes_a_members_api_key(cli: Cli, cast: Cast):
    member = cast.addresses["enterprise_b"]

    def tx_list_with(token: str) -> Result:
        return runner.invoke(app, ["tx", "list", "--api-key", token], obj=cli.client)

    issued = cli.json("regulator", "member", "key", "issue", member, "--label", "plant DCS", "--days", "7")
    assert issued["member"] == member and issued["token"].startswith("clk_")
    assert tx_list_with(issued["token"]).exit_code == 0
    table = cli.ok("regulator", "member", "key", "list", "--member", member)
    assert issued["key_id"] in table and "plant DCS" in table and issued["token"] not in table

    rotated = cli.json("regulator", "member", "key", "rotate", issued["key_id"])
    assert rotated["member"] == member and rotated["token"] != issued["token"]
    assert "not authenticated" in tx_list_with(issued["token"]).stderr
    assert tx_list_with(rotated["token"]).exit_code == 0

    revoked = cli.json("regulator", "member", "key", "revoke", rotated["key_id"])
    assert revoked["revoked_at"] is not None
    assert "not authenticated" in tx_list_with(rotated["token"]).stderr


def test_only_a_regulator_manages_api_keys_and_unknown_keys_are_named(cli: Cli, cast: Cast):
    error = cli.refused("enterprise_a", "member", "key", "issue", cast.addresses["enterprise_a"])
    assert error.startswith(f"error: refused: {cast.addresses['enterprise_a']} does not hold the REGULATOR role")
    error = cli.refused("regulator", "member", "key", "issue", cast.addresses["stranger"])
    assert error.startswith(f"error: not found: {cast.addresses['stranger']} is not a member")
    error = cli.refused("regulator", "member", "key", "revoke", "no-such-key")
    assert error.startswith("error: not found: no API key no-such-key")


def test_organisations_show_their_hierarchy_and_members(cli: Cli, cast: Cast):
    tree = cli.ok("enterprise_a", "member", "org", "hierarchy", str(PARK))
    lines = tree.splitlines()
    assert "10 Green Valley Industrial Park (park)" in lines[0]
    assert any("11 Riverside Steel (enterprise)" in line for line in lines[1:])
    assert any("12 Eastern Cement (enterprise)" in line for line in lines[1:])
    up = cli.json("enterprise_a", "member", "org", "hierarchy", str(ENTERPRISE_A))
    assert [o["org_id"] for o in up["ancestors"]] == [PARK] and up["descendants"] == []
    assert "Riverside Steel" in cli.ok("enterprise_a", "member", "org", "hierarchy", str(ENTERPRISE_A)).splitlines()[1]
    assert cli.json("trader", "member", "org", "show", str(ENTERPRISE_B)) == {
        "org_id": ENTERPRISE_B, "parent_id": PARK, "kind": "enterprise", "name": "Eastern Cement"}
    members = cli.ok("regulator", "member", "org", "members", str(ENTERPRISE_A))
    assert cast.addresses["enterprise_a"] in members and cast.addresses["enterprise_a2"] in members
    assert cli.json("regulator", "member", "org", "members", str(ENTERPRISE_A))["page"]["total"] == 2


def test_member_refusals_wrong_role_contract_and_not_found(cli: Cli, cast: Cast):
    error = cli.refused("enterprise_a", "member", "freeze", cast.addresses["trader"], "--reason", "r")
    assert error.splitlines() == [
        f"error: refused: {cast.addresses['enterprise_a']} does not hold the REGULATOR role",
        "hint: use the API key of a member holding that role"]
    error = cli.refused("regulator", "member", "suspend", cast.addresses["regulator"], "--reason", "r")
    assert error.startswith("error: CannotActOnSelf: a regulator cannot suspend, revoke or freeze itself")
    error = cli.refused("regulator", "member", "show", cast.addresses["stranger"])
    assert error.startswith(f"error: not found: {cast.addresses['stranger']} is not a member")
    result = cli("regulator", "member", "admit", "14", "--role", "enterprise")
    assert result.exit_code == 1 and "give either --address or --custodial" in result.stderr


# ------------------------------------------------------------------ allowance


def test_a_regulator_allocates_from_a_csv_and_members_transfer_and_read_balances(cli: Cli, cast: Cast,
                                                                                  tmp_path: Path):
    grants = tmp_path / "grants.csv"
    grants.write_text(f"address,amount\n{cast.addresses['enterprise_a']},1000\n{cast.addresses['enterprise_b']},500\n")
    out = cli.ok("regulator", "allowance", "allocate", "--year", str(YEAR), "--csv", str(grants),
                 "--grant", f"{cast.addresses['enterprise_a2']}=50")
    assert "3 holders, 1550 tCO2e" in out and "AllowanceRegistry.allocate: mined" in out
    balances = cli.json("enterprise_a2", "allowance", "balance", cast.addresses["enterprise_a"], "--year", str(YEAR),
                        "--year", str(YEAR + 1))
    assert balances == {"address": cast.addresses["enterprise_a"], "balances": {str(YEAR): 1000, str(YEAR + 1): 0}}
    table = cli.ok("enterprise_a", "allowance", "balance", cast.addresses["enterprise_a"], "--year", str(YEAR))
    assert f"allowances of {cast.addresses['enterprise_a']}" in table and "1000" in table

    moved = cli.json("enterprise_a", "allowance", "transfer", cast.addresses["trader"], "100", "--year", str(YEAR))
    assert (moved["function"], moved["status"]) == ("safeTransferFrom", "mined")
    assert "mined" in cli.ok("trader", "allowance", "transfer", cast.addresses["enterprise_b"], "10",
                             "--year", str(YEAR))
    assert cli.json("regulator", "allowance", "balance", cast.addresses["trader"], "--year",
                    str(YEAR))["balances"] == {str(YEAR): 90}


def test_a_batch_of_transfers_from_a_csv_reports_each_and_fails_the_exit_status_if_any_failed(
        cli: Cli, cast: Cast, client: TestClient, tmp_path: Path):
    allocate(client, cast, {"enterprise_b": 100})
    rows = tmp_path / "transfers.csv"
    rows.write_text("".join(f"{cast.addresses[n]},{a}\n" for n, a in (("trader", 10), ("enterprise_a", 20),
                                                                       ("enterprise_c", 30))))
    body = cli.json("enterprise_b", "allowance", "transfer-batch", str(rows), "--year", str(YEAR), "--chunk", "2")
    assert (body["mined"], body["failed"], body["pending"]) == (3, 0, 0)
    assert [t["status"] for t in body["transactions"]] == ["mined"] * 3
    with_years = tmp_path / "with-years.csv"
    with_years.write_text(f"to,year,amount\n{cast.addresses['trader']},{YEAR},5\n")
    out = cli.ok("enterprise_b", "allowance", "transfer-batch", str(with_years))
    assert "1 mined, 0 failed, 0 pending" in out and cast.addresses["trader"] in out
    too_much = tmp_path / "too-much.csv"
    too_much.write_text(f"{cast.addresses['trader']},1000\n")
    error = cli.refused("enterprise_b", "allowance", "transfer-batch", str(too_much), "--year", str(YEAR))
    assert "ERC1155InsufficientBalance" in error


def finalized_obligation(runtime: Runtime, cast: Cast, kg: int = 40_000) -> None:
    """Riverside Steel's report for YEAR submitted, verified and finalized: an obligation of kg / 1000 t."""
    submit(runtime, Intent("EmissionRegistry", "submitReport", (YEAR, keccak(text="report"), kg, keccak(text="root"),
                                                                0, 0), cast.addresses["enterprise_a"]))
    report_id = int(view(runtime, "EmissionRegistry", "reportCount"))
    submit(runtime, Intent("EmissionRegistry", "verifyReport", (report_id, kg, keccak(text="statement")),
                           cast.addresses["verifier"]))
    submit(runtime, Intent("EmissionRegistry", "finalizeReport", (report_id,), cast.addresses["regulator"]))


def test_surrender_and_compliance_status(cli: Cli, cast: Cast, client: TestClient, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 100})
    finalized_obligation(runtime, cast)
    error = cli.refused("enterprise_a", "allowance", "surrender", "--compliance-year", str(YEAR),
                        "--vintage", f"{YEAR}=40")
    assert error.startswith(f"error: ComplianceWindowNotOpen: the compliance window of {YEAR} is not open")
    submit(runtime, Intent("ComplianceLedger", "openComplianceWindow", (YEAR,), cast.addresses["regulator"]))
    done = cli.json("enterprise_a", "allowance", "surrender", "--compliance-year", str(YEAR), "--vintage",
                    f"{YEAR}=40")
    assert (done["function"], done["status"]) == ("surrender", "mined")
    status = cli.json("enterprise_a", "allowance", "compliance", "enterprise", str(ENTERPRISE_A), str(YEAR))
    assert (status["allowances_surrendered"], status["obligation"], status["shortfall"], status["finalized"]) == (
        40, 40, 0, True)
    table = cli.ok("enterprise_b", "allowance", "compliance", "park", str(PARK), str(YEAR))
    assert f"park {PARK}: compliance {YEAR}" in table and "park 10" in table
    park = cli.json("regulator", "allowance", "compliance", "park", str(PARK), str(YEAR))
    assert [e["org_id"] for e in park["enterprises"]] == [ENTERPRISE_A, ENTERPRISE_B]
    assert park["park"]["allowances_surrendered"] == 40
    error = cli.refused("verifier", "allowance", "surrender", "--compliance-year", str(YEAR), "--vintage",
                        f"{YEAR}=1")
    assert "does not hold the ENTERPRISE role" in error
    error = cli.refused("enterprise_c", "allowance", "compliance", "enterprise", str(ENTERPRISE_A), str(YEAR))
    assert "visible to the enterprise" in error and "hint: a member sees only its own organisation's data" in error


def test_the_forecast_projects_the_year_from_anchored_data(cli: Cli, cast: Cast, client: TestClient,
                                                           runtime: Runtime):
    # Eastern Cement: 3,100 t in January 2026 -> 36,500 t at that run-rate; 30,000 allowances held.
    anchor_windows(runtime, cast, ENTERPRISE_B, [(at(2026, 1), at(2026, 2), 3_100)])
    allocate(client, cast, {"enterprise_b": 30_000}, year=2026)
    mine = cli.json("enterprise_b", "allowance", "compliance", "forecast", str(ENTERPRISE_B), "2026")
    assert (mine["method"], mine["projected_t"], mine["cover_t"], mine["projected_shortfall_t"]) == (
        "run-rate", "36500.000", 30_000, "6500.000")
    table = one_line(cli.ok("regulator", "allowance", "compliance", "park-forecast", str(PARK), "2026"))
    assert f"park {PARK}: forecast 2026" in table and "6500.000" in table and "no data" in table
    error = cli.refused("enterprise_a", "allowance", "compliance", "forecast", str(ENTERPRISE_B), "2026")
    assert "visible to the enterprise" in error


# ------------------------------------------------------------------ report

ROOT = "0x" + "ab" * 32


def test_a_report_is_submitted_with_its_document_verified_finalized_and_read(cli: Cli, cast: Cast, tmp_path: Path,
                                                                             clean_sql: None):
    document = tmp_path / "report-2025.pdf"
    document.write_bytes(b"Riverside Steel: annual emission report 2025\n")
    explicit = ["--anchors-root", ROOT, "--anchored-mg", "12345000000", "--reading-count", "7"]
    submitted = cli.json("enterprise_a", "report", "submit", str(document), "--year", str(YEAR), "--reported-kg",
                         "12345", *explicit)
    report_id = submitted["report"]["report_id"]
    assert (submitted["report"]["status"], submitted["report"]["reported_kg_co2e"]) == ("submitted", "12345")
    assert submitted["commitment"]["source"] == "caller"

    error = cli.refused("regulator", "report", "finalize", str(report_id))
    assert error.startswith(f"error: InvalidReportStatus: report {report_id} is ")
    error = cli.refused("enterprise_a", "report", "verify", str(report_id), "--verified-kg", "1",
                        "--statement-hash", ROOT)
    assert "does not hold the VERIFIER role" in error

    statement = tmp_path / "statement.pdf"
    statement.write_bytes(b"verified at 12,400 kg")
    out = cli.ok("verifier", "report", "verify", str(report_id), "--verified-kg", "12400", "--statement",
                 str(statement))
    assert "report verified" in out and "EmissionRegistry.verifyReport: mined" in out
    final = cli.json("regulator", "report", "finalize", str(report_id))
    assert (final["report"]["status"], final["report"]["obligation_tonnes"]) == ("finalized", 12)

    saved = tmp_path / "copy.pdf"
    shown = cli.ok("enterprise_a2", "report", "show", str(report_id), "--save", str(saved))
    assert "finalized" in shown and "12400" in shown and saved.read_bytes() == document.read_bytes()
    history = cli.ok("enterprise_a", "report", "history", str(report_id))
    assert [e in history for e in ("submitted", "verified", "finalized")] == [True] * 3
    assert [e["event"] for e in cli.json("verifier", "report", "history", str(report_id))["events"]] == [
        "submitted", "verified", "finalized"]
    listed = cli.json("regulator", "report", "list", str(ENTERPRISE_A), "--year", str(YEAR))
    assert [r["report_id"] for r in listed["reports"]] == [report_id]
    assert "finalized" in cli.ok("regulator", "report", "list", str(ENTERPRISE_A), "--year", str(YEAR))


def test_a_rejected_report_shows_the_reason_hash(cli: Cli, cast: Cast, tmp_path: Path, clean_sql: None):
    document = tmp_path / "r.txt"
    document.write_text("Eastern Cement 2025")
    report_id = cli.json("enterprise_b", "report", "submit", str(document), "--year", str(YEAR), "--reported-kg",
                         "900", "--anchors-root", ROOT, "--anchored-mg", "0", "--reading-count", "0")["report"][
                             "report_id"]
    rejected = cli.json("verifier", "report", "reject", str(report_id), "--reason-hash", "0x" + "0e" * 32)
    assert rejected["report"]["status"] == "rejected" and rejected["report"]["reason_hash"] == "0x" + "0e" * 32
    error = cli.refused("enterprise_a", "report", "show", str(report_id))
    assert "reports are visible to the enterprise's members" in error
    result = cli("verifier", "report", "reject", str(report_id))
    assert result.exit_code == 1 and "give either the reason file or --reason-hash" in result.stderr


# ------------------------------------------------------------------ credit


def test_credits_from_project_to_retirement_certificate(cli: Cli, cast: Cast, tmp_path: Path):
    project = cli.json("regulator", "credit", "project", "register", "CCER-1234-WIND-GANSU", "--owner",
                       cast.addresses["enterprise_a"], "--methodology", "CCER-14-001-V01", "--location", "CN-GS",
                       "--document", "project design document v3")["project"]
    project_id = project["project_id"]
    assert (project["owner"], project["status"]) == (cast.addresses["enterprise_a"], "active")
    assert project_id in cli.ok("trader", "credit", "project", "list")
    assert cli.json("trader", "credit", "project", "show", project_id)["location"] == "CN-GS"

    verified = cli.json("verifier", "credit", "verification", project_id, "--period-start", "2024-01-01",
                        "--period-end", str(PERIOD_2024[1]), "--tonnes", "1000", "--statement", "statement 2024")
    assert (verified["function"], verified["status"]) == ("submitVerification", "mined")
    issued = cli.ok("regulator", "credit", "issue", project_id, "--period-start", str(PERIOD_2024[0]),
                    "--period-end", str(PERIOD_2024[1]), "--vintage", "2024", "--amount", "1000")
    assert "credit batch issued" in issued and "CreditRegistry.issue" in issued
    (batch,) = cli.json("trader", "credit", "batches", "--project", project_id)["items"]
    assert (batch["batch_id"], batch["amount"], batch["serial_start"], batch["serial_end"]) == (1, 1000, 1, 1000)
    assert cli.json("trader", "credit", "batch", "1")["supply"] == 1000

    assert cli.json("enterprise_a", "credit", "transfer", cast.addresses["trader"], "1", "300")["status"] == "mined"
    error = cli.refused("trader", "credit", "transfer", cast.addresses["enterprise_b"], "1", "301")
    assert error.startswith(f"error: ERC1155InsufficientBalance: {cast.addresses['trader']} holds 300")

    page = tmp_path / "certificate.html"
    out = cli.ok("trader", "credit", "retire", "1", "120", "--beneficiary", "Harbour Carbon Trading",
                 "--purpose", "voluntary offsetting of 2024 emissions", "--jurisdiction", "CN",
                 "--consumption-start", "2024-01-01", "--consumption-end", "2024-12-31", "--html", str(page))
    assert "retirement certificate #1" in out and "Harbour Carbon Trading" in out
    assert "2024-01-01 00:00:00 to 2024-12-31 00:00:00" in out and f"printable certificate saved to {page}" in out
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "Harbour Carbon Trading" in html and "120 tonnes" in html
    cert = cli.json("trader", "credit", "certificate", "1")
    assert (cert["amount"], cert["serial_start"], cert["serial_end"], cert["holder"]) == (
        120, 1, 120, cast.addresses["trader"])
    again = tmp_path / "again.html"
    assert "printable certificate saved" in cli.ok("regulator", "credit", "certificate", "1", "--html", str(again))
    assert "record matches this certificate." in again.read_text()
    error = cli.refused("enterprise_b", "credit", "certificate", "1")
    assert "credit holdings are visible to the holder" in error

    holdings = cli.json("trader", "credit", "holdings", cast.addresses["trader"])
    assert [(h["batch_id"], h["amount"]) for h in holdings["holdings"]] == [(1, 180)]
    assert "180" in cli.ok("trader", "credit", "holdings", cast.addresses["trader"])
    error = cli.refused("trader", "credit", "project", "register", "X-1", "--owner", cast.addresses["trader"],
                        "--methodology", "m", "--location", "CN")
    assert "does not hold the REGULATOR role" in error

    hops = cli.ok("regulator", "trace", "asset", "credit", "1")
    assert "issued 1000" in hops and "retirement" in hops and "serials 1-120" in hops


def test_credit_surrender_counts_towards_the_obligation_within_the_cap(cli: Cli, cast: Cast, client: TestClient,
                                                                       runtime: Runtime):
    from tests.service.credit_steps import verified_batch

    verified_batch(client, cast)
    finalized_obligation(runtime, cast)
    submit(runtime, Intent("ComplianceLedger", "openComplianceWindow", (YEAR,), cast.addresses["regulator"]))
    error = cli.refused("enterprise_a", "credit", "surrender", "1", "10", "--compliance-year", str(YEAR))
    assert error.startswith("error: CreditCapExceeded")
    done = cli.json("enterprise_a", "credit", "surrender", "1", "2", "--compliance-year", str(YEAR))
    assert (done["function"], done["status"]) == ("surrender", "mined")
    status = cli.json("enterprise_a", "allowance", "compliance", "enterprise", str(ENTERPRISE_A), str(YEAR))
    assert (status["credits_surrendered"], status["shortfall"]) == (2, 38)


# ------------------------------------------------------------------ market


@pytest.fixture
def market(cli: Cli, client: TestClient, cast: Cast, runtime: Runtime) -> None:
    """Batch 1 (1,000 t) held by enterprise_a, reference price 50.00; the trader holds CNY 100,000.00."""
    from tests.service.credit_steps import verified_batch

    verified_batch(client, cast)
    assert cli.json("regulator", "market", "reference-price", "credit", "1", "50")["status"] == "mined"
    admit_bank(runtime, cast)
    mint(client, cast, "trader", "100000.00")


def test_a_sell_order_is_listed_filled_and_traded(cli: Cli, cast: Cast, market: None):
    listed = cli.json("enterprise_a", "market", "sell", "credit", "1", "300", "50.00")
    assert [t["function"] for t in listed["transactions"]] == ["setApprovalForAll", "list"]
    order = listed["order"]
    assert (order["order_id"], order["remaining"], order["price"], order["status"]) == (1, 300, "50.00", "open")
    book = cli.ok("trader", "market", "book", "credit", "1")
    assert "order book: credit 1" in book and "50.00" in book and cast.addresses["enterprise_a"] not in book
    assert cast.addresses["enterprise_a"] in cli.ok("enterprise_a2", "market", "book", "credit", "1")
    filled = cli.ok("trader", "market", "fill", "1", "120")
    assert "order 1 filled" in filled and "CarbonMarket.fill: mined" in filled
    assert cli.json("trader", "market", "order", "1")["remaining"] == 180
    (trade,) = cli.json("enterprise_a", "market", "trades", "credit", "1")["items"]
    assert (trade["buyer"], trade["amount"], trade["price"], trade["payment"]) == (
        cast.addresses["trader"], 120, "50.00", "6000.00")
    assert "6000.00" in cli.ok("enterprise_a", "market", "trades", "credit", "1")
    (close,) = cli.json("trader", "market", "closes", "credit", "1")["closes"]
    assert (close["close"], close["volume"], close["trades"]) == ("50.00", 120, 1)
    assert "50.00" in cli.ok("trader", "market", "closes", "credit", "1")
    assert [o["order_id"] for o in cli.json("enterprise_a2", "market", "orders")["items"]] == [1]
    assert "open" in cli.ok("enterprise_a", "market", "orders")

    cancelled = cli.json("enterprise_a", "market", "cancel", "1")
    assert cancelled["order"]["status"] == "cancelled"


def test_an_expired_order_is_reclaimed_and_market_refusals_are_decoded(cli: Cli, cast: Cast, runtime: Runtime,
                                                                         market: None):
    error = cli.refused("enterprise_a", "market", "sell", "credit", "1", "10", "55.01")
    assert error.startswith("error: PriceOutOfBand: price 5501 is outside the allowed band [4500, 5500]")
    error = cli.refused("verifier", "market", "sell", "credit", "1", "10", "50")
    assert "does not hold the ENTERPRISE or TRADER role" in error
    result = cli("enterprise_a", "market", "sell", "credit", "1", "10", "50.001")
    assert result.exit_code == 2 and "price '50.001': a positive amount of CNY with at most two decimals" in \
        result.output

    cli.ok("enterprise_a", "market", "sell", "credit", "1", "10", "50", "--expires-in", "60")
    travel(runtime, 120)
    reclaimed = cli.json("trader", "market", "reclaim", "1")
    assert reclaimed["order"]["status"] == "expired"
    error = cli.refused("trader", "market", "fill", "1", "1")
    assert error.startswith("error: OrderNotOpen: order 1 is not open")


# ------------------------------------------------------------------ trace


def test_a_report_is_traced_down_to_readings_proved_on_chain(cli: Cli, cast: Cast, client: TestClient,
                                                              runtime: Runtime, clean_sql: None):
    story = anchor_meter_data(runtime, client, cast)
    report_and_finalize(runtime, cast, story)
    out = cli.ok("enterprise_a", "trace", "report", str(story.report_id), "--readings", "2", "--verify-on-chain",
                 "--seed", "3")
    assert out.startswith(f"report {story.report_id}: enterprise {ENTERPRISE_A}, 2024 - verified")
    for fact in (f"submitted by Riverside Steel ({cast.addresses['enterprise_a']})", "verified by", "finalized by",
                 "commitment to the anchors: ok", f"anchor {story.anchor_ids[ENTERPRISE_A][0]}:",
                 "stored data ok, readings ok", "seed 3)", "kgCO2e/", "(CN-2023-v1)", "proof ok, on chain ok",
                 "workshop", "facility", "proofs: 2 of 2 valid; seed 3; trace verified"):
        assert fact in out, fact
    assert "FAILED" not in out
    trace = cli.json("regulator", "trace", "report", str(story.report_id), "--readings", "1")
    assert trace["verified"] and [a["anchor_id"] for a in trace["anchors"]] == story.anchor_ids[ENTERPRISE_A]
    assert trace["readings"][0]["verified_on_chain"] is None

    tree = cli.ok("regulator", "trace", "drilldown", str(PARK), "--year", "2024", "--verify-roots")
    assert f"park {PARK}: 2024-01-01 00:00:00 to 2025-01-01 00:00:00" in tree
    assert "enterprise 11" in tree and "enterprise 12" in tree and "MISMATCH" not in tree
    mine = cli.json("enterprise_a", "trace", "drilldown", str(PARK), "--year", "2024")
    assert [e["label"] for e in mine["tree"]["children"]] == ["11"]
    error = cli.refused("enterprise_c", "trace", "drilldown", str(PARK), "--year", "2024")
    assert "is neither park 10 nor one of its enterprises" in error
    error = cli.refused("enterprise_b", "trace", "report", str(story.report_id))
    assert error.startswith("error: refused: a member sees only its own organisation's data")
    assert cli.refused("regulator", "trace", "report", "999").startswith("error: not found: no report 999")
    result = cli("regulator", "trace", "drilldown", str(PARK))
    assert result.exit_code == 1 and "give either --year, or both --start and --end" in result.stderr

    # One reading of the later anchor edited in SQL: the trace names the failed checks instead of "verified".
    later = story.anchor_ids[ENTERPRISE_A][1]
    with runtime.sessions.begin() as session:
        batch_id = session.scalar(select(MeterBatch.id).where(MeterBatch.anchor_id == later))
        edited = session.scalars(select(Reading.id).where(Reading.batch_id == batch_id).order_by(Reading.id)).all()[-1]
        session.execute(update(Reading).where(Reading.id == edited).values(value_mg=Reading.value_mg + 1_000_000))
    out = one_line(cli.failed_check("regulator", "trace", "report", str(story.report_id), "--readings", "2",
                                    "--seed", "3"))
    assert "NOT verified" in out and f"FAILED anchor {later}: batch {batch_id}" in out
    assert f"no longer give their digest: {edited}" in out and "proofs: 1 of 2 valid; seed 3; trace NOT" in out
    out = one_line(cli.failed_check("regulator", "trace", "report", str(story.report_id), "--all", "--seed", "3"))
    assert f"FAILED reading {edited} (anchor {later}): its stored fields no longer give" in out
    assert "every reading checked (480)" in out


def test_an_allowance_vintage_is_traced_hop_by_hop(cli: Cli, cast: Cast, client: TestClient):
    allocate(client, cast, {"enterprise_a": 100, "enterprise_b": 100})
    cli.ok("enterprise_b", "allowance", "transfer", cast.addresses["trader"], "10", "--year", str(YEAR))
    out = cli.ok("regulator", "trace", "asset", "allowance", str(YEAR))
    assert f"allowance vintage {YEAR}: issued 200, surrendered 0, outstanding 200" in out
    assert out.count("allocation") == 2 and "transfer" in out
    body = cli.json("trader", "trace", "asset", "allowance", str(YEAR))
    assert [(h["kind"], h["amount"]) for h in body["hops"]] == [("transfer", 10)]
    assert body["holders"] == [{"holder": cast.addresses["trader"], "org_id": 30, "amount": 10}]
    page = cli.ok("regulator", "trace", "asset", "allowance", str(YEAR), "--limit", "1")
    assert "1-1 of 3 hops" in page


# ------------------------------------------------------------------ reconcile and tx


def test_reconcile_exits_non_zero_when_an_index_row_was_tampered_with(cli: Cli, cast: Cast, client: TestClient,
                                                                      runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 700})
    assert "the index agrees with the chain" in cli.ok("regulator", "reconcile")
    with runtime.sessions.begin() as session:
        session.execute(update(ChainBalance).where(
            ChainBalance.token == "AllowanceRegistry", ChainBalance.token_id == YEAR,
            ChainBalance.holder == cast.addresses["enterprise_a"]).values(amount=7000))
    result = cli("regulator", "reconcile")
    assert result.exit_code == 3
    assert "2 differences" in result.stdout and f"AllowanceRegistry/{YEAR}/{cast.addresses['enterprise_a']}" in \
        result.stdout and "7000" in result.stdout
    result = cli("regulator2", "reconcile", "--json")
    assert result.exit_code == 3
    body = json.loads(result.stdout)
    assert not body["ok"] and [d["kind"] for d in body["differences"]] == ["balance", "total_supply"]
    error = cli.refused("enterprise_a", "reconcile")
    assert "does not hold the REGULATOR role" in error


def test_reconcile_recomputes_the_meter_data_and_takes_since_and_a_seeded_sample(cli: Cli, cast: Cast,
                                                                              client: TestClient, runtime: Runtime,
                                                                              clean_sql: None):
    anchor_meter_data(runtime, client, cast)
    out = cli.ok("regulator", "reconcile")
    assert "meter data: 4 of 4 anchored windows, 960 readings recomputed" in one_line(out)
    since = cli.json("regulator", "reconcile", "--since", "2024-01-01T01:00:00")
    assert since["checked"]["meter_window"] == 2 and since["meters"]["since"].startswith("2024-01-01T01:00:00")
    sampled = one_line(cli.ok("regulator", "reconcile", "--sample", "1", "--seed", "9"))
    assert "meter data: 1 of 4 anchored windows" in sampled and "sample of 1, seed 9" in sampled
    with runtime.sessions.begin() as session:
        session.execute(update(Reading).where(Reading.id == 1).values(value_mg=Reading.value_mg + 1))
    result = cli("regulator", "reconcile", "--json")
    assert result.exit_code == 3
    found = {(d["kind"], d["field"]): d for d in json.loads(result.stdout)["differences"]}
    assert found[("meter_window", "root")]["where"]["reading_id"] == 1
    assert found[("meter_reading", "digest")]["key"].endswith("/1")
    assert "meter_window" in cli("regulator", "reconcile").stdout


def test_transactions_are_shown_and_listed(cli: Cli, cast: Cast):
    done = cli.json("regulator", "allowance", "allocate", "--year", str(YEAR), "--grant",
                    f"{cast.addresses['enterprise_a']}=5")
    (tx,) = done["transactions"]
    shown = cli.ok("regulator", "tx", "show", str(tx["id"]))
    assert f"transaction {tx['id']}" in shown and "mined" in shown and tx["tx_hash"] in shown
    listed = cli.json("regulator", "tx", "list", "--status", "mined", "--limit", "5")
    assert listed["items"][0]["id"] == tx["id"] and listed["page"]["limit"] == 5
    assert "allocate" in cli.ok("regulator", "tx", "list", "--limit", "3")
    error = cli.refused("enterprise_b", "tx", "show", str(tx["id"]))
    assert "transactions are visible to whoever asked for or signed them" in error
    assert cli.refused("regulator", "tx", "show", "99999").startswith("error: not found: no transaction 99999")


def test_a_refused_transaction_is_kept_and_shown_with_its_decoded_error(cli: Cli, cast: Cast):
    error = cli.refused("regulator", "member", "freeze", cast.addresses["regulator"], "--reason", "r")
    first, hint = error.splitlines()
    assert first == "error: CannotActOnSelf: a regulator cannot suspend, revoke or freeze itself"
    outbox_id = hint.removeprefix("hint: see the transaction with `carbonledger tx show ").rstrip("`")
    shown = cli.ok("regulator", "tx", "show", outbox_id)
    assert "rejected" in shown and "CannotActOnSelf: a regulator cannot suspend, revoke or freeze itself" in shown
    assert cli.json("regulator", "tx", "show", outbox_id)["error"]["name"] == "CannotActOnSelf"

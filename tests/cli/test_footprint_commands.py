"""`carbonledger pcr|product|epd`: a PCR, the steel plant's coil with its output and EPD, the parts maker's bracket
citing it, attested by the verifier and published, then the coil's new version flagging the bracket, through the
service's HTTP API as each member."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger_service.cli import output
from ledger_service.epd import hex32
from tests.cli.test_business_commands import Cli, one_line
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, Cast
from tests.support.footprints import Q1, VALID, doc

PERIOD = (str(Q1[0]), str(Q1[1]))
VALIDITY = ("--valid-from", str(VALID[0]), "--valid-until", str(VALID[1]))


@pytest.fixture
def cli(client: TestClient, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(output.console, "_width", 250)
    monkeypatch.setattr(output.errors, "_width", 250)
    return Cli(client, cast)


def epd(cli: Cli, owner: str, product: str, unit: str, mg: int, *more: str) -> Any:
    """Draft (as `owner`), attest (the verifier) and publish (as `owner`); the publication's answer."""
    drafted = cli.json(owner, "epd", "draft", product, "--pcr", "PCR-STEEL-HRC", "--pcr-version", "1", "--unit", unit,
                       "--mg-per-unit", str(mg), "--period-start", PERIOD[0], "--period-end", PERIOD[1], *VALIDITY,
                       "--document", hex32(doc(f"epd {mg}")), "--provenance", hex32(doc(f"provenance {mg}")),
                       "--primary-share", "620", *more)
    assert drafted["status"] == "draft"
    attested = cli.json("verifier", "epd", "attest", str(drafted["draft_id"]), "--statement", hex32(doc("statement")))
    assert attested["draft"]["status"] == "attested"
    return cli.json(owner, "epd", "publish", str(drafted["draft_id"]))


def test_a_footprint_from_pcr_to_a_flag_on_the_customers_epd(cli: Cli, cast: Cast, tmp_path: Path):
    rules = tmp_path / "pcr-steel-hrc.pdf"
    rules.write_bytes(b"%PDF rules for hot-rolled coil")
    pcr = cli.json("regulator", "pcr", "register", "PCR-STEEL-HRC", "1", "--name", "Hot-rolled steel coil",
                   "--cpc", "4121", "--unit", "t", "--allocation", "mass", *VALIDITY, "--document", str(rules))
    assert pcr["pcr"]["allocation"] == "mass" and pcr["pcr"]["version"] == 1
    refused = cli.refused("enterprise_a", "pcr", "register", "PCR-STEEL-HRC", "2", "--name", "x", "--cpc", "4121",
                          "--unit", "t", "--allocation", "mass", *VALIDITY, "--document", str(rules))
    assert "does not hold the REGULATOR role" in one_line(refused)
    assert "Hot-rolled steel coil" in cli.ok("trader", "pcr", "list", "--code", "PCR-STEEL-HRC")

    coil = cli.json("enterprise_a", "product", "register", "HRC-2MM", "--cpc", "4121", "--unit", "t",
                    "--facility", "ENT11-F1")["product"]["product_id"]
    bracket = cli.json("enterprise_b", "product", "register", "BRACKET-7", "--cpc", "4291", "--unit", "piece",
                       "--facility", "ENT12-F1")["product"]["product_id"]
    assert "HRC-2MM" in cli.ok("trader", "product", "list", "--owner-org", str(ENTERPRISE_A))
    recorded = cli.json("enterprise_a", "product", "output", coil, *PERIOD, "--quantity-milli", "120000000",
                        "--mass-grams", "120000000000", "--extract", hex32(doc("erp q1")))
    assert recorded["output"]["index"] == 1
    assert "120000000" in cli.ok("verifier", "product", "output", coil)
    assert "verifiers and regulators only" in one_line(cli.refused("enterprise_b", "product", "output", coil))

    steel_epd = epd(cli, "enterprise_a", coil, "t", 1_850_000_000)["epd"]["epd_id"]
    part_epd = epd(cli, "enterprise_b", bracket, "piece", 3_400_000, "--cite", str(steel_epd))["epd"]["epd_id"]
    shown = cli.json("trader", "epd", "show", str(part_epd))
    assert (shown["cited_epd_ids"], shown["status"], shown["flagged"]) == ([steel_epd], "published", False)

    new_version = epd(cli, "enterprise_a", coil, "t", 1_700_000_000, "--supersedes", str(steel_epd))
    assert new_version["flagged"] == [part_epd]

    flagged = cli.json("enterprise_b", "epd", "flagged")["items"]
    assert [e["epd_id"] for e in flagged] == [part_epd]
    assert "superseded" in cli.ok("trader", "epd", "list", "--owner-org", str(ENTERPRISE_A))
    assert cli.json("regulator", "epd", "flagged", "--owner-org", str(ENTERPRISE_B))["page"]["total"] == 1
    withdrawn = cli.json("enterprise_a", "epd", "withdraw", str(new_version["epd"]["epd_id"]),
                         "--reason", hex32(doc("recalled")))
    assert withdrawn["epd"]["status"] == "withdrawn"
    assert "EpdNotPublished" in one_line(cli.refused("enterprise_a", "epd", "withdraw", str(steel_epd),
                                                     "--reason", hex32(doc("again"))))


def test_an_erp_extract_records_each_product_s_output_committing_to_the_extract(cli: Cli, tmp_path: Path):
    coil = cli.json("enterprise_a", "product", "register", "HRC-2MM", "--cpc", "4121", "--unit", "t",
                    "--facility", "ENT11-F1")["product"]["product_id"]
    extract = tmp_path / "erp-q1.csv"
    extract.write_text("product,period_start,period_end,quantity,mass_kg,value_cny\n"
                       "HRC-2MM,2025-01-01T00:00:00Z,2025-04-01T00:00:00Z,1200.5,1200500,4802000\n")
    recorded = cli.json("enterprise_a", "product", "extract", str(extract))
    digest = "0x" + hashlib.sha256(extract.read_bytes()).hexdigest()
    assert recorded["extract_hash"] == digest
    assert [(o["product_id"], o["quantity_milli"], o["extract_hash"]) for o in recorded["outputs"]] == [
        (coil, 1_200_500, digest)]
    # The same extract again would record the period twice: refused before anything is sent.
    assert "OutputPeriodOverlap" in one_line(cli.refused("enterprise_a", "product", "extract", str(extract)))

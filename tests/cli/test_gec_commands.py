"""`carbonledger gec`: certificates issued from anchored generation, moved, consumed, Scope 2 both ways, the
regulator's rule and a batch's trace, through the service's HTTP API as each member."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledger_service.cli import output
from ledger_service.runtime import Runtime
from tests.cli.test_business_commands import Cli, one_line
from tests.service.cast import ENTERPRISE_B, Cast
from tests.service.metering import HOUR, START
from tests.service.test_gec_story import generating_park


@pytest.fixture
def cli(client: TestClient, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(output.console, "_width", 250)
    monkeypatch.setattr(output.errors, "_width", 250)
    return Cli(client, cast)


def test_certificates_from_issue_to_a_claim_in_market_based_scope_2(cli: Cli, cast: Cast, client: TestClient,
                                                                    runtime: Runtime):
    anchors = generating_park(client, cast, runtime)
    period = (str(START), str(START + 2 * HOUR))
    flags = [arg for a in anchors for arg in ("--anchor", str(a))]

    issued = cli.json("regulator", "gec", "issue", cast.addresses["enterprise_a"], *period, *flags)
    assert (issued["batch"]["amount"], issued["batch"]["anchor_ids"]) == (30, anchors)
    refused = cli.refused("enterprise_a", "gec", "issue", cast.addresses["enterprise_a"], *period, *flags)
    assert "does not hold the REGULATOR role" in refused
    assert "30" in cli.ok("trader", "gec", "batches")
    cli.ok("enterprise_a", "gec", "transfer", cast.addresses["enterprise_b"], "1", "20")
    claim = cli.json("enterprise_b", "gec", "consume", "1", "12", *period)["consumption"]
    assert (claim["beneficiary_org_id"], claim["amount"]) == (ENTERPRISE_B, 12)

    report = cli.json("enterprise_b", "gec", "scope2", str(ENTERPRISE_B), *period)
    assert report["certificates_mwh"] == 12 and report["compliance_basis"] == "location-based"
    assert "certificates consumed" in cli.ok("enterprise_b", "gec", "scope2", str(ENTERPRISE_B), *period)
    assert cli.json("trader", "gec", "rule") == {"market_based_counts": False}
    assert "does not hold the REGULATOR role" in one_line(cli.refused("enterprise_a", "gec", "rule", "--market-based"))
    cli.ok("regulator", "gec", "rule", "--market-based")
    assert cli.json("enterprise_b", "gec", "scope2", str(ENTERPRISE_B), *period)["compliance_basis"] == "market-based"

    traced = cli.ok("regulator", "gec", "trace", "1")
    assert "production anchors" in traced and "consumption" in traced and "issued 30, consumed 12" in traced

"""`carbonledger trace product`: the parts maker's bracket EPD, computed from its workshop's anchored meter data and
citing the steel plant's coil EPD (computed the same way, `POST /epds/drafts/computed`), printed tier by tier down
to a proved reading in each workshop the caller may see, through the service's HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger_service.runtime import Runtime
from tests.cli.test_business_commands import Cli
from tests.cli.test_footprint_commands import cli  # noqa: F401
from tests.service.cast import Cast
from tests.service.product_trace_steps import computed_supply_chain


@pytest.fixture
def chain(client: TestClient, cast: Cast, runtime: Runtime) -> dict[str, Any]:
    return computed_supply_chain(client, cast, runtime)


def test_the_regulator_prints_both_tiers_down_to_proved_readings(cli: Cli, chain: dict[str, Any]):  # noqa: F811
    out = cli.ok("regulator2", "trace", "product", str(chain["part_epd"]))

    assert f"EPD {chain['part_epd']}: 2 tiers" in out and "verified" in out and "NOT verified" not in out
    assert "tier 1: suppliers" in out and f"EPD {chain['steel_epd']} of Riverside Steel" in out
    assert out.count("provenance record: commitment") == 2
    assert out.count("proof to the anchored root ok") >= 2  # a reading in each company's workshop
    assert f"input hot-rolled coil: EPD {chain['steel_epd']}, cited on chain ok, hash ok" in out
    assert "2 EPDs in 2 tiers, 2 current; trace verified" in out
    traced = cli.json("regulator2", "trace", "product", str(chain["part_epd"]), "--readings", "2")
    assert all(len(s["readings"]) == 2 and all(r["matches"] for r in s["readings"])
               for h in traced["hops"] for s in h["subtotals"])


def test_the_customer_prints_the_suppliers_epd_without_its_provenance(cli: Cli, chain: dict[str, Any]):  # noqa: F811
    out = cli.ok("enterprise_b", "trace", "product", str(chain["part_epd"]))

    assert out.count("provenance record: commitment") == 1
    assert "access: hidden (product footprint drafts and output: a member sees its own organisation; " \
           "organisation 11 is not organisation 12" in " ".join(out.split())
    assert out.count("provenance, subtotals and proofs not shown") == 1
    assert cli.refused("enterprise_b", "trace", "product", "999").startswith("error: not found: no EPD 999")

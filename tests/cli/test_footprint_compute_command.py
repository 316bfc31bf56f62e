"""`carbonledger epd compute`: the steel plant's coil footprint from its anchored meter data, its output records and
a bill of materials with a supplier's EPD and a secondary factor, through the service's HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger_service.cli import output
from ledger_service.epd import hex32
from ledger_service.runtime import Runtime
from tests.cli.test_business_commands import Cli, one_line
from tests.service.cast import Cast
from tests.service.metering import clear_meter_data
from tests.service.test_footprint_compute import PERIOD, VALID, steel_plant
from tests.support.footprints import doc

DATES = ("--period-start", str(PERIOD[0]), "--period-end", str(PERIOD[1]), "--valid-from", str(VALID[0]),
         "--valid-until", str(VALID[1]))


@pytest.fixture
def plant(client: TestClient, cast: Cast, runtime: Runtime) -> Iterator[dict[str, Any]]:
    yield steel_plant(client, cast, runtime)
    clear_meter_data(runtime)


@pytest.fixture
def cli(client: TestClient, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(output.console, "_width", 250)
    monkeypatch.setattr(output.errors, "_width", 250)
    return Cli(client, cast)


def test_a_footprint_is_computed_and_kept_as_a_draft_from_the_command_line(cli: Cli, plant: dict[str, Any]):
    coil = plant["products"]["HRC-2MM"]
    args = ("epd", "compute", coil, "--pcr", "PCR-STEEL-HRC", "--pcr-version", "1", *DATES,
            "--document", hex32(doc("coil epd")), "--epd-input", f"pig iron,0.9,t,{plant['supplier_epd']}",
            "--factor-input", "lime,0.1,t,CLCD,2024,quicklime,1000")
    computed = cli.json("enterprise_a", *args)
    assert computed["draft"]["status"] == "draft"
    assert computed["draft"]["fields"]["cited_epd_ids"] == [plant["supplier_epd"]]
    assert computed["allocation_share"].startswith("0.666666")
    table = cli.ok("enterprise_a", *args)  # the same inputs give the same draft
    assert f"{computed['draft']['draft_id']}" in table and computed["kg_co2e_per_unit"][:8] in table
    bad = cli(  # type: ignore[operator]
        "enterprise_a", "epd", "compute", coil, "--pcr", "PCR-STEEL-HRC", "--pcr-version", "1", *DATES,
        "--document", hex32(doc("x")), "--epd-input", "pig iron,0.9,t")
    assert bad.exit_code == 2 and "NAME,QUANTITY,UNIT,EPD_ID" in bad.output
    refused = cli.refused("enterprise_b", *args)
    assert "NotOrganisationMember" in one_line(refused) or "member" in one_line(refused)

"""A footprint published on the ledger in the PACT v3.0 data model: the specification's field names and required
fields, decimals as strings, a stable id, its status, and the ledger's evidence in an extension."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from ledger_service.footprints.pact import (
    LEDGER_EXTENSION_SCHEMA,
    ProductFootprint,
    pf_id,
    to_product_footprint,
)
from tests.footprints.samples import BRACKET, CHAIN_ID, COIL_ID, COIL_V1, COIL_V2, REGISTRY, STEEL_COMPANY

# The required properties of the conformance service's v3.0 schema (ProductFootprint and CarbonFootprint).
REQUIRED = {"id", "specVersion", "created", "status", "companyName", "companyIds", "productDescription",
            "productIds", "productNameCompany", "pcf"}
REQUIRED_PCF = {"declaredUnitOfMeasurement", "declaredUnitAmount", "productMassPerDeclaredUnit",
                "referencePeriodStart", "referencePeriodEnd", "pcfExcludingBiogenicUptake",
                "pcfIncludingBiogenicUptake", "fossilGhgEmissions", "fossilCarbonContent",
                "ipccCharacterizationFactors", "crossSectoralStandards", "exemptedEmissionsPercent"}


def test_a_published_epd_maps_to_a_v3_product_footprint():
    document = to_product_footprint(COIL_V2).document()
    assert document.keys() >= REQUIRED and document["pcf"].keys() >= REQUIRED_PCF
    assert document["specVersion"] == "3.0.0"
    assert document["status"] == "Active"
    assert document["companyIds"] == [STEEL_COMPANY] and document["productIds"] == [COIL_ID]
    assert document["productClassifications"] == ["urn:pact:productclassification:un-cpc:41231"]
    pcf = document["pcf"]
    assert (pcf["declaredUnitOfMeasurement"], pcf["declaredUnitAmount"]) == ("kilogram", "1000")  # a tonne
    assert pcf["pcfExcludingBiogenicUptake"] == pcf["fossilGhgEmissions"] == "1237.5"  # a string, never a float
    assert pcf["primaryDataShare"] == "95"
    assert pcf["referencePeriodStart"] == "2026-01-01T00:00:00Z"
    assert document["precedingPfIds"] == [str(pf_id(CHAIN_ID, REGISTRY, 1, 1))]


def test_the_id_is_a_uuid5_of_the_chain_ids_and_never_changes():
    first = to_product_footprint(COIL_V2).id
    assert first == to_product_footprint(COIL_V2).id and first.version == 5
    assert first == uuid.uuid5(uuid.UUID("5f1e3c2a-8d4b-5a6e-9c07-3b2f41d0e8a1"), f"{CHAIN_ID}:{REGISTRY.lower()}:1:2")
    assert len({to_product_footprint(e).id for e in (COIL_V1, COIL_V2, BRACKET)}) == 3


def test_superseded_and_withdrawn_are_deprecated():
    assert to_product_footprint(COIL_V1).status == "Deprecated"


def test_the_ledger_evidence_travels_in_an_extension():
    (extension,) = to_product_footprint(COIL_V2).document()["extensions"]
    assert extension["dataSchema"] == LEDGER_EXTENSION_SCHEMA
    data = extension["data"]
    assert (data["epdId"], data["epdVersion"], data["chainId"], data["contract"]) == (1, 2, CHAIN_ID, REGISTRY)
    assert data["transactionHash"] == "0x" + "44" * 32
    assert data["provenanceCommitment"] == "0x" + "22" * 32
    assert data["verifiedOnLedger"] is True
    assert "keccak256" in data["howToCheck"]


def test_a_document_reads_back_to_the_same_model():
    footprint = to_product_footprint(BRACKET)
    assert ProductFootprint.model_validate(footprint.document()) == footprint


def _broken(change: dict[str, Any], pcf: dict[str, Any] | None = None) -> dict[str, Any]:
    document = to_product_footprint(BRACKET).document()
    document.update(change)
    document["pcf"].update(pcf or {})
    return {k: v for k, v in document.items() if v is not None}


@pytest.mark.parametrize(("change", "pcf"), [
    ({"companyIds": []}, None),
    ({"companyIds": ["org:12"]}, None),  # not a URN
    ({"status": "Published"}, None),
    ({"productNameCompany": None}, None),  # required
    ({}, {"pcfExcludingBiogenicUptake": 1.43125}),  # a JSON number: decimals are strings
    ({}, {"declaredUnitAmount": "0"}),
    ({}, {"declaredUnitOfMeasurement": "tonne"}),
    ({}, {"crossSectoralStandards": ["ISO 14067"]}),
    ({}, {"geographyRegionOrSubregion": "Asia"}),  # a second geography beside geographyCountry
], ids=["empty companyIds", "not a URN", "unknown status", "missing productNameCompany", "number",
        "zero declared amount", "unknown unit", "unknown standard", "two geographies"])
def test_what_the_model_refuses(change: dict[str, Any], pcf: dict[str, Any] | None):
    with pytest.raises(ValidationError):
        ProductFootprint.model_validate(_broken(change, pcf))


def test_fields_beyond_the_model_are_kept():
    document = _broken({}, {"landUseChangeGhgEmissions": "0.01"})
    assert ProductFootprint.model_validate(document).document()["pcf"]["landUseChangeGhgEmissions"] == "0.01"

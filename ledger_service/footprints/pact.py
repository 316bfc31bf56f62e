"""The PACT data model (Technical Specifications for PCF Data Exchange, **version 3.0**), and a published EPD in it.

Version 3.0 (`specVersion` "3.0.0") is the one served: it is the current major version and its conformance test
cases (the PACT conformance service's "V3 Test Cases - Expected Results", cases 1-39) can be read in full.

`ProductFootprint` and `CarbonFootprint` carry the specification's field names (camelCase), its required fields and
its enumerations; decimals are JSON strings as the specification requires (kept as `str`, checked against its
pattern, so an imported figure is never rounded). Fields a supplier sends beyond the ones modelled here are kept
(`extra="allow"`): another host system's optional fields pass through unchanged.

`to_product_footprint` maps a footprint published on this ledger (`PublishedFootprint`, fed from the index) to a
`ProductFootprint`:

- `id` is `uuid5(PF_NAMESPACE, "<chain id>:<contract>:<EPD id>:<version>")`: the same EPD version gets the same id
  on every call and on every host serving the ledger's data;
- status published -> `Active`; superseded or withdrawn -> `Deprecated`; `precedingPfIds` are the ids of the
  versions it supersedes;
- the declared unit is `declaredUnitAmount` of `declaredUnitOfMeasurement` (a tonne of coil is 1000 kilogram), the
  footprint is kgCO2e per declared unit, fossil (the ledger's emissions are metered fossil and process emissions:
  no biogenic uptake is claimed, so both `pcf...BiogenicUptake` figures equal it);
- the ledger's evidence travels in a data-model extension (`LEDGER_EXTENSION_SCHEMA`): the on-chain EPD id and
  version, chain id, contract address, transaction hash, provenance commitment, document hash, PCR and how to check
  it on chain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from ledger_service.footprints.canonical import decimal_text

SPEC_VERSION = "3.0.0"
PF_NAMESPACE = uuid.UUID("5f1e3c2a-8d4b-5a6e-9c07-3b2f41d0e8a1")  # fixed: ids must never change
LEDGER_EXTENSION_SCHEMA = "urn:carbonledger:pact-extension:ledger-evidence:1.0.0"
LEDGER_EXTENSION_VERSION = "1.0.0"
CPC_URN = "urn:pact:productclassification:un-cpc:"

NonEmptyString = Annotated[str, StringConstraints(min_length=1)]
Urn = Annotated[str, StringConstraints(pattern=r"^([uU][rR][nN]):")]
PactDecimal = Annotated[str, StringConstraints(pattern=r"^[+-]?\d+(\.\d+)?$")]
PositiveNonZeroDecimal = Annotated[str, StringConstraints(pattern=r"^[+]?((\d*[1-9]\d*)(\.\d+)?|(0+\.\d*[1-9]\d*))$")]
IpccFactor = Annotated[str, StringConstraints(pattern=r"^AR\d+$")]

DeclaredUnit = Literal["liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer",
                       "square meter", "piece", "hour", "megabit second"]
CrossSectoralStandard = Literal["ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0",
                                "PACT-3.0"]
RegionOrSubregion = Literal[
    "Africa", "Americas", "Asia", "Europe", "Oceania", "Australia and New Zealand", "Central Asia", "Eastern Asia",
    "Eastern Europe", "Latin America and the Caribbean", "Melanesia", "Micronesia", "Northern Africa",
    "Northern America", "Northern Europe", "Polynesia", "South-eastern Asia", "Southern Asia", "Southern Europe",
    "Sub-Saharan Africa", "Western Asia", "Western Europe"]
PfStatus = Literal["Active", "Deprecated"]
ErrorCode = Literal["BadRequest", "AccessDenied", "TokenExpired", "NotFound", "InternalError", "NotImplemented"]


class PactModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True)

    def document(self) -> dict[str, Any]:
        """The JSON object as the specification names it (absent optional fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ProductOrSectorSpecificRule(PactModel):
    operator: Literal["PEF", "EPD International", "Other"]
    rule_names: Annotated[list[NonEmptyString], Field(min_length=1)]
    other_operator_name: NonEmptyString | None = None


class EmissionFactorSource(PactModel):
    name: NonEmptyString
    version: NonEmptyString


class DataQualityIndicators(PactModel):
    technological_dqr: PactDecimal = Field(alias="technologicalDQR")
    geographical_dqr: PactDecimal = Field(alias="geographicalDQR")
    temporal_dqr: PactDecimal = Field(alias="temporalDQR")


class Verification(PactModel):
    coverage: Literal["PCF calculation model", "PCF program", "product level"] | None = None
    provider_name: str | None = None
    completed_at: AwareDatetime | None = None
    standard_name: str | None = None
    comments: str | None = None


class CarbonFootprint(PactModel):
    declared_unit_of_measurement: DeclaredUnit
    declared_unit_amount: PositiveNonZeroDecimal
    product_mass_per_declared_unit: PactDecimal
    reference_period_start: AwareDatetime
    reference_period_end: AwareDatetime
    geography_region_or_subregion: RegionOrSubregion | None = None
    geography_country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    geography_country_subdivision: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")] | None = None
    boundary_processes_description: str | None = None
    pcf_excluding_biogenic_uptake: PactDecimal
    pcf_including_biogenic_uptake: PactDecimal
    fossil_ghg_emissions: PactDecimal
    fossil_carbon_content: PactDecimal
    biogenic_carbon_content: PactDecimal | None = None
    packaging_emissions_included: bool | None = None
    ccs_technological_co2_capture_included: bool | None = Field(default=None,
                                                                 alias="ccsTechnologicalCO2CaptureIncluded")
    ccu_calculation_approach: Literal["Cut-off", "Credit"] | None = None
    ipcc_characterization_factors: Annotated[list[IpccFactor], Field(min_length=1)]
    cross_sectoral_standards: Annotated[list[CrossSectoralStandard], Field(min_length=1)]
    product_or_sector_specific_rules: list[ProductOrSectorSpecificRule] | None = None
    exempted_emissions_percent: PactDecimal
    exempted_emissions_description: str | None = None
    allocation_rules_description: str | None = None
    secondary_emission_factor_sources: list[EmissionFactorSource] | None = None
    primary_data_share: PactDecimal | None = None
    dqi: DataQualityIndicators | None = None
    verification: Verification | None = None

    @model_validator(mode="after")
    def _one_geography(self) -> CarbonFootprint:
        given = [g for g in (self.geography_region_or_subregion, self.geography_country,
                             self.geography_country_subdivision) if g is not None]
        if len(given) > 1:
            raise ValueError("at most one of geographyRegionOrSubregion, geographyCountry and "
                             "geographyCountrySubdivision")
        return self


class DataModelExtension(PactModel):
    spec_version: NonEmptyString
    data_schema: NonEmptyString
    documentation: str | None = None
    data: dict[str, Any]


class ProductFootprint(PactModel):
    id: uuid.UUID
    spec_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+(-\d{8})?$")]
    preceding_pf_ids: Annotated[list[uuid.UUID], Field(min_length=1)] | None = None
    created: AwareDatetime
    status: PfStatus
    validity_period_start: AwareDatetime | None = None
    validity_period_end: AwareDatetime | None = None
    company_name: NonEmptyString
    company_ids: Annotated[list[Urn], Field(min_length=1)]
    product_description: str
    product_ids: Annotated[list[Urn], Field(min_length=1)]
    product_classifications: Annotated[list[Urn], Field(min_length=1)] | None = None
    product_name_company: NonEmptyString
    comment: str | None = None
    pcf: CarbonFootprint
    extensions: list[DataModelExtension] | None = None

    @model_validator(mode="after")
    def _unique_sets(self) -> ProductFootprint:
        for name in ("preceding_pf_ids", "company_ids", "product_ids", "product_classifications"):
            items = getattr(self, name)
            if items is not None and len(set(items)) != len(items):
                raise ValueError(f"{to_camel(name)} holds an item twice")
        return self

    def geographies(self) -> set[str]:
        return {g for g in (self.pcf.geography_region_or_subregion, self.pcf.geography_country,
                            self.pcf.geography_country_subdivision) if g is not None}


class PactError(BaseModel):
    """The error body of the PACT API."""

    code: ErrorCode
    message: str


class EpdStatus(StrEnum):
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class EpdRef:
    epd_id: int
    version: int


@dataclass(frozen=True)
class PublishedFootprint:
    """A footprint published on this ledger (an EPD version), as the index holds it."""

    chain_id: int
    contract: str  # the EPD registry's address
    epd_id: int
    version: int
    company_name: str
    company_id: str  # URN
    product_ids: tuple[str, ...]  # URNs
    cpc_code: str
    product_name: str
    product_description: str
    declared_unit: DeclaredUnit
    declared_unit_amount: Decimal  # of `declared_unit` in one declared unit (a tonne: 1000 kilogram)
    mass_kg_per_declared_unit: Decimal
    kg_per_declared_unit: Decimal
    reference_start: datetime
    reference_end: datetime
    valid_from: datetime
    valid_until: datetime
    status: EpdStatus
    preceding: tuple[EpdRef, ...]
    primary_data_share_percent: Decimal
    exempted_percent: Decimal
    pcr_id: str
    pcr_version: int
    created: datetime
    updated: datetime | None
    tx_hash: bytes
    provenance_commitment: bytes
    document_hash: bytes
    geography_country: str | None = None
    verifier: str | None = None  # the verifier's organisation name
    verified_at: datetime | None = None
    pcr_name: str | None = None  # the rule's name, when `pcr_id` is an on-chain id rather than a readable code

    @property
    def pcr_label(self) -> str:
        return f"{self.pcr_name or self.pcr_id} v{self.pcr_version}"


def pf_id(chain_id: int, contract: str, epd_id: int, version: int) -> uuid.UUID:
    """The PACT id of an EPD version: the same on every call."""
    return uuid.uuid5(PF_NAMESPACE, f"{chain_id}:{contract.lower()}:{epd_id}:{version}")


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def ledger_extension(epd: PublishedFootprint) -> DataModelExtension:
    return DataModelExtension(
        spec_version=LEDGER_EXTENSION_VERSION, data_schema=LEDGER_EXTENSION_SCHEMA,
        data={
            "epdId": epd.epd_id, "epdVersion": epd.version, "chainId": epd.chain_id, "contract": epd.contract,
            "transactionHash": _hex(epd.tx_hash), "provenanceCommitment": _hex(epd.provenance_commitment),
            "documentHash": _hex(epd.document_hash), "pcr": {"id": epd.pcr_id, "version": epd.pcr_version},
            "ledgerStatus": epd.status.value, "verifiedOnLedger": True,
            "updated": None if epd.updated is None else epd.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "howToCheck": f"Read EPD {epd.epd_id} version {epd.version} from contract {epd.contract} on chain "
                          f"{epd.chain_id}: its provenance commitment must equal provenanceCommitment, which is "
                          "keccak256 of the provenance record's canonical JSON; the record names the anchors whose "
                          "Merkle-sum subtotals it used, each provable against its anchored root.",
        })


def to_product_footprint(epd: PublishedFootprint) -> ProductFootprint:
    kg = decimal_text(epd.kg_per_declared_unit)
    verification = None if epd.verifier is None else Verification(
        coverage="product level", provider_name=epd.verifier, completed_at=epd.verified_at,
        standard_name="ISO 14067")
    pcf = CarbonFootprint(
        declared_unit_of_measurement=epd.declared_unit, declared_unit_amount=decimal_text(epd.declared_unit_amount),
        product_mass_per_declared_unit=decimal_text(epd.mass_kg_per_declared_unit),
        reference_period_start=epd.reference_start, reference_period_end=epd.reference_end,
        geography_country=epd.geography_country, boundary_processes_description="Cradle-to-gate",
        pcf_excluding_biogenic_uptake=kg, pcf_including_biogenic_uptake=kg, fossil_ghg_emissions=kg,
        fossil_carbon_content="0", packaging_emissions_included=False,
        ipcc_characterization_factors=["AR6"], cross_sectoral_standards=["ISO14067", "GHGP-Product", "PACT-3.0"],
        product_or_sector_specific_rules=[ProductOrSectorSpecificRule(
            operator="Other", rule_names=[epd.pcr_label], other_operator_name="CarbonLedger")],
        exempted_emissions_percent=decimal_text(epd.exempted_percent),
        primary_data_share=decimal_text(epd.primary_data_share_percent), verification=verification,
    ).model_copy(update={"ccs_technological_co2_capture_included": False})  # its alias is no Python name
    preceding = [pf_id(epd.chain_id, epd.contract, p.epd_id, p.version) for p in epd.preceding]
    return ProductFootprint(
        id=pf_id(epd.chain_id, epd.contract, epd.epd_id, epd.version), spec_version=SPEC_VERSION,
        preceding_pf_ids=preceding or None, created=epd.created,
        status="Active" if epd.status is EpdStatus.PUBLISHED else "Deprecated",
        validity_period_start=epd.valid_from, validity_period_end=epd.valid_until, company_name=epd.company_name,
        company_ids=[epd.company_id], product_description=epd.product_description, product_ids=list(epd.product_ids),
        product_classifications=[CPC_URN + epd.cpc_code], product_name_company=epd.product_name,
        comment=f"EPD {epd.epd_id} version {epd.version} on CarbonLedger, under {epd.pcr_label}",
        pcf=pcf, extensions=[ledger_extension(epd)])

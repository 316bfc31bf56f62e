"""ProductRegistry: PCR versions registered by the program operator (a regulator), never overwritten; products
registered by their enterprise under a derived id; production output recorded by the owner for periods that do
not overlap; and the commitments it keeps, reproduced in Python."""

from __future__ import annotations

from dataclasses import replace

from ledger_service.epd import PRODUCTS, Allocation, output_commitment, product_id
from tests.contracts.helpers import new_member
from tests.contracts.structs import view
from tests.support.cast import ROLES
from tests.support.footprints import (
    HRC,
    Q1,
    Q2,
    STEEL_ORG,
    VALID,
    a_pcr,
    an_output,
    coil,
    record_output,
    register_pcr,
    register_product,
)
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

# ---------------------------------------------------------------------- PCRs


def test_a_regulator_registers_a_pcr_version_and_the_event_carries_every_field(ledger: Ledger) -> None:
    pcr = a_pcr()

    event = register_pcr(ledger, pcr)

    assert event["pcrId"] == HRC and event["version"] == 1
    assert event["registrant"] == ledger.address("regulator")
    assert event["commitment"] == pcr.commitment()
    assert event["pcr"] == {"pcrId": HRC, "version": 1, "name": "Hot-rolled steel coil", "cpcCode": "4121",
                            "declaredUnit": "t", "systemBoundary": "cradle-to-gate", "allocation": Allocation.MASS,
                            "cutOffPerMille": 10, "dataQuality": pcr.data_quality, "validFrom": VALID[0],
                            "validUntil": VALID[1], "documentHash": pcr.document_hash}
    assert view(ledger, PRODUCTS, "pcr", HRC, 1) == {"validFrom": VALID[0], "validUntil": VALID[1],
                                                      "allocation": Allocation.MASS, "commitment": pcr.commitment()}
    assert ledger.call(PRODUCTS, "latestPcrVersion", HRC) == 1


def test_the_pcr_commitment_computed_in_python_is_the_contracts(ledger: Ledger) -> None:
    for pcr in (a_pcr(), a_pcr(7, allocation=Allocation.PHYSICAL_OUTPUT), replace(a_pcr(), name="", data_quality="é")):
        assert ledger.call(PRODUCTS, "pcrCommitment", pcr.as_tuple()) == pcr.commitment()


def test_pcr_versions_increase_and_are_never_overwritten(ledger: Ledger) -> None:
    register_pcr(ledger, a_pcr(1))
    register_pcr(ledger, a_pcr(3, allocation=Allocation.ECONOMIC))
    for version in (1, 2, 3):
        with reverts("PcrVersionNotIncreasing", HRC, version, 3):
            register_pcr(ledger, a_pcr(version))

    assert view(ledger, PRODUCTS, "pcr", HRC, 1)["allocation"] == Allocation.MASS
    assert view(ledger, PRODUCTS, "pcr", HRC, 3)["allocation"] == Allocation.ECONOMIC
    with reverts("UnknownPcrVersion", HRC, 2):
        ledger.call(PRODUCTS, "pcr", HRC, 2)
    assert ledger.call(PRODUCTS, "pcrValidity", HRC, 3) == list(VALID)


def test_only_a_regulator_registers_pcrs(ledger: Ledger) -> None:
    for outsider in ("verifier", "enterprise_a", "stranger"):
        with reverts("MissingRole", ledger.address(outsider), ROLES["REGULATOR"]):
            register_pcr(ledger, sender=outsider)


def test_a_pcr_needs_an_id_a_validity_a_cut_off_within_1000_and_a_document(ledger: Ledger) -> None:
    with reverts("InvalidPcrId"):
        register_pcr(ledger, replace(a_pcr(), pcr_id=bytes(32)))
    with reverts("PcrVersionNotIncreasing", HRC, 0, 0):
        register_pcr(ledger, a_pcr(0))
    with reverts("InvalidPeriod", VALID[1], VALID[1]):
        register_pcr(ledger, a_pcr(valid=(VALID[1], VALID[1])))
    with reverts("InvalidPerMille", 1001):
        register_pcr(ledger, replace(a_pcr(), cut_off_per_mille=1001))
    with reverts("MissingDocumentHash"):
        register_pcr(ledger, replace(a_pcr(), document_hash=bytes(32)))


# ---------------------------------------------------------------------- products


def test_an_enterprise_registers_its_product_under_a_derived_id(ledger: Ledger) -> None:
    receipt = ledger.tx("enterprise_a", PRODUCTS, "registerProduct", coil().as_tuple())

    (event,) = ledger.events(receipt, PRODUCTS, "ProductRegistered")
    expected = product_id(STEEL_ORG, "HRC-2MM")
    assert event == {"productId": expected, "ownerOrgId": STEEL_ORG, "registrant": ledger.address("enterprise_a"),
                     "product": {"ownProductId": "HRC-2MM", "cpcCode": "4121", "declaredUnit": "t",
                                 "facility": "ENT11-F1", "workshop": "ENT11-F1-W2"}}
    assert ledger.call(PRODUCTS, "productIdOf", STEEL_ORG, "HRC-2MM") == expected
    assert view(ledger, PRODUCTS, "product", expected)["ownerOrgId"] == STEEL_ORG


def test_a_product_is_registered_once_per_organisation_but_another_may_use_the_same_own_id(ledger: Ledger) -> None:
    first = register_product(ledger, coil())
    with reverts("ProductExists", first, STEEL_ORG):
        register_product(ledger, coil(), sender="enterprise_a2")  # same organisation

    assert register_product(ledger, coil(), sender="enterprise_b") != first


def test_only_an_enterprise_registers_products_and_with_its_key_fields(ledger: Ledger) -> None:
    for outsider in ("regulator", "verifier", "trader", "stranger"):
        with reverts("MissingRole", ledger.address(outsider), ROLES["ENTERPRISE"]):
            register_product(ledger, coil(), sender=outsider)
    for field, name in (("own_product_id", "ownProductId"), ("declared_unit", "declaredUnit"),
                        ("facility", "facility")):
        with reverts("MissingProductField", name):
            register_product(ledger, replace(coil(), **{field: ""}))


# ---------------------------------------------------------------------- output


def test_the_owner_records_output_per_period_and_the_commitment_is_kept(ledger: Ledger) -> None:
    product = register_product(ledger, coil())
    output = an_output(Q1)

    event = record_output(ledger, product, output, sender="enterprise_a2")

    commitment = output_commitment(product, 1, output)
    assert event == {"productId": product, "ownerOrgId": STEEL_ORG, "index": 1,
                     "recorder": ledger.address("enterprise_a2"), "commitment": commitment,
                     "output": {"periodStart": Q1[0], "periodEnd": Q1[1], "quantityMilli": 120_000_000,
                                "massGrams": 120_000_000_000, "valueFen": 54_000_000_000,
                                "extractHash": output.extract_hash}}
    assert ledger.call(PRODUCTS, "outputCommitment", product, 1) == commitment
    assert view(ledger, PRODUCTS, "product", product)["lastOutputEnd"] == Q1[1]
    assert record_output(ledger, product, an_output(Q2))["index"] == 2


def test_output_periods_of_a_product_do_not_overlap(ledger: Ledger) -> None:
    product = register_product(ledger, coil())
    record_output(ledger, product, an_output(Q2))
    with reverts("OutputPeriodOverlap", product, Q1[0], Q2[1]):
        record_output(ledger, product, an_output(Q1))
    with reverts("OutputPeriodOverlap", product, Q2[1] - 1, Q2[1]):
        record_output(ledger, product, an_output((Q2[1] - 1, Q2[1] + 10)))


def test_only_an_enterprise_member_of_the_owner_records_output(ledger: Ledger) -> None:
    product = register_product(ledger, coil())
    with reverts("NotOrganisationMember", ledger.address("enterprise_b"), STEEL_ORG):
        record_output(ledger, product, an_output(), sender="enterprise_b")
    new_member(ledger, "steel_verifier", STEEL_ORG, "VERIFIER")
    with reverts("MissingRole", ledger.address("steel_verifier"), ROLES["ENTERPRISE"]):
        record_output(ledger, product, an_output(), sender="steel_verifier")
    with reverts("UnknownProduct", b"\x01" * 32):
        record_output(ledger, b"\x01" * 32, an_output())


def test_an_output_record_needs_a_period_a_quantity_and_an_extract(ledger: Ledger) -> None:
    product = register_product(ledger, coil())
    with reverts("InvalidPeriod", Q1[1], Q1[0]):
        record_output(ledger, product, an_output((Q1[1], Q1[0])))
    with reverts("InvalidPeriod", 0, Q1[1]):
        record_output(ledger, product, an_output((0, Q1[1])))
    with reverts("ZeroAmount"):
        record_output(ledger, product, replace(an_output(), quantity_milli=0))
    with reverts("MissingDocumentHash"):
        record_output(ledger, product, replace(an_output(), extract_hash=bytes(32)))


def test_figures_and_times_beyond_what_the_index_holds_are_refused(ledger: Ledger) -> None:
    top = 2**63 - 1
    with reverts("ValueOutOfRange", top + 1, top):
        register_pcr(ledger, a_pcr(valid=(VALID[0], top + 1)))
    product = register_product(ledger, coil())
    for field in ("quantity_milli", "mass_grams", "value_fen"):
        with reverts("ValueOutOfRange", 2**128 - 1, top):
            record_output(ledger, product, replace(an_output(), **{field: 2**128 - 1}))
    with reverts("ValueOutOfRange", top + 1, top):
        record_output(ledger, product, an_output((Q1[0], top + 1)))
    assert record_output(ledger, product, replace(an_output(), quantity_milli=top))["output"]["quantityMilli"] == top

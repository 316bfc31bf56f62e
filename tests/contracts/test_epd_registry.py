"""EpdRegistry: a draft attested by a verifier of another organisation, published by the product's owner under a
PCR version that covers its period, citing only published and valid supplier EPDs; superseded or withdrawn but
never overwritten; and the permissionless flag that marks a footprint whose supplier EPD went stale."""

from __future__ import annotations

from dataclasses import replace

from ledger_service.epd import EPDS, MAX_CITATIONS, EpdDraft, Status, citations_commitment
from tests.contracts.helpers import new_member
from tests.contracts.structs import view
from tests.support.cast import ROLES
from tests.support.credits import now, travel
from tests.support.footprints import (
    HRC,
    PARTS_ORG,
    Q1,
    Q2,
    STEEL_ORG,
    VALID,
    a_draft,
    a_pcr,
    attest,
    attested_and_published,
    coil,
    doc,
    part,
    publish,
    register_pcr,
    register_product,
    supply_chain,
)
from tests.support.ledger import Ledger
from tests.support.reverts import reverts


def steel_product(ledger: Ledger) -> bytes:
    register_pcr(ledger)
    return register_product(ledger, coil())


# ---------------------------------------------------------------------- commitments


def test_the_draft_commitment_computed_in_python_is_the_contracts(ledger: Ledger) -> None:
    product = b"\x07" * 32
    for draft in (a_draft(product), a_draft(product, unit="piece", cited=(3, 1, 2), supersedes=9),
                  replace(a_draft(product), declared_unit="m²", mg_co2e_per_unit=2**128 - 1)):
        assert ledger.call(EPDS, "draftCommitment", draft.as_tuple()) == draft.commitment()
    assert a_draft(product).commitment() != a_draft(product, mg=1).commitment()


def test_the_citations_commitment_computed_in_python_is_the_contracts(ledger: Ledger) -> None:
    for cited in ([], [1], [5, 2, 2**64 - 1]):
        assert ledger.call(EPDS, "citationsCommitment", cited) == citations_commitment(cited)
    assert citations_commitment([]) == bytes(32)


# ---------------------------------------------------------------------- attest and publish


def test_a_verifier_attests_a_draft_and_the_owner_publishes_exactly_it(ledger: Ledger) -> None:
    product = steel_product(ledger)
    draft = a_draft(product)

    attested = attest(ledger, draft, STEEL_ORG)
    assert attested == {"draftCommitment": draft.commitment(), "ownerOrgId": STEEL_ORG,
                        "verifier": ledger.address("verifier"), "verifierOrgId": 20, "statementHash": doc("statement")}
    assert view(ledger, EPDS, "attestation", draft.commitment()) == {"ownerOrgId": STEEL_ORG, "verifierOrgId": 20}

    event = publish(ledger, draft, sender="enterprise_a2")

    assert (event["epdId"], event["productId"], event["ownerOrgId"]) == (1, product, STEEL_ORG)
    assert event["publisher"] == ledger.address("enterprise_a2")
    assert event["draftCommitment"] == draft.commitment()
    assert event["epd"]["declaredUnit"] == "t" and event["epd"]["mgCO2ePerUnit"] == 1_850_000_000
    assert event["epd"]["provenanceCommitment"] == draft.provenance_commitment
    assert view(ledger, EPDS, "epd", 1) == {"ownerOrgId": STEEL_ORG, "validFrom": VALID[0], "validUntil": VALID[1],
                                            "status": Status.PUBLISHED, "flagged": False, "productId": product,
                                            "citations": bytes(32)}
    assert ledger.call(EPDS, "isCurrent", 1, now(ledger)) is True
    assert ledger.call(EPDS, "epdCount") == 1
    # The attestation is used up: the same draft cannot be published twice.
    assert view(ledger, EPDS, "attestation", draft.commitment()) == {"ownerOrgId": 0, "verifierOrgId": 0}
    with reverts("DraftNotAttested", draft.commitment()):
        publish(ledger, draft)


def test_only_a_verifier_attests_and_never_for_its_own_organisation(ledger: Ledger) -> None:
    draft = a_draft(b"\x01" * 32)
    for outsider in ("enterprise_a", "regulator", "stranger"):
        with reverts("MissingRole", ledger.address(outsider), ROLES["VERIFIER"]):
            attest(ledger, draft, STEEL_ORG, sender=outsider)
    new_member(ledger, "steel_verifier", STEEL_ORG, "VERIFIER")
    with reverts("ConflictOfInterest", ledger.address("steel_verifier"), STEEL_ORG):
        attest(ledger, draft, STEEL_ORG, sender="steel_verifier")
    assert attest(ledger, draft, PARTS_ORG, sender="steel_verifier")["verifierOrgId"] == STEEL_ORG


def test_a_draft_is_attested_once_and_with_a_statement(ledger: Ledger) -> None:
    draft = a_draft(b"\x01" * 32)
    with reverts("MissingDocumentHash"):
        ledger.tx("verifier", EPDS, "attest", draft.commitment(), STEEL_ORG, bytes(32))
    attest(ledger, draft, STEEL_ORG)
    with reverts("AlreadyAttested", draft.commitment(), 20):
        attest(ledger, draft, STEEL_ORG)


def test_publishing_needs_the_attested_fields_unchanged(ledger: Ledger) -> None:
    product = steel_product(ledger)
    draft = a_draft(product)
    with reverts("DraftNotAttested", draft.commitment()):
        publish(ledger, draft)
    attest(ledger, draft, STEEL_ORG)
    changed = replace(draft, mg_co2e_per_unit=draft.mg_co2e_per_unit - 1)
    with reverts("DraftNotAttested", changed.commitment()):
        publish(ledger, changed)


def test_a_draft_attested_for_another_organisation_is_not_the_owners(ledger: Ledger) -> None:
    product = steel_product(ledger)
    draft = a_draft(product)
    attest(ledger, draft, PARTS_ORG)
    with reverts("AttestedForAnotherOrganisation", draft.commitment(), PARTS_ORG):
        publish(ledger, draft)


def test_only_an_enterprise_member_of_the_products_owner_publishes(ledger: Ledger) -> None:
    product = steel_product(ledger)
    draft = a_draft(product)
    attest(ledger, draft, STEEL_ORG)
    with reverts("NotOrganisationMember", ledger.address("enterprise_b"), STEEL_ORG):
        publish(ledger, draft, sender="enterprise_b")
    for outsider in ("verifier", "stranger"):
        with reverts("MissingRole", ledger.address(outsider), ROLES["ENTERPRISE"]):
            publish(ledger, draft, sender=outsider)
    with reverts("UnknownProduct", b"\x09" * 32):
        publish(ledger, a_draft(b"\x09" * 32))


def test_the_declared_unit_is_the_products_and_the_figures_are_checked(ledger: Ledger) -> None:
    product = steel_product(ledger)
    with reverts("DeclaredUnitMismatch", product, "kg"):
        publish(ledger, a_draft(product, unit="kg"))
    with reverts("InvalidPeriod", Q1[1], Q1[0]):
        publish(ledger, a_draft(product, period=(Q1[1], Q1[0])))
    with reverts("InvalidPeriod", VALID[1], VALID[0]):
        publish(ledger, a_draft(product, valid=(VALID[1], VALID[0])))
    with reverts("InvalidShare", 1001):
        publish(ledger, replace(a_draft(product), primary_data_share_per_mille=1001))
    with reverts("MissingDocumentHash"):
        publish(ledger, replace(a_draft(product), document_hash=bytes(32)))
    with reverts("MissingProvenance"):
        publish(ledger, replace(a_draft(product), provenance_commitment=bytes(32)))


def test_a_footprint_or_time_beyond_what_the_index_holds_is_refused(ledger: Ledger) -> None:
    product = steel_product(ledger)
    top = 2**63 - 1
    with reverts("ValueOutOfRange", top + 1, top):
        publish(ledger, a_draft(product, mg=top + 1))
    with reverts("ValueOutOfRange", top + 1, top):
        publish(ledger, a_draft(product, valid=(VALID[0], top + 1)))
    with reverts("ValueOutOfRange", top + 1, top):
        publish(ledger, a_draft(product, period=(Q1[0], top + 1)))


def test_the_pcr_version_must_exist_and_cover_the_reference_period(ledger: Ledger) -> None:
    product = steel_product(ledger)
    with reverts("UnknownPcrVersion", HRC, 2):
        publish(ledger, a_draft(product, version=2))
    register_pcr(ledger, a_pcr(2, valid=(Q2[0], VALID[1])))
    with reverts("PcrDoesNotCoverPeriod", HRC, 2, Q2[0], VALID[1]):
        publish(ledger, a_draft(product, version=2, period=Q1))


# ---------------------------------------------------------------------- citations


def test_a_customer_cites_a_published_supplier_epd_and_keeps_a_commitment_to_the_list(ledger: Ledger) -> None:
    chain = supply_chain(ledger)

    part = view(ledger, EPDS, "epd", chain["part_epd"])

    assert part["ownerOrgId"] == PARTS_ORG
    assert part["citations"] == citations_commitment([chain["steel_epd"]])


def test_a_withdrawn_superseded_unknown_or_expired_supplier_epd_cannot_be_cited(ledger: Ledger) -> None:
    chain = supply_chain(ledger)
    bracket, steel = chain["bracket"], chain["steel"]
    old = attested_and_published(ledger, replace(a_draft(steel), mg_co2e_per_unit=1))
    attested_and_published(ledger, a_draft(steel, supersedes=old))
    withdrawn = attested_and_published(ledger, replace(a_draft(steel), mg_co2e_per_unit=2))
    ledger.tx("enterprise_a", EPDS, "withdraw", withdrawn, doc("recalled"))
    short = attested_and_published(ledger, a_draft(steel, mg=3, valid=(Q2[0], VALID[1])))
    soon = now(ledger) + 3_600
    expiring = attested_and_published(ledger, a_draft(steel, mg=4, valid=(VALID[0], soon)))
    travel(ledger, 7_200)

    cases = (("EpdNotPublished", (withdrawn, Status.WITHDRAWN), withdrawn),
             ("EpdNotPublished", (old, Status.SUPERSEDED), old),
             ("UnknownEpd", (99,), 99),
             ("CitedEpdNotValid", (short, Q2[0], VALID[1]), short),
             ("CitedEpdNotValid", (expiring, VALID[0], soon), expiring))
    for error, args, cited in cases:
        with reverts(error, *args):
            publish(ledger, a_draft(bracket, unit="piece", cited=(chain["steel_epd"], cited)), sender="enterprise_b")


def test_an_epd_cites_at_most_64_supplier_epds(ledger: Ledger) -> None:
    product = steel_product(ledger)
    with reverts("TooManyCitations", MAX_CITATIONS + 1, MAX_CITATIONS):
        publish(ledger, a_draft(product, cited=tuple(range(1, MAX_CITATIONS + 2))))


# ---------------------------------------------------------------------- supersede and withdraw


def test_a_new_version_supersedes_the_old_one_in_the_same_transaction(ledger: Ledger) -> None:
    product = steel_product(ledger)
    old = attested_and_published(ledger, a_draft(product))
    draft = a_draft(product, mg=1_700_000_000, supersedes=old)
    attest(ledger, draft, STEEL_ORG)

    receipt = ledger.tx("enterprise_a", EPDS, "publish", draft.as_tuple())

    (superseded,) = ledger.events(receipt, EPDS, "EpdSuperseded")
    assert superseded == {"epdId": old, "byEpdId": 2, "ownerOrgId": STEEL_ORG}
    assert view(ledger, EPDS, "epd", old)["status"] == Status.SUPERSEDED
    assert view(ledger, EPDS, "epd", 2)["status"] == Status.PUBLISHED
    # The old record is kept as it was, but for its status.
    assert view(ledger, EPDS, "epd", old)["productId"] == product


def test_only_a_published_epd_of_the_same_product_is_superseded(ledger: Ledger) -> None:
    chain = supply_chain(ledger)
    steel, part_epd = chain["steel"], chain["part_epd"]
    with reverts("SupersedesAnotherProduct", part_epd, chain["bracket"]):
        publish(ledger, attest_then(ledger, a_draft(steel, supersedes=part_epd)))
    ledger.tx("enterprise_a", EPDS, "withdraw", chain["steel_epd"], doc("recalled"))
    with reverts("EpdNotPublished", chain["steel_epd"], Status.WITHDRAWN):
        publish(ledger, attest_then(ledger, a_draft(steel, supersedes=chain["steel_epd"])))
    with reverts("UnknownEpd", 77):
        publish(ledger, attest_then(ledger, a_draft(steel, supersedes=77)))


def attest_then(ledger: Ledger, draft: EpdDraft, owner: int = STEEL_ORG) -> EpdDraft:
    attest(ledger, draft, owner)
    return draft


def test_the_owner_withdraws_with_a_reason_once(ledger: Ledger) -> None:
    product = steel_product(ledger)
    epd = attested_and_published(ledger, a_draft(product))

    receipt = ledger.tx("enterprise_a2", EPDS, "withdraw", epd, doc("recalled"))

    (event,) = ledger.events(receipt, EPDS, "EpdWithdrawn")
    assert event == {"epdId": epd, "ownerOrgId": STEEL_ORG, "by": ledger.address("enterprise_a2"),
                     "reasonHash": doc("recalled")}
    assert view(ledger, EPDS, "epd", epd)["status"] == Status.WITHDRAWN
    assert ledger.call(EPDS, "isCurrent", epd, now(ledger)) is False
    with reverts("EpdNotPublished", epd, Status.WITHDRAWN):
        ledger.tx("enterprise_a", EPDS, "withdraw", epd, doc("again"))


def test_no_one_but_the_owner_withdraws_and_a_reason_is_required(ledger: Ledger) -> None:
    product = steel_product(ledger)
    epd = attested_and_published(ledger, a_draft(product))
    with reverts("NotOrganisationMember", ledger.address("enterprise_b"), STEEL_ORG):
        ledger.tx("enterprise_b", EPDS, "withdraw", epd, doc("not mine"))
    with reverts("MissingRole", ledger.address("regulator"), ROLES["ENTERPRISE"]):
        ledger.tx("regulator", EPDS, "withdraw", epd, doc("regulator"))
    with reverts("MissingDocumentHash"):
        ledger.tx("enterprise_a", EPDS, "withdraw", epd, bytes(32))
    with reverts("UnknownEpd", 5):
        ledger.tx("enterprise_a", EPDS, "withdraw", 5, doc("unknown"))


# ---------------------------------------------------------------------- flags


def test_anyone_flags_a_footprint_whose_supplier_epd_was_superseded(ledger: Ledger) -> None:
    chain = supply_chain(ledger)
    steel_epd, part_epd = chain["steel_epd"], chain["part_epd"]
    attested_and_published(ledger, a_draft(chain["steel"], mg=1_600_000_000, supersedes=steel_epd))

    receipt = ledger.tx("stranger", EPDS, "flag", part_epd, [steel_epd])

    (event,) = ledger.events(receipt, EPDS, "EpdFlagged")
    assert event == {"citingEpdId": part_epd, "citedEpdId": steel_epd, "ownerOrgId": PARTS_ORG,
                     "citedStatus": Status.SUPERSEDED, "citedValidUntil": VALID[1],
                     "flaggedBy": ledger.address("stranger")}
    assert view(ledger, EPDS, "epd", part_epd)["flagged"] is True
    assert view(ledger, EPDS, "epd", part_epd)["status"] == Status.PUBLISHED  # flagged, still published
    with reverts("AlreadyFlagged", part_epd):
        ledger.tx("stranger", EPDS, "flag", part_epd, [steel_epd])


def test_a_footprint_whose_supplier_epd_was_withdrawn_or_expired_is_flagged(ledger: Ledger) -> None:
    chain = supply_chain(ledger)
    ledger.tx("enterprise_a", EPDS, "withdraw", chain["steel_epd"], doc("recalled"))
    (withdrawn,) = ledger.events(ledger.tx("verifier", EPDS, "flag", chain["part_epd"], [chain["steel_epd"]]),
                                 EPDS, "EpdFlagged")
    assert withdrawn["citedStatus"] == Status.WITHDRAWN

    soon = now(ledger) + 3_600
    supplier = attested_and_published(ledger, a_draft(chain["steel"], mg=5, valid=(VALID[0], soon)))
    customer = attested_and_published(ledger, a_draft(chain["bracket"], unit="piece", cited=(supplier,)),
                                      PARTS_ORG, sender="enterprise_b")
    with reverts("NothingToFlag", customer):
        ledger.tx("stranger", EPDS, "flag", customer, [supplier])
    travel(ledger, 7_200)
    (expired,) = ledger.events(ledger.tx("stranger", EPDS, "flag", customer, [supplier]), EPDS, "EpdFlagged")
    assert (expired["citedStatus"], expired["citedValidUntil"]) == (Status.PUBLISHED, soon)


def test_a_flag_must_give_the_cited_list_the_epd_committed_to(ledger: Ledger) -> None:
    chain = supply_chain(ledger)
    with reverts("CitationsMismatch", chain["steel_epd"]):  # it cites nothing
        ledger.tx("stranger", EPDS, "flag", chain["steel_epd"], [])
    ledger.tx("enterprise_a", EPDS, "withdraw", chain["steel_epd"], doc("recalled"))
    for wrong in ([], [chain["steel_epd"], chain["steel_epd"]], [chain["part_epd"]]):
        with reverts("CitationsMismatch", chain["part_epd"]):
            ledger.tx("stranger", EPDS, "flag", chain["part_epd"], wrong)
    with reverts("UnknownEpd", 42):
        ledger.tx("stranger", EPDS, "flag", 42, [1])


def test_a_withdrawn_footprint_is_not_flagged(ledger: Ledger) -> None:
    chain = supply_chain(ledger)
    ledger.tx("enterprise_a", EPDS, "withdraw", chain["steel_epd"], doc("recalled"))
    ledger.tx("enterprise_b", EPDS, "withdraw", chain["part_epd"], doc("discontinued"))
    with reverts("EpdNotPublished", chain["part_epd"], Status.WITHDRAWN):
        ledger.tx("stranger", EPDS, "flag", chain["part_epd"], [chain["steel_epd"]])


def test_the_suite_wires_the_epd_registry_to_the_product_registry(ledger: Ledger) -> None:
    assert ledger.call(EPDS, "products") == ledger.contract("ProductRegistry").address
    assert register_product(ledger, part(), sender="enterprise_b") == ledger.call(
        "ProductRegistry", "productIdOf", PARTS_ORG, "BRACKET-7")

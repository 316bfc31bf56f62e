"""Product footprints on the test ledger: a PCR for hot-rolled coil, products of the cast's enterprises, their
output and EPDs attested by the cast's verifier and published by their owners."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from ledger_service.epd import (
    EPDS,
    PRODUCTS,
    Allocation,
    EpdDraft,
    OutputInput,
    PcrInput,
    ProductInput,
    pcr_id,
)
from tests.support.ledger import Ledger

STEEL_ORG, PARTS_ORG = 11, 12
DAY = 86_400
# Reference periods and validity around the embedded chain's clock (the wall clock): 2026 and later.
Q1 = (1_767_225_600, 1_775_001_600)  # 2026-01-01 .. 2026-04-01
Q2 = (1_775_001_600, 1_782_864_000)  # 2026-04-01 .. 2026-07-01
VALID = (1_767_225_600, 1_893_456_000)  # 2026-01-01 .. 2030-01-01
HRC = pcr_id("PCR-STEEL-HRC")


def doc(text: str) -> bytes:
    return keccak(text=text)


def a_pcr(version: int = 1, valid: tuple[int, int] = VALID, allocation: Allocation = Allocation.MASS,
          ident: bytes = HRC) -> PcrInput:
    return PcrInput(ident, version, "Hot-rolled steel coil", "4121", "t", "cradle-to-gate", allocation, 10,
                    "DQR <= 2.0; primary data for core processes", valid[0], valid[1], doc(f"pcr v{version}"))


def register_pcr(ledger: Ledger, pcr: PcrInput | None = None, sender: str = "regulator") -> dict[str, Any]:
    receipt = ledger.tx(sender, PRODUCTS, "registerPcr", (pcr or a_pcr()).as_tuple())
    (event,) = ledger.events(receipt, PRODUCTS, "PcrRegistered")
    return event


def coil(own_id: str = "HRC-2MM", unit: str = "t") -> ProductInput:
    return ProductInput(own_id, "4121", unit, "ENT11-F1", "ENT11-F1-W2")


def part(own_id: str = "BRACKET-7") -> ProductInput:
    return ProductInput(own_id, "4291", "piece", "ENT12-F1")


def register_product(ledger: Ledger, product: ProductInput, sender: str = "enterprise_a") -> bytes:
    receipt = ledger.tx(sender, PRODUCTS, "registerProduct", product.as_tuple())
    (event,) = ledger.events(receipt, PRODUCTS, "ProductRegistered")
    return bytes(event["productId"])


def an_output(period: tuple[int, int] = Q1, tonnes: int = 120_000) -> OutputInput:
    return OutputInput(period[0], period[1], tonnes * 1000, tonnes * 1_000_000, tonnes * 450_000, doc("erp q1"))


def record_output(ledger: Ledger, product: bytes, output: OutputInput, sender: str = "enterprise_a") -> dict[str, Any]:
    receipt = ledger.tx(sender, PRODUCTS, "recordOutput", product, output.as_tuple())
    (event,) = ledger.events(receipt, PRODUCTS, "OutputRecorded")
    return event


def a_draft(product: bytes, unit: str = "t", mg: int = 1_850_000_000, cited: tuple[int, ...] = (),
            supersedes: int = 0, period: tuple[int, int] = Q1, valid: tuple[int, int] = VALID,
            version: int = 1) -> EpdDraft:
    return EpdDraft(product, HRC, version, unit, mg, period[0], period[1], valid[0], valid[1], doc("epd document"),
                    doc(f"provenance {mg}"), 620, cited, supersedes)


def attest(ledger: Ledger, draft: EpdDraft, owner_org: int, sender: str = "verifier") -> dict[str, Any]:
    receipt = ledger.tx(sender, EPDS, "attest", draft.commitment(), owner_org, doc("statement"))
    (event,) = ledger.events(receipt, EPDS, "DraftAttested")
    return event


def publish(ledger: Ledger, draft: EpdDraft, sender: str = "enterprise_a") -> dict[str, Any]:
    receipt = ledger.tx(sender, EPDS, "publish", draft.as_tuple())
    (event,) = ledger.events(receipt, EPDS, "EpdPublished")
    return event


def attested_and_published(ledger: Ledger, draft: EpdDraft, owner_org: int = STEEL_ORG,
                           sender: str = "enterprise_a") -> int:
    attest(ledger, draft, owner_org)
    return int(publish(ledger, draft, sender)["epdId"])


def supply_chain(ledger: Ledger) -> dict[str, Any]:
    """The PCR; the steel plant's coil with a published EPD; the parts maker's bracket with a published EPD
    citing it (under its own PCR version of the same rule, per piece)."""
    register_pcr(ledger)
    steel = register_product(ledger, coil())
    steel_epd = attested_and_published(ledger, a_draft(steel))
    bracket = register_product(ledger, part(), sender="enterprise_b")
    draft = a_draft(bracket, unit="piece", mg=3_400_000, cited=(steel_epd,))
    part_epd = attested_and_published(ledger, draft, PARTS_ORG, sender="enterprise_b")
    return {"steel": steel, "steel_epd": steel_epd, "bracket": bracket, "part_epd": part_epd, "part_draft": draft}


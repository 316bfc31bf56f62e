"""Product footprints on chain: product category rules (PCR), products, production output and EPDs.

ProductRegistry keeps PCR versions (registered by the program operator, a regulator), products (registered by
their enterprise) and output records; EpdRegistry keeps verified and published footprints. This module holds
what the service encodes exactly as the contracts do (`contracts/COMMITMENTS.md`, "Product footprints"): the
PCR commitment, the product id, the output record commitment, the draft commitment a verifier attests and the
citations commitment an EPD keeps; and the statuses. Quantities are integers: mgCO2e per declared unit,
output in milli declared units, mass in grams, value in CNY fen, shares per mille.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from ledger_core.db.models import (
    ChainEpd,
    ChainEpdAttestation,
    ChainEpdCitation,
    ChainEpdEvent,
    ChainPcr,
    ChainProduct,
    ChainProductOutput,
    EpdDraftRecord,
)
from ledger_service.audit.results import OnChain, utc

PRODUCTS = "ProductRegistry"
EPDS = "EpdRegistry"
MAX_CITATIONS = 64
PER_MILLE = 1000
DRAFT_TAG = keccak(text="CarbonLedger.EpdDraft.v1")

PCR_TYPE = "(bytes32,uint16,string,string,string,string,uint8,uint16,string,uint64,uint64,bytes32)"
OUTPUT_TYPE = "(uint64,uint64,uint128,uint128,uint128,bytes32)"
DRAFT_TYPE = ("(bytes32,bytes32,uint16,string,uint128,uint64,uint64,uint64,uint64,bytes32,bytes32,uint16,uint64[],"
              "uint64)")


class _Labelled(IntEnum):
    @property
    def label(self) -> str:
        return self.name.lower()


class Allocation(_Labelled):
    """ProductRegistry.Allocation: how a PCR allocates a process's emissions among co-products."""

    MASS = 0
    ECONOMIC = 1
    PHYSICAL_OUTPUT = 2


class Status(_Labelled):
    """EpdRegistry.Status."""

    NONE = 0
    PUBLISHED = 1
    SUPERSEDED = 2
    WITHDRAWN = 3


def pcr_id(name: str) -> bytes:
    """A PCR's on-chain id: keccak256 of its code, e.g. "PCR-STEEL-HRC"."""
    return keccak(text=name)


@dataclass(frozen=True)
class PcrInput:
    """ProductRegistry.PcrInput, field for field."""

    pcr_id: bytes
    version: int
    name: str
    cpc_code: str
    declared_unit: str
    system_boundary: str
    allocation: Allocation
    cut_off_per_mille: int
    data_quality: str
    valid_from: int
    valid_until: int
    document_hash: bytes

    def as_tuple(self) -> tuple[object, ...]:
        return (self.pcr_id, self.version, self.name, self.cpc_code, self.declared_unit, self.system_boundary,
                int(self.allocation), self.cut_off_per_mille, self.data_quality, self.valid_from, self.valid_until,
                self.document_hash)

    def commitment(self) -> bytes:
        """keccak256(abi.encode(pcr)), as `ProductRegistry.pcrCommitment`."""
        return keccak(encode([PCR_TYPE], [self.as_tuple()]))


@dataclass(frozen=True)
class ProductInput:
    """ProductRegistry.ProductInput."""

    own_product_id: str
    cpc_code: str
    declared_unit: str
    facility: str
    workshop: str = ""

    def as_tuple(self) -> tuple[object, ...]:
        return astuple(self)


def product_id(owner_org_id: int, own_product_id: str) -> bytes:
    """keccak256(abi.encode(uint64 ownerOrgId, string ownProductId)), as `ProductRegistry.productIdOf`."""
    return keccak(encode(["uint64", "string"], [owner_org_id, own_product_id]))


@dataclass(frozen=True)
class OutputInput:
    """ProductRegistry.Output: production output of a period."""

    period_start: int
    period_end: int
    quantity_milli: int
    mass_grams: int
    value_fen: int
    extract_hash: bytes

    def as_tuple(self) -> tuple[object, ...]:
        return astuple(self)


def output_commitment(product: bytes, index: int, output: OutputInput) -> bytes:
    """keccak256(abi.encode(productId, uint32 index, output)), as ProductRegistry keeps it."""
    return keccak(encode(["bytes32", "uint32", OUTPUT_TYPE], [product, index, output.as_tuple()]))


@dataclass(frozen=True)
class EpdDraft:
    """EpdRegistry.EpdInput: the fields a verifier attests and the owner publishes."""

    product_id: bytes
    pcr_id: bytes
    pcr_version: int
    declared_unit: str
    mg_co2e_per_unit: int
    period_start: int
    period_end: int
    valid_from: int
    valid_until: int
    document_hash: bytes
    provenance_commitment: bytes
    primary_data_share_per_mille: int
    cited_epd_ids: tuple[int, ...] = field(default_factory=tuple)
    supersedes: int = 0

    def as_tuple(self) -> tuple[object, ...]:
        return (self.product_id, self.pcr_id, self.pcr_version, self.declared_unit, self.mg_co2e_per_unit,
                self.period_start, self.period_end, self.valid_from, self.valid_until, self.document_hash,
                self.provenance_commitment, self.primary_data_share_per_mille, list(self.cited_epd_ids),
                self.supersedes)

    def commitment(self) -> bytes:
        """keccak256(abi.encode(DRAFT_TAG, draft)), as `EpdRegistry.draftCommitment`."""
        return draft_commitment(self)


def draft_commitment(draft: EpdDraft) -> bytes:
    return keccak(encode(["bytes32", DRAFT_TYPE], [DRAFT_TAG, draft.as_tuple()]))


def citations_commitment(cited: Sequence[int]) -> bytes:
    """keccak256 of the cited ids as 32-byte words in order; zero for none (`EpdRegistry.citationsCommitment`)."""
    if not cited:
        return bytes(32)
    return keccak(b"".join(int(i).to_bytes(32, "big") for i in cited))


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def from_hex32(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def indexed_record(found: Epd) -> dict[str, Any]:
    """What `EpdRegistry.epd(id)` must return for an EPD as the index holds it."""
    return {"owner_org_id": found.owner_org_id, "valid_from": found.valid_from, "valid_until": found.valid_until,
            "status": found.status, "flagged": found.flagged, "product_id": found.product_id,
            "citations": hex32(citations_commitment(found.cited_epd_ids))}


def chain_record(record: Sequence[Any]) -> dict[str, Any]:
    """`EpdRegistry.epd(id)`'s answer in the index's terms."""
    owner, valid_from, valid_until, status, flagged, product, citations = record
    return {"owner_org_id": int(owner), "valid_from": int(valid_from), "valid_until": int(valid_until),
            "status": Status(int(status)).label, "flagged": bool(flagged), "product_id": hex32(bytes(product)),
            "citations": hex32(bytes(citations))}


# ------------------------------------------------------------------ drafts (off chain)


def draft_to_json(draft: EpdDraft) -> dict[str, Any]:
    """A draft as stored (hashes as hex; the figure as a string, exact beyond 2^53)."""
    return {"product_id": hex32(draft.product_id), "pcr_id": hex32(draft.pcr_id), "pcr_version": draft.pcr_version,
            "declared_unit": draft.declared_unit, "mg_co2e_per_unit": str(draft.mg_co2e_per_unit),
            "period_start": draft.period_start, "period_end": draft.period_end, "valid_from": draft.valid_from,
            "valid_until": draft.valid_until, "document_hash": hex32(draft.document_hash),
            "provenance_commitment": hex32(draft.provenance_commitment),
            "primary_data_share_per_mille": draft.primary_data_share_per_mille,
            "cited_epd_ids": list(draft.cited_epd_ids), "supersedes": draft.supersedes}


def draft_from_json(data: Mapping[str, Any]) -> EpdDraft:
    return EpdDraft(from_hex32(data["product_id"]), from_hex32(data["pcr_id"]), int(data["pcr_version"]),
                    str(data["declared_unit"]), int(data["mg_co2e_per_unit"]), int(data["period_start"]),
                    int(data["period_end"]), int(data["valid_from"]), int(data["valid_until"]),
                    from_hex32(data["document_hash"]), from_hex32(data["provenance_commitment"]),
                    int(data["primary_data_share_per_mille"]), tuple(int(i) for i in data["cited_epd_ids"]),
                    int(data["supersedes"]))


# ------------------------------------------------------------------ intents


def call(contract: str, signer: str, function: str, *args: Any) -> Intent:
    return Intent(contract, function, args, signer, requested_by=signer)


# ------------------------------------------------------------------ chain views


def _view(chain: ChainClient, suite: Suite, contract: str, function: str, *args: Any) -> Any:
    return suite.view(chain, contract, function, *args)


def latest_pcr_version(chain: ChainClient, suite: Suite, pcr: bytes) -> int:
    return int(_view(chain, suite, PRODUCTS, "latestPcrVersion", pcr))


def last_output_end(chain: ChainClient, suite: Suite, product: bytes) -> int:
    """The end of a product's latest output period (raises the contract's UnknownProduct)."""
    return int(_view(chain, suite, PRODUCTS, "product", product)[1])


def attestation(chain: ChainClient, suite: Suite, draft: bytes) -> tuple[int, int]:
    """(owner organisation, verifier organisation) of an unused attestation; zeros when there is none."""
    owner, verifier = _view(chain, suite, EPDS, "attestation", draft)
    return int(owner), int(verifier)


def published_ids(chain: ChainClient, suite: Suite, tx_hash: str) -> list[int]:
    receipt = chain.request(lambda: suite.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
    return [int(e["epdId"]) for e in suite.events(receipt, EPDS, "EpdPublished")]


# ------------------------------------------------------------------ index views


@dataclass(frozen=True)
class Pcr:
    pcr_id: str
    version: int
    name: str
    cpc_code: str
    declared_unit: str
    system_boundary: str
    allocation: str
    cut_off_per_mille: int
    data_quality: str
    valid_from: int
    valid_until: int
    document_hash: str
    commitment: str
    registrant: str
    at: OnChain


@dataclass(frozen=True)
class Product:
    product_id: str
    owner_org_id: int
    own_product_id: str
    cpc_code: str
    declared_unit: str
    facility: str
    workshop: str
    registrant: str
    at: OnChain


@dataclass(frozen=True)
class Output:
    product_id: str
    index: int
    owner_org_id: int
    period_start: int
    period_end: int
    quantity_milli: int
    mass_grams: int
    value_fen: int
    extract_hash: str
    commitment: str
    recorder: str
    at: OnChain


@dataclass(frozen=True)
class Flag:
    """A flag of an EPD: its citation of `cited_epd_id`, no longer published or valid when flagged."""

    cited_epd_id: int
    cited_status: str
    cited_valid_until: int
    flagged_by: str | None
    at: OnChain


@dataclass(frozen=True)
class Epd:
    epd_id: int
    product_id: str
    owner_org_id: int
    publisher: str
    draft_commitment: str
    pcr_id: str
    pcr_version: int
    declared_unit: str
    mg_co2e_per_unit: int
    period_start: int
    period_end: int
    valid_from: int
    valid_until: int
    document_hash: str
    provenance_commitment: str
    primary_data_share_per_mille: int
    supersedes: int
    cited_epd_ids: tuple[int, ...]
    status: str
    flagged: bool
    superseded_by: int | None
    withdrawal_reason: str | None
    flags: tuple[Flag, ...]
    cited_by: tuple[int, ...]
    at: OnChain


@dataclass(frozen=True)
class Attested:
    verifier: str
    verifier_org_id: int
    statement_hash: str
    at: OnChain


@dataclass(frozen=True)
class Draft:
    """An off-chain draft and where it stands: `draft`, `attested` (a verifier attested its commitment) or
    `published` (as `epd_id`)."""

    draft_id: int
    draft_commitment: str
    owner_org_id: int
    created_by: str
    created_at: datetime
    fields: EpdDraft
    status: str
    attestation: Attested | None
    epd_id: int | None
    # What a computed footprint was computed from (`ledger_service.footprints.compute.Provenance.record` as its
    # canonical JSON decoded): its commitment is the draft's `provenance_commitment`. None for a draft given by hand.
    provenance: dict[str, Any] | None = None


def _page(session: Session, q: Select[Any], order: Any, offset: int, limit: int) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return list(session.scalars(q.order_by(*order).offset(offset).limit(limit))), int(total)


def _pcr(r: ChainPcr) -> Pcr:
    return Pcr(hex32(r.pcr_id), r.version, r.name, r.cpc_code, r.declared_unit, r.system_boundary,
               Allocation(r.allocation).label, r.cut_off_per_mille, r.data_quality, r.valid_from, r.valid_until,
               hex32(r.document_hash), hex32(r.commitment), r.registrant, OnChain.of(r))


def pcrs(session: Session, offset: int, limit: int, pcr: bytes | None = None) -> tuple[list[Pcr], int]:
    """Every PCR version, by id and version."""
    q = select(ChainPcr)
    if pcr is not None:
        q = q.where(ChainPcr.pcr_id == pcr)
    rows, total = _page(session, q, (ChainPcr.block_number, ChainPcr.log_index), offset, limit)
    return [_pcr(r) for r in rows], total


def indexed_pcr(session: Session, pcr: bytes, version: int) -> Pcr | None:
    row = session.scalar(select(ChainPcr).where(ChainPcr.pcr_id == pcr, ChainPcr.version == version))
    return None if row is None else _pcr(row)


def _product(r: ChainProduct) -> Product:
    return Product(hex32(r.product_id), r.owner_org_id, r.own_product_id, r.cpc_code, r.declared_unit, r.facility,
                   r.workshop, r.registrant, OnChain.of(r))


def indexed_product(session: Session, product: bytes) -> Product | None:
    row = session.scalar(select(ChainProduct).where(ChainProduct.product_id == product))
    return None if row is None else _product(row)


def products(session: Session, offset: int, limit: int, owner_org_id: int | None = None) -> tuple[list[Product], int]:
    q = select(ChainProduct)
    if owner_org_id is not None:
        q = q.where(ChainProduct.owner_org_id == owner_org_id)
    rows, total = _page(session, q, (ChainProduct.block_number, ChainProduct.log_index), offset, limit)
    return [_product(r) for r in rows], total


def outputs(session: Session, product: bytes) -> list[Output]:
    rows = session.scalars(select(ChainProductOutput).where(ChainProductOutput.product_id == product)
                           .order_by(ChainProductOutput.record_index))
    return [Output(hex32(r.product_id), r.record_index, r.owner_org_id, r.period_start, r.period_end,
                   r.quantity_milli, r.mass_grams, r.value_fen, hex32(r.extract_hash), hex32(r.commitment),
                   r.recorder, OnChain.of(r)) for r in rows]


def _epd(session: Session, r: ChainEpd) -> Epd:
    cited = tuple(session.scalars(select(ChainEpdCitation.cited_epd_id)
                                  .where(ChainEpdCitation.citing_epd_id == r.epd_id)
                                  .order_by(ChainEpdCitation.sub_index)))
    cited_by = tuple(session.scalars(select(ChainEpdCitation.citing_epd_id)
                                     .where(ChainEpdCitation.cited_epd_id == r.epd_id)
                                     .order_by(ChainEpdCitation.citing_epd_id)))
    steps = session.scalars(select(ChainEpdEvent).where(ChainEpdEvent.epd_id == r.epd_id)
                            .order_by(ChainEpdEvent.block_number, ChainEpdEvent.log_index)).all()
    status, superseded_by, reason = Status.PUBLISHED, None, None
    flags = []
    for s in steps:
        if s.kind == "superseded":
            status, superseded_by = Status.SUPERSEDED, s.by_epd_id
        elif s.kind == "withdrawn":
            status, reason = Status.WITHDRAWN, hex32(s.reason_hash) if s.reason_hash else None
        else:
            flags.append(Flag(int(s.cited_epd_id or 0), Status(s.cited_status or 0).label,
                              int(s.cited_valid_until or 0), s.actor, OnChain.of(s)))
    return Epd(r.epd_id, hex32(r.product_id), r.owner_org_id, r.publisher, hex32(r.draft_commitment),
               hex32(r.pcr_id), r.pcr_version, r.declared_unit, r.mg_per_unit, r.period_start, r.period_end,
               r.valid_from, r.valid_until, hex32(r.document_hash), hex32(r.provenance_commitment),
               r.primary_share_per_mille, r.supersedes, cited, status.label, bool(flags), superseded_by, reason,
               tuple(flags), cited_by, OnChain.of(r))


def indexed_epd(session: Session, epd_id: int) -> Epd | None:
    row = session.scalar(select(ChainEpd).where(ChainEpd.epd_id == epd_id))
    return None if row is None else _epd(session, row)


def epds(session: Session, offset: int, limit: int, owner_org_id: int | None = None, product: bytes | None = None,
         flagged_only: bool = False) -> tuple[list[Epd], int]:
    """Published EPDs (with what became of them), oldest first; `flagged_only`: those with a flag."""
    q = select(ChainEpd)
    if owner_org_id is not None:
        q = q.where(ChainEpd.owner_org_id == owner_org_id)
    if product is not None:
        q = q.where(ChainEpd.product_id == product)
    if flagged_only:
        q = q.where(ChainEpd.epd_id.in_(select(ChainEpdEvent.epd_id).where(ChainEpdEvent.kind == "flagged")))
    rows, total = _page(session, q, (ChainEpd.epd_id,), offset, limit)
    return [_epd(session, r) for r in rows], total


def citing(session: Session, epd_id: int) -> list[Epd]:
    """The EPDs that cite `epd_id`, as indexed."""
    ids = session.scalars(select(ChainEpdCitation.citing_epd_id).where(ChainEpdCitation.cited_epd_id == epd_id)
                          .order_by(ChainEpdCitation.citing_epd_id)).all()
    return [e for e in (indexed_epd(session, i) for i in dict.fromkeys(ids)) if e is not None]


def _attested(session: Session, commitment: bytes) -> Attested | None:
    row = session.scalar(select(ChainEpdAttestation).where(ChainEpdAttestation.draft_commitment == commitment)
                         .order_by(ChainEpdAttestation.block_number.desc()))
    return None if row is None else Attested(row.verifier, row.verifier_org_id, hex32(row.statement_hash),
                                             OnChain.of(row))


def _draft(session: Session, r: EpdDraftRecord) -> Draft:
    attested = _attested(session, r.draft_commitment)
    epd_id = session.scalar(select(ChainEpd.epd_id).where(ChainEpd.draft_commitment == r.draft_commitment))
    status = "published" if epd_id is not None else "attested" if attested is not None else "draft"
    return Draft(r.id, hex32(r.draft_commitment), r.owner_org_id, r.created_by, utc(r.created_at),
                 draft_from_json(r.content), status, attested, epd_id, r.content.get("provenance"))


def store_draft(session: Session, draft: EpdDraft, owner_org_id: int, created_by: str,
                provenance: dict[str, Any] | None = None) -> Draft:
    """Keep a draft (once per commitment: the same fields give the same draft), with the provenance record of a
    computed one."""
    commitment = draft.commitment()
    row = session.scalar(select(EpdDraftRecord).where(EpdDraftRecord.draft_commitment == commitment))
    if row is None:
        content = draft_to_json(draft) if provenance is None else {**draft_to_json(draft), "provenance": provenance}
        row = EpdDraftRecord(draft_commitment=commitment, owner_org_id=owner_org_id, product_id=draft.product_id,
                             created_by=created_by, content=content)
        session.add(row)
        session.flush()
    return _draft(session, row)


def stored_draft(session: Session, draft_id: int) -> Draft | None:
    row = session.get(EpdDraftRecord, draft_id)
    return None if row is None else _draft(session, row)


def stored_drafts(session: Session, offset: int, limit: int,
                  owner_org_id: int | None = None) -> tuple[list[Draft], int]:
    q = select(EpdDraftRecord)
    if owner_org_id is not None:
        q = q.where(EpdDraftRecord.owner_org_id == owner_org_id)
    rows, total = _page(session, q, (EpdDraftRecord.id,), offset, limit)
    return [_draft(session, r) for r in rows], total

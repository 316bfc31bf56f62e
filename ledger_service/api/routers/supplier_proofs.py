"""A supplier's site totals proved to its anchors, for its customers, without its readings. The use case is
`ledger_service.services.supplier_proofs`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ledger_service.api import API_PREFIX
from ledger_service.api.deps import AnyMember, ServicesDep
from ledger_service.api.types import ChainId64

router = APIRouter(prefix=API_PREFIX, tags=["product footprints"])

HOW = ("keccak-256 of the provenance record's canonical JSON (contracts/COMMITMENTS.md) is the EPD's "
       "provenance_commitment on EpdRegistry; for each site: fold node with steps (oracles.merkle_sum.fold, the "
       "reading-proof steps) to anchor_record.root, and MeterAnchor.isAnchored(anchor_record, anchor_batch."
       "first_anchor_id or anchor_id, anchor_batch.proof or []) is true")


class SupplierProofOut(BaseModel):
    epd_id: int
    owner_org_id: int
    status: str
    provenance_commitment: str = Field(description="as EpdRegistry publishes it")
    provenance: dict[str, Any] = Field(description="the provenance record whose keccak-256 it is")
    provenance_matches: bool
    sites: list[dict[str, Any]] = Field(description="each subtotal: the site node, its path to the anchored root "
                                                    "(sibling hashes, sums and counts) and the anchor's record")
    anchored_on_chain: dict[str, bool] = Field(description="MeterAnchor.isAnchored of each anchor record, by id")
    verified: bool
    how_to_verify: str = HOW


@router.get("/epds/{epd_id}/supplier-proof", response_model=SupplierProofOut)
def supplier_proof(epd_id: ChainId64, caller: AnyMember, services: ServicesDep) -> SupplierProofOut:
    """The proof that a published EPD's site subtotals are committed by its owner's on-chain anchors, without a
    reading: for the owner's organisation, verifiers, regulators and the organisations citing the EPD."""
    proof = services.supplier_proofs.supplier_proof(caller, epd_id)
    return SupplierProofOut(
        epd_id=proof.epd.epd_id, owner_org_id=proof.epd.owner_org_id, status=proof.epd.status,
        provenance_commitment=proof.epd.provenance_commitment, provenance=proof.provenance,
        provenance_matches=proof.provenance_matches, sites=[s.as_json() for s in proof.sites],
        anchored_on_chain={str(k): v for k, v in proof.anchored_on_chain.items()}, verified=proof.verified)

"""A customer verifies a supplier's totals without its readings (issue 16, §3): for a published EPD, its provenance
record and, for every site subtotal it names, the Merkle-sum path from the site's node to the supplier's anchored
root with the anchor's record (`ledger_service.audit.site_proof`).

Who may ask: whoever sees the supplier's footprint data (its organisation, verifiers, regulators:
`Subject.FOOTPRINT_DATA`) and the supplier's customers — an organisation with a published EPD or a kept draft that
cites this EPD. The answer holds the site's per-window totals and the sibling sums on their paths, never a reading:
the readings stay behind the meter-data rule (`Subject.EMISSIONS`), unless that rule grants them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import EpdDraftRecord
from ledger_service import epd
from ledger_service.audit.access import Subject
from ledger_service.audit.product_trace import stored_provenance
from ledger_service.audit.site_proof import SiteProof, site_proofs
from ledger_service.epd import Epd
from ledger_service.footprints.canonical import NotCanonical, commitment
from ledger_service.services.caller import Caller
from ledger_service.services.errors import forbidden, not_found
from ledger_service.services.footprints import FootprintService


@dataclass(frozen=True)
class SupplierProof:
    epd: Epd
    provenance: dict[str, Any]
    provenance_matches: bool  # keccak-256 of the record's canonical JSON is the EPD's provenance commitment
    sites: tuple[SiteProof, ...]
    anchored_on_chain: dict[int, bool]  # MeterAnchor.isAnchored of each subtotal's anchor record

    @property
    def verified(self) -> bool:
        return self.provenance_matches and bool(self.sites) and all(
            s.matches and self.anchored_on_chain.get(s.anchor_id, False) for s in self.sites)


def _cites(session: Session, org_id: int, epd_id: int) -> bool:
    """The organisation has a published EPD, or keeps a draft, that cites `epd_id`."""
    if any(e.owner_org_id == org_id for e in epd.citing(session, epd_id)):
        return True
    drafts = session.scalars(select(EpdDraftRecord.content).where(EpdDraftRecord.owner_org_id == org_id))
    return any(epd_id in (content.get("cited_epd_ids") or ()) for content in drafts)


@dataclass(frozen=True)
class SupplierProofService:
    footprints: FootprintService

    def supplier_proof(self, caller: Caller, epd_id: int) -> SupplierProof:
        """The proof that a published EPD's site subtotals are committed by its owner's anchors (the owner,
        verifiers, regulators and the organisations citing it)."""
        views = self.footprints.views
        found = self.footprints.epd(epd_id)
        views.fresh()
        with views.sessions() as session:
            allowed = views.viewer(caller).sees(Subject.FOOTPRINT_DATA, found.owner_org_id) or _cites(
                session, caller.member.org_id, epd_id)
            if not allowed:
                raise forbidden(f"the site totals behind EPD {epd_id} are shown to its organisation, verifiers, "
                                "regulators and the organisations citing it", "NotACustomer", epdId=epd_id)
            provenance = stored_provenance(session, found.draft_commitment)
            if provenance is None:
                raise not_found(f"EPD {epd_id} was drafted by hand: this service keeps no provenance record for it",
                                "NoProvenanceKept", epdId=epd_id)
            sites = tuple(site_proofs(session, found.owner_org_id, provenance))
        try:
            matches = epd.hex32(commitment(provenance)) == found.provenance_commitment
        except NotCanonical:
            matches = False
        anchored = {s.anchor_id: self._is_anchored(s) for s in sites}
        return SupplierProof(found, provenance, matches, sites, anchored)

    def _is_anchored(self, site: SiteProof) -> bool:
        if site.anchored is None:
            return False
        args = site.anchored.proof_args()
        chain, suite = self.footprints.chain, self.footprints.suite
        return bool(suite.view(chain, "MeterAnchor", "isAnchored", *args))

"""Product footprint use cases: PCR versions (the program operator, a regulator), products and their output
(their enterprise), EPD drafts kept off chain, attested by a verifier of another organisation, published by the
product's owner, superseded or withdrawn; and the supply-chain flags the service sends itself right after a
supersession or withdrawal, for every citing EPD the index knows, so that the citing owners see them at once.

The chain checks roles and states again when mined; what is checked here first (`RULES`, then the states the
index or a view answers) is what the chain would otherwise refuse only after a nonce is spent, and who may see
drafts and output records (`ledger_service.audit.access`, subject FOOTPRINT_DATA). Published EPDs, PCRs and
products are registry facts every member sees."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import TxRecord
from ledger_core.chain.suite import Suite
from ledger_core.db.models import ChainOrganisation, ImportedFootprintRecord
from ledger_service import epd, notary
from ledger_service.audit.access import Subject, Viewer
from ledger_service.epd import (
    EPDS,
    MAX_CITATIONS,
    PRODUCTS,
    Draft,
    Epd,
    EpdDraft,
    Output,
    OutputInput,
    Pcr,
    PcrInput,
    Product,
    ProductInput,
    Status,
)
from ledger_service.footprints import compute, pact_client
from ledger_service.footprints.canonical import canonical_bytes
from ledger_service.footprints.pact import LEDGER_EXTENSION_SCHEMA, ProductFootprint
from ledger_service.footprints.site_data import site_label, site_subtotals
from ledger_service.services.caller import Caller
from ledger_service.services.epd_page import render_epd
from ledger_service.services.errors import Refusal, forbidden, not_found
from ledger_service.services.outcomes import Sent, mined
from ledger_service.services.sending import Sender
from ledger_service.services.visibility import IndexedViews

# What the service checks before sending, by use case (the contracts check the same again from Membership).
MAX_SITE_PRODUCTS = 1000  # products of one enterprise shared one site's emissions with
RULES: dict[str, tuple[str, ...]] = {
    "register_pcr": ("REGULATOR",),
    "register_product": ("ENTERPRISE",),
    "record_output": ("ENTERPRISE",),
    "draft": ("ENTERPRISE",),
    "attest": ("VERIFIER",),
    "publish": ("ENTERPRISE",),
    "withdraw": ("ENTERPRISE",),
}


@dataclass(frozen=True)
class Published:
    """An EPD as published and the flags the service sent for the EPDs citing the one it superseded."""

    epd: Epd
    flagged: tuple[int, ...]


@dataclass(frozen=True)
class BomLine:
    """A purchased input per declared unit of the product: from a supplier's EPD on this ledger (primary data,
    cited by the footprint) or from a secondary factor."""

    name: str
    quantity: Decimal
    unit: str
    epd_id: int | None = None
    factor: compute.SecondaryFactor | None = None
    pact_import_id: int | None = None  # a footprint imported from another PACT host (`import_footprint`)


@dataclass(frozen=True)
class FootprintAsk:
    """What a footprint is computed for; the rest comes from the chain and the anchored meter data."""

    product_id: bytes
    pcr_id: bytes
    pcr_version: int
    period_start: int
    period_end: int
    valid_from: int
    valid_until: int
    document_hash: bytes
    inputs: tuple[BomLine, ...] = ()
    supersedes: int = 0


@dataclass(frozen=True)
class Computed:
    draft: Draft
    footprint: compute.Footprint


ALLOCATION = {epd.Allocation.MASS.label: compute.Allocation.MASS,
              epd.Allocation.ECONOMIC.label: compute.Allocation.ECONOMIC,
              epd.Allocation.PHYSICAL_OUTPUT.label: compute.Allocation.PHYSICAL_OUTPUT}
CUT_OFF_TOTAL_TIMES = 5  # EN 15804: 1 % per input, 5 % in all; a PCR states the per-input share


def _seconds(moment: int) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def allowed_hosts(setting: str) -> frozenset[str]:
    """The PACT hosts a comma-separated setting names, without trailing slashes."""
    return frozenset(h.strip().rstrip("/") for h in setting.split(",") if h.strip())


@dataclass(frozen=True)
class FootprintService:
    chain: ChainClient
    suite: Suite
    sender: Sender
    views: IndexedViews
    pact_hosts: frozenset[str] = frozenset()  # the PACT hosts imports may reach (`CARBONLEDGER_PACT_HOSTS`)
    pact_connect: Callable[[str], httpx.Client] = pact_client.connect  # another PACT host, by its base URL

    # -------------------------------------------------------------- rules

    def _require_role(self, caller: Caller, use_case: str) -> None:
        roles = RULES[use_case]
        if not any(caller.member.has_role(r) for r in roles):
            raise forbidden(f"{use_case} needs the role {' or '.join(roles)}", "MissingRole",
                            account=caller.address, roles=list(roles))

    @staticmethod
    def _require_member_of(caller: Caller, org_id: int) -> None:
        if caller.member.org_id != org_id:
            raise ContractRevert("NotOrganisationMember", {"account": caller.address, "orgId": org_id})

    def _require_sees(self, caller: Caller, org_id: int, what: str) -> None:
        if not self._viewer(caller).sees(Subject.FOOTPRINT_DATA, org_id):
            raise forbidden(f"{what} of organisation {org_id} are seen by that organisation, verifiers and "
                            "regulators only", "NotYourData", orgId=org_id)

    def _viewer(self, caller: Caller) -> Viewer:
        return self.views.viewer(caller)

    def _session(self) -> Session:
        self.views.fresh()
        return self.views.sessions()

    # -------------------------------------------------------------- PCRs

    def register_pcr(self, caller: Caller, pcr: PcrInput, wait: bool = True) -> Sent[Pcr]:
        """Register a PCR version (program operator: a regulator); versions of an id only increase."""
        self._require_role(caller, "register_pcr")
        latest = epd.latest_pcr_version(self.chain, self.suite, pcr.pcr_id)
        if pcr.version <= latest:
            raise ContractRevert("PcrVersionNotIncreasing", {"pcrId": pcr.pcr_id, "version": pcr.version,
                                                             "latest": latest})
        record = self.sender.send_one(caller, epd.call(PRODUCTS, caller.address, "registerPcr", pcr.as_tuple()),
                                      wait=wait)
        if not mined(record):
            return Sent((record,))
        return Sent((record,), self.pcr(pcr.pcr_id, pcr.version))

    def pcr(self, pcr_id: bytes, version: int) -> Pcr:
        with self._session() as session:
            found = epd.indexed_pcr(session, pcr_id, version)
        if found is None:
            raise not_found(f"PCR {epd.hex32(pcr_id)} has no version {version}", "UnknownPcrVersion",
                            pcrId=epd.hex32(pcr_id), version=version)
        return found

    def pcrs(self, offset: int, limit: int, pcr_id: bytes | None = None) -> tuple[list[Pcr], int]:
        with self._session() as session:
            return epd.pcrs(session, offset, limit, pcr_id)

    # -------------------------------------------------------------- products and output

    def register_product(self, caller: Caller, product: ProductInput, wait: bool = True) -> Sent[Product]:
        """Register a product of the caller's organisation (an enterprise member)."""
        self._require_role(caller, "register_product")
        product_id = epd.product_id(caller.member.org_id, product.own_product_id)
        with self._session() as session:
            if epd.indexed_product(session, product_id) is not None:
                raise ContractRevert("ProductExists", {"productId": product_id, "ownerOrgId": caller.member.org_id})
        record = self.sender.send_one(
            caller, epd.call(PRODUCTS, caller.address, "registerProduct", product.as_tuple()), wait=wait)
        if not mined(record):
            return Sent((record,))
        return Sent((record,), self.product(product_id))

    def product(self, product_id: bytes) -> Product:
        with self._session() as session:
            found = epd.indexed_product(session, product_id)
        if found is None:
            raise ContractRevert("UnknownProduct", {"productId": product_id})
        return found

    def products(self, offset: int, limit: int, owner_org_id: int | None = None) -> tuple[list[Product], int]:
        with self._session() as session:
            return epd.products(session, offset, limit, owner_org_id)

    def record_output(self, caller: Caller, product_id: bytes, output: OutputInput,
                      wait: bool = True) -> Sent[Output]:
        """Record a product's output for a period (an enterprise member of the owner); periods follow one
        another without overlap."""
        self._require_role(caller, "record_output")
        product = self.product(product_id)
        self._require_member_of(caller, product.owner_org_id)
        last_end = epd.last_output_end(self.chain, self.suite, product_id)
        if output.period_start < last_end:
            raise ContractRevert("OutputPeriodOverlap", {"productId": product_id, "periodStart": output.period_start,
                                                         "lastOutputEnd": last_end})
        record = self.sender.send_one(
            caller, epd.call(PRODUCTS, caller.address, "recordOutput", product_id, output.as_tuple()), wait=wait)
        if not mined(record):
            return Sent((record,))
        with self._session() as session:
            recorded = next(o for o in epd.outputs(session, product_id) if o.at.tx_hash == record.tx_hash)
        return Sent((record,), recorded)

    def outputs(self, caller: Caller, product_id: bytes) -> list[Output]:
        """A product's output records (its organisation, verifiers and regulators)."""
        product = self.product(product_id)
        self._require_sees(caller, product.owner_org_id, "output records")
        with self._session() as session:
            return epd.outputs(session, product_id)

    # -------------------------------------------------------------- drafts and attestation

    def create_draft(self, caller: Caller, draft: EpdDraft) -> Draft:
        """Keep a draft of a footprint of one of the caller's organisation's products, checked as `publish`
        will be (product, unit, PCR period, citations, superseded EPD): its commitment is what a verifier
        attests. The same fields give the same draft."""
        self._require_role(caller, "draft")
        product = self.product(draft.product_id)
        self._require_member_of(caller, product.owner_org_id)
        self._check_draft(draft, product)
        with self.views.sessions.begin() as session:
            return epd.store_draft(session, draft, product.owner_org_id, caller.address)

    def compute_draft(self, caller: Caller, ask: FootprintAsk) -> Computed:
        """Compute a footprint of one of the caller's organisation's products from the chain's records, and keep it
        as a draft whose provenance commitment covers every input: the site's anchored subtotals for the period
        (the facility's or workshop's Merkle-sum nodes the anchors commit to), the output records of every product
        made there in exactly that period, shared by the PCR's allocation rule, and the bill of materials, each
        line from a supplier's published EPD (cited, checked as publishing will check it) or a secondary factor."""
        self._require_role(caller, "draft")
        product = self.product(ask.product_id)
        self._require_member_of(caller, product.owner_org_id)
        pcr = self.pcr(ask.pcr_id, ask.pcr_version)
        per_input = Decimal(pcr.cut_off_per_mille) / 1000
        rule = compute.Rule(pcr.pcr_id, pcr.version, ALLOCATION[pcr.allocation],
                            compute.CutOff(per_input, min(per_input * CUT_OFF_TOTAL_TIMES, Decimal("0.99"))))
        with self._session() as session:
            subtotals = site_subtotals(session, product.owner_org_id, product.facility, product.workshop or None,
                                       ask.period_start, ask.period_end)
            outputs = self._site_outputs(session, product, ask.period_start, ask.period_end)
            inputs = tuple(self._input(session, line) for line in ask.inputs)
        try:
            footprint = compute.compute(compute.FootprintRequest(
                product.product_id, site_label(product.facility, product.workshop or None),
                compute.Period(_seconds(ask.period_start), _seconds(ask.period_end)), rule, tuple(subtotals),
                tuple(outputs), inputs))
        except compute.FootprintInputInvalid as exc:
            raise Refusal(422, exc.reason, str(exc), {"productId": product.product_id}) from None
        cited = tuple(dict.fromkeys(line.epd_id for line in ask.inputs if line.epd_id is not None))
        draft = EpdDraft(ask.product_id, ask.pcr_id, ask.pcr_version, product.declared_unit, footprint.mg_per_unit,
                         ask.period_start, ask.period_end, ask.valid_from, ask.valid_until, ask.document_hash,
                         footprint.provenance.commitment, compute.half_up(footprint.primary_data_share * 1000),
                         cited, ask.supersedes)
        self._check_draft(draft, product)
        record = json.loads(canonical_bytes(footprint.provenance.record))
        with self.views.sessions.begin() as session:
            kept = epd.store_draft(session, draft, product.owner_org_id, caller.address, record)
        return Computed(kept, footprint)

    @staticmethod
    def _site_outputs(session: Session, product: Product, start: int, end: int) -> list[compute.Output]:
        """The output records of exactly `[start, end)` of every product of the owner made at the product's site."""
        made_there, _ = epd.products(session, 0, MAX_SITE_PRODUCTS, product.owner_org_id)
        found = []
        for other in made_there:
            if (other.facility, other.workshop) != (product.facility, product.workshop):
                continue
            for o in epd.outputs(session, epd.from_hex32(other.product_id)):
                if (o.period_start, o.period_end) == (start, end):
                    found.append(compute.Output(other.product_id, o.quantity_milli, o.mass_grams, o.value_fen,
                                                o.commitment))
        return found

    def _input(self, session: Session, line: BomLine) -> compute.Input:
        if sum(source is not None for source in (line.epd_id, line.factor, line.pact_import_id)) != 1:
            raise Refusal(422, "InputSourceInvalid", f"input {line.name!r} names one source: a supplier EPD, an "
                          "imported PACT footprint or a factor", {"input": line.name})
        if line.factor is not None:
            return compute.Input(line.name, line.quantity, line.unit, line.factor)
        if line.pact_import_id is not None:
            imported = session.get(ImportedFootprintRecord, line.pact_import_id)
            if imported is None:
                raise not_found(f"there is no imported footprint {line.pact_import_id}", "UnknownImport",
                                importId=line.pact_import_id)
            return compute.Input(line.name, line.quantity, line.unit, compute.SupplierFootprint(
                "PACT", imported.footprint_id, Decimal(imported.kg_per_unit), bytes(imported.keccak256)))
        cited = self._epd(session, line.epd_id or 0)
        return compute.Input(line.name, line.quantity, line.unit, compute.SupplierFootprint(
            "EPD", str(cited.epd_id), Decimal(cited.mg_co2e_per_unit) / compute.MG_PER_KG,
            epd.from_hex32(cited.draft_commitment)))

    def import_footprint(self, caller: Caller, host: str, client_id: str, secret: str,
                         footprint_id: str) -> ImportedFootprintRecord:
        """Fetch a supplier's footprint from another PACT v3 host (HTTPS, client credentials), notarize the SHA-256 of
        its canonical bytes on chain and keep it as an input a footprint may use. It is marked verified on this
        ledger only when its ledger extension names a published EPD of this chain's registry with the same
        provenance commitment."""
        self._require_role(caller, "draft")
        if host.rstrip("/") not in self.pact_hosts:  # the service reaches no host a member merely names
            raise Refusal(422, "PactHostNotAllowed", f"{host} is not among the PACT hosts this service imports from "
                          "(CARBONLEDGER_PACT_HOSTS)", {"host": host})
        try:
            with self.pact_connect(host) as http:
                fetched = pact_client.fetch_footprint(http, client_id, secret, footprint_id)
        except pact_client.PactClientError as exc:
            raise Refusal(502 if exc.status and exc.status >= 500 else 422, exc.code, str(exc),
                          {"host": host, "footprintId": footprint_id}) from None
        except httpx.HTTPError as exc:
            raise Refusal(502, "PactHostUnreachable", f"the PACT host did not answer: {type(exc).__name__}",
                          {"host": host}) from None
        record = self.sender.send_one(caller, notary.notarize_intent(caller.address, fetched.sha256, "PACT_FOOTPRINT",
                                                                     str(fetched.footprint.id)))
        source = fetched.supplier_source()
        pcf = fetched.footprint.pcf
        row = ImportedFootprintRecord(
            footprint_id=str(fetched.footprint.id), source=fetched.source, sha256=fetched.sha256,
            keccak256=fetched.keccak256, kg_per_unit=str(source.kg_per_unit),
            unit=str(pcf.declared_unit_of_measurement),
            verified_on_ledger=self._published_here(fetched.footprint), importer_org_id=caller.member.org_id,
            imported_by=caller.address, notarization_tx=record.tx_hash, content=json.loads(fetched.canonical))
        with self.views.sessions.begin() as session:
            session.add(row)
            session.flush()
            session.expunge(row)
        return row

    def _published_here(self, footprint: ProductFootprint) -> bool:
        ours = next((x.data for x in footprint.extensions or () if x.data_schema == LEDGER_EXTENSION_SCHEMA), None)
        if ours is None or ours.get("chainId") != self.chain.chain_id or str(ours.get("contract", "")).lower() != \
                self.suite.contract(EPDS).address.lower():
            return False
        with self._session() as session:
            found = epd.indexed_epd(session, int(ours.get("epdId") or 0))
        return (found is not None and found.status == Status.PUBLISHED.label
                and found.provenance_commitment == str(ours.get("provenanceCommitment", "")).lower())

    def imported(self, caller: Caller, import_id: int) -> ImportedFootprintRecord:
        """An imported footprint (its importer's organisation, verifiers and regulators)."""
        with self._session() as session:
            row = session.get(ImportedFootprintRecord, import_id)
            if row is None:
                raise not_found(f"there is no imported footprint {import_id}", "UnknownImport", importId=import_id)
            session.expunge(row)
        self._require_sees(caller, row.importer_org_id, "imported footprints")
        return row

    def _check_draft(self, draft: EpdDraft, product: Product) -> None:
        if draft.declared_unit != product.declared_unit:
            raise ContractRevert("DeclaredUnitMismatch", {"productId": draft.product_id,
                                                          "declaredUnit": draft.declared_unit})
        pcr = self.pcr(draft.pcr_id, draft.pcr_version)
        if draft.period_start < pcr.valid_from or draft.period_end > pcr.valid_until:
            raise ContractRevert("PcrDoesNotCoverPeriod", {"pcrId": draft.pcr_id, "version": draft.pcr_version,
                                                           "validFrom": pcr.valid_from,
                                                           "validUntil": pcr.valid_until})
        if len(draft.cited_epd_ids) > MAX_CITATIONS:
            raise ContractRevert("TooManyCitations", {"count": len(draft.cited_epd_ids), "max": MAX_CITATIONS})
        now = self._chain_time()
        with self._session() as session:
            for cited_id in draft.cited_epd_ids:
                cited = self._epd(session, cited_id)
                if cited.status != Status.PUBLISHED.label:
                    raise _not_published(cited)
                if (draft.period_start < cited.valid_from or draft.period_end > cited.valid_until
                        or cited.valid_until <= now):
                    raise ContractRevert("CitedEpdNotValid", {"epdId": cited_id, "validFrom": cited.valid_from,
                                                              "validUntil": cited.valid_until})
            if draft.supersedes:
                old = self._epd(session, draft.supersedes)
                if old.status != Status.PUBLISHED.label:
                    raise _not_published(old)
                if old.product_id != epd.hex32(draft.product_id):
                    raise ContractRevert("SupersedesAnotherProduct", {"epdId": old.epd_id,
                                                                      "productId": old.product_id})

    def _chain_time(self) -> int:
        return int(self.chain.request(lambda: self.suite.w3.eth.get_block("latest"))["timestamp"])

    @staticmethod
    def _epd(session: Session, epd_id: int) -> Epd:
        found = epd.indexed_epd(session, epd_id)
        if found is None:
            raise ContractRevert("UnknownEpd", {"epdId": epd_id})
        return found

    def draft(self, caller: Caller, draft_id: int) -> Draft:
        """A draft and where it stands (its organisation, verifiers and regulators)."""
        found = self._stored_draft(draft_id)
        self._require_sees(caller, found.owner_org_id, "drafts")
        return found

    def _stored_draft(self, draft_id: int) -> Draft:
        with self._session() as session:
            found = epd.stored_draft(session, draft_id)
        if found is None:
            raise not_found(f"there is no draft {draft_id}", "UnknownDraft", draftId=draft_id)
        return found

    def drafts(self, caller: Caller, offset: int, limit: int,
               owner_org_id: int | None = None) -> tuple[list[Draft], int]:
        """Drafts the caller sees: its organisation's; every organisation's for verifiers and regulators."""
        viewer = self._viewer(caller)
        if owner_org_id is None and not viewer.sees(Subject.FOOTPRINT_DATA, -1):
            owner_org_id = caller.member.org_id
        if owner_org_id is not None:
            self._require_sees(caller, owner_org_id, "drafts")
        with self._session() as session:
            return epd.stored_drafts(session, offset, limit, owner_org_id)

    def attest(self, caller: Caller, draft_id: int, statement_hash: bytes, wait: bool = True) -> Sent[Draft]:
        """Attest a draft (a verifier, never of the draft's own organisation), with the statement's hash."""
        self._require_role(caller, "attest")
        found = self.draft(caller, draft_id)
        if caller.member.org_id == found.owner_org_id:
            raise ContractRevert("ConflictOfInterest", {"verifier": caller.address, "orgId": found.owner_org_id})
        commitment = epd.from_hex32(found.draft_commitment)
        _owner, verifier_org = epd.attestation(self.chain, self.suite, commitment)
        if verifier_org or found.status == "published":
            raise ContractRevert("AlreadyAttested", {"draftCommitment": commitment,
                                                     "verifierOrgId": verifier_org or
                                                     (found.attestation.verifier_org_id if found.attestation else 0)})
        record = self.sender.send_one(caller, epd.call(EPDS, caller.address, "attest", commitment,
                                                       found.owner_org_id, statement_hash), wait=wait)
        return Sent((record,), self.draft(caller, draft_id) if mined(record) else None)

    # -------------------------------------------------------------- publication, withdrawal and flags

    def publish(self, caller: Caller, draft_id: int, wait: bool = True) -> Sent[Published]:
        """Publish an attested draft (an enterprise member of the product's owner). A supersession flags, right
        after, every published EPD the index knows that cites the superseded one."""
        self._require_role(caller, "publish")
        found = self._stored_draft(draft_id)
        self._require_member_of(caller, found.owner_org_id)
        fields = found.fields
        self._check_draft(fields, self.product(fields.product_id))
        commitment = epd.from_hex32(found.draft_commitment)
        owner, verifier_org = epd.attestation(self.chain, self.suite, commitment)
        if verifier_org == 0:
            raise ContractRevert("DraftNotAttested", {"draftCommitment": commitment})
        if owner != found.owner_org_id:
            raise ContractRevert("AttestedForAnotherOrganisation", {"draftCommitment": commitment,
                                                                    "ownerOrgId": owner})
        # Flags follow a mined supersession: with citing EPDs to flag, the receipt is waited for.
        wait = wait or bool(fields.supersedes and self._citers(fields.supersedes))
        record = self.sender.send_one(caller, epd.call(EPDS, caller.address, "publish", fields.as_tuple()),
                                      wait=wait)
        if not mined(record):
            return Sent((record,))
        (epd_id,) = epd.published_ids(self.chain, self.suite, str(record.tx_hash))
        flags = self._flag_citers(caller, fields.supersedes) if fields.supersedes else {}
        return Sent((record, *flags.values()), Published(self.epd(epd_id), _mined_ids(flags)))

    def withdraw(self, caller: Caller, epd_id: int, reason_hash: bytes, wait: bool = True) -> Sent[Published]:
        """Withdraw a published EPD (an enterprise member of its owner) with a reason's hash; every published EPD
        the index knows that cites it is flagged right after."""
        self._require_role(caller, "withdraw")
        current = self.epd(epd_id)
        self._require_member_of(caller, current.owner_org_id)
        if current.status != Status.PUBLISHED.label:
            raise _not_published(current)
        wait = wait or bool(self._citers(epd_id))  # flags follow the mined withdrawal
        record = self.sender.send_one(caller, epd.call(EPDS, caller.address, "withdraw", epd_id, reason_hash),
                                      wait=wait)
        if not mined(record):
            return Sent((record,))
        flags = self._flag_citers(caller, epd_id)
        return Sent((record, *flags.values()), Published(self.epd(epd_id), _mined_ids(flags)))

    def flag(self, caller: Caller, epd_id: int, wait: bool = True) -> Sent[Epd]:
        """Flag a published EPD one of whose cited EPDs is no longer published or valid (any member)."""
        current = self.epd(epd_id)
        if current.status != Status.PUBLISHED.label:
            raise _not_published(current)
        if current.flagged:
            raise ContractRevert("AlreadyFlagged", {"epdId": epd_id})
        record = self.sender.send_one(caller, epd.call(EPDS, caller.address, "flag", epd_id,
                                                       list(current.cited_epd_ids)), wait=wait)
        return Sent((record,), self.epd(epd_id) if mined(record) else None)

    def _citers(self, stale_epd_id: int) -> list[Epd]:
        """The published, unflagged EPDs the index knows that cite `stale_epd_id`."""
        with self._session() as session:
            return [e for e in epd.citing(session, stale_epd_id)
                    if e.status == Status.PUBLISHED.label and not e.flagged]

    def _flag_citers(self, caller: Caller, stale_epd_id: int) -> dict[int, TxRecord]:
        """Flag every published, unflagged EPD that cites `stale_epd_id` (sent by the caller: a flag is
        permissionless), one transaction each, so each citing owner sees its flag; the transactions by EPD."""
        citers = self._citers(stale_epd_id)
        if not citers:
            return {}
        intents = [epd.call(EPDS, caller.address, "flag", e.epd_id, list(e.cited_epd_ids)) for e in citers]
        # The request's Idempotency-Key went with its own transaction; the flags follow from it, once mined.
        records = self.sender.send(replace(caller, idempotency=None), intents, batch=True, refuse=False)
        return {e.epd_id: r for e, r in zip(citers, records, strict=True)}

    # -------------------------------------------------------------- reading

    def epd(self, epd_id: int) -> Epd:
        """A published EPD with what became of it (registry facts: any member)."""
        with self._session() as session:
            return self._epd(session, epd_id)

    def epds(self, offset: int, limit: int, owner_org_id: int | None = None,
             product_id: bytes | None = None) -> tuple[list[Epd], int]:
        with self._session() as session:
            return epd.epds(session, offset, limit, owner_org_id, product_id)

    def page(self, epd_id: int) -> EpdPage:
        """The EPD as a printable page, saying whether the registry's record matches the index's (status, flag,
        validity, owner, product, the commitment to what it cites)."""
        found = self.epd(epd_id)
        product = self.product(epd.from_hex32(found.product_id))
        pcr = self.pcr(epd.from_hex32(found.pcr_id), found.pcr_version)
        with self._session() as session:
            owner = session.scalar(select(ChainOrganisation.name).where(
                ChainOrganisation.org_id == found.owner_org_id)) or f"organisation {found.owner_org_id}"
        record = self.suite.view(self.chain, EPDS, "epd", epd_id)
        matches = epd.chain_record(record) == epd.indexed_record(found)
        registry = self.suite.contract(EPDS).address
        return EpdPage(found, matches, render_epd(found, product, pcr, owner, registry, self.chain.chain_id, matches))

    def flagged(self, caller: Caller, offset: int, limit: int,
                owner_org_id: int | None = None) -> tuple[list[Epd], int]:
        """Flagged footprints of the caller's organisation (a regulator may name any organisation)."""
        org = caller.member.org_id if owner_org_id is None else owner_org_id
        if org != caller.member.org_id and not caller.is_regulator:
            raise forbidden(f"the flagged footprints of organisation {org} are shown to it and to regulators",
                            "NotYourData", orgId=org)
        with self._session() as session:
            return epd.epds(session, offset, limit, org, flagged_only=True)


@dataclass(frozen=True)
class EpdPage:
    epd: Epd
    on_chain_matches: bool
    html: str


def _mined_ids(flags: dict[int, TxRecord]) -> tuple[int, ...]:
    return tuple(epd_id for epd_id, record in flags.items() if mined(record))


def _not_published(found: Epd) -> ContractRevert:
    """The contract's refusal of an EPD that is superseded or withdrawn."""
    return ContractRevert("EpdNotPublished", {"epdId": found.epd_id, "epdStatus": Status[found.status.upper()]})

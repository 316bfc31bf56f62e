"""Product footprints: PCR versions (the program operator, a regulator), products and their production output
(their enterprise), EPD drafts attested by a verifier of another organisation and published by the product's
owner, withdrawals, and the supply-chain flags of footprints whose supplier EPD went stale. Published EPDs, PCRs
and products are registry facts every member sees; drafts and output records their organisation, verifiers and
regulators. The use cases are `ledger_service.services.footprints`."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer
from ledger_service.api.deps import AnyMember, Caller, PageDep, Regulator, ServicesDep, member
from ledger_service.api.routers.audit import OnChainOut
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.types import INT64_MAX, UINT16_MAX, ChainId64, Id64, OrgIdQuery, RowId, Seconds
from ledger_service.epd import (
    MAX_CITATIONS,
    PER_MILLE,
    Allocation,
    EpdDraft,
    OutputInput,
    PcrInput,
    ProductInput,
    draft_to_json,
    from_hex32,
    pcr_id,
)
from ledger_service.footprints.compute import SecondaryFactor
from ledger_service.services.footprints import BomLine, FootprintAsk

router = APIRouter(prefix=API_PREFIX, tags=["product footprints"])
HASH = "^0x[0-9a-fA-F]{64}$"
Hash = Annotated[str, Field(pattern=HASH, description="32 bytes, hex")]
HashPath = Annotated[str, Path(pattern=HASH, description="32 bytes, hex")]
PerMille = Annotated[int, Field(strict=True, ge=0, le=PER_MILLE)]
Quantity = Annotated[int, Field(strict=True, gt=0, le=INT64_MAX)]
Amount = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
Label = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(max_length=512)]
Wait = Annotated[bool, Query(description="wait for the receipt (otherwise answer 202 once sent)")]
Enterprise = Annotated[Caller, Depends(member("ENTERPRISE"))]
Verifier = Annotated[Caller, Depends(member("VERIFIER"))]


def _ordered(start: int, end: int, what: str) -> None:
    if start >= end:
        raise ValueError(f"{what} must start before it ends")


class FromResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------ PCRs


class PcrIn(BaseModel):
    code: Label = Field(description="the rule's code, e.g. PCR-STEEL-HRC; its id is keccak256 of it")
    version: int = Field(strict=True, ge=1, le=UINT16_MAX, description="above the code's latest version")
    name: Label
    cpc_code: Annotated[str, Field(min_length=1, max_length=32)]
    declared_unit: Annotated[str, Field(min_length=1, max_length=64)]
    system_boundary: str = Field(default="cradle-to-gate", pattern="^cradle-to-gate$")
    allocation: Allocation = Field(description="co-products: 0 mass, 1 economic value, 2 physical output")
    cut_off_per_mille: PerMille
    data_quality: Text
    valid_from: Seconds
    valid_until: Seconds
    document_hash: Hash

    @model_validator(mode="after")
    def _valid(self) -> PcrIn:
        _ordered(self.valid_from, self.valid_until, "the validity")
        return self

    def domain(self) -> PcrInput:
        return PcrInput(pcr_id(self.code), self.version, self.name, self.cpc_code, self.declared_unit,
                        self.system_boundary, self.allocation, self.cut_off_per_mille, self.data_quality,
                        self.valid_from, self.valid_until, from_hex32(self.document_hash))


class PcrOut(FromResult):
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
    commitment: str = Field(description="keccak256(abi.encode(pcr)), as the contract keeps it")
    registrant: str
    at: OnChainOut


class PcrTx(BaseModel):
    pcr: PcrOut | None
    transaction: TxOut


class PcrList(BaseModel):
    items: list[PcrOut]
    page: PageInfo


# ------------------------------------------------------------------ products and output


class ProductIn(BaseModel):
    own_product_id: Label
    cpc_code: Annotated[str, Field(min_length=1, max_length=32)]
    declared_unit: Annotated[str, Field(min_length=1, max_length=64)]
    facility: Label = Field(description="the facility label of the enterprise's hierarchy where it is made")
    workshop: str = Field(default="", max_length=128, description="the workshop label within it, if one")

    def domain(self) -> ProductInput:
        return ProductInput(self.own_product_id, self.cpc_code, self.declared_unit, self.facility, self.workshop)


class ProductOut(FromResult):
    product_id: str
    owner_org_id: int
    own_product_id: str
    cpc_code: str
    declared_unit: str
    facility: str
    workshop: str
    registrant: str
    at: OnChainOut


class ProductTx(BaseModel):
    product: ProductOut | None
    transaction: TxOut


class ProductList(BaseModel):
    items: list[ProductOut]
    page: PageInfo


class OutputIn(BaseModel):
    period_start: Seconds = Field(gt=0)
    period_end: Seconds
    quantity_milli: Quantity = Field(description="declared units x 1000")
    mass_grams: Amount = Field(description="kg x 1000")
    value_fen: Amount = Field(description="CNY fen")
    extract_hash: Hash = Field(description="hash of the sealed ERP extract")

    @model_validator(mode="after")
    def _period(self) -> OutputIn:
        _ordered(self.period_start, self.period_end, "the period")
        return self

    def domain(self) -> OutputInput:
        return OutputInput(self.period_start, self.period_end, self.quantity_milli, self.mass_grams, self.value_fen,
                           from_hex32(self.extract_hash))


class OutputOut(FromResult):
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
    at: OnChainOut


class OutputTx(BaseModel):
    output: OutputOut | None
    transaction: TxOut


class OutputList(BaseModel):
    product_id: str
    items: list[OutputOut]


# ------------------------------------------------------------------ drafts


class _FootprintIn(BaseModel):
    """What a drafted and a computed footprint both name."""

    product_id: Hash
    pcr_id: Hash
    pcr_version: int = Field(strict=True, ge=1, le=UINT16_MAX)
    period_start: Seconds = Field(gt=0, description="reference period start (inclusive), UTC seconds")
    period_end: Seconds
    valid_from: Seconds
    valid_until: Seconds
    document_hash: Hash
    supersedes: int = Field(default=0, strict=True, ge=0, le=INT64_MAX)

    @model_validator(mode="after")
    def _periods(self) -> _FootprintIn:
        _ordered(self.period_start, self.period_end, "the reference period")
        _ordered(self.valid_from, self.valid_until, "the validity")
        return self


class DraftIn(_FootprintIn):
    declared_unit: Annotated[str, Field(min_length=1, max_length=64)]
    mg_co2e_per_unit: Amount = Field(description="the footprint, mgCO2e per declared unit")
    provenance_commitment: Hash = Field(description="the hash the footprint computation gives over its inputs")
    primary_data_share_per_mille: PerMille
    cited_epd_ids: list[Id64] = Field(default_factory=list, max_length=MAX_CITATIONS)

    def domain(self) -> EpdDraft:
        return EpdDraft(from_hex32(self.product_id), from_hex32(self.pcr_id), self.pcr_version, self.declared_unit,
                        self.mg_co2e_per_unit, self.period_start, self.period_end, self.valid_from, self.valid_until,
                        from_hex32(self.document_hash), from_hex32(self.provenance_commitment),
                        self.primary_data_share_per_mille, tuple(self.cited_epd_ids), self.supersedes)


class DraftFieldsOut(BaseModel):
    product_id: str
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
    cited_epd_ids: list[int]
    supersedes: int


class AttestationOut(FromResult):
    verifier: str
    verifier_org_id: int
    statement_hash: str
    at: OnChainOut


class DraftOut(BaseModel):
    draft_id: int
    draft_commitment: str = Field(description="what a verifier attests (EpdRegistry.draftCommitment)")
    owner_org_id: int
    created_by: str
    created_at: datetime
    status: str = Field(description="draft, attested or published")
    fields: DraftFieldsOut
    attestation: AttestationOut | None
    epd_id: int | None
    provenance: dict[str, Any] | None = Field(
        default=None, description="what a computed footprint was computed from (canonical JSON; its keccak-256 is "
                                  "provenance_commitment); none for a draft given by hand")


class FactorIn(BaseModel):
    database: Label = Field(description="the factor database, e.g. CLCD")
    version: Annotated[str, Field(min_length=1, max_length=32)]
    factor_id: Label
    kg_per_unit: Decimal = Field(ge=0, max_digits=30, decimal_places=12, description="kgCO2e per unit of the input")


class InputIn(BaseModel):
    """One line of the bill of materials per declared unit: a supplier EPD of this ledger or a secondary factor."""

    name: Label
    quantity: Decimal = Field(ge=0, max_digits=30, decimal_places=12, description="per declared unit, in `unit`")
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    epd_id: Id64 | None = Field(default=None, description="a published EPD of a supplier (primary data, cited)")
    pact_import_id: Id64 | None = Field(default=None, description="a supplier footprint imported from another PACT "
                                                                  "host (POST /footprints/imports; primary data)")
    factor: FactorIn | None = None

    @model_validator(mode="after")
    def _one_source(self) -> InputIn:
        if sum(source is not None for source in (self.epd_id, self.pact_import_id, self.factor)) != 1:
            raise ValueError("an input names one of epd_id, pact_import_id and factor")
        return self

    def domain(self) -> BomLine:
        factor = self.factor
        return BomLine(self.name, self.quantity, self.unit, self.epd_id, None if factor is None else SecondaryFactor(
            factor.database, factor.version, factor.factor_id, factor.kg_per_unit), self.pact_import_id)


class ImportIn(BaseModel):
    host: Annotated[str, Field(pattern="^https://", max_length=256, description="the PACT host's base URL")]
    client_id: Annotated[str, Field(min_length=1, max_length=256)]
    client_secret: Annotated[str, Field(min_length=1, max_length=512, repr=False)]
    footprint_id: uuid.UUID


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    footprint_id: str
    source: str
    sha256: str
    keccak256: str
    kg_per_unit: str = Field(description="kgCO2e per one declared unit of measurement")
    unit: str
    verified_on_ledger: bool = Field(description="its supplier published it as an EPD on this ledger")
    importer_org_id: int
    imported_by: str
    notarization_tx: str | None = Field(description="the notarization of its SHA-256 on chain")
    imported_at: datetime
    content: dict[str, Any]

    @classmethod
    def of(cls, row: Any) -> ImportOut:
        return cls.model_validate({**{k: getattr(row, k) for k in cls.model_fields},
                                   "sha256": "0x" + bytes(row.sha256).hex(),
                                   "keccak256": "0x" + bytes(row.keccak256).hex()})


class ComputeIn(_FootprintIn):
    inputs: list[InputIn] = Field(default_factory=list, max_length=MAX_CITATIONS)

    def domain(self) -> FootprintAsk:
        return FootprintAsk(from_hex32(self.product_id), from_hex32(self.pcr_id), self.pcr_version, self.period_start,
                            self.period_end, self.valid_from, self.valid_until, from_hex32(self.document_hash),
                            tuple(i.domain() for i in self.inputs), self.supersedes)


class ComputedOut(BaseModel):
    draft: DraftOut
    kg_co2e_per_unit: str = Field(description="exact to 40 digits; the chain stores mg_co2e_per_unit (half-up)")
    site_kg_co2e_per_unit: str
    upstream_kg_co2e_per_unit: str
    allocation_share: str = Field(description="of the site's anchored emissions in the period")
    site_mg_co2e: int = Field(description="the site's anchored emissions in the period")
    primary_data_share_percent: str
    exempted_percent: str = Field(description="left out by the PCR's cut-off")


class DraftList(BaseModel):
    items: list[DraftOut]
    page: PageInfo


class AttestIn(BaseModel):
    statement_hash: Hash = Field(description="hash of the sealed verification statement")


class DraftTx(BaseModel):
    draft: DraftOut | None
    transaction: TxOut


# ------------------------------------------------------------------ EPDs


class PublishIn(BaseModel):
    draft_id: Id64


class WithdrawIn(BaseModel):
    reason_hash: Hash


class FlagOut(FromResult):
    cited_epd_id: int
    cited_status: str
    cited_valid_until: int
    flagged_by: str | None
    at: OnChainOut


class EpdOut(FromResult):
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
    cited_epd_ids: list[int]
    status: str = Field(description="published, superseded or withdrawn")
    flagged: bool = Field(description="a cited EPD is no longer published or valid")
    superseded_by: int | None
    withdrawal_reason: str | None
    flags: list[FlagOut]
    cited_by: list[int]
    at: OnChainOut


class EpdTx(BaseModel):
    epd: EpdOut | None
    flagged: list[int] = Field(default_factory=list, description="citing EPDs the service flagged right after")
    transactions: list[TxOut]


class EpdList(BaseModel):
    items: list[EpdOut]
    page: PageInfo


def _draft_out(draft: Any) -> DraftOut:
    fields = DraftFieldsOut.model_validate(draft_to_json(draft.fields))
    return DraftOut(draft_id=draft.draft_id, draft_commitment=draft.draft_commitment, owner_org_id=draft.owner_org_id,
                    created_by=draft.created_by, created_at=draft.created_at, status=draft.status, fields=fields,
                    attestation=AttestationOut.model_validate(draft.attestation) if draft.attestation else None,
                    epd_id=draft.epd_id, provenance=draft.provenance)


def _epd_list(found: tuple[list[Any], int], page: Any) -> EpdList:
    items, total = found
    return EpdList(items=[EpdOut.model_validate(e) for e in items],
                   page=PageInfo(offset=page.offset, limit=page.limit, total=total))


def _epd_tx(sent: Any) -> EpdTx:
    published = sent.value
    return EpdTx(epd=EpdOut.model_validate(published.epd) if published else None,
                 flagged=list(published.flagged) if published else [],
                 transactions=[TxOut.model_validate(r) for r in sent.records])


# ------------------------------------------------------------------ routes: PCRs


@router.post("/pcrs", response_model=PcrTx, status_code=status.HTTP_201_CREATED)
def register_pcr(body: PcrIn, caller: Regulator, services: ServicesDep, response: Response,
                 wait: Wait = True) -> PcrTx:
    """Register a PCR version (the program operator: a regulator)."""
    sent = services.footprints.register_pcr(caller, body.domain(), wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return PcrTx(pcr=PcrOut.model_validate(sent.value) if sent.value else None,
                 transaction=TxOut.model_validate(sent.record))


@router.get("/pcrs", response_model=PcrList)
def list_pcrs(caller: AnyMember, services: ServicesDep, page: PageDep,
              pcr: Annotated[str | None, Query(pattern=HASH, description="one rule's id")] = None) -> PcrList:
    """Every PCR version (registry facts)."""
    items, total = services.footprints.pcrs(page.offset, page.limit, from_hex32(pcr) if pcr else None)
    return PcrList(items=[PcrOut.model_validate(p) for p in items],
                   page=PageInfo(offset=page.offset, limit=page.limit, total=total))


# ------------------------------------------------------------------ routes: products


@router.post("/products", response_model=ProductTx, status_code=status.HTTP_201_CREATED)
def register_product(body: ProductIn, caller: Enterprise, services: ServicesDep, response: Response,
                     wait: Wait = True) -> ProductTx:
    """Register a product of the caller's organisation."""
    sent = services.footprints.register_product(caller, body.domain(), wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return ProductTx(product=ProductOut.model_validate(sent.value) if sent.value else None,
                     transaction=TxOut.model_validate(sent.record))


@router.get("/products", response_model=ProductList)
def list_products(caller: AnyMember, services: ServicesDep, page: PageDep,
                  owner_org_id: OrgIdQuery | None = None) -> ProductList:
    items, total = services.footprints.products(page.offset, page.limit, owner_org_id)
    return ProductList(items=[ProductOut.model_validate(p) for p in items],
                       page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/products/{product_id}", response_model=ProductOut)
def get_product(product_id: HashPath, caller: AnyMember, services: ServicesDep) -> ProductOut:
    return ProductOut.model_validate(services.footprints.product(from_hex32(product_id)))


@router.post("/products/{product_id}/output", response_model=OutputTx, status_code=status.HTTP_201_CREATED)
def record_output(product_id: HashPath, body: OutputIn, caller: Enterprise, services: ServicesDep,
                  response: Response, wait: Wait = True) -> OutputTx:
    """Record a product's output for a period (an enterprise member of the owner)."""
    sent = services.footprints.record_output(caller, from_hex32(product_id), body.domain(), wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    return OutputTx(output=OutputOut.model_validate(sent.value) if sent.value else None,
                    transaction=TxOut.model_validate(sent.record))


@router.get("/products/{product_id}/output", response_model=OutputList)
def list_output(product_id: HashPath, caller: AnyMember, services: ServicesDep) -> OutputList:
    """A product's output records (its organisation, verifiers and regulators)."""
    found = services.footprints.outputs(caller, from_hex32(product_id))
    return OutputList(product_id=product_id.lower(), items=[OutputOut.model_validate(o) for o in found])


# ------------------------------------------------------------------ routes: drafts


@router.post("/epds/drafts", response_model=DraftOut, status_code=status.HTTP_201_CREATED)
def create_draft(body: DraftIn, caller: Enterprise, services: ServicesDep) -> DraftOut:
    """Keep a draft footprint of one of the caller's organisation's products (checked as publishing will be)."""
    return _draft_out(services.footprints.create_draft(caller, body.domain()))


@router.post("/epds/drafts/computed", response_model=ComputedOut, status_code=status.HTTP_201_CREATED)
def compute_draft(body: ComputeIn, caller: Enterprise, services: ServicesDep) -> ComputedOut:
    """Compute a footprint of one of the caller's organisation's products from the anchored meter data of its site,
    the output records and the bill of materials, and keep it as a draft with its provenance."""
    computed = services.footprints.compute_draft(caller, body.domain())
    fp = computed.footprint
    return ComputedOut(draft=_draft_out(computed.draft), kg_co2e_per_unit=str(fp.kg_per_unit),
                       site_kg_co2e_per_unit=str(fp.site_kg_per_unit),
                       upstream_kg_co2e_per_unit=str(fp.upstream_kg_per_unit),
                       allocation_share=str(fp.share_decimal), site_mg_co2e=fp.site_mg,
                       primary_data_share_percent=str(fp.primary_data_share_percent),
                       exempted_percent=str(fp.exempted_percent))


@router.post("/footprints/imports", response_model=ImportOut, status_code=status.HTTP_201_CREATED)
def import_footprint(body: ImportIn, caller: Enterprise, services: ServicesDep) -> ImportOut:
    """Fetch a supplier's footprint from another PACT v3 host, notarize its hash and keep it as an input (marked
    not verified on this ledger unless its supplier published it here)."""
    return ImportOut.of(services.footprints.import_footprint(caller, body.host, body.client_id, body.client_secret,
                                                             str(body.footprint_id)))


@router.get("/footprints/imports/{import_id}", response_model=ImportOut)
def get_import(import_id: RowId, caller: AnyMember, services: ServicesDep) -> ImportOut:
    """An imported footprint (its importer's organisation, verifiers and regulators)."""
    return ImportOut.of(services.footprints.imported(caller, import_id))


@router.get("/epds/drafts", response_model=DraftList)
def list_drafts(caller: AnyMember, services: ServicesDep, page: PageDep,
                owner_org_id: OrgIdQuery | None = None) -> DraftList:
    """Drafts: the caller's organisation's; any organisation's for verifiers and regulators."""
    items, total = services.footprints.drafts(caller, page.offset, page.limit, owner_org_id)
    return DraftList(items=[_draft_out(d) for d in items],
                     page=PageInfo(offset=page.offset, limit=page.limit, total=total))


@router.get("/epds/drafts/{draft_id}", response_model=DraftOut)
def get_draft(draft_id: RowId, caller: AnyMember, services: ServicesDep) -> DraftOut:
    return _draft_out(services.footprints.draft(caller, draft_id))


@router.post("/epds/drafts/{draft_id}/attest", response_model=DraftTx)
def attest(draft_id: RowId, body: AttestIn, caller: Verifier, services: ServicesDep, response: Response,
           wait: Wait = True) -> DraftTx:
    """Attest a draft (a verifier of another organisation than the draft's)."""
    sent = services.footprints.attest(caller, draft_id, from_hex32(body.statement_hash), wait)
    answer(response, *sent.records)
    return DraftTx(draft=_draft_out(sent.value) if sent.value else None, transaction=TxOut.model_validate(sent.record))


# ------------------------------------------------------------------ routes: EPDs


@router.post("/epds", response_model=EpdTx, status_code=status.HTTP_201_CREATED)
def publish(body: PublishIn, caller: Enterprise, services: ServicesDep, response: Response,
            wait: Wait = True) -> EpdTx:
    """Publish an attested draft; a supersession flags every footprint citing the superseded EPD."""
    sent = services.footprints.publish(caller, body.draft_id, wait)
    answer(response, sent.records[0], done=status.HTTP_201_CREATED)
    return _epd_tx(sent)


@router.get("/epds", response_model=EpdList)
def list_epds(caller: AnyMember, services: ServicesDep, page: PageDep, owner_org_id: OrgIdQuery | None = None,
              product: Annotated[str | None, Query(pattern=HASH)] = None) -> EpdList:
    """Published EPDs with what became of them (registry facts)."""
    return _epd_list(services.footprints.epds(page.offset, page.limit, owner_org_id,
                                              from_hex32(product) if product else None), page)


@router.get("/epds/flagged", response_model=EpdList)
def list_flagged(caller: AnyMember, services: ServicesDep, page: PageDep,
                 owner_org_id: OrgIdQuery | None = None) -> EpdList:
    """The caller's organisation's flagged footprints (a regulator may name any organisation)."""
    return _epd_list(services.footprints.flagged(caller, page.offset, page.limit, owner_org_id), page)


@router.get("/epds/{epd_id}/epd.html", response_class=HTMLResponse)
def epd_page(epd_id: ChainId64, caller: AnyMember, services: ServicesDep) -> str:
    """The published EPD as a printable page, with how to check it on chain (any member: a public fact)."""
    return services.footprints.page(epd_id).html


@router.get("/epds/{epd_id}", response_model=EpdOut)
def get_epd(epd_id: ChainId64, caller: AnyMember, services: ServicesDep) -> EpdOut:
    return EpdOut.model_validate(services.footprints.epd(epd_id))


@router.post("/epds/{epd_id}/withdraw", response_model=EpdTx)
def withdraw(epd_id: ChainId64, body: WithdrawIn, caller: Enterprise, services: ServicesDep, response: Response,
             wait: Wait = True) -> EpdTx:
    """Withdraw a published EPD with a reason; every footprint citing it is flagged."""
    sent = services.footprints.withdraw(caller, epd_id, from_hex32(body.reason_hash), wait)
    answer(response, sent.records[0])
    return _epd_tx(sent)


@router.post("/epds/{epd_id}/flag", response_model=EpdTx)
def flag(epd_id: ChainId64, caller: AnyMember, services: ServicesDep, response: Response,
         wait: Wait = True) -> EpdTx:
    """Flag a footprint one of whose cited EPDs is no longer published or valid (any member)."""
    sent = services.footprints.flag(caller, epd_id, wait)
    answer(response, *sent.records)
    return EpdTx(epd=EpdOut.model_validate(sent.value) if sent.value else None,
                 transactions=[TxOut.model_validate(sent.record)])

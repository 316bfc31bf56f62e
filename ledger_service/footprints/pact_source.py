"""The PACT API's footprints from the chain index: every EPD version EpdRegistry published, as a `ProductFootprint`.

Each EPD id on chain is one version of its product's declaration: an EPD that supersedes none is version 1, one that
supersedes version n is version n + 1 (`precedingPfIds` names it). Published -> `Active`; superseded or withdrawn ->
`Deprecated`. What a footprint says, and where it comes from:

- the company: the owner organisation (`urn:carbonledger:org:<org id>`, its registered name);
- the product: `urn:carbonledger:product:<on-chain product id>` and `urn:carbonledger:product:<org id>:<own
  product id>` (percent-encoded), its CPC code and declared unit (`UNITS` maps the ledger's unit to PACT's unit and
  amount; an EPD whose unit has none is not served: PACT has no way to say it);
- the figure: mgCO2e per declared unit / 1,000,000, an exact decimal; the primary data share from per mille; the
  exempted share is the PCR's cut-off (what the rule lets the computation leave out at most);
- mass per declared unit: the unit itself for a unit of mass, otherwise the product's recorded output in the
  reference period (grams over milli units), 0 when there is none;
- the rule: the PCR's name and version (its on-chain id in the extension);
- times in UTC from the blocks (created: the publication's block; updated: the supersession's or withdrawal's);
  the verifier: the organisation whose attestation the EPD was published under;
- the ledger extension: EPD id and version, chain id and EpdRegistry's address (the runtime's), transaction hash,
  provenance commitment, document hash, PCR.

Every answer first brings the index up to the chain's head, so a footprint published by a request is listed by the
next one. Filters and pages are SQL (`FootprintFilter` as `pact_exchange.matches` reads it, on the indexed
columns); only the page's rows are read in full. PACT ids (uuid5, not invertible) and versions are kept in memory
per EPD id, read incrementally; a rolled-back index (an EPD id now holding another EPD) is read again.
"""

from __future__ import annotations

import decimal
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.models import (
    ChainEpd,
    ChainEpdAttestation,
    ChainEpdEvent,
    ChainOrganisation,
    ChainPcr,
    ChainProduct,
    ChainProductOutput,
)
from ledger_service.audit.results import utc
from ledger_service.footprints.pact import (
    CPC_URN,
    DeclaredUnit,
    EpdRef,
    EpdStatus,
    ProductFootprint,
    PublishedFootprint,
    pf_id,
    to_product_footprint,
)
from ledger_service.footprints.pact_exchange import FootprintFilter, FootprintPage

ORG_URN = "urn:carbonledger:org:"
PRODUCT_URN = "urn:carbonledger:product:"
ENDED = ("superseded", "withdrawn")  # the steps after which an EPD is no longer published
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MASS_PLACES = Decimal("0.000001")  # a mass per unit that is no finite decimal is shown to the milligram

# The ledger's declared units PACT can state: (PACT unit, amount of it in one declared unit).
UNITS: dict[str, tuple[DeclaredUnit, Decimal]] = {
    "kg": ("kilogram", Decimal(1)), "kilogram": ("kilogram", Decimal(1)), "t": ("kilogram", Decimal(1000)),
    "tonne": ("kilogram", Decimal(1000)), "l": ("liter", Decimal(1)), "liter": ("liter", Decimal(1)),
    "m3": ("cubic meter", Decimal(1)), "cubic meter": ("cubic meter", Decimal(1)),
    "kWh": ("kilowatt hour", Decimal(1)), "MWh": ("kilowatt hour", Decimal(1000)),
    "kilowatt hour": ("kilowatt hour", Decimal(1)), "MJ": ("megajoule", Decimal(1)),
    "GJ": ("megajoule", Decimal(1000)), "megajoule": ("megajoule", Decimal(1)),
    "tkm": ("ton kilometer", Decimal(1)), "ton kilometer": ("ton kilometer", Decimal(1)),
    "m2": ("square meter", Decimal(1)), "square meter": ("square meter", Decimal(1)),
    "piece": ("piece", Decimal(1)), "h": ("hour", Decimal(1)), "hour": ("hour", Decimal(1)),
}


def company_urn(org_id: int) -> str:
    return f"{ORG_URN}{org_id}"


def product_urns(product_id: bytes, owner_org_id: int, own_product_id: str) -> tuple[str, str]:
    """The product's on-chain id and the owner's own product id, as URNs."""
    return (f"{PRODUCT_URN}0x{bytes(product_id).hex()}",
            f"{PRODUCT_URN}{owner_org_id}:{quote(own_product_id, safe='')}")


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(moment: datetime) -> tuple[int, int]:
    """The whole seconds at or before and at or after `moment` (the columns hold whole seconds)."""
    low, part = divmod(moment - EPOCH, SECOND)
    return low, low + (1 if part else 0)


def _quotient(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator, exact when it is a finite decimal, else to the milligram (half up)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[decimal.Inexact] = False
        ctx.clear_flags()
        value = Decimal(numerator) / Decimal(denominator)
        if ctx.flags[decimal.Inexact]:
            return value.quantize(MASS_PLACES, decimal.ROUND_HALF_UP)
        return value


# ------------------------------------------------------------------ filters as SQL


def _deprecated() -> ColumnElement[bool]:
    return exists(select(ChainEpdEvent.id).where(ChainEpdEvent.epd_id == ChainEpd.epd_id,
                                                 ChainEpdEvent.kind.in_(ENDED)))


def _any(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*conditions) if conditions else false()


def _product_condition(urn: str) -> ColumnElement[bool] | None:
    """The product a URN of `product_urns` names; None for any other string (it names no footprint's product)."""
    rest = urn.removeprefix(PRODUCT_URN)
    if rest == urn:
        return None
    if rest.startswith("0x") and len(rest) == 66:
        try:
            product = bytes.fromhex(rest[2:])
        except ValueError:
            return None
        return ChainEpd.product_id == product if f"{PRODUCT_URN}0x{product.hex()}" == urn else None
    org, colon, own = rest.partition(":")
    if not colon or not org.isdigit() or not own or product_urns(b"", int(org), unquote(own))[1] != urn:
        return None
    return and_(ChainProduct.owner_org_id == int(org), ChainProduct.own_product_id == unquote(own))


def _org_condition(urn: str) -> ColumnElement[bool] | None:
    org = urn.removeprefix(ORG_URN)
    if org == urn or not org.isdigit() or company_urn(int(org)) != urn:
        return None
    return ChainEpd.owner_org_id == int(org)


def _conditions(query: FootprintFilter) -> list[ColumnElement[bool]]:
    """`query` on the indexed columns, as `pact_exchange.matches` reads it on the footprints built from them."""
    def each(urns: Iterable[str], condition: Callable[[str], ColumnElement[bool] | None]) -> ColumnElement[bool]:
        return _any([c for c in map(condition, sorted(urns)) if c is not None])

    found: list[ColumnElement[bool]] = [ChainProduct.declared_unit.in_(UNITS)]
    if query.product_ids:
        found.append(each(query.product_ids, _product_condition))
    if query.company_ids:
        found.append(each(query.company_ids, _org_condition))
    if query.classifications:
        codes = [c.removeprefix(CPC_URN) for c in query.classifications if c.startswith(CPC_URN)]
        found.append(ChainProduct.cpc_code.in_(codes) if codes else false())
    if query.geographies:
        found.append(false())  # the ledger states no geography
    if query.statuses:
        active, deprecated = "Active" in query.statuses, "Deprecated" in query.statuses
        found.append(true() if active and deprecated else ~_deprecated() if active else _deprecated()
                     if deprecated else false())
    if query.valid_on is not None:
        low, high = _seconds(query.valid_on)
        found.append(and_(ChainEpd.valid_from <= low, ChainEpd.valid_until >= high))
    if query.valid_after is not None:
        found.append(ChainEpd.valid_from > _seconds(query.valid_after)[0])
    if query.valid_before is not None:
        found.append(ChainEpd.valid_until < _seconds(query.valid_before)[1])
    return found


def _selection() -> Any:
    return (select(ChainEpd, ChainProduct, ChainPcr, ChainOrganisation.name)
            .join(ChainProduct, ChainProduct.product_id == ChainEpd.product_id)
            .join(ChainPcr, and_(ChainPcr.pcr_id == ChainEpd.pcr_id, ChainPcr.version == ChainEpd.pcr_version))
            .outerjoin(ChainOrganisation, ChainOrganisation.org_id == ChainEpd.owner_org_id))


# ------------------------------------------------------------------ versions and ids


class _Versions:
    """Per EPD id: what it supersedes, its version and its PACT id, read from the index as it grows (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registry: tuple[int, str] | None = None
        self._of: dict[int, tuple[int, int]] = {}  # EPD id -> (supersedes, version)
        self._ids: dict[uuid.UUID, int] = {}
        self._top = 0

    def update(self, session: Session, registry: tuple[int, str]) -> None:
        with self._lock:
            top = session.scalar(select(func.max(ChainEpd.epd_id))) or 0
            if registry != self._registry or top < self._top:
                self._reset(registry)
            self._read(session, registry)

    def check(self, session: Session, registry: tuple[int, str], rows: Iterable[tuple[int, int]]) -> None:
        """Read everything again if an EPD id now supersedes another EPD than it did (the index rolled back)."""
        with self._lock:
            if any(self._of.get(epd_id, (supersedes,))[0] != supersedes for epd_id, supersedes in rows):
                self._reset(registry)
                self._read(session, registry)

    def version(self, epd_id: int) -> int:
        with self._lock:
            return self._of.get(epd_id, (0, 1))[1]

    def epd_of(self, wanted: uuid.UUID) -> int | None:
        with self._lock:
            return self._ids.get(wanted)

    def _reset(self, registry: tuple[int, str]) -> None:
        self._registry, self._of, self._ids, self._top = registry, {}, {}, 0

    def _read(self, session: Session, registry: tuple[int, str]) -> None:
        rows = session.execute(select(ChainEpd.epd_id, ChainEpd.supersedes).where(ChainEpd.epd_id > self._top)
                               .order_by(ChainEpd.epd_id))
        for epd_id, supersedes in rows:
            # An EPD supersedes an earlier one, so its predecessor's version is known by now.
            version = self._of[supersedes][1] + 1 if supersedes in self._of else 1
            self._of[epd_id] = (supersedes, version)
            self._ids[pf_id(*registry, epd_id, version)] = epd_id
            self._top = epd_id


# ------------------------------------------------------------------ the source


@dataclass(frozen=True)
class _Extras:
    """What the page's EPDs need beyond their rows, read once per page."""

    ended: dict[int, datetime]  # EPD id -> when it was superseded or withdrawn
    withdrawn: set[int]
    verifiers: dict[bytes, tuple[str, datetime]]  # draft commitment -> (verifier organisation, attested at)
    output: dict[int, tuple[int, int]]  # EPD id -> (grams, milli units) recorded in its reference period


class IndexedFootprintSource:
    """A `FootprintSource` over the chain index. `fresh` brings the index up to the chain's head; `registry` gives
    the chain id and EpdRegistry's current address."""

    def __init__(self, sessions: sessionmaker[Session], fresh: Callable[[], object],
                 registry: Callable[[], tuple[int, str]]) -> None:
        self.sessions = sessions
        self.fresh = fresh
        self.registry = registry
        self._versions = _Versions()

    def list(self, query: FootprintFilter, offset: int, limit: int) -> FootprintPage:
        self.fresh()
        registry = self.registry()
        selected = _selection().where(*_conditions(query))
        with self.sessions() as session:
            self._versions.update(session, registry)
            total = session.scalar(select(func.count()).select_from(selected.subquery())) or 0
            rows = session.execute(selected.order_by(ChainEpd.epd_id).offset(offset).limit(limit)).all()
            return FootprintPage([*self._footprints(session, registry, rows)], int(total))

    def get(self, pf_id_wanted: uuid.UUID) -> ProductFootprint | None:
        self.fresh()
        registry = self.registry()
        with self.sessions() as session:
            self._versions.update(session, registry)
            epd_id = self._versions.epd_of(pf_id_wanted)
            if epd_id is None:
                return None
            rows = session.execute(_selection().where(ChainEpd.epd_id == epd_id,
                                                      ChainProduct.declared_unit.in_(UNITS))).all()
            found = self._footprints(session, registry, rows)
        return found[0] if found and found[0].id == pf_id_wanted else None

    def _footprints(self, session: Session, registry: tuple[int, str],
                    rows: Sequence[Any]) -> Sequence[ProductFootprint]:
        self._versions.check(session, registry, [(r[0].epd_id, r[0].supersedes) for r in rows])
        extras = _extras(session, [r[0] for r in rows])
        return [to_product_footprint(self._published(registry, extras, *row)) for row in rows]

    def _published(self, registry: tuple[int, str], extras: _Extras, epd: ChainEpd, product: ChainProduct,
                   pcr: ChainPcr, org_name: str | None) -> PublishedFootprint:
        chain_id, contract = registry
        unit, amount = UNITS[product.declared_unit]
        status = (EpdStatus.WITHDRAWN if epd.epd_id in extras.withdrawn else
                  EpdStatus.SUPERSEDED if epd.epd_id in extras.ended else EpdStatus.PUBLISHED)
        preceding = (EpdRef(epd.supersedes, self._versions.version(epd.supersedes)),) if epd.supersedes else ()
        verifier = extras.verifiers.get(bytes(epd.draft_commitment))
        return PublishedFootprint(
            chain_id=chain_id, contract=contract, epd_id=epd.epd_id, version=self._versions.version(epd.epd_id),
            company_name=org_name or f"Organisation {epd.owner_org_id}", company_id=company_urn(epd.owner_org_id),
            product_ids=product_urns(product.product_id, product.owner_org_id, product.own_product_id),
            cpc_code=product.cpc_code, product_name=product.own_product_id,
            product_description=f"{product.own_product_id}, cradle-to-gate, per {product.declared_unit}",
            declared_unit=unit, declared_unit_amount=amount,
            mass_kg_per_declared_unit=_mass(unit, amount, extras.output.get(epd.epd_id)),
            kg_per_declared_unit=Decimal(epd.mg_per_unit).scaleb(-6),  # exact: mg to kg is a shift of the point
            reference_start=_moment(epd.period_start), reference_end=_moment(epd.period_end),
            valid_from=_moment(epd.valid_from), valid_until=_moment(epd.valid_until), status=status,
            preceding=preceding, primary_data_share_percent=Decimal(epd.primary_share_per_mille).scaleb(-1),
            exempted_percent=Decimal(pcr.cut_off_per_mille).scaleb(-1), pcr_id="0x" + bytes(epd.pcr_id).hex(),
            pcr_version=epd.pcr_version, created=utc(epd.block_time), updated=extras.ended.get(epd.epd_id),
            tx_hash=bytes.fromhex(epd.tx_hash.removeprefix("0x")),
            provenance_commitment=bytes(epd.provenance_commitment), document_hash=bytes(epd.document_hash),
            verifier=None if verifier is None else verifier[0], verified_at=None if verifier is None else verifier[1],
            pcr_name=pcr.name)


def _mass(unit: DeclaredUnit, amount: Decimal, output: tuple[int, int] | None) -> Decimal:
    if unit == "kilogram":
        return amount
    if output is None or output[1] <= 0:
        return Decimal(0)
    grams, milli_units = output
    return _quotient(grams, milli_units)  # g per milli unit is kg per unit


def _extras(session: Session, epds: Sequence[ChainEpd]) -> _Extras:
    ids = [e.epd_id for e in epds]
    ended: dict[int, datetime] = {}
    withdrawn: set[int] = set()
    for step in session.scalars(select(ChainEpdEvent).where(ChainEpdEvent.epd_id.in_(ids),
                                                            ChainEpdEvent.kind.in_(ENDED))
                                .order_by(ChainEpdEvent.block_number, ChainEpdEvent.log_index)):
        ended[step.epd_id] = utc(step.block_time)
        if step.kind == "withdrawn":
            withdrawn.add(step.epd_id)
    published_at = {bytes(e.draft_commitment): e.block_number for e in epds}
    verifiers: dict[bytes, tuple[str, datetime]] = {}
    attestations = session.execute(
        select(ChainEpdAttestation, ChainOrganisation.name)
        .outerjoin(ChainOrganisation, ChainOrganisation.org_id == ChainEpdAttestation.verifier_org_id)
        .where(ChainEpdAttestation.draft_commitment.in_(list(published_at)))
        .order_by(ChainEpdAttestation.block_number, ChainEpdAttestation.log_index))
    for attested, name in attestations:
        commitment = bytes(attested.draft_commitment)
        if attested.block_number <= published_at[commitment]:  # the latest attestation before publication
            verifiers[commitment] = (name or f"Organisation {attested.verifier_org_id}", utc(attested.block_time))
    output = {epd_id: (int(grams), int(milli)) for epd_id, grams, milli in session.execute(
        select(ChainEpd.epd_id, func.sum(ChainProductOutput.mass_grams), func.sum(ChainProductOutput.quantity_milli))
        .join(ChainProductOutput, and_(ChainProductOutput.product_id == ChainEpd.product_id,
                                       ChainProductOutput.period_start >= ChainEpd.period_start,
                                       ChainProductOutput.period_end <= ChainEpd.period_end))
        .where(ChainEpd.epd_id.in_(ids)).group_by(ChainEpd.epd_id))}
    return _Extras(ended, withdrawn, verifiers, output)

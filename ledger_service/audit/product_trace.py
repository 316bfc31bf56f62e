"""Trace a product footprint: from a published EPD down through its own site's anchored subtotals to meter
readings proved against the anchored roots, and up the supply chain through every EPD it cites, tier by tier.

Each hop states the EPD's on-chain facts (status, flags, figures, validity, transaction) and the access rule
applied to its owner (`Subject.FOOTPRINT_DATA`): published EPDs are registry facts every member sees; the
provenance behind one (the stored record, its subtotals, reading proofs, inputs) only a viewer who sees the
owner's footprint data. Where it is shown, the trace checks that the stored provenance record is the one the
EPD committed to on chain, that each subtotal is the site's node in an anchored window of the owner, that the
window's stored tree gives that node, and that sampled readings of the site prove to the anchored root with the
subtotal on their path; and that the record's supplier inputs are the EPDs cited on chain, by their draft
commitments. Pure reads over the index and the stored meter data.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import ChainAnchor, ChainOrganisation, CommittedNode, EpdDraftRecord, MeterBatch, MeterDevice
from ledger_core.db.models import Reading as ReadingRow
from ledger_service.audit.access import RULES, Reach, Subject, Viewer
from ledger_service.audit.results import OnChain
from ledger_service.epd import Epd, from_hex32, indexed_epd
from ledger_service.footprints.canonical import NotCanonical, commitment
from oracles import merkle_sum as ms
from oracles.measures import MEASURE_EMISSIONS
from oracles.proofs import ReadingNotCommitted, StoredDataInconsistent, prove_reading

MAX_TIERS = 8
SITE_LEVELS = (ms.LEVEL_WORKSHOP, ms.LEVEL_FACILITY)


class UnknownEpd(LookupError):
    pass


@dataclass(frozen=True)
class AccessApplied:
    """The rule that decided what the viewer sees of an organisation's footprint data."""

    subject: str
    org_id: int
    shown: bool
    rule: str


@dataclass(frozen=True)
class ReadingCheck:
    """A reading of the site in an anchored window, proved against the anchored root."""

    reading_id: int
    device_id: str
    timestamp: int
    value_mg: int
    proof_valid: bool  # the proof leads to the anchored root
    site_mg_on_path: int | None  # the site's node on the proof's path
    matches: bool  # the proof holds and the site's node on it is the provenance subtotal
    proof: dict[str, Any] | None
    problem: str | None = None


@dataclass(frozen=True)
class SubtotalCheck:
    """A provenance subtotal against its anchor (index) and the window's stored tree (SQL)."""

    anchor_id: int
    label: str
    window_start: int
    window_end: int
    mg: int
    anchored: bool  # an emissions anchor of the EPD's owner with this window is indexed
    anchor_root: str | None
    anchor_total_mg: int | None
    anchor_at: OnChain | None
    stored_site_mg: int | None  # the site's node sum in the window's stored tree
    readings: list[ReadingCheck] = field(default_factory=list)

    @property
    def sql_matches(self) -> bool:
        return self.stored_site_mg == self.mg

    @property
    def failed_checks(self) -> list[str]:
        where = f"anchor {self.anchor_id} ({self.label})"
        failed = [] if self.anchored else [f"{where}: no indexed emissions anchor of the owner with this window"]
        if self.anchored and not self.sql_matches:
            failed.append(f"{where}: the window's stored site node is {self.stored_site_mg} mg, the provenance says "
                          f"{self.mg} mg")
        for r in self.readings:
            if not r.proof_valid:
                failed.append(f"{where}: reading {r.reading_id}: {r.problem or 'its proof does not hold'}")
            elif not r.matches:
                failed.append(f"{where}: reading {r.reading_id}: the site's node on its path is "
                              f"{r.site_mg_on_path} mg")
        return failed


@dataclass(frozen=True)
class InputCheck:
    """A bill-of-materials line of the provenance record and its source."""

    name: str
    source_type: str  # supplier or factor
    kind: str | None  # EPD or PACT for a supplier
    reference: str  # the EPD id, the PACT footprint id or the factor id
    content_hash: str | None
    cut_off: bool
    cited_on_chain: bool | None  # an EPD of this ledger: among the citing EPD's on-chain citations
    hash_matches: bool | None  # an EPD of this ledger: its hash is the cited EPD's draft commitment


@dataclass(frozen=True)
class EpdHop:
    """One EPD of the trace: tier 0 is the traced one, tier n the suppliers cited n steps up."""

    tier: int
    cited_by: int | None
    epd: Epd  # as indexed: status, flags, figures, validity, publication
    owner: str | None  # the owner organisation's name
    valid_now: bool
    covers_citing_period: bool | None  # valid over the period of the EPD citing it (None for tier 0)
    access: AccessApplied
    provenance_stored: bool | None = None  # None: not shown to the viewer
    stored_commitment: str | None = None
    provenance_matches: bool | None = None
    subtotals: list[SubtotalCheck] = field(default_factory=list)
    inputs: list[InputCheck] = field(default_factory=list)
    citations_match: bool | None = None  # the record's EPD inputs are exactly the on-chain citations
    not_traced: list[int] = field(default_factory=list)  # cited EPDs beyond the depth bound

    @property
    def epd_id(self) -> int:
        return self.epd.epd_id

    @property
    def flagged_citations(self) -> list[int]:
        """Cited EPDs that were no longer published or valid when this one was flagged."""
        return [f.cited_epd_id for f in self.epd.flags]

    @property
    def current(self) -> bool:
        """Published, unflagged and valid now: what a customer may rely on today."""
        return self.epd.status == "published" and not self.epd.flagged and self.valid_now

    @property
    def failed_checks(self) -> list[str]:
        where = f"EPD {self.epd_id}"
        failed = []
        if self.provenance_matches is False:
            failed.append(f"{where}: the stored provenance record's commitment {self.stored_commitment} is not the "
                          f"on-chain {self.epd.provenance_commitment}")
        failed += [f"{where}: {f}" for s in self.subtotals for f in s.failed_checks]
        failed += [f"{where}: input {i.name!r} cites EPD {i.reference}, not cited on chain"
                   for i in self.inputs if i.cited_on_chain is False]
        failed += [f"{where}: input {i.name!r}'s hash is not EPD {i.reference}'s draft commitment"
                   for i in self.inputs if i.hash_matches is False]
        if self.citations_match is False:
            failed.append(f"{where}: the provenance's supplier EPDs are not the on-chain citations")
        return failed


@dataclass(frozen=True)
class ProductTrace:
    epd_id: int
    viewer_org_id: int
    at: int  # seconds UTC: the time "valid now" refers to
    hops: list[EpdHop]  # tier by tier, each EPD once

    @property
    def tiers(self) -> int:
        return 1 + max(h.tier for h in self.hops)

    @property
    def failed_checks(self) -> list[str]:
        return [f for h in self.hops for f in h.failed_checks]

    @property
    def verified(self) -> bool:
        """Every check that ran passed (hidden provenance is not checked, and is not a failure)."""
        return not self.failed_checks

    def hop(self, epd_id: int) -> EpdHop:
        return next(h for h in self.hops if h.epd_id == epd_id)


def access_applied(viewer: Viewer, org_id: int) -> AccessApplied:
    """Whether the viewer sees `org_id`'s footprint data, and by which rule (`access.RULES`)."""
    subject = Subject.FOOTPRINT_DATA
    shown = viewer.sees(subject, org_id)
    reaches = [(s, RULES[subject][s]) for s in viewer.standings]
    if shown:
        standing, reach = next((s, r) for s, r in reaches if r is Reach.ALL or r is not Reach.OWN
                               or org_id == viewer.org_id)
        rule = f"{subject.value}: a {standing.value} sees {reach.value}"
    else:
        seen = "; ".join(f"a {s.value} sees {r.value}" for s, r in reaches)
        rule = (f"{subject.value}: {seen}; organisation {org_id} is not organisation {viewer.org_id}: only the "
                "published EPD and its provenance commitment are shown")
    return AccessApplied(subject.value, org_id, shown, rule)


def _seconds(value: Any) -> int:
    """A window bound of a provenance record: an ISO UTC string (decoded) or a datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return int(moment.timestamp())


def stored_provenance(session: Session, draft_commitment: str) -> dict[str, Any] | None:
    """The provenance record kept with the EPD's draft; None for a draft given by hand (or none stored here)."""
    row = session.scalar(select(EpdDraftRecord).where(EpdDraftRecord.draft_commitment == from_hex32(draft_commitment)))
    found = None if row is None else row.content.get("provenance")
    return found if isinstance(found, dict) else None


def _site_readings(session: Session, batch_id: int, label: str, count: int) -> list[int]:
    return list(session.scalars(
        select(ReadingRow.id).join(MeterDevice, MeterDevice.id == ReadingRow.device_pk)
        .where(ReadingRow.batch_id == batch_id, (MeterDevice.facility == label) | (MeterDevice.workshop == label))
        .order_by(ReadingRow.id).limit(count)))


def _reading(session: Session, reading_id: int, root: bytes, label: str, mg: int) -> ReadingCheck:
    device = session.scalar(select(MeterDevice.device_id).join(ReadingRow, ReadingRow.device_pk == MeterDevice.id)
                            .where(ReadingRow.id == reading_id)) or ""
    try:
        proof = prove_reading(session, reading_id, root)
    except (ReadingNotCommitted, StoredDataInconsistent) as exc:
        return ReadingCheck(reading_id, device, 0, 0, False, None, False, None, str(exc))
    valid = proof.verify() is not None
    on_path = next((t.sum_mg for t in proof.subtotals if t.level in SITE_LEVELS and t.label == label), None)
    return ReadingCheck(reading_id, device, proof.record.timestamp, proof.value_mg, valid, on_path,
                        valid and on_path == mg, proof.as_json())


def _subtotal(session: Session, owner_org_id: int, item: dict[str, Any], sample: int) -> SubtotalCheck:
    anchor_id, label, mg = int(item["anchor_id"]), str(item["label"]), int(item["mg"])
    start, end = _seconds(item["window_start"]), _seconds(item["window_end"])
    anchor = session.scalar(select(ChainAnchor).where(
        ChainAnchor.anchor_id == anchor_id, ChainAnchor.enterprise_org_id == owner_org_id,
        ChainAnchor.measure == MEASURE_EMISSIONS, ChainAnchor.window_start == start, ChainAnchor.window_end == end))
    if anchor is None:
        return SubtotalCheck(anchor_id, label, start, end, mg, False, None, None, None, None)
    batch_id = session.scalar(select(MeterBatch.id).where(MeterBatch.anchor_id == anchor_id,
                                                          MeterBatch.window_start == start))
    stored = None if batch_id is None else session.scalar(select(CommittedNode.sum_mg).where(
        CommittedNode.batch_id == batch_id, CommittedNode.level.in_(SITE_LEVELS), CommittedNode.label == label))
    readings = [] if batch_id is None else [_reading(session, rid, bytes(anchor.root), label, mg)
                                            for rid in _site_readings(session, batch_id, label, sample)]
    return SubtotalCheck(anchor_id, label, start, end, mg, True, "0x" + bytes(anchor.root).hex(),
                         int(anchor.total_mg), OnChain.of(anchor), None if stored is None else int(stored), readings)


def _items(record: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = record.get(key)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _inputs(session: Session, record: dict[str, Any], cited: list[int]) -> list[InputCheck]:
    out = []
    for line in _items(record, "inputs"):
        source = line.get("source")
        source = source if isinstance(source, dict) else {}
        ours = source.get("type") == "supplier" and source.get("kind") == "EPD"
        reference = str(source.get("id") if source.get("type") == "supplier" else source.get("factor_id"))
        cited_on_chain = hash_matches = None
        if ours:
            epd_id = int(reference) if reference.isdigit() else None
            cited_on_chain = epd_id in cited
            found = None if epd_id is None else indexed_epd(session, epd_id)
            hash_matches = found is not None and str(source.get("hash")) == found.draft_commitment
        out.append(InputCheck(str(line.get("name")), str(source.get("type")), source.get("kind"), reference,
                              source.get("hash"), bool(line.get("cut_off")), cited_on_chain, hash_matches))
    return out


def _hop(session: Session, found: Epd, tier: int, cited_by: Epd | None, viewer: Viewer, now: int, sample: int,
         owners: dict[int, str]) -> EpdHop:
    cited = list(found.cited_epd_ids)
    hop = EpdHop(
        tier, None if cited_by is None else cited_by.epd_id, found, owners.get(found.owner_org_id),
        found.valid_from <= now < found.valid_until,
        None if cited_by is None else (found.valid_from <= cited_by.period_start
                                       and cited_by.period_end <= found.valid_until),
        access_applied(viewer, found.owner_org_id))
    if not hop.access.shown:
        return hop
    record = stored_provenance(session, found.draft_commitment)
    if record is None:
        return replace(hop, provenance_stored=False)
    try:
        stored = "0x" + commitment(record).hex()
    except NotCanonical:  # a stored record altered into something the encoding refuses commits to nothing
        stored = ""
    inputs = _inputs(session, record, cited)
    ours = {int(i.reference) for i in inputs if i.cited_on_chain is not None and i.reference.isdigit()}
    subtotals = []
    for item in _items(record, "subtotals"):
        try:
            subtotals.append(_subtotal(session, found.owner_org_id, item, sample))
        except (KeyError, TypeError, ValueError):  # only an altered record is malformed: its commitment fails
            continue
    return replace(hop, provenance_stored=True, stored_commitment=stored,
                   provenance_matches=stored == found.provenance_commitment, subtotals=subtotals, inputs=inputs,
                   citations_match=ours == set(cited))


def trace_product(session: Session, epd_id: int, viewer: Viewer, sample_readings: int = 1,
                  now: int | None = None, max_tiers: int = MAX_TIERS) -> ProductTrace:
    """The EPD and every EPD up its supply chain (breadth first, each once, at most `max_tiers` tiers above it),
    each with its on-chain facts and, where the viewer sees its owner's footprint data, its provenance checked
    down to `sample_readings` proved readings per anchored window. `now` (seconds UTC, default the clock) is the
    time validity is judged at."""
    root = indexed_epd(session, epd_id)
    if root is None:
        raise UnknownEpd(f"no EPD {epd_id} in the index")
    now = int(datetime.now(UTC).timestamp()) if now is None else now
    names = session.execute(select(ChainOrganisation.org_id, ChainOrganisation.name))
    owners: dict[int, str] = {int(org_id): name for org_id, name in names}
    hops: list[EpdHop] = []
    seen = {epd_id}  # a diamond (two inputs from one supplier EPD) is traced once; a cycle cannot repeat
    queue: deque[tuple[Epd, int, Epd | None]] = deque([(root, 0, None)])
    while queue:
        found, tier, cited_by = queue.popleft()
        hop = _hop(session, found, tier, cited_by, viewer, now, sample_readings, owners)
        beyond = []
        for cited_id in found.cited_epd_ids:
            if cited_id in seen:
                continue
            supplier = indexed_epd(session, cited_id)
            if supplier is None:
                continue
            if tier + 1 > max_tiers:
                beyond.append(cited_id)
                continue
            seen.add(cited_id)
            queue.append((supplier, tier + 1, found))
        hops.append(replace(hop, not_traced=beyond) if beyond else hop)
    return ProductTrace(epd_id, viewer.org_id, now, hops)

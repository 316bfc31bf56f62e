"""Production output recorded from evidence the service keeps sealed, so that a footprint's denominator is as
verifiable as its numerator: the anchored counts of a product's production counters, or an uploaded ERP extract.

Either way the evidence is kept in the document vault (`ledger_service.documents`, kinds `output_counts` and
`output_extract`) and its SHA-256 is the output record's `extractHash` on chain, inside the output's commitment;
reconcile opens every kept document and finds its hash among its organisation's output records. Counted output is
the sum of the counters' device nodes (level 1) in the enterprise's product-count anchors inside the period: the
evidence names each anchor, node hash, sum and count, each provable against its anchor's root like a reading."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import TxRecord
from ledger_core.db.models import (
    BatchStatus,
    ChainAnchor,
    CommittedNode,
    MeterBatch,
    MeterDevice,
    Reading,
    StoredDocument,
)
from ledger_service import epd
from ledger_service.documents import DocumentVault, OpenedDocument, OutputDocumentKind
from ledger_service.epd import Output, OutputInput, Product
from ledger_service.footprints.canonical import canonical_bytes
from ledger_service.footprints.erp_extract import ExtractInvalid, ExtractRow, parse_extract
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, not_found
from ledger_service.services.footprints import FootprintService
from ledger_service.services.outcomes import Sent
from oracles import merkle_sum as ms
from oracles.measures import MEASURE_PRODUCT_COUNT, DeviceKind

COUNTS_SOURCE = "production-counters"
MAX_COUNTERS = 64  # counters named for one output record
GRAMS_PER_MILLI_UNIT = {"t": 1000, "kg": 1}  # a mass unit's output weighs itself: 1 milli tonne is 1 kg


@dataclass(frozen=True)
class CounterAsk:
    """Output of a product for `[period_start, period_end)` from the anchored counts of its production counters."""

    product_id: bytes
    period_start: int
    period_end: int
    devices: tuple[str, ...]
    value_fen: int
    mass_grams: int | None = None  # derived from the count for a product declared in t or kg


@dataclass(frozen=True)
class CountedWindow:
    """A counter's device node in one product-count anchor."""

    anchor_id: int
    window_start: int
    window_end: int
    device: str
    node_hash: bytes
    sum_milli: int
    count: int


@dataclass(frozen=True)
class CountedOutput:
    output: Output | None
    evidence: dict[str, Any]
    evidence_hash: bytes


@dataclass(frozen=True)
class ExtractOutput:
    outputs: tuple[Output, ...]
    extract_hash: bytes


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def counted_windows(session: Session, org_id: int, devices: Sequence[str], start: int, end: int
                    ) -> list[CountedWindow]:
    """The counters' device nodes in every product-count anchor of the enterprise inside `[start, end)` that the
    chain holds (the index's `Anchored` events), in window and device order."""
    node = CommittedNode
    rows = session.execute(
        select(ChainAnchor.anchor_id, ChainAnchor.window_start, ChainAnchor.window_end, node.label, node.hash,
               node.sum_mg, node.count)
        .join(MeterBatch, MeterBatch.anchor_id == ChainAnchor.anchor_id)
        .join(node, node.batch_id == MeterBatch.id)
        .where(ChainAnchor.enterprise_org_id == org_id, ChainAnchor.measure == MEASURE_PRODUCT_COUNT,
               MeterBatch.status == BatchStatus.ANCHORED, MeterBatch.window_start == ChainAnchor.window_start,
               ChainAnchor.window_start >= start, ChainAnchor.window_end <= end,
               node.level == ms.LEVEL_DEVICE, node.label.in_(list(devices)))
        .order_by(ChainAnchor.window_start, node.label))
    return [CountedWindow(int(a), int(s), int(e), str(label), bytes(h), int(total), int(count))
            for a, s, e, label, h, total, count in rows]


def counts_evidence(product: Product, start: int, end: int, windows: Sequence[CountedWindow]) -> dict[str, Any]:
    """The canonical record whose SHA-256 the output record commits to."""
    return {
        "source": COUNTS_SOURCE, "productId": product.product_id, "declaredUnit": product.declared_unit,
        "periodStart": _utc(start), "periodEnd": _utc(end),
        "quantityMilli": sum(w.sum_milli for w in windows),
        "counts": [{"anchorId": w.anchor_id, "windowStart": _utc(w.window_start), "windowEnd": _utc(w.window_end),
                    "device": w.device, "level": ms.LEVEL_DEVICE, "nodeHash": w.node_hash, "sumMilli": w.sum_milli,
                    "count": w.count} for w in windows],
    }


@dataclass(frozen=True)
class ProductOutputService:
    footprints: FootprintService
    documents: DocumentVault

    def _session(self) -> Session:
        self.footprints.views.fresh()
        return self.footprints.views.sessions()

    def _owned(self, caller: Caller, product_id: bytes) -> Product:
        if not caller.member.has_role("ENTERPRISE"):
            raise Refusal(403, "MissingRole", "recording output needs the role ENTERPRISE",
                          {"account": caller.address, "roles": ["ENTERPRISE"]})
        product = self.footprints.product(product_id)
        if caller.member.org_id != product.owner_org_id:
            raise ContractRevert("NotOrganisationMember", {"account": caller.address, "orgId": product.owner_org_id})
        return product

    # -------------------------------------------------------------- production counters

    def record_counted(self, caller: Caller, ask: CounterAsk, wait: bool = True) -> Sent[CountedOutput]:
        """Record a product's output for a period as the sum of its production counters' anchored counts (an
        enterprise member of the owner); the evidence naming every anchor and node is sealed and committed."""
        product = self._owned(caller, ask.product_id)
        devices = tuple(dict.fromkeys(ask.devices))
        if not devices or len(devices) > MAX_COUNTERS:
            raise Refusal(422, "CountersInvalid", f"name 1 to {MAX_COUNTERS} production counters", {})
        with self._session() as session:
            self._check_counters(session, product, devices)
            windows = counted_windows(session, product.owner_org_id, devices, ask.period_start, ask.period_end)
            if not windows:
                raise Refusal(422, "NoCountedOutput", "no anchored count of these counters lies inside the period",
                              {"productId": product.product_id, "devices": list(devices)})
            self._check_units(session, product, devices, {w.anchor_id for w in windows})
            self._check_unclaimed(session, product, windows)
        evidence = counts_evidence(product, ask.period_start, ask.period_end, windows)
        quantity = int(evidence["quantityMilli"])
        if quantity == 0:
            raise Refusal(422, "NoCountedOutput", "the counters counted nothing in the period",
                          {"productId": product.product_id})
        mass = ask.mass_grams
        if mass is None:
            per_milli = GRAMS_PER_MILLI_UNIT.get(product.declared_unit)
            if per_milli is None:
                raise Refusal(422, "MassRequired", f"state the mass of output counted in {product.declared_unit!r}",
                              {"productId": product.product_id})
            mass = quantity * per_milli
        content = canonical_bytes(evidence)
        digest, new = self.documents.keep(content, product.owner_org_id, OutputDocumentKind.COUNTS, caller.address,
                                          "output-counts.json", "application/json")
        output = OutputInput(ask.period_start, ask.period_end, quantity, mass, ask.value_fen, digest)
        try:
            sent = self.footprints.record_output(caller, ask.product_id, output, wait)
        except Exception:
            if new:  # refused before sending: keep no evidence of an output never recorded
                self.documents.discard(digest, product.owner_org_id, OutputDocumentKind.COUNTS)
            raise
        return Sent(sent.records, CountedOutput(sent.value, evidence, digest))

    @staticmethod
    def _check_counters(session: Session, product: Product, devices: Sequence[str]) -> None:
        found = {d.device_id: d for d in session.scalars(select(MeterDevice).where(MeterDevice.device_id.in_(devices)))}
        for device in devices:
            d = found.get(device)
            at_site = d is not None and d.facility == product.facility and (
                not product.workshop or d.workshop == product.workshop)
            if d is None or d.kind != DeviceKind.PRODUCT_COUNTER or d.enterprise_org_id != product.owner_org_id \
                    or not at_site:
                raise Refusal(422, "NotACounterOfProduct", f"{device} is not a production counter of the product's "
                              "owner at the site where it is made", {"device": device,
                                                                     "productId": product.product_id})

    def _check_unclaimed(self, session: Session, product: Product, windows: Sequence[CountedWindow]) -> None:
        """A counter's anchored window backs one output record: counted again (another product at the same
        site, or an overlapping period) the same units would be output twice, and every footprint divided by
        them too small. The owner's sealed counts evidence names what is taken."""
        wanted = {(w.anchor_id, w.device) for w in windows}
        for row in session.scalars(select(StoredDocument).where(
                StoredDocument.org_id == product.owner_org_id, StoredDocument.kind == str(OutputDocumentKind.COUNTS))):
            taken = sorted(wanted & {(int(c["anchorId"]), str(c["device"]))
                                     for c in json.loads(self.documents.open_row(row))["counts"]})
            if taken:
                anchor_id, device = taken[0]
                raise Refusal(409, "CountsAlreadyClaimed", f"the counts of {device} in anchor {anchor_id} already "
                              "back a recorded output", {"anchorId": anchor_id, "device": device,
                                                         "evidence": "0x" + bytes(row.document_hash).hex()})

    @staticmethod
    def _check_units(session: Session, product: Product, devices: Sequence[str], anchors: set[int]) -> None:
        units = set(session.scalars(
            select(Reading.unit).distinct()
            .join(MeterDevice, MeterDevice.id == Reading.device_pk)
            .join(MeterBatch, MeterBatch.id == Reading.batch_id)
            .where(MeterDevice.device_id.in_(list(devices)), MeterBatch.anchor_id.in_(anchors))))
        if units - {product.declared_unit}:
            raise Refusal(422, "CountUnitMismatch", f"the counters count in {sorted(units)}, the product is declared "
                          f"in {product.declared_unit!r}", {"productId": product.product_id,
                                                            "units": sorted(units)})

    def evidence(self, caller: Caller, product_id: bytes, index: int) -> OpenedDocument:
        """The sealed evidence (ERP extract or counts) output record `index` commits to: the product's organisation,
        verifiers and regulators. Opening checks the content still has its hash."""
        found = next((o for o in self.footprints.outputs(caller, product_id) if o.index == index), None)
        if found is None:
            raise not_found(f"the product has no output record {index}", "UnknownOutput", index=index)
        digest = epd.from_hex32(found.extract_hash)
        for kind in OutputDocumentKind:
            opened = self.documents.open(digest, found.owner_org_id, kind)
            if opened is not None:
                return opened
        raise not_found("the service keeps no evidence with the output's hash", "EvidenceNotKept",
                        extractHash=found.extract_hash)

    # -------------------------------------------------------------- ERP extracts

    def record_extract(self, caller: Caller, content: bytes, filename: str = "") -> Sent[ExtractOutput]:
        """Record the output an ERP extract states (CSV, `ledger_service.footprints.erp_extract`) for products of
        the caller's organisation: every row is checked first, the extract is sealed, then each row is recorded,
        in order, with the extract's SHA-256 as its `extractHash` (each waited for, so rows of one product follow
        one another)."""
        try:
            rows = parse_extract(content)
        except ExtractInvalid as exc:
            raise Refusal(422, "ExtractInvalid", str(exc), {"line": exc.line}) from None
        org = caller.member.org_id
        products = [self._owned(caller, epd.product_id(org, row.own_product_id)) for row in rows]
        self._check_periods(rows, products)
        digest, new = self.documents.keep(content, org, OutputDocumentKind.EXTRACT, caller.address,
                                          filename or "output-extract.csv", "text/csv")
        records: list[TxRecord] = []
        outputs: list[Output] = []
        for row, product in zip(rows, products, strict=True):
            output = OutputInput(row.period_start, row.period_end, row.quantity_milli, row.mass_grams,
                                 row.value_fen, digest)
            try:
                sent = self.footprints.record_output(caller, epd.from_hex32(product.product_id), output, True)
            except Exception:
                if new and not records:
                    self.documents.discard(digest, org, OutputDocumentKind.EXTRACT)
                raise
            records.append(sent.record)
            if sent.value is not None:
                outputs.append(sent.value)
        return Sent(tuple(records), ExtractOutput(tuple(outputs), digest))

    def _check_periods(self, rows: Sequence[ExtractRow], products: Sequence[Product]) -> None:
        """Periods of one product follow one another in the extract and after its latest recorded period."""
        last: dict[str, int] = {}
        for row, product in zip(rows, products, strict=True):
            pid = product.product_id
            if pid not in last:
                last[pid] = epd.last_output_end(self.footprints.chain, self.footprints.suite, epd.from_hex32(pid))
            if row.period_start < last[pid]:
                raise ContractRevert("OutputPeriodOverlap", {"productId": epd.from_hex32(pid),
                                                             "periodStart": row.period_start,
                                                             "lastOutputEnd": last[pid]})
            last[pid] = row.period_end

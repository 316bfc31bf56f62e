"""Typed results of the audit functions. Every on-chain fact carries its `OnChain` position:
transaction hash, block number, log index and block time (UTC), and whether it is still pending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class OnChain:
    tx_hash: str
    block_number: int
    log_index: int
    block_time: datetime
    pending: bool

    @classmethod
    def of(cls, row: Any) -> OnChain:
        """From any indexed event row (ORM object or mapping with the meta columns)."""
        get = row.__getitem__ if isinstance(row, Mapping) else (lambda k: getattr(row, k))
        return cls(get("tx_hash"), get("block_number"), get("log_index"), utc(get("block_time")),
                   bool(get("pending")))


def utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes for UTC columns; make them aware."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------ reports


@dataclass(frozen=True, slots=True)
class ReportStep:
    """`submitted`, `verified`, `rejected` or `finalized`, by `actor`."""

    kind: str
    actor: str
    at: OnChain
    verified_kg: int | None = None
    obligation_tonnes: int | None = None
    statement_or_reason: str | None = None
    actor_organisation: str | None = None  # the name of the actor's organisation (None: not a member)


@dataclass(frozen=True, slots=True)
class ReportVersion:
    report_id: int
    version: int
    previous_report_id: int
    status: str
    document_hash: str
    reported_kg: int
    anchors_root: str
    anchored_mg: int
    reading_count: int
    steps: list[ReportStep]


@dataclass(frozen=True, slots=True)
class AnchorFact:
    """An anchor from MeterAnchor's `Anchored` event, and whether the SQL batch reproduces it."""

    anchor_id: int
    enterprise_org_id: int
    window_start: int
    window_end: int
    root: str
    total_mg: int
    reading_count: int
    oracle: str
    at: OnChain
    batch_id: int | None
    sql_matches: bool
    oracle_organisation: str | None = None
    readings_match: bool | None = None  # the stored readings rebuild the anchored root (None: no stored window)
    readings_problem: str | None = None  # why they do not


@dataclass(frozen=True, slots=True)
class CommitmentCheck:
    """The report's level-5 commitment recomputed from the anchors' roots, against what it recorded."""

    anchor_ids: list[int]
    expected_root: str
    expected_mg: int
    expected_count: int
    committed_root: str
    committed_mg: int
    committed_count: int

    @property
    def matches(self) -> bool:
        return (self.expected_root, self.expected_mg, self.expected_count) == (
            self.committed_root, self.committed_mg, self.committed_count)


@dataclass(frozen=True, slots=True)
class Subtotal:
    level: str
    label: str
    sum_mg: int
    count: int


@dataclass(frozen=True, slots=True)
class ReadingEvidence:
    """A committed reading as stored (quantity, unit, carrier, the factor set and factor that valued it) and
    its Merkle-sum proof up to its anchor's root; `proof` is None and `problem` says why when its window's
    stored data no longer reproduces the anchored root."""

    reading_id: int
    device_id: str
    timestamp: int
    value_mg: int
    anchor_id: int | None
    proof_valid: bool
    subtotals: list[Subtotal]
    proof: dict[str, Any] | None
    quantity: str = ""
    unit: str = ""
    carrier: str = ""
    factor_set: str = ""
    factor_kg_per_unit: str | None = None  # kgCO2e per `unit` of `carrier` in `factor_set` (None: no such factor)
    changed: bool = False  # its stored fields no longer give its committed digest
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceFact:
    device_id: str
    device_hash: str
    facility: str
    workshop: str
    active_on_chain: bool | None
    registered: OnChain | None


@dataclass(frozen=True, slots=True)
class NotarizationFact:
    document_hash: str
    notary: str
    org_id: int
    at: OnChain
    notary_organisation: str | None = None


@dataclass(frozen=True, slots=True)
class ReportTrace:
    report_id: int
    org_id: int
    year: int
    versions: list[ReportVersion]
    commitment: CommitmentCheck
    anchors: list[AnchorFact]
    readings: list[ReadingEvidence]
    devices: list[DeviceFact]
    notarizations: list[NotarizationFact]
    seed: int = 0  # the sample's seed: the same seed on the same data samples the same readings
    all_readings: bool = False  # every reading was checked, not a sample
    readings_checked: int = 0

    @property
    def failed_checks(self) -> list[str]:
        """Every check that failed, in words (empty: verified)."""
        c = self.commitment
        failed = [] if c.matches else [
            f"commitment: the report commits to root {c.committed_root or '-'}, {c.committed_mg} mg, "
            f"{c.committed_count} readings; its anchors give root {c.expected_root or '-'}, {c.expected_mg} mg, "
            f"{c.expected_count} readings"]
        for a in self.anchors:
            if a.batch_id is None:
                failed.append(f"anchor {a.anchor_id}: no stored window")
            elif not a.sql_matches:
                failed.append(f"anchor {a.anchor_id}: stored batch {a.batch_id} does not record the anchored root, "
                              "total and reading count")
            if a.readings_match is False:
                failed.append(f"anchor {a.anchor_id}: {a.readings_problem}")
        for r in self.readings:
            if not r.proof_valid:
                what = ("its stored fields no longer give its committed digest" if r.changed
                        else f"no proof: its window no longer reproduces the anchored root (anchor {r.anchor_id})"
                        if r.problem else "its proof does not lead to the anchored root")
                failed.append(f"reading {r.reading_id} (anchor {r.anchor_id}): {what}")
        return failed

    @property
    def verified(self) -> bool:
        """The commitment matches the anchors, every anchor matches SQL and is rebuilt by its stored readings,
        every checked reading's proof holds."""
        return not self.failed_checks


# ------------------------------------------------------------------ assets


@dataclass(frozen=True, slots=True)
class AssetHop:
    """`allocation`, `issuance`, `transfer`, `listing` (into the market's escrow), `trade` (a fill: from the
    seller to the buyer, with `order_id`, `price` and `payment` in settlement-token units), `delisting`
    (escrow back to the seller on cancel or reclaim), `surrender`, `retraction`, `retirement`
    (`retirement_id`), `cancellation` or `burn`. Retirements, cancellations and surrenders of credits
    carry the serial range they consumed."""

    kind: str
    from_address: str
    to_address: str
    amount: int
    at: OnChain
    compliance_year: int | None = None
    serial_start: int | None = None
    serial_end: int | None = None
    order_id: int | None = None
    price: int | None = None
    payment: int | None = None
    retirement_id: int | None = None


@dataclass(frozen=True, slots=True)
class Holding:
    holder: str
    org_id: int | None
    amount: int


@dataclass(frozen=True, slots=True)
class AssetTrace:
    token: str
    token_id: int
    issued: int
    surrendered: int
    hops: list[AssetHop]
    holders: list[Holding]
    retired: int = 0
    cancelled: int = 0
    escrowed: int = 0

    @property
    def outstanding(self) -> int:
        """Units held, including those in the market's escrow."""
        return sum(h.amount for h in self.holders)


# ------------------------------------------------------------------ drill-down


@dataclass(slots=True)
class LevelTotal:
    """A node of the park tree with its total; `anchored_mg` is set where an anchored sum is known."""

    level: str
    label: str
    sum_mg: int
    count: int
    children: list[LevelTotal] = field(default_factory=list)
    anchored_mg: int | None = None
    anchored_count: int | None = None
    matches_anchored: bool | None = None

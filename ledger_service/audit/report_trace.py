"""Trace an emission report: its versions, verification and finalization, the anchors its level-5
commitment covers (checked against MeterAnchor's anchored roots, each window rebuilt from its stored
readings, or its verdict kept since they last changed: `window_checks`), readings sampled from every anchor (or
all of them) with proofs, devices; which checks failed."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, and_, bindparam, cast, literal_column, null, select, union_all
from sqlalchemy.orm import Session, aliased

from ledger_core.db.models import (
    ChainAnchor,
    ChainDevice,
    ChainDeviceEvent,
    ChainMember,
    ChainNotarization,
    ChainOrganisation,
    ChainReport,
    ChainReportEvent,
    MeterBatch,
    MeterDevice,
)
from ledger_service.audit.anchor_index import BATCH_RECORD_FIELDS, anchored_windows, batch_paths
from ledger_service.audit.results import (
    AnchorFact,
    CommitmentCheck,
    DeviceFact,
    NotarizationFact,
    OnChain,
    ReadingEvidence,
    ReportStep,
    ReportTrace,
    ReportVersion,
    Subtotal,
)
from ledger_service.audit.window_checks import (
    BATCH_COLUMNS,
    BatchRow,
    CheckedWindow,
    checked_window,
    with_readings,
)
from oracles import merkle_sum as ms
from oracles.anchor_records import AnchoredWindow, window_json
from oracles.factors import get_factor_set
from oracles.measures import MEASURE_EMISSIONS
from oracles.proofs import RebuiltWindow, rebuild_window
from oracles.reports import period_node


class UnknownReport(LookupError):
    pass


def _hex(value: bytes | None) -> str:
    return "0x" + value.hex() if value else ""


def year_window(year: int) -> tuple[int, int]:
    """[1 January, next 1 January) of `year`, in seconds UTC."""
    return (int(datetime(year, 1, 1, tzinfo=UTC).timestamp()), int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()))


def report_anchors(session: Session, org_id: int, year: int) -> list[ChainAnchor]:
    """The enterprise's emissions anchors whose windows lie in the report year, in anchor order."""
    return list(session.scalars(select(ChainAnchor).where(_in_report(ChainAnchor, org_id, year))
                                .order_by(ChainAnchor.anchor_id)))


@dataclass(frozen=True)
class _Anchors:
    """A report's anchors (index rows with every column of `chain_anchors`, in anchor order), the batches of those
    anchors (`window_checks.batch_rows`) and each anchor's path to the root of the anchor batch it came in; read
    with its enterprise's devices and the members' organisation names (`_enterprise_rows`)."""

    rows: list[Row[Any]]
    batches: list[BatchRow]
    paths: dict[int, tuple[bytes, ...]]
    devices: list[DeviceFact]
    names: dict[str, str]  # member address (lower case) -> its organisation's name


def _in_report(anchor: type[ChainAnchor], org_id: int, year: int) -> ColumnElement[bool]:
    start, end = year_window(year)
    return and_(anchor.enterprise_org_id == org_id, anchor.window_start >= start, anchor.window_end <= end,
                anchor.measure == MEASURE_EMISSIONS)


def _in_report_given(anchor: type[ChainAnchor]) -> ColumnElement[bool]:
    """`_in_report` with the enterprise and the year's window given when the statement runs (`_report_window`)."""
    return and_(anchor.enterprise_org_id == bindparam("org_id"), anchor.window_start >= bindparam("start"),
                anchor.window_end <= bindparam("end"), anchor.measure == MEASURE_EMISSIONS)


def _report_window(org_id: int, year: int) -> dict[str, int]:
    start, end = year_window(year)
    return {"org_id": org_id, "start": start, "end": end}


# Made once, as `_TARGET_REPORT` below.
_REPORTED = aliased(ChainAnchor, name="reported")
_STORED = tuple(c.label(f"stored_{c.key}") for c in BATCH_COLUMNS)
_ANCHOR_COLUMNS = tuple(ChainAnchor.__table__.c)
# A batch's other rows are read for their records alone (NULL in the other columns: nothing to decode), and taken
# as `batch_paths` takes them.
_RECORD_COLUMNS = tuple(c if c.key in BATCH_RECORD_FIELDS else null() for c in _ANCHOR_COLUMNS)
_RECORD = itemgetter(*(1 + [c.key for c in _ANCHOR_COLUMNS].index(f) for f in BATCH_RECORD_FIELDS))


# An enterprise's devices with their chain state and registration, and the members' organisation names
# (`organisation_names`), as parts of `_ENTERPRISE_ROWS`.
_DEVICE_COLUMNS = (MeterDevice.device_id, MeterDevice.device_hash, MeterDevice.facility, MeterDevice.workshop,
                   ChainDevice.active, ChainDeviceEvent.tx_hash, ChainDeviceEvent.block_number,
                   ChainDeviceEvent.log_index, ChainDeviceEvent.block_time, ChainDeviceEvent.pending)
_NAME_COLUMNS = (ChainMember.account, ChainOrganisation.name)
_ANCHOR_PART = (_ANCHOR_COLUMNS, _STORED)
_PARTS = (*_ANCHOR_PART, _DEVICE_COLUMNS, _NAME_COLUMNS)
_OWN, _BATCHED, _DEVICE, _NAME = 1, 0, 2, 3  # what a row of `_ENTERPRISE_ROWS` is (its first column)
_DEVICE_AT = 1 + len(_ANCHOR_COLUMNS) + len(_STORED)
_NAME_AT = _DEVICE_AT + len(_DEVICE_COLUMNS)


def _padding(*parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """NULL in the columns of `parts` (those of another part of the statement)."""
    return tuple(null() for part in parts for _ in part)


# `report_anchors` with the batches of those anchors (`window_checks.batch_rows`), every index row of the anchor
# batches they came in (what `anchor_index.indexed_windows` reads), the enterprise's devices and the members'
# organisation names: one statement, each part on its own index, in a UNION ALL whose rows hold the columns of
# their own part (NULL in the others; in the first part, NULL cast to the type of the column it stands for, so that
# PostgreSQL finds each column one type and it is read as its part's). The devices come in device order, as shown.
# Built once (as every statement of a trace: built anew, a statement and its cache key were CPU of every trace),
# run with `_report_window` on the session's connection (as every statement of a trace that reads columns: a Core
# result, without the ORM's result layer).
_ENTERPRISE_ROWS = union_all(
    select(literal_column(str(_OWN)).label("part"), *_ANCHOR_COLUMNS, *_STORED,
           *(cast(null(), c.type).label(f"device_{c.key}") for c in _DEVICE_COLUMNS),
           *(cast(null(), c.type).label(f"member_{c.key}") for c in _NAME_COLUMNS))
    .outerjoin(MeterBatch, MeterBatch.anchor_id == ChainAnchor.anchor_id).where(_in_report_given(ChainAnchor)),
    select(literal_column(str(_BATCHED)), *_RECORD_COLUMNS, *_padding(_STORED, _DEVICE_COLUMNS, _NAME_COLUMNS))
    .where(ChainAnchor.batch_id.in_(select(_REPORTED.batch_id).where(_in_report_given(_REPORTED)))),
    select(literal_column(str(_DEVICE)), *_padding(*_ANCHOR_PART), *_DEVICE_COLUMNS, *_padding(_NAME_COLUMNS))
    .select_from(MeterDevice)
    .outerjoin(ChainDevice, ChainDevice.device_id == MeterDevice.device_hash)
    .outerjoin(ChainDeviceEvent, (ChainDeviceEvent.device_id == MeterDevice.device_hash)
               & (ChainDeviceEvent.kind == "registered"))
    .where(MeterDevice.enterprise_org_id == bindparam("org_id")),
    select(literal_column(str(_NAME)), *_padding(*_ANCHOR_PART, _DEVICE_COLUMNS), *_NAME_COLUMNS)
    .join(ChainOrganisation, ChainOrganisation.org_id == ChainMember.org_id),
).order_by(literal_column("device_device_id"))


def _enterprise_rows(session: Session, org_id: int, year: int) -> _Anchors:
    """The report's anchors, their batches and their anchor batches' paths, the enterprise's devices and the
    members' organisation names (`_ENTERPRISE_ROWS`)."""
    anchors: dict[int, Row[Any]] = {}
    batches = []
    members = []
    devices = []
    names = {}
    first_stored = 1 + len(_ANCHOR_COLUMNS)
    for row in session.connection().execute(_ENTERPRISE_ROWS, _report_window(org_id, year)):
        part = row[0]
        if part == _OWN:
            anchors[row.anchor_id] = row  # once, however many batches name it
            if row.stored_id is not None:
                batches.append(BatchRow._make(row[first_stored:_DEVICE_AT]))
        elif part == _BATCHED:
            members.append(_RECORD(row))
        elif part == _DEVICE:
            devices.append(_device(_Device._make(row[_DEVICE_AT:_NAME_AT])))
        else:
            names[row[_NAME_AT].lower()] = row[_NAME_AT + 1]
    members.sort()  # by batch, then anchor (an anchor id is unique)
    return _Anchors(sorted(anchors.values(), key=attrgetter("anchor_id")), batches, batch_paths(members), devices,
                    names)


class _Report(NamedTuple):
    """A version of a report as a trace reads it: columns of `chain_reports`, not ORM objects (nothing is
    written; an entity costs its identity map entry and state to build and to detach)."""

    report_id: int
    org_id: int
    year: int
    version: int
    previous_report_id: int
    status: str
    document_hash: bytes
    reported_kg: int
    anchors_root: bytes
    anchored_mg: int
    reading_count: int


class _Step(NamedTuple):
    """A report event (`chain_report_events`) as a trace shows it."""

    id: int | None  # None: a version without events (the outer join's NULL row)
    kind: str
    actor: str
    verified_kg: int | None
    obligation_tonnes: int | None
    statement_hash: bytes | None
    reason_hash: bytes | None
    tx_hash: str
    block_number: int
    log_index: int
    block_time: datetime
    pending: bool


class _Notarization(NamedTuple):
    """A notarization (`chain_notarizations`) of a version's document."""

    id: int | None  # None: a document without notarization
    document_hash: bytes
    notary: str
    org_id: int
    tx_hash: str
    block_number: int
    log_index: int
    block_time: datetime
    pending: bool


def _columns(entity: Any, fields: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(entity, f) for f in fields)


@dataclass(frozen=True)
class _Versions:
    """A report's versions with their steps, the notarizations of their documents and its enterprise's park."""

    reports: list[_Report]  # in version order
    steps: dict[int, list[_Step]]  # report id -> its events, in chain order
    notarizations: list[_Notarization]
    park: int | None


_TARGET_REPORT = aliased(ChainReport, name="target_report")
_STEP_AT = len(_Report._fields)
_NOTE_AT = _STEP_AT + len(_Step._fields)
_PARK_AT = _NOTE_AT + len(_Notarization._fields)
# Every version of a report (the same enterprise and year) with its events, its document's notarization and its
# enterprise's park: a version has a few events and its document at most one notarization. Run with `report_id`.
_VERSIONS = (
    select(*_columns(ChainReport, _Report._fields), *_columns(ChainReportEvent, _Step._fields),
           *_columns(ChainNotarization, _Notarization._fields), ChainOrganisation.parent_id)
    .select_from(ChainReport)
    .join(_TARGET_REPORT, (_TARGET_REPORT.org_id == ChainReport.org_id) & (_TARGET_REPORT.year == ChainReport.year))
    .outerjoin(ChainReportEvent, ChainReportEvent.report_id == ChainReport.report_id)
    .outerjoin(ChainNotarization, ChainNotarization.document_hash == ChainReport.document_hash)
    .outerjoin(ChainOrganisation, ChainOrganisation.org_id == ChainReport.org_id)
    .where(_TARGET_REPORT.report_id == bindparam("report_id"))
    .order_by(ChainReport.version, ChainReport.report_id, ChainReportEvent.block_number, ChainReportEvent.log_index))


def _versions_of(session: Session, report_id: int) -> _Versions:
    """Every version of the report, in version order, with what `_Versions` holds, in one statement
    (`_VERSIONS`); none for no such report."""
    rows = session.connection().execute(_VERSIONS, {"report_id": report_id}).all()
    reports: dict[int, _Report] = {}
    steps: dict[int, list[_Step]] = {}
    notes: dict[int, _Notarization] = {}
    for row in rows:
        report = _Report._make(row[:_STEP_AT])
        reports[report.report_id] = report
        found = steps.setdefault(report.report_id, [])
        if row[_STEP_AT] is not None:
            found.append(_Step._make(row[_STEP_AT:_NOTE_AT]))
        if row[_NOTE_AT] is not None:
            notes[row[_NOTE_AT]] = _Notarization._make(row[_NOTE_AT:_PARK_AT])
    return _Versions(list(reports.values()), steps, list(notes.values()), rows[0][_PARK_AT] if rows else None)


def _versions(versions: _Versions, names: dict[str, str]) -> list[ReportVersion]:
    out = []
    for r in versions.reports:
        steps = []
        for e in versions.steps[r.report_id]:
            note = e.statement_hash or e.reason_hash
            steps.append(ReportStep(e.kind, e.actor, OnChain.of(e), e.verified_kg, e.obligation_tonnes,
                                    _hex(note) if note else None, names.get(e.actor.lower())))
        out.append(ReportVersion(r.report_id, r.version, r.previous_report_id, r.status, _hex(r.document_hash),
                                 r.reported_kg, _hex(r.anchors_root), r.anchored_mg, r.reading_count, steps))
    return out


def _anchor_facts(anchors: list[Row[Any]], batches: list[BatchRow], windows: dict[int, CheckedWindow],
                  names: dict[str, str]) -> list[AnchorFact]:
    by_anchor = {b.anchor_id: b for b in batches}
    facts = []
    for a in anchors:
        b = by_anchor.get(a.anchor_id)
        same = b is not None and (b.root, b.total_mg, b.reading_count, b.enterprise_org_id, b.window_start,
                                  b.window_end) == (a.root, a.total_mg, a.reading_count, a.enterprise_org_id,
                                                    a.window_start, a.window_end)
        window = windows.get(a.anchor_id)
        problem = None if window is None else window.check.problem(a.root)
        facts.append(AnchorFact(a.anchor_id, a.enterprise_org_id, a.window_start, a.window_end, _hex(a.root),
                                a.total_mg, a.reading_count, a.oracle, OnChain.of(a), b.id if b else None, same,
                                names.get(a.oracle.lower()), None if window is None else problem is None, problem))
    return facts


def _windows(session: Session, batches: list[BatchRow], every: bool) -> dict[int, CheckedWindow]:
    """Each anchor's window checked against its stored readings (anchors without a built batch are left out):
    the verdict kept since its readings last changed, or, with `every` (each reading is to be checked), rebuilt
    now."""
    rows = [r for r in batches if r.built and r.anchor_id is not None]
    if every:
        out = {}
        for b in session.scalars(select(MeterBatch).where(MeterBatch.id.in_([r.id for r in rows]))):
            window = rebuild_window(session, b)
            assert b.anchor_id is not None
            out[b.anchor_id] = CheckedWindow(window, sorted(window.readings), full=window)
        return out
    return {r.anchor_id: checked_window(session, r) for r in rows if r.anchor_id is not None}


@lru_cache(maxsize=1024)
def _factor(set_id: str, carrier: str, unit: str) -> str | None:
    """kgCO2e per `unit` of `carrier` in the set, exact where it terminates (34 significant digits otherwise)."""
    try:
        value = get_factor_set(set_id).kg_co2e_per_unit(carrier, unit)
    except (KeyError, ValueError):  # an unknown set, or a carrier or unit the set does not value
        return None
    with localcontext() as ctx:
        ctx.prec = 34
        return f"{(Decimal(value.numerator) / Decimal(value.denominator)).normalize():f}"


def _evidence(window: RebuiltWindow, reading_id: int, anchored: AnchoredWindow) -> ReadingEvidence:
    """A reading's evidence; its proof bundle carries the indexed anchor record (and batch path) that
    MeterAnchor.verifyReading checks against the commitment it keeps."""
    stored = window.readings[reading_id]
    record = stored.record
    anchored_root = anchored.record.root
    problem = window.problem(anchored_root)
    proof = None if problem is not None else window.proof(reading_id, anchored_root)
    return ReadingEvidence(
        reading_id, stored.device, record.timestamp, record.value, window.anchor_id,
        proof is not None and proof.verify() is not None,
        [] if proof is None else [Subtotal(t.level_name, t.label, t.sum_mg, t.count) for t in proof.subtotals],
        None if proof is None else {**proof.as_json(), **window_json(anchored)},
        quantity=record.quantity, unit=record.unit, carrier=record.carrier, factor_set=stored.factor_set,
        factor_kg_per_unit=_factor(stored.factor_set, record.carrier, record.unit), changed=stored.changed,
        problem=problem)


def _readings(session: Session, anchors: _Anchors, windows: dict[int, CheckedWindow], sample: int, seed: int,
              every: bool) -> tuple[list[ReadingEvidence], int]:
    """Readings of every anchor, chosen at random with `seed` (at least one per anchor, `sample` in all when
    there are fewer anchors), with their proofs; with `every`, every reading is checked, and those that fail
    are listed besides the sample. Returns the evidence and how many readings were checked."""
    covered = [a for a in anchors.rows if a.anchor_id in windows]
    out: list[ReadingEvidence] = []
    checked = 0
    if not covered or (sample <= 0 and not every):
        return out, checked
    base, extra = divmod(max(sample, len(covered)), len(covered))
    plan = []
    for i, a in enumerate(covered):
        window = windows[a.anchor_id]
        ids = window.reading_ids
        wanted = base + (1 if i < extra else 0) if sample > 0 else 0
        rng = random.Random(f"{seed}:{a.anchor_id}")
        chosen = set(rng.sample(ids, min(wanted, len(ids))))
        plan.append((a, window, ids if every else sorted(chosen), chosen))
    holding = with_readings(session, [(window, reading_id) for _, window, listed, _ in plan for reading_id in listed])
    anchored = anchored_windows(covered, anchors.paths)
    for a, window, listed, chosen in plan:
        for reading_id in listed:
            evidence = _evidence(holding[(window.check.batch_id, reading_id)], reading_id, anchored[a.anchor_id])
            checked += 1
            if reading_id in chosen or evidence.changed:  # with `every`: each reading changed in SQL is shown
                out.append(evidence)
    return out, checked


_NAMES = select(*_NAME_COLUMNS).join(ChainOrganisation, ChainOrganisation.org_id == ChainMember.org_id)


def organisation_names(session: Session) -> dict[str, str]:
    """Member address (lower case) -> its organisation's name."""
    return {account.lower(): name for account, name in session.connection().execute(_NAMES)}


class _Device(NamedTuple):
    """A device of the enterprise (columns, not entities: an enterprise may have thousands of devices)."""

    device_id: str
    device_hash: bytes
    facility: str
    workshop: str
    active: bool | None
    tx_hash: str | None  # its registration, when indexed
    block_number: int | None
    log_index: int | None
    block_time: datetime | None
    pending: bool | None


def _device(r: _Device) -> DeviceFact:
    return DeviceFact(r.device_id, _hex(r.device_hash), r.facility, r.workshop, r.active,
                      OnChain.of(r) if r.tx_hash is not None else None)


def trace_report(session: Session, report_id: int, sample_readings: int = 4, seed: int | None = None,
                 all_readings: bool = False, admit: Callable[[int, int | None], object] | None = None) -> ReportTrace:
    """The report's whole story. Every anchor's window is checked against its stored readings (rebuilt from them,
    or its verdict kept since they last changed; with `all_readings`, rebuilt now and every reading checked);
    `sample_readings` readings, drawn with `seed` from every anchor (at least one each), come with proofs (any
    other reading is proved on demand with `oracles.proofs.prove_reading`).
    Without a seed one is drawn; the trace shows it, so that the same sample can be checked again.
    `admit` is called with the report's enterprise and its park as soon as the report is found, before anything
    else is read (an access check: it raises to refuse)."""
    versions = _versions_of(session, report_id)
    report = next((r for r in versions.reports if r.report_id == report_id), None)
    if report is None:
        raise UnknownReport(f"no report {report_id} in the index")
    if admit is not None:
        admit(report.org_id, versions.park)
    anchors = _enterprise_rows(session, report.org_id, report.year)
    if anchors.rows:
        node = period_node(report.org_id, [ms.Node(a.root, a.total_mg, a.reading_count) for a in anchors.rows])
        expected = (_hex(node.hash), node.sum, node.count)
    else:
        expected = ("", 0, 0)
    commitment = CommitmentCheck([a.anchor_id for a in anchors.rows], *expected, _hex(report.anchors_root),
                                 report.anchored_mg, report.reading_count)
    seed = secrets.randbelow(1 << 32) if seed is None else seed
    names = anchors.names
    windows = _windows(session, anchors.batches, all_readings)
    facts = _anchor_facts(anchors.rows, anchors.batches, windows, names)
    readings, checked = _readings(session, anchors, windows, sample_readings, seed, all_readings)
    return ReportTrace(
        report_id=report_id, org_id=report.org_id, year=report.year,
        versions=_versions(versions, names), commitment=commitment, anchors=facts,
        readings=readings,
        devices=anchors.devices,
        notarizations=[NotarizationFact(_hex(n.document_hash), n.notary, n.org_id, OnChain.of(n),
                                        names.get(n.notary.lower())) for n in versions.notarizations],
        seed=seed, all_readings=all_readings, readings_checked=checked,
    )

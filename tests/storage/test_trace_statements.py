"""The story's report and allowance year traced on SQLite and on PostgreSQL, whose trace statements take their
lists of ids as one array (`ledger_core.db.lists`) and read a page of hops from the transfers' covering index:
both databases give the same trace, a trace from kept window verdicts proves what a rebuilt one proves, and it
is three statements (each a round trip to a PostgreSQL server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, select

from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models import ChainDeviceEvent, MeterDevice
from ledger_core.db.session import make_engine, session_factory
from ledger_service.audit.access import AccessDenied, park_of
from ledger_service.audit.asset_trace import trace_asset
from ledger_service.audit.report_trace import organisation_names, trace_report
from ledger_service.audit.results import utc
from ledger_service.audit.window_checks import batch_rows, checked_window
from ledger_service.services.visibility import IndexedViews
from tests.indexer.conftest import indexer_for
from tests.support.story import YEAR, Story, tell_story


@pytest.fixture
def told(ledger, database_url: str) -> Iterator[tuple[Story, Engine]]:
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    with session_factory(engine)() as session:
        story = tell_story(ledger, session)
    indexer_for(ledger, engine).sync()
    yield story, engine
    engine.dispose()


def test_a_report_traces_alike_from_rebuilt_and_from_kept_windows(told):
    story, engine = told
    with session_factory(engine)() as session:
        rebuilt = trace_report(session, story.report_id, sample_readings=6, seed=7)
        kept = trace_report(session, story.report_id, sample_readings=6, seed=7)
    assert rebuilt.verified and [a.anchor_id for a in rebuilt.anchors] == story.anchor_ids[11]
    assert len(rebuilt.readings) == 6 and all(r.proof_valid for r in rebuilt.readings)
    assert kept.readings == rebuilt.readings and kept.anchors == rebuilt.anchors
    assert [s.kind for s in kept.versions[0].steps] == ["submitted", "verified", "finalized"]
    assert [n.at.tx_hash for n in kept.notarizations] == [story.tx["notarize"]]
    assert len(kept.devices) == 4 and kept.verified


def statements_of(engine: Engine) -> list[str]:
    """The statements sent on `engine` (and its copies with other execution options) from now on."""
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *_: seen.append(statement))
    return seen


def test_a_report_trace_from_kept_windows_is_three_statements(told):
    """Its versions with their steps, notarizations and the enterprise's park; its anchors with their batches and
    the records of the anchor batches they came in, with the enterprise's devices and the members' organisation
    names; the sampled readings' chunks with their own rows. However many readings are sampled from however many
    anchors (at least one each)."""
    story, engine = told
    views = IndexedViews(index=None, sessions=session_factory(engine))  # type: ignore[arg-type]
    with views.reading() as session:
        assert trace_report(session, story.report_id).verified  # keeps every window's verdict
    seen = statements_of(engine)
    for sample in (1, 6):
        with views.reading() as session:
            trace = trace_report(session, story.report_id, sample_readings=sample, seed=7)
        assert trace.verified and len(trace.readings) == max(sample, len(trace.anchors)) and len(trace.anchors) > 1
        assert trace.notarizations and trace.devices
        assert len(seen) == 3, seen
        seen.clear()


def test_the_devices_and_names_read_with_the_anchors_are_those_the_index_holds(told):
    """The anchors' statement also reads the enterprise's devices (in device order, with their registration) and
    every member's organisation name: each column typed as its own table's, on SQLite as on PostgreSQL."""
    story, engine = told
    with session_factory(engine)() as session:
        trace = trace_report(session, story.report_id, seed=7)
        devices = session.scalars(select(MeterDevice).where(MeterDevice.enterprise_org_id == trace.org_id)
                                  .order_by(MeterDevice.device_id)).all()
        registered = {e.device_id: e for e in session.scalars(
            select(ChainDeviceEvent).where(ChainDeviceEvent.kind == "registered"))}
        names = organisation_names(session)
    assert [(d.device_id, d.device_hash, d.facility, d.workshop) for d in trace.devices] == [
        (d.device_id, "0x" + d.device_hash.hex(), d.facility, d.workshop) for d in devices]
    for fact, device in zip(trace.devices, devices, strict=True):
        event = registered[device.device_hash]
        assert fact.active_on_chain is True and fact.registered is not None
        assert (fact.registered.tx_hash, fact.registered.block_number) == (event.tx_hash, event.block_number)
        assert fact.registered.block_time.tzinfo is not None and fact.registered.block_time == utc(event.block_time)
    steps = [s for v in trace.versions for s in v.steps]
    assert steps and all(s.actor_organisation == names[s.actor.lower()] for s in steps)
    assert all(a.oracle_organisation == names.get(a.oracle.lower()) for a in trace.anchors)


def test_a_report_trace_is_admitted_on_its_first_statement_before_anything_else_is_read(told):
    story, engine = told
    admitted: list[tuple[int, int | None]] = []

    def refuse(org_id: int, park: int | None) -> None:
        admitted.append((org_id, park))
        raise AccessDenied("not this enterprise")

    seen = statements_of(engine)
    with session_factory(engine)() as session, pytest.raises(AccessDenied):
        trace_report(session, story.report_id, admit=refuse)
    assert len(seen) == 1 and "chain_reports" in seen[0]
    with session_factory(engine)() as session:
        assert admitted == [(11, park_of(session, 11))] and admitted[0][1] is not None


def test_an_allowance_year_is_traced_in_chain_order_with_its_surrender(ledger, told):
    story, engine = told
    with session_factory(engine)() as session:
        trace = trace_asset(session, "AllowanceRegistry", YEAR)
        first = trace_asset(session, "AllowanceRegistry", YEAR, limit=3)
    assert [h.kind for h in trace.hops] == ["allocation", "allocation", "transfer", "transfer", "surrender"]
    assert [h.at.tx_hash for h in trace.hops] == [story.tx[k] for k in (
        "allocate", "allocate", "b_to_trader", "trader_to_a", "surrender")]
    assert trace.hops[-1].compliance_year == YEAR and trace.surrendered == story.obligation_tonnes
    assert all(h.at.block_time.tzinfo is not None for h in trace.hops)
    assert first.hops == trace.hops[:3]


def test_a_read_use_case_reads_outside_a_transaction_on_postgresql_and_keeps_verdicts_for_every_session(told):
    """`IndexedViews.reading`: autocommit on PostgreSQL (READ COMMITTED reads each statement's committed state
    either way), SQLite's own transaction there; the window verdicts a trace kept there are the database's,
    found again by a session of the plain engine."""
    story, engine = told
    views = IndexedViews(index=None, sessions=session_factory(engine))  # type: ignore[arg-type]
    with views.reading() as session:
        assert trace_report(session, story.report_id).verified
        if engine.dialect.name == "postgresql":
            assert session.connection().connection.dbapi_connection.autocommit  # type: ignore[union-attr]
    with session_factory(engine)() as session:
        rows = batch_rows(session, story.anchor_ids[11])
        assert rows and all(checked_window(session, row).kept is not None for row in rows)

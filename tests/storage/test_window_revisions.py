"""A built window's revision changes, on SQLite and PostgreSQL and whoever writes the SQL, whenever what the
window is rebuilt from changes: one of its readings is edited, added, moved or deleted, a device of its readings
is renamed or moved, or the batch changes status. Nothing else changes it, and other windows keep theirs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text

from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models import MeterBatch, Reading
from ledger_core.db.session import make_engine, session_factory
from oracles.batches import build_closed_batches
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.proofs import KeptLayers, prove_kept, rebuild_window
from oracles.simulator import simulate_messages, simulate_park

START = 1_704_067_200
HOUR = 3600


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Two enterprises' first two hourly windows built, four devices each; a third window still open."""
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    park = simulate_park(enterprises=2, devices_per_enterprise=4, seed=3)
    with session_factory(engine)() as session:
        register_devices(session, park.device_infos())
        ingest_messages(session, simulate_messages(park, START, 150, 60, 30), factor_set=get_factor_set("CN-2023-v1"),
                        window_seconds=HOUR, now=START + 3 * HOUR)
        session.commit()
        build_closed_batches(session, START + 2 * HOUR)
    yield engine
    engine.dispose()


def revisions(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(MeterBatch.id, MeterBatch.readings_revision)).all())


def edit(engine: Engine, statement: str, **params: object) -> dict[int, int]:
    """Run one statement on its own connection (as any SQL client would) and return the revisions after it."""
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    return revisions(engine)


def batch_of(engine: Engine, org: int, window_start: int) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(MeterBatch.id).where(MeterBatch.enterprise_org_id == org,
                                                       MeterBatch.window_start == window_start))


def a_reading(engine: Engine, batch_id: int) -> tuple[int, int]:
    with engine.connect() as conn:
        return conn.execute(select(Reading.id, Reading.device_pk).where(Reading.batch_id == batch_id)
                            .order_by(Reading.id).limit(1)).one()


def changed(before: dict[int, int], after: dict[int, int]) -> set[int]:
    return {b for b in before if before[b] != after[b]}


def test_building_a_window_gives_it_a_revision_its_open_neighbour_does_not_have(engine):
    first, open_window = batch_of(engine, 11, START), batch_of(engine, 11, START + 2 * HOUR)
    seen = revisions(engine)
    assert seen[first] != 0 and seen[open_window] == 0


@pytest.mark.parametrize("statement", [
    "UPDATE readings SET quantity = quantity || '1' WHERE id = :reading",
    "UPDATE readings SET value_mg = value_mg + 1 WHERE id = :reading",
    "UPDATE readings SET digest = leaf_hash WHERE id = :reading",
    "DELETE FROM readings WHERE id = :reading",
])
def test_an_edited_or_deleted_reading_changes_its_window_and_only_it(engine, statement):
    batch = batch_of(engine, 11, START)
    reading, _ = a_reading(engine, batch)
    before = revisions(engine)
    assert changed(before, edit(engine, statement, reading=reading)) == {batch}


def test_a_reading_moved_to_another_window_changes_both(engine):
    source, target = batch_of(engine, 11, START), batch_of(engine, 11, START + HOUR)
    reading, _ = a_reading(engine, source)
    before = revisions(engine)
    after = edit(engine, "UPDATE readings SET batch_id = :target WHERE id = :reading", target=target,
                 reading=reading)
    assert changed(before, after) == {source, target}


def test_a_reading_added_to_a_built_window_changes_it(engine):
    batch = batch_of(engine, 12, START)
    reading, _ = a_reading(engine, batch)
    columns = ("run_id, batch_id, device_pk, timestamp, quantity, unit, carrier, scope, value_mg, digest, "
               "leaf_hash, factor_set")
    before = revisions(engine)
    after = edit(engine, f"INSERT INTO readings (id, sequence, {columns}) SELECT id + 1000000, sequence + 1000000, "
                         f"{columns} FROM readings WHERE id = :reading", reading=reading)
    assert changed(before, after) == {batch}


def test_a_device_moved_to_another_workshop_changes_the_windows_of_its_readings(engine):
    first, second = batch_of(engine, 11, START), batch_of(engine, 11, START + HOUR)
    _, device = a_reading(engine, first)
    before = revisions(engine)
    after = edit(engine, "UPDATE meter_devices SET workshop = 'elsewhere' WHERE id = :device", device=device)
    assert changed(before, after) == {first, second}
    # What ingestion updates on every message is not part of a window's tree.
    assert edit(engine, "UPDATE meter_devices SET last_sequence = last_sequence + 1 WHERE id = :device",
                device=device) == after


def test_a_batch_sent_for_anchoring_changes_revision_and_nothing_else_does(engine):
    batch = batch_of(engine, 12, START + HOUR)
    before = revisions(engine)
    after = edit(engine, "UPDATE meter_batches SET tx_hash = '0x01' WHERE id = :batch", batch=batch)
    assert after == before
    after = edit(engine, "UPDATE meter_batches SET status = 'sent' WHERE id = :batch", batch=batch)
    assert changed(before, after) == {batch}


def test_a_schema_made_from_the_models_has_the_same_triggers_as_one_made_by_the_migrations(tmp_path):
    """The migration keeps its own copy of the trigger SQL (migrations never import models that change later);
    both ways of making a schema must end with the same triggers."""
    from ledger_core.db.base import Base

    def triggers(engine: Engine) -> dict[str, str]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        return {name: " ".join(sql.split()) for name, sql in rows}

    migrated, modelled = make_engine(f"sqlite:///{tmp_path / 'a.db'}"), make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade_to_head(migrated)
    Base.metadata.create_all(modelled)
    assert len(triggers(migrated)) == 6
    assert triggers(modelled) == triggers(migrated)
    migrated.dispose()
    modelled.dispose()


def test_a_kept_window_proves_each_of_its_readings_as_the_whole_rebuilt_window_does(engine):
    """The leaves of a proved reading's chunk are read in one query, the readings to re-encode in another (on
    PostgreSQL with the ids as one array each)."""
    with session_factory(engine)() as session:
        batch = session.scalar(select(MeterBatch).where(MeterBatch.readings_revision.is_not(None))
                               .order_by(MeterBatch.id).limit(1))
        whole = rebuild_window(session, batch)
        ids = sorted(whole.readings)
        proved = prove_kept(session, [(whole, KeptLayers.of(whole), reading_id) for reading_id in ids])
        assert len(ids) > 16, "more than one chunk of leaves"
        assert [window.proof(i) for window, i in zip(proved, ids, strict=True)] == [whole.proof(i) for i in ids]


def test_a_kept_window_leaves_a_reading_whose_chunk_neighbour_was_edited_to_a_whole_rebuild(engine):
    """A reading is re-paired with the stored leaf hashes of its chunk's other readings: one of them edited in
    SQL no longer gives the chunk's kept node, so that reading is not proved from the kept layers (None: the
    caller rebuilds the window); a reading of another chunk still is."""
    with session_factory(engine)() as session:
        batch = session.scalar(select(MeterBatch).where(MeterBatch.readings_revision.is_not(None))
                               .order_by(MeterBatch.id).limit(1))
        whole = rebuild_window(session, batch)
    kept = KeptLayers.of(whole)
    ids = sorted(whole.readings)
    place = kept.chunk_of(ids[0])
    assert place is not None
    neighbour = next(r for r in place[2] if r != ids[0])
    elsewhere = next(r for r in ids if r not in place[2])
    edit(engine, "UPDATE readings SET leaf_hash = :leaf WHERE id = :id", leaf=b"\x01" * 32, id=neighbour)
    with session_factory(engine)() as session:
        proved = prove_kept(session, [(whole, kept, ids[0]), (whole, kept, elsewhere)])
    assert proved[0] is None
    assert proved[1] is not None and proved[1].proof(elsewhere) == whole.proof(elsewhere)

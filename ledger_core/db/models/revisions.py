"""Database triggers that give a built batch a new `readings_revision` whenever what its window is rebuilt from
changes: one of its readings is inserted, updated (moved in or out included) or deleted, a device of its
readings is renamed, re-placed or deleted, or the batch changes status.

They are triggers rather than application code so that an edit made directly in SQL, by any client, also
changes the revision: a window's verdict remembered under a revision (`ledger_service.audit.window_checks`) is
then never served for readings it was not computed from. The new value is random, never a counter, so that a
database restored from a copy cannot meet an old revision with other readings. Readings of an open batch do not
touch it (ingestion stays one insert per reading); the batch's status change when it is built does.

SQLite drops a table's triggers with the table: a migration that rebuilds `readings`, `meter_devices` or
`meter_batches` in batch mode must create them again (`STATEMENTS`).
"""

from __future__ import annotations

from sqlalchemy import DDL, Connection, event
from sqlalchemy.schema import MetaData

SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS tr_readings_revise_insert AFTER INSERT ON readings BEGIN
        UPDATE meter_batches SET readings_revision = random() WHERE id = NEW.batch_id AND status <> 'open';
    END""",
    """CREATE TRIGGER IF NOT EXISTS tr_readings_revise_update AFTER UPDATE ON readings BEGIN
        UPDATE meter_batches SET readings_revision = random()
        WHERE id IN (OLD.batch_id, NEW.batch_id) AND status <> 'open';
    END""",
    """CREATE TRIGGER IF NOT EXISTS tr_readings_revise_delete AFTER DELETE ON readings BEGIN
        UPDATE meter_batches SET readings_revision = random() WHERE id = OLD.batch_id AND status <> 'open';
    END""",
    """CREATE TRIGGER IF NOT EXISTS tr_meter_devices_revise_update AFTER UPDATE ON meter_devices
    WHEN OLD.id IS NOT NEW.id OR OLD.device_id IS NOT NEW.device_id OR OLD.device_hash IS NOT NEW.device_hash
        OR OLD.facility IS NOT NEW.facility OR OLD.workshop IS NOT NEW.workshop BEGIN
        UPDATE meter_batches SET readings_revision = random()
        WHERE status <> 'open' AND id IN (SELECT batch_id FROM readings WHERE device_pk IN (OLD.id, NEW.id));
    END""",
    """CREATE TRIGGER IF NOT EXISTS tr_meter_devices_revise_delete AFTER DELETE ON meter_devices BEGIN
        UPDATE meter_batches SET readings_revision = random()
        WHERE status <> 'open' AND id IN (SELECT batch_id FROM readings WHERE device_pk = OLD.id);
    END""",
    """CREATE TRIGGER IF NOT EXISTS tr_meter_batches_revise_status AFTER UPDATE OF status ON meter_batches
    WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE meter_batches SET readings_revision = random() WHERE id = NEW.id;
    END""",
]

# Statement-level with transition tables: a bulk insert of readings costs one query, not one per row.
_PG_REVISION = "(random() * 9.0e18)::bigint"
POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION meter_batches_revise() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE meter_batches SET readings_revision = {_PG_REVISION}
            WHERE status <> 'open' AND id IN (SELECT DISTINCT batch_id FROM old_rows);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE meter_batches SET readings_revision = {_PG_REVISION}
            WHERE status <> 'open' AND id IN (SELECT DISTINCT batch_id FROM new_rows);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE TRIGGER tr_readings_revise_insert AFTER INSERT ON readings REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION meter_batches_revise()""",
    """CREATE OR REPLACE TRIGGER tr_readings_revise_update AFTER UPDATE ON readings
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION meter_batches_revise()""",
    """CREATE OR REPLACE TRIGGER tr_readings_revise_delete AFTER DELETE ON readings REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION meter_batches_revise()""",
    f"""CREATE OR REPLACE FUNCTION meter_devices_revise() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE meter_batches SET readings_revision = {_PG_REVISION}
        WHERE status <> 'open' AND id IN (SELECT batch_id FROM readings WHERE device_pk = OLD.id);
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE TRIGGER tr_meter_devices_revise_update AFTER UPDATE ON meter_devices FOR EACH ROW
        WHEN ((OLD.id, OLD.device_id, OLD.device_hash, OLD.facility, OLD.workshop)
              IS DISTINCT FROM (NEW.id, NEW.device_id, NEW.device_hash, NEW.facility, NEW.workshop))
        EXECUTE FUNCTION meter_devices_revise()""",
    """CREATE OR REPLACE TRIGGER tr_meter_devices_revise_delete AFTER DELETE ON meter_devices FOR EACH ROW
        EXECUTE FUNCTION meter_devices_revise()""",
    f"""CREATE OR REPLACE FUNCTION meter_batches_revise_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.readings_revision := {_PG_REVISION};
        RETURN NEW;
    END $$""",
    """CREATE OR REPLACE TRIGGER tr_meter_batches_revise_status BEFORE UPDATE OF status ON meter_batches FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION meter_batches_revise_status()""",
]

STATEMENTS = {"sqlite": SQLITE, "postgresql": POSTGRESQL}


def create_revision_triggers(connection: Connection) -> None:
    """The triggers of this module, on a database whose tables exist (any other dialect gets none); creating
    them again is harmless."""
    for statement in STATEMENTS.get(connection.dialect.name, []):
        connection.execute(DDL(statement))


def attach(metadata: MetaData) -> None:
    """Create the triggers with `metadata.create_all` too (test databases are made that way)."""
    event.listen(metadata, "after_create", lambda _target, connection, **_kw: create_revision_triggers(connection))

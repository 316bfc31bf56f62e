"""Meter batches: a revision changed by triggers whenever what a built window is rebuilt from changes, and an
index on the anchor id (report traces look batches up by their anchors)

Revision ID: 0012_window_revisions
Revises: 0011_gec_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_window_revisions"
down_revision: str | None = "0011_gec_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = [
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

_PG_REVISION = "(random() * 9.0e18)::bigint"
_PG_TRIGGERS = [
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

_TRIGGERS = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _PG_TRIGGERS}
_DROP = {
    "sqlite": [f"DROP TRIGGER IF EXISTS {name}" for name in (
        "tr_readings_revise_insert", "tr_readings_revise_update", "tr_readings_revise_delete",
        "tr_meter_devices_revise_update", "tr_meter_devices_revise_delete", "tr_meter_batches_revise_status")],
    "postgresql": [
        "DROP TRIGGER IF EXISTS tr_readings_revise_insert ON readings",
        "DROP TRIGGER IF EXISTS tr_readings_revise_update ON readings",
        "DROP TRIGGER IF EXISTS tr_readings_revise_delete ON readings",
        "DROP TRIGGER IF EXISTS tr_meter_devices_revise_update ON meter_devices",
        "DROP TRIGGER IF EXISTS tr_meter_devices_revise_delete ON meter_devices",
        "DROP TRIGGER IF EXISTS tr_meter_batches_revise_status ON meter_batches",
        "DROP FUNCTION IF EXISTS meter_batches_revise()",
        "DROP FUNCTION IF EXISTS meter_devices_revise()",
        "DROP FUNCTION IF EXISTS meter_batches_revise_status()",
    ],
}


def upgrade() -> None:
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("readings_revision", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_meter_batches_anchor_id"), ["anchor_id"], unique=False)
    for statement in _TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    with op.batch_alter_table("meter_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_batches_anchor_id"))
        batch_op.drop_column("readings_revision")

"""The database foundation: migrations build exactly the models' schema; SQLite runs in WAL mode."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

import ledger_core.db.models  # noqa: F401
from ledger_core.db.base import Base
from ledger_core.db.migrate import alembic_config, upgrade_to_head
from ledger_core.db.session import make_engine


def test_the_migrated_schema_is_the_models_schema(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    upgrade_to_head(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrading_twice_is_harmless_and_sqlite_uses_wal(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'twice.db'}"
    upgrade_to_head(url)
    upgrade_to_head(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert versions == set(ScriptDirectory.from_config(alembic_config()).get_heads())

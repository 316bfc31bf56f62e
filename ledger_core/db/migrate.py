"""Bring a database to the latest schema with Alembic."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from ledger_core.paths import REPO_ROOT

ALEMBIC_INI = REPO_ROOT / "alembic.ini"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_to_head(target: Engine | str | None = None) -> None:
    """Migrate `target` (an engine, a URL, or the configured database) to every head revision
    (parallel branches of migrations may coexist until merged)."""
    if isinstance(target, Engine):
        cfg = alembic_config()
        with target.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
        return
    command.upgrade(alembic_config(target), "heads")

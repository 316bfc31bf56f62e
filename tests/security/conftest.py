"""Secrets and recovery: runtimes of their own (embedded chain, SQLite in a fresh directory), started as a user
starts them, and the command line with the environment a user would give it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.config import Settings, get_settings
from ledger_core.db.session import make_engine, session_factory
from ledger_core.private_files import write_private

SETTINGS_ENV = ("CHAIN", "DATA_DIR", "DATABASE_URL", "KEY_SECRET", "KEY_SECRET_FILE", "NETWORK")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No CARBONLEDGER_ setting from the outside; the cached settings re-read before and after."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(f"CARBONLEDGER_{name}", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no .env of the working directory
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def embedded_settings(directory: Path, **overrides: object) -> Settings:
    """The embedded chain as a user starts it: no key secret given, so one is generated in `directory`."""
    values: dict[str, object] = {"data_dir": directory, "database_url": f"sqlite:///{directory / 'service.db'}",
                                 "chain": "embedded", "retry_backoff_seconds": 0.01, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


def secret_file(path: Path, value: str | None = None) -> Path:
    write_private(path, (value or secrets.token_urlsafe(32)) + "\n")
    return path


@contextmanager
def opened(url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database at `url`, as another process would open it."""
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()

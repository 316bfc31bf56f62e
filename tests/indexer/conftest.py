"""An index database per test and an indexer over the test ledger's embedded chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import ledger_core.db.models  # noqa: F401
from ledger_core.db.base import Base
from ledger_core.db.session import make_engine, session_factory
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import EventIndexer
from ledger_service.indexer.source import Web3Source
from tests.support.ledger import Ledger

MakeIndexer = Callable[..., EventIndexer]


@pytest.fixture
def index_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def indexer_for(ledger: Ledger, engine: Engine, **options: Any) -> EventIndexer:
    options.setdefault("confirmations", 0)
    catalog = EventCatalog(ledger.artifacts, ledger.deployment.addresses)
    return EventIndexer(engine, Web3Source(ledger.w3), catalog, start_block=ledger.deployment.block, **options)


@pytest.fixture
def make_indexer(ledger: Ledger, index_engine: Engine) -> MakeIndexer:
    def make(**options: Any) -> EventIndexer:
        return indexer_for(ledger, index_engine, **options)

    return make


@pytest.fixture
def session(index_engine: Engine) -> Iterator[Session]:
    """A session on the index database, which also holds the oracle's meter data."""
    with session_factory(index_engine)() as s:
        yield s

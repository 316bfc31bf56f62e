"""Fixtures for the oracle: a migrated SQLite database, a small simulated park, the factor sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.session import make_engine, session_factory
from oracles.anchoring import MeterAnchorClient
from oracles.devices import register_devices
from oracles.factors import FactorSet, get_factor_set
from oracles.simulator import ParkLayout, simulate_park

START = 1_704_067_200  # 2024-01-01T00:00:00Z, a Monday 08:00 in the park's local time
HOUR = 3600
LATER = START + 30 * 86400  # "now" for ingestion: every simulated reading is in the past


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'oracle.db'}")
    upgrade_to_head(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


@pytest.fixture(scope="session")
def factor_set() -> FactorSet:
    return get_factor_set("CN-2023-v1")


@pytest.fixture(scope="session")
def park() -> ParkLayout:
    """Enterprises 11 and 12 (as in the test cast), four devices each."""
    return simulate_park(enterprises=2, devices_per_enterprise=4, seed=3)


@pytest.fixture
def registered(session: Session, park: ParkLayout) -> ParkLayout:
    register_devices(session, park.device_infos())
    session.commit()
    return park


@pytest.fixture
def client(ledger, registered: ParkLayout) -> MeterAnchorClient:
    """The oracle's MeterAnchor client, authorised for every enterprise of the park."""
    for org, _ in registered.enterprises:
        ledger.tx("regulator", "MeterAnchor", "setOracleAuthorisation", ledger.address("oracle"), org, True)
    return MeterAnchorClient(ledger.contract("MeterAnchor"), ledger.senders["oracle"])

"""One service runtime (embedded chain, SQLite file) per test session; each test starts from the same snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain.compiler import Artifact
from ledger_core.config import Settings
from ledger_core.db.models import ApiKey
from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.service.cast import Cast, admit_cast
from tests.service.metering import clear_meter_data
from tests.support import snapshots
from tests.support.serving import served_on_a_port


def service_settings(directory: Path, **overrides: object) -> Settings:
    """The embedded chain's settings, as a user's: no key secret set, so it is generated into `directory`."""
    values: dict[str, object] = {"data_dir": directory, "database_url": f"sqlite:///{directory / 'service.db'}",
                                 "chain": "embedded",
                                 "retry_backoff_seconds": 0.01, "retry_backoff_max_seconds": 0.02, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def _service(artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Runtime, Cast]]:
    runtime = Runtime.start(service_settings(tmp_path_factory.mktemp("service")), artifacts=artifacts)
    cast = admit_cast(runtime)
    yield runtime, cast
    runtime.close()


@pytest.fixture
def runtime(_service: tuple[Runtime, Cast]) -> Iterator[Runtime]:
    """The service runtime; chain state, outbox rows, meter data and documents written by the test are undone after
    it (meter data left behind would not match the reverted chain: the next test's reconcile would see it)."""
    runtime = _service[0]
    snapshot = snapshots.snapshot(runtime)
    yield runtime
    runtime.outbox.faults = None
    snapshots.revert(runtime, snapshot)
    clear_meter_data(runtime)


@pytest.fixture
def cast(_service: tuple[Runtime, Cast]) -> Cast:
    return _service[1]


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime), raise_server_exceptions=True)


@pytest.fixture
def keys_restored(runtime: Runtime) -> Iterator[None]:
    """API keys live in the database, which the chain snapshot does not undo: revocations are taken back."""
    with runtime.sessions() as session:
        live = set(session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None))))
    yield
    with runtime.sessions.begin() as session:
        for row in session.scalars(select(ApiKey).where(ApiKey.id.in_(live), ApiKey.revoked_at.is_not(None))):
            row.revoked_at = None


@pytest.fixture
def served(runtime: Runtime) -> Iterator[str]:
    """The API on a real port, as `carbonledger serve` and the demo serve it (on the embedded chain its `/rpc`
    is the chain's node interface)."""
    with served_on_a_port(create_app(runtime)) as url:
        yield url

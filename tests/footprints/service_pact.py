"""The service's fixtures for PACT tests over the whole application, and the PACT state they leave emptied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from ledger_core.db.models import PactEventRecord, PactToken
from ledger_service.api.app import create_app
from ledger_service.footprints.pact_exchange import MemorySource
from ledger_service.runtime import Runtime
from tests.footprints.pact_host import footprints
from tests.service.conftest import _service, cast, keys_restored, runtime

__all__ = ["_service", "cast", "keys_restored", "pact_state_cleared", "runtime", "service_host"]


@pytest.fixture
def pact_state_cleared(runtime: Runtime) -> Iterator[None]:
    """Tokens and events are SQL rows, outside the chain snapshot: emptied after the test."""
    yield
    with runtime.sessions.begin() as session:
        session.execute(delete(PactToken))
        session.execute(delete(PactEventRecord))


def service_host(runtime: Runtime, base_url: str = "https://pact.example") -> TestClient:
    """The whole application of one service process (its own state) on the runtime's database, serving the
    sample footprints."""
    app = create_app(runtime)
    app.state.pact_source = MemorySource(footprints())
    return TestClient(app, base_url=base_url)

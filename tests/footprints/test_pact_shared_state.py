"""PACT state is shared by every service process on one database: a token issued by one application instance is
accepted by another, an event received by one is in the other's log, and tokens are kept as hashes with their
expiry, never as the token itself."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from ledger_core.db.models import PactToken
from ledger_core.db.models.types import utc_now
from ledger_service.footprints.pact_auth import TokenExpired, TokenInvalid
from ledger_service.footprints.pact_exchange import REQUEST_CREATED
from ledger_service.footprints.pact_state import SqlTokenStore
from ledger_service.runtime import Runtime
from tests.footprints.pact_host import basic
from tests.footprints.samples import COIL_ID
from tests.footprints.service_pact import _service, cast, keys_restored, pact_state_cleared, runtime, service_host
from tests.service.cast import Cast

__all__ = ["_service", "cast", "keys_restored", "pact_state_cleared", "runtime"]  # the service's fixtures
pytestmark = pytest.mark.usefixtures("pact_state_cleared")

GRANT = "grant_type=client_credentials"


def test_a_token_issued_by_one_instance_is_accepted_by_another_on_the_same_database(runtime: Runtime, cast: Cast):
    first, second = service_host(runtime), service_host(runtime)
    reply = first.post("/auth/token", headers=basic(cast.addresses["enterprise_a"], cast.tokens["enterprise_a"]),
                       content=GRANT)
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert second.get("/3/footprints", headers=auth).status_code == 200
    event = {"specversion": "1.0", "id": "req-1", "source": "https://customer.example", "type": REQUEST_CREATED,
             "data": {"productId": [COIL_ID]}}
    assert second.post("/3/events", json=event, headers=auth).status_code == 200
    assert second.post("/3/events", json=event, headers=auth).status_code == 200  # sent again: kept once
    (kept,) = first.app.state.pact_events.of_type(REQUEST_CREATED)  # type: ignore[attr-defined]
    assert (kept.client, kept.event.id) == (cast.addresses["enterprise_a"], "req-1")
    with runtime.sessions() as session:
        (row,) = session.scalars(select(PactToken)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).digest() and token.encode() not in repr(row).encode()


def test_a_stored_token_expires_and_an_unknown_one_is_refused(runtime: Runtime):
    now = utc_now()
    issuing = SqlTokenStore(runtime.sessions, timedelta(minutes=5), clock=lambda: now)
    issued = issuing.issue("0x" + "ab" * 20)
    later = SqlTokenStore(runtime.sessions, timedelta(minutes=5), clock=lambda: now + timedelta(minutes=6))
    assert issuing.client(issued.token) == "0x" + "ab" * 20
    with pytest.raises(TokenExpired):
        later.client(issued.token)
    with pytest.raises(TokenInvalid):
        later.client("not-a-token")

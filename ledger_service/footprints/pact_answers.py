"""Footprint requests answered by themselves (PACT v3.0, asynchronous requests): a `RequestCreatedEvent` received
at `/3/events` is answered with a `RequestFulfilledEvent` carrying the published footprints that match it, or a
`RequestRejectedEvent` (`NotFound`) when none does, sent to the requester's host's events endpoint.

The requester's host is the request's `source`; the answer goes there only when the operator lists it in
`CARBONLEDGER_PACT_HOSTS` (as imports do), so a member cannot make the service connect where it names. The ledger
authenticates there with the client credentials that host issued to it (`CARBONLEDGER_PACT_ANSWER_CLIENT_ID` and
`..._SECRET`; unset: the answer is sent without a token). What became of each request (the answer's type, or why
none was sent) is kept with the event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from ledger_core.db.models.types import utc_now
from ledger_service.footprints import pact_client
from ledger_service.footprints.pact_exchange import FootprintSource, ReceivedEvent, answer_request


@dataclass(frozen=True)
class Answered:
    answer_type: str | None  # RequestFulfilledEvent or RequestRejectedEvent; None when none was sent
    problem: str | None = None


def requester_host(source: str) -> str:
    """The base URL of the host a request came from (its `source`, without a trailing events path)."""
    return source.rstrip("/").removesuffix("/3/events")


@dataclass(frozen=True)
class RequestAnswerer:
    hosts: frozenset[str]  # where answers may go (`CARBONLEDGER_PACT_HOSTS`)
    client_id: str = ""
    secret: str = ""
    connect: Callable[[str], httpx.Client] = pact_client.connect
    clock: Callable[[], datetime] = utc_now

    def answer(self, received: ReceivedEvent, source: FootprintSource, own_host: str) -> Answered:
        """Answer a footprint request from `source`'s footprints; `own_host` is this host's base URL (the answer's
        `source`)."""
        host = requester_host(received.event.source)
        if host not in self.hosts:
            return Answered(None, f"{host[:200]} is not among the PACT hosts this service answers "
                                  "(CARBONLEDGER_PACT_HOSTS)")
        event = answer_request(received, source, own_host.rstrip("/"), self.clock())
        try:
            with self.connect(host) as http:
                token = pact_client.access_token(http, self.client_id, self.secret) if self.client_id else None
                pact_client.send_event(http, received.event.source, event, token)
        except pact_client.PactClientError as exc:
            return Answered(None, f"{exc.code}: {exc}")
        except httpx.HTTPError as exc:
            return Answered(None, f"the requester's host did not answer: {type(exc).__name__}")
        return Answered(event.type)

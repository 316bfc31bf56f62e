"""What the PACT v3.0 HTTP API serves and receives, without HTTP: the footprints (a `FootprintSource` and the
ListFootprints filter), the events other host systems send (CloudEvents 1.0) and the answer to a footprint request
(`answer_request`).

Filtering (PACT v3.0, ListFootprints): a parameter given several times matches any of its values; different
parameters must all match. `productId`, `companyId` and `classification` match an item of the footprint's
`productIds`, `companyIds` and `productClassifications`; `geography` any of its three geography fields; `status`
its status (an unknown status matches nothing). `validOn` is within the validity period, `validAfter` is before
its start, `validBefore` after its end; a footprint without a validity period is valid for three years from the
end of its reference period.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ledger_service.footprints.pact import ProductFootprint, Urn

DEFAULT_VALIDITY_YEARS = 3
EVENT_PREFIX = "org.wbcsd.pact.ProductFootprint."
REQUEST_CREATED = EVENT_PREFIX + "RequestCreatedEvent.3"
REQUEST_FULFILLED = EVENT_PREFIX + "RequestFulfilledEvent.3"
REQUEST_REJECTED = EVENT_PREFIX + "RequestRejectedEvent.3"
PUBLISHED = EVENT_PREFIX + "PublishedEvent.3"


@dataclass(frozen=True)
class FootprintFilter:
    product_ids: frozenset[str] = frozenset()
    company_ids: frozenset[str] = frozenset()
    geographies: frozenset[str] = frozenset()
    classifications: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def validity(footprint: ProductFootprint) -> tuple[datetime, datetime]:
    """The validity period, or its default: three years from the end of the reference period."""
    end = footprint.pcf.reference_period_end
    start = footprint.validity_period_start or end
    return start, footprint.validity_period_end or _years_later(end, DEFAULT_VALIDITY_YEARS)


def matches(footprint: ProductFootprint, query: FootprintFilter) -> bool:
    def any_of(wanted: frozenset[str], held: Iterable[str]) -> bool:
        return not wanted or not wanted.isdisjoint(held)

    start, end = validity(footprint)
    return (any_of(query.product_ids, footprint.product_ids) and any_of(query.company_ids, footprint.company_ids)
            and any_of(query.classifications, footprint.product_classifications or ())
            and any_of(query.geographies, footprint.geographies())
            and any_of(query.statuses, (footprint.status,))
            and (query.valid_on is None or start <= query.valid_on <= end)
            and (query.valid_after is None or start > query.valid_after)
            and (query.valid_before is None or end < query.valid_before))


@dataclass(frozen=True)
class FootprintPage:
    footprints: list[ProductFootprint]
    total: int  # matching the filter, over all pages


class FootprintSource(Protocol):
    """Where the PACT API's footprints come from (the index, once integrated; a list in tests)."""

    def list(self, query: FootprintFilter, offset: int, limit: int) -> FootprintPage: ...

    def get(self, pf_id: uuid.UUID) -> ProductFootprint | None: ...


class MemorySource:
    """Footprints held in a list, in the order given."""

    def __init__(self, footprints: Sequence[ProductFootprint] = ()) -> None:
        self.footprints = list(footprints)

    def list(self, query: FootprintFilter, offset: int, limit: int) -> FootprintPage:
        found = [f for f in self.footprints if matches(f, query)]
        return FootprintPage(found[offset:offset + limit], len(found))

    def get(self, pf_id: uuid.UUID) -> ProductFootprint | None:
        return next((f for f in self.footprints if f.id == pf_id), None)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    time: AwareDatetime | None = None
    type: str
    data: dict[str, Any]


class EventData(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True)


class RequestCreatedData(EventData):
    """What a footprint request asks for (the ListFootprints filter's fields, each optional)."""

    product_id: list[Urn] | None = None
    company_id: list[Urn] | None = None
    geography: list[str] | None = None
    classification: list[Urn] | None = None
    valid_on: AwareDatetime | None = None
    valid_after: AwareDatetime | None = None
    valid_before: AwareDatetime | None = None
    status: Literal["Active", "Deprecated"] | None = None
    comment: str | None = None

    def filter(self) -> FootprintFilter:
        return FootprintFilter(frozenset(self.product_id or ()), frozenset(self.company_id or ()),
                               frozenset(self.geography or ()), frozenset(self.classification or ()),
                               frozenset((self.status,)) if self.status else frozenset(), self.valid_on,
                               self.valid_after, self.valid_before)


class PublishedData(EventData):
    pf_ids: list[str] = Field(min_length=1)


class FulfilledData(EventData):
    request_event_id: str
    pfs: list[ProductFootprint] = Field(min_length=1)


class RejectedData(EventData):
    request_event_id: str
    error: dict[str, Any]


EVENT_DATA: dict[str, type[BaseModel]] = {REQUEST_CREATED: RequestCreatedData, PUBLISHED: PublishedData,
                                          REQUEST_FULFILLED: FulfilledData, REQUEST_REJECTED: RejectedData}


@dataclass(frozen=True)
class ReceivedEvent:
    client: str  # the member that sent it
    event: CloudEvent
    data: BaseModel  # the event's data, checked against its type
    received_at: datetime


class EventLog(Protocol):
    """Where received events are kept: footprint requests to answer, and notices of suppliers' updates."""

    def record(self, received: ReceivedEvent) -> bool:
        """Keep the event; False if the same client sent it already (same source and id)."""
        ...

    def answered(self, received: ReceivedEvent, answer_type: str | None, problem: str | None = None) -> None:
        """Note the answer sent to a footprint request (its type), or why none was sent."""
        ...


class MemoryEventLog:
    def __init__(self) -> None:
        self.events: list[ReceivedEvent] = []
        self.answers: dict[tuple[str, str, str], tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    def record(self, received: ReceivedEvent) -> bool:
        key = (received.client, received.event.source, received.event.id)
        with self._lock:
            if any((e.client, e.event.source, e.event.id) == key for e in self.events):
                return False
            self.events.append(received)
        return True

    def answered(self, received: ReceivedEvent, answer_type: str | None, problem: str | None = None) -> None:
        with self._lock:
            self.answers[(received.client, received.event.source, received.event.id)] = (answer_type, problem)

    def of_type(self, kind: str) -> list[ReceivedEvent]:
        with self._lock:
            return [e for e in self.events if e.event.type == kind]


ANSWER_LIMIT = 100  # footprints in one RequestFulfilled event


def answer_request(received: ReceivedEvent, source: FootprintSource, host: str, now: datetime) -> CloudEvent:
    """The answer to a footprint request (PACT v3.0, asynchronous requests): a RequestFulfilledEvent with the
    footprints matching it, or a RequestRejectedEvent (`NotFound`) when none does. The answer's id is derived from
    the request's, so sending it again is recognisably the same event. `host` is this host's base URL."""
    if received.event.type != REQUEST_CREATED or not isinstance(received.data, RequestCreatedData):
        raise ValueError(f"{received.event.type} is not a footprint request")
    found = source.list(received.data.filter(), 0, ANSWER_LIMIT).footprints
    answer_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{host}#answer:{received.client}:{received.event.id}"))
    data: dict[str, Any]
    if found:
        kind, data = REQUEST_FULFILLED, {"requestEventId": received.event.id, "pfs": [f.document() for f in found]}
    else:
        kind, data = REQUEST_REJECTED, {"requestEventId": received.event.id, "error": {
            "code": "NotFound", "message": "no footprint matches the request"}}
    return CloudEvent(specversion="1.0", id=answer_id, source=host, time=now, type=kind, data=data)


def events_url(requester: str) -> str:
    """Where an answer goes: the requester's events endpoint (its `source` names its host, or the endpoint)."""
    base = requester.rstrip("/")
    return base if base.endswith("/3/events") else base + "/3/events"

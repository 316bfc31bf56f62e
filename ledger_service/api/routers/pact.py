"""The PACT v3.0 HTTP API at its own root, as the specification names it (not under /api/v1).

- `POST /auth/token`: OAuth2 client credentials (HTTP Basic client id and secret, form body
  `grant_type=client_credentials`); a client is a member (`ledger_service.footprints.pact_auth`). Errors as RFC 6749:
  401 `invalid_client`, 400 `unsupported_grant_type` / `invalid_request`.
- `GET /3/footprints`: ListFootprints with the v3.0 filters, `offset` and `limit`, pages linked by a `Link` header
  (`first`, `prev`, `next`, `last`).
- `GET /3/footprints/{id}`: GetFootprint; 404 `NotFound` for an id it does not hold.
- `POST /3/events`: CloudEvents (`RequestCreatedEvent.3`, `PublishedEvent.3`, `RequestFulfilledEvent.3`,
  `RequestRejectedEvent.3`), each checked and kept in the event log (once per client, source and id), answered
  200; a new footprint request is then answered by itself when `app.state.pact_answerer` is set
  (`ledger_service.footprints.pact_answers`).

Every API call needs a bearer token from `/auth/token`: none or an unknown one is 400 `BadRequest`, an expired one
401 `TokenExpired`, one of a member no longer active 403 `AccessDenied`. Errors have the specification's body
`{"code", "message"}`. Plain HTTP is refused (400) unless `app.state.pact_require_https` is False: PACT requires
HTTPS (conformance cases 9-11 and 17); behind a proxy that ends TLS the server must trust its forwarded scheme.

The footprints come from `app.state.pact_source` (a `FootprintSource`), received events go to
`app.state.pact_events`, tokens live in `app.state.pact_tokens` (the service keeps both in its database, so every
process serves the same clients: `ledger_service.footprints.pact_state`), and client credentials are checked by
`app.state.pact_credentials`; each is made on first use (in memory) when the application has none.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ledger_core.db.models.types import utc_now
from ledger_service.api.deps import rate_limits, runtime_of
from ledger_service.api.limits import retry_after
from ledger_service.footprints.pact_answers import RequestAnswerer
from ledger_service.footprints.pact_auth import (
    ClientCredentials,
    MemberCredentials,
    TokenExpired,
    TokenInvalid,
    Tokens,
    TokenStore,
)
from ledger_service.footprints.pact_exchange import (
    EVENT_DATA,
    REQUEST_CREATED,
    CloudEvent,
    EventLog,
    FootprintFilter,
    FootprintSource,
    MemoryEventLog,
    MemorySource,
    ReceivedEvent,
)


class PactRefusal(Exception):
    """An answer in the specification's terms, raised where the route cannot return it (a dependency)."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


class PactRoute(APIRoute):
    """A route that answers a PactRefusal with its response (the application's error handlers speak the house's
    error body, not PACT's)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except PactRefusal as refusal:
                return refusal.response

        return answer


# Left out of the service's OpenAPI document: its error bodies and statuses are the house's, PACT's are its own
# (the PACT v3.0 specification publishes the OpenAPI description of these routes).
router = APIRouter(tags=["pact"], include_in_schema=False, route_class=PactRoute)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _state(request: Request, name: str, make: Any) -> Any:
    found = getattr(request.app.state, name, None)
    if found is None:
        found = make()
        setattr(request.app.state, name, found)
    return found


def source(request: Request) -> FootprintSource:
    held: FootprintSource = _state(request, "pact_source", MemorySource)
    return held


def tokens(request: Request) -> Tokens:
    held: Tokens = _state(request, "pact_tokens", TokenStore)
    return held


def events(request: Request) -> EventLog:
    held: EventLog = _state(request, "pact_events", MemoryEventLog)
    return held


def credentials(request: Request) -> ClientCredentials:
    def make() -> ClientCredentials:
        runtime = runtime_of(request)
        return MemberCredentials(runtime.api_keys, runtime.directory)

    held: ClientCredentials = _state(request, "pact_credentials", make)
    return held


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={**NO_STORE, **(headers or {})})


def _insecure(request: Request) -> bool:
    return bool(getattr(request.app.state, "pact_require_https", True)) and request.url.scheme != "https"


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        return None
    return unquote(client_id), unquote(secret)  # RFC 6749 2.3.1: form-encoded before Basic encoding


@router.post("/auth/token", summary="Obtain an access token (OAuth2 client credentials)")
async def token(request: Request) -> Response:
    """A bearer token for a member: client id its address, client secret one of its API keys."""
    if _insecure(request):
        return _oauth_error(400, "invalid_request", "the token endpoint is served over HTTPS only")
    limits = rate_limits(request)
    address = request.client.host if request.client is not None else "unknown"
    wait = limits.auth_failures.wait(address)
    if wait:
        return _oauth_error(429, "invalid_client", "too many failed authentications; retry later",
                            {"Retry-After": retry_after(wait)})
    given = _basic(request)
    if given is None:
        limits.auth_failures.take(address)
        return _oauth_error(401, "invalid_client", "client authentication (HTTP Basic) is required",
                            {"WWW-Authenticate": 'Basic realm="pact"'})
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    grant = form.get("grant_type", [])
    if len(grant) != 1:
        return _oauth_error(400, "invalid_request", "grant_type is required, once")
    if grant[0] != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only the client_credentials grant is supported")
    client = await run_in_threadpool(credentials(request).client, *given)
    if client is None:
        limits.auth_failures.take(address)
        return _oauth_error(401, "invalid_client", "client authentication failed",
                            {"WWW-Authenticate": 'Basic realm="pact"'})
    issued = await run_in_threadpool(tokens(request).issue, client)
    return JSONResponse({"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in},
                        headers=NO_STORE)


async def pact_client(request: Request) -> str:
    """The client the bearer token was issued to (a dependency); raises PactRefusal."""
    if _insecure(request):
        raise _bad("the PACT API is served over HTTPS only")
    scheme, _, token_text = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_text.strip():
        raise _bad("a bearer access token is required")
    try:
        client = await run_in_threadpool(tokens(request).client, token_text.strip())
    except TokenExpired:
        raise PactRefusal(_error(401, "TokenExpired", "the access token has expired",
                                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})) from None
    except TokenInvalid:
        raise _bad("Invalid token provided") from None
    if not await run_in_threadpool(credentials(request).allowed, client):
        raise PactRefusal(_error(403, "AccessDenied", "the client is no longer an active member"))
    return client


Client = Annotated[str, Depends(pact_client)]


def _bad(message: str) -> PactRefusal:
    return PactRefusal(_error(400, "BadRequest", message))


def _moment(name: str, values: list[str]) -> datetime | None:
    if not values:
        return None
    if len(values) > 1:
        raise _bad(f"{name} is given more than once")
    try:
        moment = datetime.fromisoformat(values[0].replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"{name} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise _bad(f"{name} needs a time zone (Z for UTC)")
    return moment


def _count(name: str, values: list[str], default: int, low: int, high: int) -> int:
    if not values:
        return default
    if len(values) > 1 or not values[0].isdigit() or not low <= int(values[0]) <= high:
        raise _bad(f"{name} must be an integer from {low} to {high}")
    return int(values[0])


def _query(request: Request) -> tuple[FootprintFilter, int, int]:
    params = request.query_params

    def many(name: str) -> frozenset[str]:
        return frozenset(v for v in params.getlist(name) if v)

    return (FootprintFilter(many("productId"), many("companyId"), many("geography"), many("classification"),
                            many("status"), _moment("validOn", params.getlist("validOn")),
                            _moment("validAfter", params.getlist("validAfter")),
                            _moment("validBefore", params.getlist("validBefore"))),
            _count("offset", params.getlist("offset"), 0, 0, 10**9),
            _count("limit", params.getlist("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT))


def _links(request: Request, offset: int, limit: int, total: int) -> str:
    def at(start: int) -> str:
        url = request.url.remove_query_params(["offset", "limit"]).include_query_params(offset=start, limit=limit)
        return f"<{url}>"

    last = max(0, (total - 1) // limit * limit)
    links = [f'{at(0)}; rel="first"']
    if offset > 0:
        links.append(f'{at(max(0, offset - limit))}; rel="prev"')
    if offset + limit < total:
        links.append(f'{at(offset + limit)}; rel="next"')
    links.append(f'{at(last)}; rel="last"')
    return ", ".join(links)


@router.get("/3/footprints", summary="ListFootprints (PACT v3.0)", dependencies=[Depends(pact_client)])
async def list_footprints(request: Request) -> Response:
    """The footprints matching the filters, a page at a time (`offset`, `limit`; `Link` to the others)."""
    query, offset, limit = _query(request)
    page = await run_in_threadpool(source(request).list, query, offset, limit)
    headers = {"Link": _links(request, offset, limit, page.total)} if page.total > limit or offset else {}
    return JSONResponse({"data": [f.document() for f in page.footprints]}, headers=headers)


@router.get("/3/footprints/{pf_id}", summary="GetFootprint (PACT v3.0)", dependencies=[Depends(pact_client)])
async def get_footprint(request: Request, pf_id: str) -> Response:
    """One footprint by its id."""
    try:
        wanted = uuid.UUID(pf_id)
    except ValueError:
        wanted = None
    found = None if wanted is None else await run_in_threadpool(source(request).get, wanted)
    if found is None:
        return _error(404, "NotFound", f"Footprint with ID '{pf_id}' does not exist")
    return JSONResponse({"data": found.document()})


@router.post("/3/events", summary="Events (PACT v3.0, CloudEvents)")
async def receive_event(request: Request, caller: Client) -> Response:
    """A footprint request or a notice of a footprint's update (or a request's answer), kept in the event log."""
    try:
        event = CloudEvent.model_validate(json.loads(await request.body()))
        kind = EVENT_DATA.get(event.type)
        if kind is None:
            return _error(400, "BadRequest", f"unknown event type {event.type!r}")
        data: BaseModel = kind.model_validate(event.data)
    except (ValueError, ValidationError) as exc:  # JSON errors are ValueErrors
        return _error(400, "BadRequest", f"not a PACT event: {str(exc).splitlines()[0]}")
    log = events(request)
    received = ReceivedEvent(caller, event, data, utc_now())
    new = await run_in_threadpool(log.record, received)
    answerer: RequestAnswerer | None = getattr(request.app.state, "pact_answerer", None)
    tasks = None
    if new and answerer is not None and event.type == REQUEST_CREATED:
        # Answered after this response, as PACT's asynchronous requests are; a request sent again is not.
        tasks = BackgroundTask(_answer, answerer, log, received, source(request), str(request.base_url))
    return JSONResponse({"status": "accepted", "message": "Event successfully processed"}, background=tasks)


def _answer(answerer: RequestAnswerer, log: EventLog, received: ReceivedEvent, held: FootprintSource,
            own_host: str) -> None:
    outcome = answerer.answer(received, held, own_host)
    log.answered(received, outcome.answer_type, outcome.problem)

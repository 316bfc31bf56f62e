"""The OpenAPI document, completed centrally from the routes and their dependencies.

FastAPI documents what a route returns when it succeeds and its request validation; this adds what generated
clients and fuzzers need besides: how callers authenticate (an API key as a bearer token or in `X-API-Key`, or
the four headers of a signed request, declared as apiKey-in-header schemes that go together) and, per route, the
error statuses the service answers, each with the house's error body (`Error`: `error`, `message`, `args`, plus
`outbox_id`/`tx_hash`/`outbox_ids` where a transaction was recorded):

- 401, 403 and 429 (rate limits) on routes that authenticate the caller (401 on /metrics when it needs a token);
- 404 on routes with path ids; 413 on routes that take a body; 422 wherever FastAPI validates parameters;
- 409 on authenticated POSTs (a contract's refusal, or an Idempotency-Key in use) and on routes that raise it;
- 503 (`Retry-After`: the chain or the database is away) on every route but /health.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ledger_service.api.deps import authenticate
from ledger_service.api.limits import api_routes, dependants

ERROR_REF = "#/components/schemas/Error"
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every error answer of the service.",
    "required": ["error", "message", "args"],
    "properties": {
        "error": {"type": "string", "description": "the error's name (a contract's custom error, or the service's)"},
        "message": {"type": "string"},
        "args": {"type": "object", "additionalProperties": True, "description": "the error's arguments by name"},
        "outbox_id": {"type": "integer", "description": "the outbox row of a transaction the chain refused"},
        "status": {"type": "string", "description": "that row's status"},
        "tx_hash": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "outbox_ids": {"type": "array", "items": {"type": "integer"},
                       "description": "transactions recorded before an outage; sent when it is over"},
    },
}
SIGNED = ("SignedAddress", "SignedTimestamp", "SignedNonce", "SignedSignature")
SECURITY_SCHEMES: dict[str, Any] = {
    "ApiKeyBearer": {"type": "http", "scheme": "bearer",
                     "description": "An API key (clk_...) issued by a regulator: `Authorization: Bearer clk_...`."},
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The API key, instead."},
    "SignedAddress": {"type": "apiKey", "in": "header", "name": "X-CL-Address",
                      "description": "Signed request (all four X-CL-* headers together): the signer's address."},
    "SignedTimestamp": {"type": "apiKey", "in": "header", "name": "X-CL-Timestamp",
                        "description": "Signed request: Unix seconds, within the accepted window."},
    "SignedNonce": {"type": "apiKey", "in": "header", "name": "X-CL-Nonce",
                    "description": "Signed request: a nonce the address has not used before (at most 128 characters)."},
    "SignedSignature": {"type": "apiKey", "in": "header", "name": "X-CL-Signature",
                        "description": "Signed request: the signature of method, path with query, timestamp, "
                        "nonce and the body's SHA-256, as an EIP-191 message (one per line) or, with "
                        "`X-CL-Signature-Scheme: eip712`, as EIP-712 typed data (domain in GET /api/v1/chain)."},
    "MetricsToken": {"type": "http", "scheme": "bearer",
                     "description": "The metrics token (CARBONLEDGER_METRICS_TOKEN), when one is set."},
}
CALLER_SECURITY: list[dict[str, list[str]]] = [{"ApiKeyBearer": []}, {"ApiKeyHeader": []},
                                               {name: [] for name in SIGNED}]
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
DESCRIPTIONS = {
    "401": "Not authenticated: no, or an invalid, API key or signed request",
    "403": "Not allowed: not an active member, without the role, frozen, or not its data",
    "404": "Not found",
    "409": "Refused in the current state (a contract's error by name), or the Idempotency-Key is in use",
    "413": "The request body is larger than the route takes (the limit in args.max_bytes)",
    "422": "The request is not valid",
    "429": "Too many requests (per API key or signing address, or failed authentications per client address)",
    "503": "The chain or the database is not available (transactions already recorded are listed in outbox_ids)",
}


def _source(route: Any) -> str:
    try:
        return inspect.getsource(route.endpoint)
    except (OSError, TypeError):
        return ""


def _error(status: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": DESCRIPTIONS[status],
                              "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
    if status in ("429", "503"):
        answer["headers"] = RETRY_AFTER
    return answer


def error_statuses(route: Any) -> tuple[set[str], bool, bool]:
    """The error statuses a route answers, whether it authenticates a caller, and whether it needs the metrics
    token."""
    every = list(dependants(route.dependant))
    calls = {d.call for d in every[1:] if d.call is not None}
    authenticated = authenticate in calls
    metrics = any(getattr(c, "__name__", "") == "_check_metrics_token" for c in calls)
    path_params = any(d.path_params for d in every)
    body_params = any(d.body_params for d in every)
    other_params = any(d.query_params or d.header_params for d in every)
    source = _source(route)
    methods = route.methods or set()
    statuses: set[str] = set()
    if authenticated:
        statuses |= {"401", "403", "429"}
        if "POST" in methods:
            statuses.add("409")
    if metrics:
        statuses.add("401")
    if "409" in source:
        statuses.add("409")
    if "429" in source:
        statuses.add("429")
    if path_params:
        statuses.add("404")
    if body_params:
        statuses |= {"413", "422"}
    if path_params or body_params or other_params or authenticated:
        statuses.add("422")
    if route.path_format != "/health":
        statuses.add("503")
    return statuses, authenticated, metrics


def complete(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        statuses, authenticated, metrics = error_statuses(route)
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            if authenticated:
                operation["security"] = CALLER_SECURITY
            elif metrics:
                operation["security"] = [{"MetricsToken": []}, {}]
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                declared = responses.get(status)
                if declared is None or status == "422":
                    responses[status] = _error(status)
                else:
                    declared.setdefault("content", {})["application/json"] = {"schema": {"$ref": ERROR_REF}}
    return schema


def install_openapi(app: FastAPI) -> None:
    """`app.openapi()` answers the completed document (made once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version, summary=app.summary,
                description=app.description, routes=app.routes, tags=app.openapi_tags, servers=app.servers),
                app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

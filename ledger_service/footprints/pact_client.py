"""Import a supplier's footprint from another PACT v3.0 host: a token (client credentials), then GetFootprint; and
send a requester the answer to its footprint request (`send_event`).

The footprint is checked against the v3.0 model and returned with the SHA-256 and keccak-256 of its canonical bytes
(`ledger_service.footprints.canonical`, over the `data` object as received; JSON numbers with a fraction are read
as decimals, never floats). It is marked **not verified on this ledger**: nothing on this chain vouches for it
unless its supplier is a member who published it here, which the caller checks by the ledger extension's EPD id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from eth_utils import keccak
from pydantic import ValidationError

from ledger_service.footprints.canonical import canonical_bytes
from ledger_service.footprints.compute import SupplierFootprint
from ledger_service.footprints.pact import ProductFootprint
from ledger_service.footprints.pact_exchange import CloudEvent, events_url

NOT_VERIFIED = "not verified on this ledger"
TIMEOUT_SECONDS = 10.0


class PactClientError(RuntimeError):
    """The other host refused or answered something that is not a v3.0 footprint; `code` says which."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ImportedFootprint:
    footprint: ProductFootprint
    source: str  # the host's base URL
    canonical: bytes
    sha256: bytes
    keccak256: bytes
    verified_on_ledger: bool = False
    note: str = NOT_VERIFIED

    def supplier_source(self) -> SupplierFootprint:
        """As an input's source for the footprint arithmetic: kgCO2e per one `declaredUnitOfMeasurement`."""
        pcf = self.footprint.pcf
        per_unit = Decimal(pcf.pcf_excluding_biogenic_uptake) / Decimal(pcf.declared_unit_amount)
        return SupplierFootprint("PACT", str(self.footprint.id), per_unit, self.keccak256)


def connect(base_url: str, timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    """An HTTP client for a PACT host (HTTPS only, as the specification requires)."""
    if not base_url.startswith("https://"):
        raise PactClientError("InsecureHost", "a PACT host is reached over HTTPS only")
    return httpx.Client(base_url=base_url, timeout=timeout)


def _json(reply: httpx.Response) -> Any:
    try:
        return json.loads(reply.content, parse_float=Decimal)
    except ValueError:
        raise PactClientError("NotJson", f"the host answered {reply.status_code} without JSON",
                              reply.status_code) from None


def access_token(http: httpx.Client, client_id: str, secret: str) -> str:
    reply = http.post("/auth/token", auth=(client_id, secret), data={"grant_type": "client_credentials"},
                      headers={"Accept": "application/json"})
    body = _json(reply)
    if reply.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        error = body.get("error", "AuthenticationFailed") if isinstance(body, dict) else "AuthenticationFailed"
        raise PactClientError(str(error), f"the host refused the client credentials ({reply.status_code})",
                              reply.status_code)
    return body["access_token"]  # type: ignore[no-any-return]


def fetch_footprint(http: httpx.Client, client_id: str, secret: str, pf_id: str) -> ImportedFootprint:
    """The footprint `pf_id` of the host `http` points at; raises PactClientError."""
    token = access_token(http, client_id, secret)
    reply = http.get(f"/3/footprints/{pf_id}", headers={"Authorization": f"Bearer {token}",
                                                        "Accept": "application/json"})
    body = _json(reply)
    if reply.status_code != 200:
        code = body.get("code", "Error") if isinstance(body, dict) else "Error"
        raise PactClientError(str(code), f"the host answered {reply.status_code} for footprint {pf_id}",
                              reply.status_code)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise PactClientError("NotAFootprint", "the answer has no `data` object")
    try:
        footprint = ProductFootprint.model_validate(data)
    except ValidationError as exc:
        raise PactClientError("NotAFootprint", f"not a v3.0 ProductFootprint: {exc.errors()[0]['msg']}") from None
    if str(footprint.id) != pf_id.lower():
        raise PactClientError("OtherFootprint", f"asked for {pf_id}, the host answered {footprint.id}")
    canonical = canonical_bytes(data)
    return ImportedFootprint(footprint, str(http.base_url), canonical, hashlib.sha256(canonical).digest(),
                             bytes(keccak(canonical)))


def send_event(http: httpx.Client, requester: str, event: CloudEvent, token: str | None = None) -> None:
    """POST an event (an answer to a footprint request) to the events endpoint of `requester` (the request's
    `source`); raises PactClientError unless it is accepted (200)."""
    target = events_url(requester)
    if not target.startswith("https://"):
        raise PactClientError("InsecureHost", "a PACT host is reached over HTTPS only")
    headers = {"Content-Type": "application/cloudevents+json; charset=UTF-8"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    reply = http.post(target, content=event.model_dump_json(exclude_none=True),
                      headers=headers)
    if reply.status_code != 200:
        body = _json(reply)
        code = body.get("code", "Error") if isinstance(body, dict) else "Error"
        raise PactClientError(str(code), f"the requester answered {reply.status_code} to event {event.id}",
                              reply.status_code)

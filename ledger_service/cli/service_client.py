"""A small client of the running service's HTTP API, for the business commands.

The base URL comes from `--url` or `CARBONLEDGER_URL` (default http://127.0.0.1:8000), the API key
from `--api-key` or `CARBONLEDGER_API_KEY` (sent as a Bearer token). Every refusal becomes a
`ServiceError`: one line (the service's own message, with the decoded contract error where there is
one) and a hint saying what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "CARBONLEDGER_URL"
KEY_ENV = "CARBONLEDGER_API_KEY"
API_PREFIX = "/api/v1"

Params = Any
Files = Mapping[str, tuple[str, bytes, str]]

_ROLE_HINTS = {
    "MissingRole": "use the API key of a member holding that role",
    "MemberNotActive": "a regulator can reinstate the member (`carbonledger member reinstate`)",
    "AccountFrozen": "a regulator can unfreeze the account (`carbonledger member unfreeze`)",
    "NotYourData": "a member sees only its own organisation's data; a regulator sees everything",
}


@dataclass
class ServiceError(Exception):
    """A request the service refused or could not answer."""

    message: str
    hint: str | None = None
    status: int | None = None
    code: str | None = None

    def __str__(self) -> str:
        return self.message


def _validation_text(body: Mapping[str, Any]) -> str:
    errors = (body.get("args") or {}).get("errors") or []
    parts = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in (error.get("loc") or []) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts)


def _refusal(response: httpx.Response, url: str) -> ServiceError:
    status = response.status_code
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"message": response.text.strip().splitlines()[0] if response.text.strip() else response.reason_phrase}
    code = str(body.get("error") or "") or None
    message = str(body.get("message") or response.reason_phrase)
    if status == 401:
        return ServiceError(f"not authenticated: {message}", f"set {KEY_ENV} or pass --api-key", status, code)
    if status == 403:
        return ServiceError(f"refused: {message}", _ROLE_HINTS.get(code or "", "ask a regulator"), status, code)
    if status == 404:
        hint = "check the id or address" if code != "NotFound" else f"is {url} a CarbonLedger service of this version?"
        return ServiceError(f"not found: {message}", hint, status, code)
    if status == 503:
        retry = response.headers.get("retry-after", "a few")
        kept = body.get("outbox_ids")
        where = f"; outbox ids {', '.join(str(i) for i in kept)} will be sent when it is back" if kept else ""
        return ServiceError(f"service unavailable: {message}", f"retry after {retry} s{where}", status, code)
    detail = _validation_text(body) if code == "ValidationError" else ""
    text = f"{message}: {detail}" if detail else message
    if code and code not in ("ValidationError",):
        text = f"{code}: {text}"
    follow: str | None = None
    if body.get("outbox_id") is not None:
        follow = f"see the transaction with `carbonledger tx show {body['outbox_id']}`"
    elif status == 413:
        follow = "the service limits the size of documents"
    return ServiceError(text, follow, status, code)


class ServiceClient:
    """JSON over HTTP to the service; pass `http` (any httpx.Client, such as FastAPI's TestClient) to
    talk to an application in process."""

    def __init__(self, url: str = DEFAULT_URL, api_key: str | None = None, http: httpx.Client | None = None,
                 timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key.strip() if api_key else None
        self._http = http
        self._timeout = timeout

    def _headers(self) -> dict[str, str]:
        if self.api_key and (len(self.api_key.split()) != 1 or not self.api_key.isprintable()):
            raise ServiceError("the API key is malformed (it contains spaces or line breaks)",
                               f"set {KEY_ENV} or --api-key to the key alone (clk_...)")
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def request(self, method: str, path: str, *, params: Params | None = None, json: Any = None,
                data: Mapping[str, Any] | None = None, files: Files | None = None) -> httpx.Response:
        target = f"{API_PREFIX}{path}"
        try:
            if self._http is not None:
                response = self._http.request(method, target, params=params, json=json, data=data, files=files,
                                              headers=self._headers())
            else:
                with httpx.Client(base_url=self.url, timeout=self._timeout) as http:
                    response = http.request(method, target, params=params, json=json, data=data, files=files,
                                            headers=self._headers())
        except httpx.ConnectError:
            raise ServiceError(f"cannot reach the service at {self.url} (connection refused)",
                               f"start the service with `carbonledger serve`, or set {URL_ENV} / --url") from None
        except httpx.TimeoutException:
            raise ServiceError(f"the service at {self.url} did not answer in time",
                               "the request may still complete: check `carbonledger tx list`") from None
        except httpx.HTTPError as exc:
            raise ServiceError(f"cannot talk to the service at {self.url}: {exc}",
                               f"check {URL_ENV} / --url") from None
        if response.status_code >= 400:
            raise _refusal(response, self.url)
        return response

    def get(self, path: str, params: Params | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, json: Any = None, params: Params | None = None,
             data: Mapping[str, Any] | None = None, files: Files | None = None) -> Any:
        return self.request("POST", path, params=params, json=json, data=data, files=files).json()

    def text(self, path: str, params: Params | None = None) -> str:
        return self.request("GET", path, params=params).text

    def content(self, path: str) -> tuple[bytes, httpx.Headers]:
        response = self.request("GET", path)
        return response.content, response.headers

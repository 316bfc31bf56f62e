"""A small client of the running service's HTTP API, for the business commands.

The base URL comes from `--url` or `CARBONLEDGER_URL` (default http://127.0.0.1:8000), the API key
from `--api-key` or `CARBONLEDGER_API_KEY` (sent as a Bearer token). Every refusal becomes a
`ServiceError`: one line (the service's own message, with the decoded contract error where there is
one) and a hint saying what to do about it.

Every write carries a fresh `Idempotency-Key`. A write that gets no answer (the connection failed or
timed out) or a 503 is sent again, the very same bytes under the same key, a few times (waiting as
`Retry-After` says, within bounds): the service carries it out once and answers a repeat with the
first answer. Only when every attempt fails does the command end, with one line.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "CARBONLEDGER_URL"
KEY_ENV = "CARBONLEDGER_API_KEY"
API_PREFIX = "/api/v1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_ATTEMPTS = 5  # tries of a write in all
FIRST_BACKOFF_SECONDS = 0.5  # then doubling
LONGEST_WAIT_SECONDS = 10.0  # a longer Retry-After is cut to this
WAIT_BUDGET_SECONDS = 30.0  # at most this much waiting between the tries of one write
FINISHED = frozenset({"mined", "failed", "rejected", "dropped"})

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


def pause(seconds: float) -> None:
    """Wait between the tries of a write."""
    time.sleep(seconds)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return max(seconds, 0.0)


def _in_progress(response: httpx.Response) -> dict[str, Any] | None:
    """A replay saying the first request with the key was recorded but not answered (its transactions as
    they stand), else None."""
    if response.status_code != 202 or response.headers.get(REPLAYED_HEADER) != "true":
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("state") != "in_progress":
        return None
    return body


def _unfinished(progress: Mapping[str, Any]) -> ServiceError:
    txs = [t for t in progress.get("transactions") or [] if isinstance(t, Mapping)]
    ids = [int(i) for i in progress.get("outbox_ids") or []]
    where = ", ".join(f"{t.get('id')} {t.get('status')}" for t in txs) or ", ".join(str(i) for i in ids) or "none"
    follow = f"follow with `carbonledger tx show {ids[0]}`" if ids else "check `carbonledger tx list`"
    if txs and all(t.get("status") in FINISHED for t in txs):
        return ServiceError(f"the request was carried out earlier but its answer was lost (transactions {where})",
                            follow, 202, "AnswerLost")
    return ServiceError(f"the service recorded the request and has not finished it (transactions {where})",
                        f"it sends them when it can: {follow}", 202, "InProgress")


class ServiceClient:
    """JSON over HTTP to the service; pass `http` (any httpx.Client, such as FastAPI's TestClient) to
    talk to an application in process. Writes are retried under one Idempotency-Key (see the module
    documentation); `attempts` and `sleep` are there for tests."""

    def __init__(self, url: str = DEFAULT_URL, api_key: str | None = None, http: httpx.Client | None = None,
                 timeout: float = 60.0, attempts: int = WRITE_ATTEMPTS,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key.strip() if api_key else None
        self._http = http
        self._timeout = timeout
        self.attempts = max(1, attempts)
        self._sleep = sleep or pause

    def _headers(self) -> dict[str, str]:
        if self.api_key and (len(self.api_key.split()) != 1 or not self.api_key.isprintable()):
            raise ServiceError("the API key is malformed (it contains spaces or line breaks)",
                               f"set {KEY_ENV} or --api-key to the key alone (clk_...)")
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def request(self, method: str, path: str, *, params: Params | None = None, json: Any = None,
                data: Mapping[str, Any] | None = None, files: Files | None = None) -> httpx.Response:
        headers = self._headers()
        write = method.upper() in WRITE_METHODS
        if write:
            headers[IDEMPOTENCY_HEADER] = str(uuid.uuid4())
        if self._http is not None:
            return self._exchange(self._http, method, path, params, json, data, files, headers, write)
        with httpx.Client(base_url=self.url, timeout=self._timeout) as http:
            return self._exchange(http, method, path, params, json, data, files, headers, write)

    def _exchange(self, http: httpx.Client, method: str, path: str, params: Params | None, json: Any,
                  data: Mapping[str, Any] | None, files: Files | None, headers: dict[str, str],
                  write: bool) -> httpx.Response:
        """Send the request, a write again (the same bytes, the same key) while it gets no answer or a 503."""
        request = http.build_request(method, f"{API_PREFIX}{path}", params=params, json=json, data=data, files=files,
                                     headers=headers)
        request.read()  # the body's bytes, the same in every attempt (a multipart boundary is drawn once)
        attempts = self.attempts if write else 1
        waited = 0.0
        reached = False  # some attempt may have reached the service
        for attempt in range(1, attempts + 1):
            backoff = FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1)
            try:
                response = http.send(request)
            except httpx.HTTPError as exc:
                reached = reached or not isinstance(exc, httpx.ConnectError)
                failure: ServiceError | httpx.Response = self._transport_failure(exc, write and reached)
                wait = backoff
            else:
                progress = _in_progress(response)
                if not write or not (response.status_code == 503 or progress is not None):
                    return self._answer(response)
                reached = True
                failure = response
                if progress is not None and _unfinished(progress).code == "AnswerLost":
                    break  # nothing left to wait for
                wait = min(_retry_after(response) or backoff, LONGEST_WAIT_SECONDS)
            if attempt == attempts or waited + wait > WAIT_BUDGET_SECONDS:
                break
            self._sleep(wait)
            waited += wait
        if isinstance(failure, ServiceError):
            raise failure
        progress = _in_progress(failure)
        if progress is not None:
            raise _unfinished(progress)
        return self._answer(failure)

    def _answer(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            raise _refusal(response, self.url)
        return response

    def _transport_failure(self, exc: httpx.HTTPError, maybe_sent: bool) -> ServiceError:
        check = "the request may have been carried out: check `carbonledger tx list` before sending it again"
        if isinstance(exc, httpx.ConnectError) and not maybe_sent:
            return ServiceError(f"cannot reach the service at {self.url} (connection refused)",
                                f"start the service with `carbonledger serve`, or set {URL_ENV} / --url")
        if isinstance(exc, httpx.ConnectError):
            return ServiceError(f"cannot reach the service at {self.url} (connection refused)", check)
        if isinstance(exc, httpx.TimeoutException):
            return ServiceError(f"the service at {self.url} did not answer in time",
                                "the request may still complete: check `carbonledger tx list`")
        return ServiceError(f"cannot talk to the service at {self.url}: {exc}",
                            check if maybe_sent else f"check {URL_ENV} / --url")

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

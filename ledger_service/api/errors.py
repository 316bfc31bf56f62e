"""Errors as HTTP answers. Every error body is `{"error": code, "message": text, "args": {...}}`,
plus `outbox_id` and `tx_hash` when a transaction was recorded.

An outage answers 503 with `Retry-After`, never 500: the chain (`ChainUnavailable`) as the database
(`DatabaseUnavailable`: SQLAlchemy's operational and interface errors, invalidated connections, pool
timeouts). When the transactions were recorded before a dependency failed, the 503 names it and carries
their `outbox_ids`: they are sent when it is back.

A request whose `Idempotency-Key` was seen before is answered from what the first one did
(`replay_answer`), with the header `Idempotent-Replayed: true`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger_core.chain.calldata import jsonable
from ledger_core.chain.client import ChainUnavailable
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import DuplicateRequest, InvalidIntent, SendDeferred, TxRecord
from ledger_core.db.models.outbox import OutboxStatus, OutboxTransaction
from ledger_core.db.session import database_unavailable
from ledger_service.api.reverts import describe, http_status
from ledger_service.api.schemas import TxOut
from ledger_service.identity.idempotency import REPLAYED_HEADER, IdempotencyClaim, IdempotencyKeys, StoredRequest
from ledger_service.services.errors import ChainBusy, Refusal, TransactionRefused

log = logging.getLogger(__name__)
HTTP_ERROR_CODES = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable",
                    413: "RequestTooLarge", 415: "UnsupportedMediaType"}
RETRY_AFTER_SECONDS = {"chain": 5, "database": 2}
IN_PROGRESS_RETRY_AFTER_SECONDS = 1


class IdempotentReplay(Exception):
    """The caller sent this `Idempotency-Key` before: answer from what that request did."""

    def __init__(self, stored: StoredRequest, fingerprint: bytes) -> None:
        super().__init__(stored.key)
        self.stored = stored
        self.fingerprint = fingerprint


def revert_body(error: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"error": error, "message": describe(error, args), "args": jsonable(args)}


def _error(status: int, code: str, message: str, args: dict[str, Any] | None = None,
           headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, "args": jsonable(args or {}), **extra},
                        status_code=status, headers=headers)


def deferred(message: str, outbox_ids: Sequence[int], dependency: str) -> JSONResponse:
    """503: the transactions were recorded, `dependency` failed before they could be sent."""
    code = "DatabaseUnavailable" if dependency == "database" else "ChainUnavailable"
    retry = RETRY_AFTER_SECONDS.get(dependency, RETRY_AFTER_SECONDS["chain"])
    return _error(503, code, f"the {dependency} is not reachable; the request is kept in the outbox and will be "
                  f"sent when it is ({message})", headers={"Retry-After": str(retry)}, outbox_ids=list(outbox_ids))


def current_transactions(request: Request, outbox_ids: Sequence[int]) -> list[TxOut]:
    """The outbox rows `outbox_ids` as the transactions API shows them (receipts of sent ones looked up)."""
    runtime = request.app.state.runtime
    with runtime.sessions() as session:
        rows = {row.id: row for row in session.scalars(select(OutboxTransaction)
                                                         .where(OutboxTransaction.id.in_(list(outbox_ids))))}
    sent = [TxRecord.from_row(row) for row in rows.values() if row.status == OutboxStatus.SENT]
    if sent:
        try:
            runtime.outbox.await_receipts(sent, timeout=0)
        except ChainUnavailable:
            pass  # shown as they are recorded
        else:
            with runtime.sessions() as session:
                rows.update({row.id: row for row in session.scalars(
                    select(OutboxTransaction).where(OutboxTransaction.id.in_([r.id for r in sent])))})
    return [TxOut.model_validate(rows[i]) for i in outbox_ids if i in rows]


def replay_answer(request: Request, stored: StoredRequest | None, fingerprint: bytes, key: str) -> Response:
    """The answer to a request whose key `stored` holds: the first request's answer, or (not answered
    yet: still running, or its process died) its transactions as they stand, 202; another request under
    the same key: 422."""
    if stored is None:  # held by a request whose claim is not committed yet
        return _error(409, "IdempotencyKeyInUse", "a request with this Idempotency-Key is being processed; retry",
                      {"key": key}, headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER_SECONDS)})
    if stored.fingerprint != fingerprint:
        return _error(422, "IdempotencyKeyReused", f"the Idempotency-Key was used for another request "
                      f"({stored.method} {stored.path}, or another body): use a new key for a new request",
                      {"key": key})
    replayed = {REPLAYED_HEADER: "true"}
    if stored.response_status is not None:
        return Response(stored.response_body or "", status_code=stored.response_status,
                        media_type="application/json", headers=replayed)
    transactions = current_transactions(request, stored.outbox_ids)
    return JSONResponse(
        {"state": "in_progress", "message": "the request with this Idempotency-Key was recorded and has not been "
         "answered; its transactions as they stand (follow them under /transactions)",
         "outbox_ids": stored.outbox_ids, "transactions": jsonable([t.model_dump(mode="json") for t in transactions])},
        status_code=202, headers={**replayed, "Retry-After": str(IN_PROGRESS_RETRY_AFTER_SECONDS)},
    )


def database_down(request: Request, exc: Exception) -> JSONResponse:
    """503 for a database outage (what failed is named by its type only: no statement, no parameters)."""
    cause = type(getattr(exc, "orig", None) or exc).__name__
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, cause)
    return _error(503, "DatabaseUnavailable", f"the database is not available ({cause}); retry later "
                  "(with the same Idempotency-Key, a retry is never carried out twice)",
                  headers={"Retry-After": str(RETRY_AFTER_SECONDS["database"])})


async def _replayed(request: Request, find: Callable[[], StoredRequest | None], fingerprint: bytes,
                    key: str) -> Response:
    try:
        stored = await run_in_threadpool(find)
        return await run_in_threadpool(replay_answer, request, stored, fingerprint, key)
    except Exception as exc:  # raised in an exception handler: no other handler would see it
        if not database_unavailable(exc):
            raise
        return database_down(request, exc)


def install(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _api_error(request: Request, exc: Refusal) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.details, headers=exc.headers)

    @app.exception_handler(ContractRevert)
    async def _revert(request: Request, exc: ContractRevert) -> JSONResponse:
        caller = getattr(request.state, "caller_address", None)
        return JSONResponse(revert_body(exc.error, exc.args_by_name),
                            status_code=http_status(exc.error, exc.args_by_name, caller))

    @app.exception_handler(TransactionRefused)
    async def _refused(request: Request, exc: TransactionRefused) -> JSONResponse:
        record = exc.record
        name = record.error_name or "TransactionFailed"
        args = record.revert.args_by_name if record.revert is not None else (record.error_args or {})
        body = {**revert_body(name, dict(args)), "outbox_id": record.id, "status": record.status,
                "tx_hash": record.tx_hash}
        return JSONResponse(body, status_code=http_status(name, args, exc.caller))

    @app.exception_handler(InvalidIntent)
    async def _invalid_intent(request: Request, exc: InvalidIntent) -> JSONResponse:
        return _error(422, "InvalidArguments", f"the arguments do not fit the contract function: {exc}")

    @app.exception_handler(ChainBusy)
    async def _busy(request: Request, exc: ChainBusy) -> JSONResponse:
        return deferred(str(exc), exc.outbox_ids, exc.dependency)

    @app.exception_handler(SendDeferred)
    async def _deferred(request: Request, exc: SendDeferred) -> JSONResponse:
        return deferred(str(exc), exc.outbox_ids, getattr(exc, "dependency", "chain"))

    @app.exception_handler(ChainUnavailable)
    async def _unavailable(request: Request, exc: ChainUnavailable) -> JSONResponse:
        return _error(503, "ChainUnavailable", str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS["chain"])})

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc
        return database_down(request, exc)

    app.add_exception_handler(sa_exc.DBAPIError, _database)
    app.add_exception_handler(sa_exc.TimeoutError, _database)

    @app.exception_handler(IdempotentReplay)
    async def _replay(request: Request, exc: IdempotentReplay) -> Response:
        return await _replayed(request, lambda: exc.stored, exc.fingerprint, exc.stored.key)

    @app.exception_handler(DuplicateRequest)
    async def _duplicate(request: Request, exc: DuplicateRequest) -> Response:
        """Another request holds the key (a concurrent duplicate): answer as its replay."""
        claim = exc.claim
        if not isinstance(claim, IdempotencyClaim):
            raise exc
        keys: IdempotencyKeys = request.app.state.idempotency_keys
        return await _replayed(request, lambda: keys.find(claim.caller, claim.key), claim.fingerprint, claim.key)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """The framework's own refusals (a body that is not JSON or not multipart, no such route or method)
        in the house's error body."""
        return _error(exc.status_code, HTTP_ERROR_CODES.get(exc.status_code, "HttpError"), str(exc.detail),
                      headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "ValidationError", "the request is not valid",
                      {"errors": [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]})

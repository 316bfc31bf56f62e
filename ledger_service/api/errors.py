"""Errors as HTTP answers. Every error body is `{"error": code, "message": text, "args": {...}}`,
plus `outbox_id` and `tx_hash` when a transaction was recorded."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ledger_service.api.reverts import describe, http_status
from ledger_service.chain.calldata import jsonable
from ledger_service.chain.client import ChainUnavailable
from ledger_service.chain.errors import ContractRevert
from ledger_service.chain.outbox import TxRecord


class ApiError(Exception):
    """A refusal by the service itself (before anything reaches the chain)."""

    def __init__(self, status: int, code: str, message: str, args: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = args or {}
        self.headers = headers


class TransactionRefused(Exception):
    """The chain refused a transaction: at preflight (no nonce spent) or when mined."""

    def __init__(self, record: TxRecord, caller: str | None) -> None:
        super().__init__(record.error_name)
        self.record = record
        self.caller = caller


class ChainBusy(Exception):
    """The chain could not be reached; the transactions stay in the outbox and are sent later."""

    def __init__(self, message: str, outbox_ids: list[int]) -> None:
        super().__init__(message)
        self.outbox_ids = outbox_ids


def forbidden(message: str, code: str = "Forbidden", **args: Any) -> ApiError:
    return ApiError(403, code, message, args)


def not_found(message: str, code: str = "NotFound", **args: Any) -> ApiError:
    return ApiError(404, code, message, args)


def revert_body(error: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"error": error, "message": describe(error, args), "args": jsonable(args)}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "message": exc.message, "args": jsonable(exc.details)},
                            status_code=exc.status, headers=exc.headers)

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

    @app.exception_handler(ChainBusy)
    async def _busy(request: Request, exc: ChainBusy) -> JSONResponse:
        return JSONResponse(
            {"error": "ChainUnavailable", "message": f"the chain is not reachable; the request is kept in the "
             f"outbox and will be sent when it is ({exc})", "args": {}, "outbox_ids": exc.outbox_ids},
            status_code=503, headers={"Retry-After": "5"},
        )

    @app.exception_handler(ChainUnavailable)
    async def _unavailable(request: Request, exc: ChainUnavailable) -> JSONResponse:
        return JSONResponse({"error": "ChainUnavailable", "message": str(exc), "args": {}}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "ValidationError", "message": "the request is not valid",
             "args": {"errors": jsonable([{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()])}},
            status_code=422,
        )

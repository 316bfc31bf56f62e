"""The embedded chain's node interface, read-only: `POST /rpc` answers a few JSON-RPC methods
(`ledger_service.services.embedded_rpc`). On a node or network this router is not mounted: clients ask the
node itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ledger_service.api.deps import ServicesDep

router = APIRouter(tags=["chain"])


@router.post("/rpc", summary="The embedded chain's node interface, read-only (JSON-RPC)")
async def rpc(request: Request, services: ServicesDep) -> JSONResponse:
    """JSON-RPC 2.0, one request or a batch: eth_chainId, net_version, eth_blockNumber, eth_getCode, eth_call."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
    return JSONResponse(await run_in_threadpool(services.embedded_rpc.answer, body))

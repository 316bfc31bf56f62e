"""The embedded chain's node interface, read-only: `POST /rpc` answers a few JSON-RPC methods
(`ledger_service.services.embedded_rpc`). On a node or network this router is not mounted: clients ask the
node itself.

It answers any origin, as a node's RPC does (anvil's default): a page served from elsewhere (the console's proof
check) asks it directly. It reads public chain state only and takes no credentials, so nothing is exposed that a
node would not show.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ledger_service.api.deps import ServicesDep

router = APIRouter(tags=["chain"])
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": "600"}


@router.post("/rpc", summary="The embedded chain's node interface, read-only (JSON-RPC)")
async def rpc(request: Request, services: ServicesDep) -> JSONResponse:
    """JSON-RPC 2.0, one request or a batch: eth_chainId, net_version, eth_blockNumber, eth_getCode, eth_call."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}},
                            headers=CORS)
    return JSONResponse(await run_in_threadpool(services.embedded_rpc.answer, body), headers=CORS)


@router.options("/rpc", include_in_schema=False)
def rpc_preflight() -> Response:
    """A browser's preflight of a cross-origin JSON-RPC request."""
    return Response(status_code=204, headers=CORS)

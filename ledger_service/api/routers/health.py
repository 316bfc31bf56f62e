"""Liveness, readiness and Prometheus metrics (outside the versioned prefix, for probes and scrapers)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from ledger_service.api.deps import RuntimeDep
from ledger_service.db.models.outbox import OutboxStatus

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready")
def ready(runtime: RuntimeDep) -> Response:
    """The chain and the database are reachable (503 otherwise)."""
    head = runtime.chain_head()
    database = runtime.database_ok()
    body = {"status": "ready" if head is not None and database else "not ready", "chain": head is not None,
            "chain_head": head, "database": database, "mode": runtime.chain.mode}
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Requests served, outbox entries by status and the chain head, in Prometheus text format."""
    lines = ["# HELP carbonledger_http_requests_total HTTP requests served.",
             "# TYPE carbonledger_http_requests_total counter"]
    with runtime.metrics.lock:
        counts = sorted(runtime.metrics.counts.items())
    for (method, route, code), n in counts:
        lines.append(f'carbonledger_http_requests_total{{method="{method}",route="{_label(route)}",'
                     f'status="{code}"}} {n}')
    lines += ["# HELP carbonledger_outbox_transactions Outbox entries by status.",
              "# TYPE carbonledger_outbox_transactions gauge"]
    by_status = runtime.outbox_counts()
    for status in OutboxStatus:
        lines.append(f'carbonledger_outbox_transactions{{status="{status.value}"}} {by_status.get(status.value, 0)}')
    head = runtime.chain_head()
    lines += ["# HELP carbonledger_chain_head_block Latest block number of the chain (-1 if unreachable).",
              "# TYPE carbonledger_chain_head_block gauge",
              f"carbonledger_chain_head_block {-1 if head is None else head}"]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

"""Liveness, readiness and Prometheus metrics (outside the versioned prefix, for probes and scrapers)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from ledger_core.db.models.outbox import OutboxStatus
from ledger_service.api.deps import RuntimeDep
from ledger_service.services.errors import Refusal

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready")
def ready(runtime: RuntimeDep) -> Response:
    """Ready (200) when every dependency is (503 otherwise), each reported under `dependencies`: the chain
    answers; the database answers; the event index is at most `index_max_lag_blocks` behind the head; the
    outbox moves: no pending transaction older than `receipt_timeout_seconds` and no signer waiting on a
    nonce gap (only pending rows are read, a bounded sample of them). The top-level `chain`, `chain_head`,
    `database`, `mode` and `index` keys are kept for existing probes."""
    ready = runtime.health.readiness()
    lag, moving = ready.index, ready.outbox
    index = {"ok": lag.ok, "indexed_block": lag.indexed_block, "lag_blocks": lag.lag_blocks,
             "max_lag_blocks": lag.max_lag_blocks, "last_error": lag.last_error}
    if moving is not None:
        outbox: dict[str, Any] = {
            "ok": moving.ok, "oldest_pending_seconds": moving.oldest_pending_seconds,
            "max_pending_seconds": moving.max_pending_seconds,
            "stalled_signers": None if moving.stalled is None else [
                {"signer": s.signer, "nonce": s.nonce, "chain_nonce": s.chain_nonce} for s in moving.stalled],
            "error": moving.error}
    else:
        outbox = {"ok": False, "oldest_pending_seconds": None, "max_pending_seconds": ready.max_pending_seconds,
                  "stalled_signers": None, "error": "database not reachable"}
    head = ready.chain_head
    body = {"status": "ready" if ready.ok else "not ready", "chain": head is not None, "chain_head": head,
            "database": ready.database, "mode": ready.mode, "index": index,
            "dependencies": {"chain": {"ok": head is not None, "head": head, "mode": ready.mode},
                             "database": {"ok": ready.database}, "index": index, "outbox": outbox}}
    return JSONResponse(body, status_code=200 if ready.ok else 503)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _check_metrics_token(request: Request, runtime: RuntimeDep) -> None:
    """With `metrics_token` set, /metrics answers only a scraper that sends it (`Authorization: Bearer ...`)."""
    token = runtime.settings.metrics_token
    if token is None:
        return
    authorization = request.headers.get("authorization", "")
    sent = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    if not hmac.compare_digest(sent.encode(), token.get_secret_value().encode()):
        raise Refusal(401, "Unauthenticated", "/metrics requires the metrics token", headers={
            "WWW-Authenticate": "Bearer"})


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(_check_metrics_token)])
def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Requests served, outbox entries by status, the chain head and the event index, in Prometheus text
    format. Requires `Authorization: Bearer <CARBONLEDGER_METRICS_TOKEN>` when that is set."""
    lines = ["# HELP carbonledger_http_requests_total HTTP requests served.",
             "# TYPE carbonledger_http_requests_total counter"]
    with runtime.metrics.lock:
        counts = sorted(runtime.metrics.counts.items())
    for (method, route, code), n in counts:
        lines.append(f'carbonledger_http_requests_total{{method="{method}",route="{_label(route)}",'
                     f'status="{code}"}} {n}')
    lines += ["# HELP carbonledger_outbox_transactions Outbox entries by status.",
              "# TYPE carbonledger_outbox_transactions gauge"]
    health = runtime.health
    by_status = health.outbox_counts()
    for status in OutboxStatus:
        lines.append(f'carbonledger_outbox_transactions{{status="{status.value}"}} {by_status.get(status.value, 0)}')
    head = health.chain_head()
    lines += ["# HELP carbonledger_chain_head_block Latest block number of the chain (-1 if unreachable).",
              "# TYPE carbonledger_chain_head_block gauge",
              f"carbonledger_chain_head_block {-1 if head is None else head}"]
    indexed = health.indexed_block()
    lines += ["# HELP carbonledger_index_block Block up to which the event index is complete.",
              "# TYPE carbonledger_index_block gauge",
              f"carbonledger_index_block {indexed}",
              "# HELP carbonledger_index_lag_blocks Blocks between the chain head and the index (-1 if unknown).",
              "# TYPE carbonledger_index_lag_blocks gauge",
              f"carbonledger_index_lag_blocks {-1 if head is None else max(head - indexed, 0)}",
              "# HELP carbonledger_index_events_total Events indexed by this process.",
              "# TYPE carbonledger_index_events_total counter",
              f"carbonledger_index_events_total {runtime.indexing.status.events}"]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

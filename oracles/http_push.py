"""The oracle's HTTP push source: devices (or their gateways) POST batches of signed messages.

A batch is taken as raw JSON, not validated as a whole: a malformed message is quarantined
with its reason like any other bad reading, never refused with the batch or dropped. The
device signature is what authenticates a message, so the endpoint needs no caller login;
it bounds the batch size instead. Ingestion runs one batch at a time (per-device sequence
and timestamp checks see every earlier batch).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from ledger_service.config import Settings
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.sources import messages_from_payload

MAX_BATCH = 5_000


class PushBatch(BaseModel):
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class PushResult(BaseModel):
    run_id: int
    messages: int
    accepted: int
    quarantined: dict[str, int]


_ONE_AT_A_TIME = threading.Lock()


def ingest_batch(sessions: sessionmaker[Session], settings: Settings, batch: PushBatch,
                 source: str = "http-push") -> PushResult:
    """Ingest one pushed batch in its own transaction (one batch at a time in this process)."""
    with _ONE_AT_A_TIME, sessions() as session:
        summary = ingest_messages(
            session,
            messages_from_payload(batch.messages),
            factor_set=get_factor_set(settings.factor_set),
            window_seconds=settings.window_seconds,
            future_skew_seconds=settings.future_skew_seconds,
            source=source,
        )
        session.commit()
    return PushResult(
        run_id=summary.run_id,
        messages=summary.messages,
        accepted=summary.accepted,
        quarantined=dict(summary.quarantined),
    )


def push_router(sessions: sessionmaker[Session], settings: Settings) -> APIRouter:
    """`POST /messages`: ingest a batch; the answer counts accepted and quarantined readings by reason."""
    router = APIRouter()
    get_factor_set(settings.factor_set)  # an unknown factor set fails at start-up, not on the first push

    @router.post("/messages", response_model=PushResult, summary="Push a batch of signed meter messages")
    def push(batch: PushBatch) -> PushResult:
        return ingest_batch(sessions, settings, batch)

    return router


def create_app(sessions: sessionmaker[Session], settings: Settings) -> FastAPI:
    """A stand-alone oracle endpoint (`python -m oracles serve`)."""
    app = FastAPI(title="CarbonLedger oracle: meter data push", version="1")
    app.include_router(push_router(sessions, settings), prefix="/v1")
    return app

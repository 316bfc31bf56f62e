"""The oracle's HTTP push source: devices (or their gateways) POST batches of signed messages.

A batch is taken as raw JSON, not validated as a whole: a malformed message of a registered
device is quarantined with its reason like any other bad reading. The device signature is what
authenticates a message, so the endpoint needs no caller login; so that nobody can fill the
quarantine table, a batch with a message that names no registered device is refused whole (422
`UnattributedMessages`, each such message with its reason) and nothing of it is stored, a
device's quarantined readings are kept up to `quarantine_per_device_hour` in any hour (the rest
counted in `quarantine_not_stored`), and the body is limited to `request_body_max_bytes` (413).
Ingestion runs one batch at a time (per-device sequence and timestamp checks see every earlier
batch).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.body_limit import BodyLimit
from ledger_core.config import Settings
from ledger_core.db.models import MeterDevice
from oracles.factors import factor_choice
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
    quarantine_not_stored: int = Field(default=0, description="quarantined readings over the device's hourly cap: "
                                       "counted, not stored")


_ONE_AT_A_TIME = threading.Lock()
SHOWN_REFUSALS = 100


class UnattributedMessages(ValueError):
    """Messages of a batch that name no registered device: the batch is refused and nothing is stored."""

    def __init__(self, refused: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(refused)} message(s) name no registered device")
        self.refused = refused

    def body(self) -> dict[str, Any]:
        return {"error": "UnattributedMessages", "message": f"{self}: the batch is refused and nothing of it is "
                "stored (register the devices first, or leave these messages out)",
                "args": {"count": len(self.refused), "messages": self.refused[:SHOWN_REFUSALS]}}


def unattributed(session: Session, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each message that names no device (malformed_message) or an unregistered one (unknown_device), with its
    index in the batch."""
    names = {m["device"] for m in messages if isinstance(m.get("device"), str)}
    registered: set[str] = set()
    wanted = sorted(names)
    for start in range(0, len(wanted), 500):
        registered.update(session.scalars(select(MeterDevice.device_id)
                                          .where(MeterDevice.device_id.in_(wanted[start:start + 500]))))
    refused = []
    for index, message in enumerate(messages):
        device = message.get("device")
        if not isinstance(device, str):
            refused.append({"index": index, "device": None, "reason": "malformed_message"})
        elif device not in registered:
            refused.append({"index": index, "device": device, "reason": "unknown_device"})
    return refused


def ingest_batch(sessions: sessionmaker[Session], settings: Settings, batch: PushBatch,
                 source: str = "http-push") -> PushResult:
    """Ingest one pushed batch in its own transaction (one batch at a time in this process); raises
    UnattributedMessages, storing nothing, when a message names no registered device."""
    with _ONE_AT_A_TIME, sessions() as session:
        refused = unattributed(session, batch.messages)
        if refused:
            raise UnattributedMessages(refused)
        summary = ingest_messages(
            session,
            messages_from_payload(batch.messages),
            factor_set=factor_choice(settings.factor_set),
            window_seconds=settings.window_seconds,
            future_skew_seconds=settings.future_skew_seconds,
            source=source,
            quarantine_per_device_hour=settings.quarantine_per_device_hour,
        )
        session.commit()
    return PushResult(
        run_id=summary.run_id,
        messages=summary.messages,
        accepted=summary.accepted,
        quarantined=dict(summary.quarantined),
        quarantine_not_stored=summary.quarantine_not_stored,
    )


def push_router(sessions: sessionmaker[Session], settings: Settings) -> APIRouter:
    """`POST /messages`: ingest a batch; the answer counts accepted and quarantined readings by reason."""
    router = APIRouter()
    factor_choice(settings.factor_set)  # an unknown factor set (or a bad file) fails at start-up, not on a push

    @router.post("/messages", response_model=PushResult, summary="Push a batch of signed meter messages")
    def push(batch: PushBatch) -> PushResult:
        return ingest_batch(sessions, settings, batch)

    return router


def create_app(sessions: sessionmaker[Session], settings: Settings) -> FastAPI:
    """A stand-alone oracle endpoint (`python -m oracles serve`)."""
    app = FastAPI(title="CarbonLedger oracle: meter data push", version="1")
    app.include_router(push_router(sessions, settings), prefix="/v1")

    @app.exception_handler(UnattributedMessages)
    async def _unattributed(request: Request, exc: UnattributedMessages) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=422)

    app.add_middleware(BodyLimit, limit=settings.request_body_max_bytes)
    return app

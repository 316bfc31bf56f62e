"""Production output from sealed evidence: the anchored counts of a product's production counters, or an uploaded
ERP extract; and the evidence itself, for who may see output records. The use cases are
`ledger_service.services.product_output`."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator

from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer
from ledger_service.api.deps import AnyMember, ServicesDep
from ledger_service.api.routers.footprints import (
    Amount,
    Enterprise,
    HashPath,
    OutputOut,
    Wait,
)
from ledger_service.api.schemas import TxOut
from ledger_service.api.types import Seconds
from ledger_service.epd import from_hex32
from ledger_service.footprints.canonical import canonical_bytes
from ledger_service.services.errors import Refusal
from ledger_service.services.product_output import MAX_COUNTERS, CounterAsk

router = APIRouter(prefix=API_PREFIX, tags=["product footprints"])
MAX_EXTRACT_BYTES = 2**20
DeviceName = Annotated[str, Field(min_length=1, max_length=128)]


class CountedIn(BaseModel):
    period_start: Seconds = Field(gt=0)
    period_end: Seconds
    devices: list[DeviceName] = Field(min_length=1, max_length=MAX_COUNTERS,
                                      description="the product's production counters (device ids)")
    value_fen: Amount = Field(description="the output's value, CNY fen")
    mass_grams: Amount | None = Field(default=None, description="kg x 1000; derived from the count for t and kg")

    @model_validator(mode="after")
    def _period(self) -> CountedIn:
        if self.period_start >= self.period_end:
            raise ValueError("the period must start before it ends")
        return self


class CountedTx(BaseModel):
    output: OutputOut | None
    evidence_hash: str = Field(description="SHA-256 of the canonical evidence: the output's extract_hash")
    evidence: dict[str, Any]
    transaction: TxOut


class ExtractTx(BaseModel):
    extract_hash: str = Field(description="SHA-256 of the extract: each output's extract_hash")
    outputs: list[OutputOut]
    transactions: list[TxOut]


@router.post("/products/{product_id}/output/counted", response_model=CountedTx,
             status_code=status.HTTP_201_CREATED)
def record_counted(product_id: HashPath, body: CountedIn, caller: Enterprise, services: ServicesDep,
                   response: Response, wait: Wait = True) -> CountedTx:
    """Record a product's output for a period as the sum of its production counters' anchored counts (an
    enterprise member of the owner); the evidence names every anchor, node, sum and count."""
    ask = CounterAsk(from_hex32(product_id), body.period_start, body.period_end, tuple(body.devices), body.value_fen,
                     body.mass_grams)
    sent = services.product_output.record_counted(caller, ask, wait)
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    counted = sent.value
    assert counted is not None
    return CountedTx(output=OutputOut.model_validate(counted.output) if counted.output else None,
                     evidence_hash="0x" + counted.evidence_hash.hex(),
                     evidence=_json(counted.evidence), transaction=TxOut.model_validate(sent.record))


def _json(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence as its canonical JSON states it (times as UTC text, hashes as hex)."""
    loaded: dict[str, Any] = json.loads(canonical_bytes(evidence))
    return loaded


@router.post("/products/output/extracts", response_model=ExtractTx, status_code=status.HTTP_201_CREATED)
async def record_extract(extract: Annotated[UploadFile, File(description="the ERP extract, CSV")],
                         caller: Enterprise, services: ServicesDep, response: Response) -> ExtractTx:
    """Record the output an ERP extract states for products of the caller's organisation: sealed, then one output
    record per row, each committing to the extract's SHA-256."""
    content = await extract.read(MAX_EXTRACT_BYTES + 1)
    if len(content) > MAX_EXTRACT_BYTES:
        raise Refusal(413, "DocumentTooLarge", f"extracts are limited to {MAX_EXTRACT_BYTES} bytes")
    sent = await run_in_threadpool(services.product_output.record_extract, caller, content, extract.filename or "")
    answer(response, *sent.records, done=status.HTTP_201_CREATED)
    recorded = sent.value
    assert recorded is not None
    return ExtractTx(extract_hash="0x" + recorded.extract_hash.hex(),
                     outputs=[OutputOut.model_validate(o) for o in recorded.outputs],
                     transactions=[TxOut.model_validate(r) for r in sent.records])


@router.get("/products/{product_id}/output/{index}/evidence", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def evidence(product_id: HashPath, index: int, caller: AnyMember, services: ServicesDep) -> Response:
    """The sealed evidence an output record commits to (its ERP extract or its counts), opened and checked
    against the hash on chain: the product's organisation, verifiers and regulators."""
    opened = services.product_output.evidence(caller, from_hex32(product_id), index)
    return Response(opened.content, media_type=opened.content_type,
                    headers={"X-Document-SHA256": "0x" + opened.document_hash.hex()})

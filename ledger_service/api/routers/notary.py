"""Notary: notarize a document (its SHA-256 goes on chain) and verify one against the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ledger_service.api import API_PREFIX
from ledger_service.api.deps import AnyMember, ServicesDep
from ledger_service.api.schemas import TxOut
from ledger_service.services.errors import Refusal

router = APIRouter(prefix=f"{API_PREFIX}/notary", tags=["notary"])
MAX_DOCUMENT_BYTES = 50 * 2**20


class NotarizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    document_hash: str = Field(description="SHA-256 of the document, 0x-hex")
    notary: str
    org_id: int
    kind: str
    reference: str
    timestamp: int = Field(description="block time, Unix seconds (UTC)")
    block_number: int


class Notarized(BaseModel):
    record: NotarizationOut
    transaction: TxOut


async def _read(document: UploadFile) -> bytes:
    content = await document.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise Refusal(413, "DocumentTooLarge", f"documents are limited to {MAX_DOCUMENT_BYTES} bytes")
    return content


@router.post("/documents", status_code=status.HTTP_201_CREATED, response_model=Notarized)
async def notarize(document: Annotated[UploadFile, File()], caller: AnyMember, services: ServicesDep,
                   kind: Annotated[str, Form(max_length=66)] = "DOCUMENT",
                   reference: Annotated[str, Form(max_length=66)] = "") -> Notarized:
    content = await _read(document)
    done = await services.notary.notarize_async(caller, content, kind, reference)
    return Notarized(record=NotarizationOut.model_validate(done.notarization),
                     transaction=TxOut.model_validate(done.record))


@router.post("/verifications", response_model=NotarizationOut)
async def verify(document: Annotated[UploadFile, File()], caller: AnyMember, services: ServicesDep
                 ) -> NotarizationOut:
    """The on-chain record of the uploaded document, or 404 if it was never notarized."""
    content = await _read(document)
    return NotarizationOut.model_validate(await run_in_threadpool(services.notary.verify, content))


@router.get("/documents/{document_hash}", response_model=NotarizationOut)
def get_notarization(document_hash: Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$")], caller: AnyMember,
                     services: ServicesDep) -> NotarizationOut:
    return NotarizationOut.model_validate(services.notary.lookup(bytes.fromhex(document_hash[2:])))

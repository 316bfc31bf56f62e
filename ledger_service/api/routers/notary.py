"""Notary: notarize a document (its SHA-256 goes on chain) and verify one against the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ledger_service import notary
from ledger_service.api.deps import AnyMember, RuntimeDep
from ledger_service.api.errors import ApiError, not_found
from ledger_service.api.schemas import TxOut
from ledger_service.api.sending import send
from ledger_service.notary import Notarization

router = APIRouter(prefix="/notary", tags=["notary"])
MAX_DOCUMENT_BYTES = 50 * 2**20


class NotarizationOut(BaseModel):
    document_hash: str = Field(description="SHA-256 of the document, 0x-hex")
    notary: str
    org_id: int
    kind: str
    reference: str
    timestamp: int = Field(description="block time, Unix seconds (UTC)")
    block_number: int

    @classmethod
    def of(cls, n: Notarization) -> NotarizationOut:
        return cls(**n.__dict__)


class Notarized(BaseModel):
    record: NotarizationOut
    transaction: TxOut


async def _read(document: UploadFile) -> bytes:
    content = await document.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ApiError(413, "DocumentTooLarge", f"documents are limited to {MAX_DOCUMENT_BYTES} bytes")
    return content


def _missing(digest: bytes) -> Exception:
    hex_digest = "0x" + digest.hex()
    return not_found(f"document {hex_digest} has not been notarized", "NotNotarized", documentHash=hex_digest)


@router.post("/documents", status_code=status.HTTP_201_CREATED, response_model=Notarized)
async def notarize(document: Annotated[UploadFile, File()], caller: AnyMember, runtime: RuntimeDep,
                   kind: Annotated[str, Form(max_length=66)] = "DOCUMENT",
                   reference: Annotated[str, Form(max_length=66)] = "") -> Notarized:
    digest = notary.document_hash(await _read(document))
    (record,) = await run_in_threadpool(send, runtime, caller,
                                        [notary.notarize_intent(caller.address, digest, kind, reference)])
    found = await run_in_threadpool(notary.lookup, runtime.chain, runtime.suite, digest)
    if found is None:
        raise _missing(digest)
    return Notarized(record=NotarizationOut.of(found), transaction=TxOut.of(record))


@router.post("/verifications", response_model=NotarizationOut)
async def verify(document: Annotated[UploadFile, File()], caller: AnyMember, runtime: RuntimeDep) -> NotarizationOut:
    """The on-chain record of the uploaded document, or 404 if it was never notarized."""
    digest = notary.document_hash(await _read(document))
    found = await run_in_threadpool(notary.lookup, runtime.chain, runtime.suite, digest)
    if found is None:
        raise _missing(digest)
    return NotarizationOut.of(found)


@router.get("/documents/{document_hash}", response_model=NotarizationOut)
def get_notarization(document_hash: Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$")], caller: AnyMember,
                     runtime: RuntimeDep) -> NotarizationOut:
    digest = bytes.fromhex(document_hash[2:])
    found = notary.lookup(runtime.chain, runtime.suite, digest)
    if found is None:
        raise _missing(digest)
    return NotarizationOut.of(found)

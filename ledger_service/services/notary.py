"""Notary use cases: notarize a document (its SHA-256 goes on chain, once) and look one up against the chain.
Any active member may notarize."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import TxRecord
from ledger_core.chain.suite import Suite
from ledger_service import notary
from ledger_service.notary import Notarization
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, not_found
from ledger_service.services.sending import Sender


@dataclass(frozen=True)
class Notarized:
    notarization: Notarization
    record: TxRecord


def _missing(digest: bytes) -> Refusal:
    hex_digest = "0x" + digest.hex()
    return not_found(f"document {hex_digest} has not been notarized", "NotNotarized", documentHash=hex_digest)


@dataclass(frozen=True)
class NotaryService:
    chain: ChainClient
    suite: Suite
    sender: Sender

    def notarize(self, caller: Caller, content: bytes, kind: str = "DOCUMENT", reference: str = "") -> Notarized:
        digest = notary.document_hash(content)
        record = self.sender.send_one(caller, notary.notarize_intent(caller.address, digest, kind, reference))
        return Notarized(self.lookup(digest), record)

    async def notarize_async(self, caller: Caller, content: bytes, kind: str = "DOCUMENT",
                             reference: str = "") -> Notarized:
        """`notarize` for a request served on the event loop (see `Sender.send_async`): the contract's own
        refusal (a document notarized before) is what the simulation finds, so there is nothing to check first."""
        digest = notary.document_hash(content)
        (record,) = await self.sender.send_async(caller, [notary.notarize_intent(caller.address, digest, kind,
                                                                                 reference)])
        return Notarized(await asyncio.to_thread(self.lookup, digest), record)

    def lookup(self, digest: bytes) -> Notarization:
        """The chain's record of the document with this SHA-256; 404 NotNotarized if it has none."""
        found = notary.lookup(self.chain, self.suite, digest)
        if found is None:
            raise _missing(digest)
        return found

    def verify(self, content: bytes) -> Notarization:
        """The chain's record of this document; 404 NotNotarized if it was never notarized."""
        return self.lookup(notary.document_hash(content))

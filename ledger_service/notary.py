"""Notarized documents: the SHA-256 of a document recorded once on the Notary contract."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_utils import keccak

from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite

NOTARY = "Notary"
_NOTARIZED = keccak(text="Notarized(bytes32,address,uint64,bytes32,bytes32)")


@dataclass(frozen=True)
class Notarization:
    document_hash: str
    notary: str
    org_id: int
    kind: str
    reference: str
    timestamp: int
    block_number: int


def document_hash(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def label_hash(label: str) -> bytes:
    """A document kind or reference as the contract stores it: keccak256 of the text (zero if empty),
    or the value itself if it is already 32 bytes of hex."""
    if not label:
        return b"\0" * 32
    if label.startswith("0x") and len(label) == 66:
        return bytes.fromhex(label[2:])
    return keccak(text=label)


def notarize_intent(signer: str, digest: bytes, kind: str, reference: str) -> Intent:
    return Intent(NOTARY, "notarize", (digest, label_hash(kind), label_hash(reference)), signer, requested_by=signer)


def lookup(chain: ChainClient, suite: Suite, digest: bytes) -> Notarization | None:
    """The chain's record of a document: who and when from the contract's slot, the organisation, kind and
    reference from the `Notarized` event of the block that slot names (two reads: the slot's getter refuses
    a document never notarized)."""
    try:
        notary, timestamp, block = suite.view(chain, NOTARY, "getNotarization", digest)
    except ContractRevert as revert:
        if revert.error == "NotNotarized":
            return None
        raise
    log, *_ = chain.logs(suite.deployment.addresses[NOTARY], [_NOTARIZED, digest], block, block)
    org_id, kind, reference = abi_decode(["uint64", "bytes32", "bytes32"], log.data)
    return Notarization("0x" + digest.hex(), notary, int(org_id), "0x" + kind.hex(), "0x" + reference.hex(),
                        int(timestamp), int(block))

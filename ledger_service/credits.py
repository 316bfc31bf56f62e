"""Offset credits: what the service builds, checks and reads around the CreditRegistry.

Projects are registered, suspended and reinstated by regulators; verifiers record statements
for monitoring periods; regulators issue one batch per verified period (a token id with a
serial range) and cancel invalidated units; holders transfer, retire (with a certificate) and
surrender towards compliance. Views come from the chain (projects, batches, retirements) and
from the index (lists, holdings, the transaction and block of a retirement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger_core.assets import CREDIT
from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent
from ledger_core.chain.suite import Suite
from ledger_core.db.models import (
    ChainBalance,
    ChainCreditBatch,
    ChainCreditProject,
    ChainCreditRetirement,
)
from ledger_service.audit.results import utc

REGISTRY = CREDIT.contract
PROJECT_STATUS = {0: "none", 1: "active", 2: "suspended"}


def hash_of(label: str) -> bytes:
    """A project id, document or reason as the contract stores it: the 32 bytes themselves if
    `label` is 0x-hex of 32 bytes, otherwise keccak256 of the text (zero if empty)."""
    if not label:
        return b"\0" * 32
    if label.startswith("0x") and len(label) == 66:
        return bytes.fromhex(label[2:])
    return keccak(text=label)


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class Project:
    project_id: str
    owner: str
    status: str
    last_period_end: int | None  # None from the index, which does not follow it
    document_hash: str
    methodology: str
    location: str


@dataclass(frozen=True)
class Batch:
    """A batch; the index records its issuance only, the chain also what became of its units."""

    batch_id: int
    project_id: str
    vintage: int
    period_start: int
    period_end: int
    statement_hash: str
    amount: int
    serial_start: int
    serial_end: int
    verifier: str | None = None
    next_serial: int | None = None
    retired: int | None = None
    cancelled: int | None = None
    surrendered: int | None = None
    supply: int | None = None


@dataclass(frozen=True)
class Certificate:
    """A retirement certificate: the on-chain record and where it was made."""

    retirement_id: int
    batch_id: int
    holder: str
    project_id: str
    methodology: str
    location: str
    vintage: int
    amount: int
    serial_start: int
    serial_end: int
    beneficiary: str
    purpose: str
    jurisdiction: str
    consumption_start: int
    consumption_end: int
    tx_hash: str
    block_number: int
    block_time: datetime
    pending: bool
    registry: str
    chain_id: int

    @property
    def html(self) -> str:
        """Where the HTTP API serves the printable certificate."""
        return f"/api/v1/credits/retirements/{self.retirement_id}/certificate.html"


@dataclass(frozen=True)
class Holding:
    batch_id: int
    amount: int
    project_id: str | None
    vintage: int | None
    serial_start: int | None
    serial_end: int | None


# ------------------------------------------------------------------ intents


def register_intent(signer: str, project_id: bytes, owner: str, methodology: str, document_hash: bytes,
                    location: str) -> Intent:
    return Intent(REGISTRY, "registerProject", (project_id, owner, methodology, document_hash, location), signer,
                  requested_by=signer)


def issue_intent(signer: str, project_id: bytes, period_start: int, period_end: int, vintage: int, amount: int,
                 serial_start: int) -> Intent:
    return Intent(REGISTRY, "issueBatch", (project_id, period_start, period_end, vintage, amount, serial_start),
                  signer, requested_by=signer)


def retire_intent(signer: str, batch_id: int, amount: int, beneficiary: str, purpose: str, jurisdiction: str,
                  consumption_start: int, consumption_end: int) -> Intent:
    return Intent(REGISTRY, "retire", (batch_id, amount, beneficiary, purpose, jurisdiction, consumption_start,
                                       consumption_end), signer, requested_by=signer)


def call(signer: str, function: str, *args: Any) -> Intent:
    return Intent(REGISTRY, function, args, signer, requested_by=signer)


# ------------------------------------------------------------------ chain views


def next_serial(chain: ChainClient, suite: Suite) -> int:
    """The first serial a new batch may start at."""
    return int(suite.view(chain, REGISTRY, "lastSerialEnd")) + 1


def project(chain: ChainClient, suite: Suite, project_id: bytes) -> Project:
    """A project from the chain; raises the contract's UnknownProject."""
    p = suite.view(chain, REGISTRY, "project", project_id)
    owner, status, last_end, document, methodology, location = p
    return Project(hex32(project_id), owner, PROJECT_STATUS[int(status)], int(last_end), hex32(document),
                   methodology, location)


def batch(chain: ChainClient, suite: Suite, batch_id: int) -> Batch:
    """A batch from the chain with its units in existence; raises the contract's UnknownBatch."""
    b = suite.view(chain, REGISTRY, "batch", batch_id)
    supply = suite.view(chain, REGISTRY, "totalSupply(uint256)", batch_id)
    (project_id, vintage, start, end, verifier, statement, amount, serial_start, serial_end, next_serial_,
     retired, cancelled, surrendered) = b
    return Batch(batch_id, hex32(project_id), int(vintage), int(start), int(end), hex32(statement), int(amount),
                 int(serial_start), int(serial_end), verifier=verifier, next_serial=int(next_serial_),
                 retired=int(retired), cancelled=int(cancelled), surrendered=int(surrendered), supply=int(supply))


def balance(chain: ChainClient, suite: Suite, holder: str, batch_id: int) -> int:
    return int(suite.view(chain, REGISTRY, "balanceOf", holder, batch_id))


def retired_ids(chain: ChainClient, suite: Suite, tx_hash: str) -> list[int]:
    """Retirement ids recorded by a mined transaction."""
    return [int(e["retirementId"]) for e in events(chain, suite, tx_hash, REGISTRY, "CreditsRetired")]


def issued_ids(chain: ChainClient, suite: Suite, tx_hash: str) -> list[int]:
    return [int(e["batchId"]) for e in events(chain, suite, tx_hash, REGISTRY, "BatchIssued")]


def events(chain: ChainClient, suite: Suite, tx_hash: str, contract: str, event: str) -> list[dict[str, Any]]:
    receipt = chain.request(lambda: suite.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
    return suite.events(receipt, contract, event)


# ------------------------------------------------------------------ index views


def projects(session: Session, offset: int, limit: int) -> tuple[list[Project], int]:
    total = session.scalar(select(func.count()).select_from(ChainCreditProject)) or 0
    rows = session.scalars(select(ChainCreditProject).order_by(ChainCreditProject.registered_block,
                                                               ChainCreditProject.project_id)
                           .offset(offset).limit(limit)).all()
    return [Project(hex32(r.project_id), r.owner, r.status, None, hex32(r.document_hash), r.methodology,
                    r.location) for r in rows], int(total)


def batches(session: Session, offset: int, limit: int, project_id: bytes | None = None) -> tuple[list[Batch], int]:
    """Issued batches from the index (what was issued, not what became of the units)."""
    q = select(ChainCreditBatch)
    if project_id is not None:
        q = q.where(ChainCreditBatch.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(ChainCreditBatch.batch_id).offset(offset).limit(limit))
    return [Batch(r.batch_id, hex32(r.project_id), r.vintage, r.period_start, r.period_end, hex32(r.statement_hash),
                  r.amount, r.serial_start, r.serial_end) for r in rows], int(total)


def holdings(session: Session, registry_address: str, holders: list[str]) -> dict[str, list[Holding]]:
    """Each holder's non-zero credit balances, by batch, from the index."""
    rows = session.execute(
        select(ChainBalance.holder, ChainBalance.token_id, ChainBalance.amount, ChainCreditBatch.project_id,
               ChainCreditBatch.vintage, ChainCreditBatch.serial_start, ChainCreditBatch.serial_end)
        .outerjoin(ChainCreditBatch, ChainCreditBatch.batch_id == ChainBalance.token_id)
        .where(ChainBalance.token == REGISTRY, ChainBalance.holder.in_(holders), ChainBalance.amount != 0)
        .order_by(ChainBalance.holder, ChainBalance.token_id)).all()
    out: dict[str, list[Holding]] = {h: [] for h in holders}
    for holder, batch_id, amount, project_id, vintage, start, end in rows:
        out[holder].append(Holding(int(batch_id), int(amount), hex32(project_id) if project_id else None,
                                   vintage, start, end))
    return out


def certificate(session: Session, retirement_id: int, registry: str, chain_id: int) -> Certificate | None:
    """The certificate of a retirement, from the index; None if it is not indexed."""
    r = session.scalars(select(ChainCreditRetirement).where(
        ChainCreditRetirement.retirement_id == retirement_id)).one_or_none()
    if r is None:
        return None
    p = session.get(ChainCreditProject, r.project_id)
    return Certificate(
        retirement_id=r.retirement_id, batch_id=r.batch_id, holder=r.holder, project_id=hex32(r.project_id),
        methodology=p.methodology if p else "", location=p.location if p else "", vintage=r.vintage,
        amount=r.amount, serial_start=r.serial_start, serial_end=r.serial_end, beneficiary=r.beneficiary,
        purpose=r.purpose, jurisdiction=r.jurisdiction, consumption_start=r.consumption_start,
        consumption_end=r.consumption_end, tx_hash=r.tx_hash, block_number=r.block_number,
        block_time=utc(r.block_time), pending=r.pending, registry=registry, chain_id=chain_id)


RETIREMENT_TYPES = ["uint256", "address", "uint256", "uint256", "uint256", "string", "string", "string", "uint64",
                    "uint64"]


def retirement_hash(cert: Certificate) -> bytes:
    """`CreditRegistry.retirementHash` of what the certificate states: keccak256 of the ABI-encoded record."""
    record = (cert.batch_id, cert.holder, cert.amount, cert.serial_start, cert.serial_end, cert.beneficiary,
              cert.purpose, cert.jurisdiction, cert.consumption_start, cert.consumption_end)
    return keccak(encode([f"({','.join(RETIREMENT_TYPES)})"], [record]))


def certificate_matches_chain(chain: ChainClient, suite: Suite, cert: Certificate) -> bool:
    """Whether the registry's commitment to retirement `id` is the hash of what the certificate states."""
    commitment = suite.view(chain, REGISTRY, "retirement", cert.retirement_id)
    return bytes(commitment) == retirement_hash(cert)

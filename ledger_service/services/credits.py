"""Offset credit use cases: projects, verification statements, issuance, transfers, retirements with their
certificates, cancellations, compliance surrenders, and the views of batches, holdings and certificates.

The chain checks roles and states again when mined; what is checked here first is what the chain would
otherwise refuse only after a nonce is spent (a receiver that cannot transact, a balance too small) and who
may see a holder's data (the holder, its organisation and regulators)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.chain.suite import Suite
from ledger_core.db.models import ChainCreditRetirement
from ledger_service import credits
from ledger_service.credits import Batch, Certificate, Holding, Project
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.certificate_page import render_certificate
from ledger_service.services.errors import not_found
from ledger_service.services.holders import TokenTransfers, require_sees_holder
from ledger_service.services.outcomes import Sent, mined
from ledger_service.services.sending import Sender
from ledger_service.services.visibility import IndexedViews


@dataclass(frozen=True)
class Retirement:
    """What a retirement states: the beneficiary and purpose, where and for which consumption period."""

    batch_id: int
    amount: int
    beneficiary: str
    purpose: str
    jurisdiction: str
    consumption_start: int = 0
    consumption_end: int = 0


@dataclass(frozen=True)
class CertificatePage:
    certificate: Certificate
    matches_chain: bool  # the registry's own record states what the certificate states
    html: str


def project_key(project_id: str) -> bytes:
    """A project id as the API gives it (0x-hex, 32 bytes)."""
    return bytes.fromhex(project_id[2:])


@dataclass(frozen=True)
class CreditService:
    chain: ChainClient
    suite: Suite
    directory: Directory
    sender: Sender
    views: IndexedViews

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.views.sessions

    # -------------------------------------------------------------- projects

    def register_project(self, caller: Caller, code: str, owner: str, methodology: str, document: str,
                         location: str, wait: bool = True) -> Sent[Project]:
        """Register a project (regulator): its id is `code`'s hash (or `code` itself as 0x-hex 32 bytes)."""
        project_id = credits.hash_of(code)
        record = self.sender.send_one(caller, credits.register_intent(
            caller.address, project_id, to_checksum_address(owner), methodology, credits.hash_of(document), location),
            wait=wait)
        return Sent((record,), self.project(project_id) if mined(record) else None)

    def suspend_project(self, caller: Caller, project_id: bytes, reason: str, wait: bool = True) -> Sent[Project]:
        return self._project_change(caller, project_id, "suspendProject", wait, credits.hash_of(reason))

    def reinstate_project(self, caller: Caller, project_id: bytes, wait: bool = True) -> Sent[Project]:
        return self._project_change(caller, project_id, "reinstateProject", wait)

    def _project_change(self, caller: Caller, project_id: bytes, function: str, wait: bool,
                        *args: bytes) -> Sent[Project]:
        record = self.sender.send_one(caller, credits.call(caller.address, function, project_id, *args), wait=wait)
        return Sent((record,), self.project(project_id) if mined(record) else None)

    def project(self, project_id: bytes) -> Project:
        """A project as the chain holds it; raises the contract's UnknownProject."""
        return credits.project(self.chain, self.suite, project_id)

    def projects(self, offset: int, limit: int) -> tuple[list[Project], int]:
        self.views.fresh()
        with self.sessions() as session:
            return credits.projects(session, offset, limit)

    def submit_verification(self, caller: Caller, project_id: bytes, period_start: int, period_end: int,
                            verified_tonnes: int, statement: str, wait: bool = True) -> Sent[None]:
        """A verifier's statement for a monitoring period: what a batch for that period may issue."""
        record = self.sender.send_one(caller, credits.call(
            caller.address, "submitVerification", project_id, period_start, period_end, verified_tonnes,
            credits.hash_of(statement)), wait=wait)
        return Sent((record,))

    # -------------------------------------------------------------- batches

    def issue_batch(self, caller: Caller, project_id: bytes, period_start: int, period_end: int, vintage: int,
                    amount: int, serial_start: int | None = None, wait: bool = True) -> Sent[Batch]:
        """Issue one batch for a verified period (regulator), its serials right after the last issued unless
        given; the batch as the chain holds it once mined."""
        first = serial_start or credits.next_serial(self.chain, self.suite)
        record = self.sender.send_one(caller, credits.issue_intent(
            caller.address, project_id, period_start, period_end, vintage, amount, first), wait=wait)
        if not mined(record):
            return Sent((record,))
        (batch_id,) = credits.issued_ids(self.chain, self.suite, str(record.tx_hash))
        return Sent((record,), self.batch(batch_id))

    def batch(self, batch_id: int) -> Batch:
        """A batch with what became of its units; raises the contract's UnknownBatch."""
        return credits.batch(self.chain, self.suite, batch_id)

    def batches(self, offset: int, limit: int, project_id: bytes | None = None) -> tuple[list[Batch], int]:
        self.views.fresh()
        with self.sessions() as session:
            return credits.batches(session, offset, limit, project_id)

    # -------------------------------------------------------------- holders

    def holdings(self, caller: Caller, address: str) -> tuple[str, list[Holding]]:
        """A holder's credits by batch (the holder, its organisation and regulators)."""
        self.views.fresh()
        holder = require_sees_holder(self.directory, caller, address, "credit holdings")
        with self.sessions() as session:
            return holder, credits.holdings(session, credits.REGISTRY, [holder])[holder]

    def transfer(self, caller: Caller, to: str, batch_id: int, amount: int, wait: bool = True) -> Sent[None]:
        """Move credits to another member (see `TokenTransfers.transfer`)."""
        return self._transfers.transfer(caller, to, batch_id, amount, wait)

    async def transfer_async(self, caller: Caller, to: str, batch_id: int, amount: int,
                             wait: bool = True) -> Sent[None]:
        """`transfer` for a request served on the event loop."""
        return await self._transfers.transfer_async(caller, to, batch_id, amount, wait)

    @property
    def _transfers(self) -> TokenTransfers:
        return TokenTransfers(self.sender, self.directory, self.chain, self.suite, credits.call, credits.balance)

    # -------------------------------------------------------------- retirements

    def retire(self, caller: Caller, retirement: Retirement, wait: bool = True) -> Sent[Certificate]:
        """Retire credits for a beneficiary; its certificate (from the index) once mined."""
        r = retirement
        record = self.sender.send_one(caller, credits.retire_intent(
            caller.address, r.batch_id, r.amount, r.beneficiary, r.purpose, r.jurisdiction, r.consumption_start,
            r.consumption_end), wait=wait)
        if not mined(record):
            return Sent((record,))
        self.views.fresh()
        (retirement_id,) = credits.retired_ids(self.chain, self.suite, str(record.tx_hash))
        return Sent((record,), self._certificate(retirement_id))

    def _certificate(self, retirement_id: int) -> Certificate:
        with self.sessions() as session:
            cert = credits.certificate(session, retirement_id, self.suite.deployment.addresses[credits.REGISTRY],
                                       self.chain.chain_id)
        if cert is None:
            raise not_found(f"retirement {retirement_id} does not exist", "UnknownRetirement",
                            retirementId=retirement_id)
        return cert

    def retirements(self, caller: Caller, holders: Sequence[str]) -> list[Certificate]:
        """The retirement certificates of these holders, oldest first (each holder as `holdings` sees it)."""
        self.views.fresh()
        seen = [require_sees_holder(self.directory, caller, h, "credit holdings") for h in holders]
        with self.sessions() as session:
            ids = session.scalars(select(ChainCreditRetirement.retirement_id).where(
                ChainCreditRetirement.holder.in_(seen)).order_by(ChainCreditRetirement.retirement_id)).all()
        return [self._certificate(int(i)) for i in ids]

    def certificate(self, caller: Caller, retirement_id: int) -> Certificate:
        """A retirement certificate: visible to the retiring holder's organisation and to regulators."""
        self.views.fresh()
        cert = self._certificate(retirement_id)
        require_sees_holder(self.directory, caller, cert.holder, "credit holdings")
        return cert

    def certificate_page(self, caller: Caller, retirement_id: int) -> CertificatePage:
        """The certificate as a printable page, saying whether the registry's record matches it."""
        cert = self.certificate(caller, retirement_id)
        matches = credits.certificate_matches_chain(self.chain, self.suite, cert)
        return CertificatePage(cert, matches, render_certificate(cert, matches))

    # -------------------------------------------------------------- cancellations and surrenders

    def cancel(self, caller: Caller, holder: str, batch_id: int, amount: int, reason: str,
               wait: bool = True) -> Sent[None]:
        """Cancel a holder's invalidated units (regulator)."""
        record = self.sender.send_one(caller, credits.call(caller.address, "cancelCredits", to_checksum_address(holder),
                                                           batch_id, amount, credits.hash_of(reason)), wait=wait)
        return Sent((record,))

    def surrender(self, caller: Caller, batch_id: int, amount: int, compliance_year: int,
                  wait: bool = True) -> Sent[None]:
        """Surrender credits towards the caller's organisation's obligation, within the offset cap (the chain
        refuses beyond it with CreditCapExceeded, naming the cap left)."""
        record = self.sender.send_one(caller, credits.call(caller.address, "surrender", batch_id, amount,
                                                           compliance_year), wait=wait)
        return Sent((record,))

"""Allowance and compliance use cases: allocation, balances, transfers (single and batch), surrender, compliance
status of an enterprise and of a park, and the yearly compliance windows.

Transfers are checked before anything is written or signed (`ledger_service.allowances.check_transfers`);
balances are shown to the holder, its organisation and regulators; compliance status by the rule table of
`ledger_service.audit.access`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.chain.outbox import Intent, TxRecord
from ledger_core.chain.suite import Suite
from ledger_core.config import Settings
from ledger_core.db.models.outbox import OutboxStatus
from ledger_service import allowances
from ledger_service.allowances import ComplianceStatus, Transfer
from ledger_service.audit.access import park_rows
from ledger_service.membership import Directory, OrgKind
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, forbidden, not_found
from ledger_service.services.holders import require_sees_holder
from ledger_service.services.outcomes import Sent
from ledger_service.services.sending import Sender
from ledger_service.services.visibility import IndexedViews


@dataclass(frozen=True)
class BatchSent:
    """A batch of transfers: each its own transaction, counted by what became of it."""

    records: list[TxRecord]

    @property
    def mined(self) -> int:
        return sum(r.status == OutboxStatus.MINED for r in self.records)

    @property
    def failed(self) -> int:
        return sum(r.status in (OutboxStatus.FAILED, OutboxStatus.REJECTED) for r in self.records)

    @property
    def pending(self) -> int:
        return len(self.records) - self.mined - self.failed


@dataclass(frozen=True)
class ParkStatus:
    park: ComplianceStatus  # the park's total (every enterprise's)
    enterprises: list[ComplianceStatus]  # the rows the caller sees


@dataclass(frozen=True)
class AllowanceService:
    chain: ChainClient
    suite: Suite
    directory: Directory
    sender: Sender
    views: IndexedViews
    settings: Settings

    def allocate(self, caller: Caller, year: int, grants: Sequence[tuple[str, int]], wait: bool = True) -> Sent[None]:
        """Allocate a vintage to holders (regulator), in one transaction."""
        holders = [to_checksum_address(holder) for holder, _ in grants]
        record = self.sender.send_one(caller, Intent(allowances.REGISTRY, "allocate",
                                                     (year, holders, [amount for _, amount in grants]),
                                                     caller.address, requested_by=caller.address), wait=wait)
        return Sent((record,))

    def balances(self, caller: Caller, address: str, years: Sequence[int]) -> tuple[str, dict[int, int]]:
        """A holder's allowances by vintage (the holder, its organisation and regulators)."""
        holder = require_sees_holder(self.directory, caller, address, "balances")
        return holder, allowances.balances(self.chain, self.suite, holder, years)

    def transfer(self, caller: Caller, to: str, year: int, amount: int, wait: bool = True) -> Sent[None]:
        """Move allowances of a vintage to another member, checked first with the contract's own errors."""
        self.sender.require_custodial(caller)
        transfers = [Transfer(to_checksum_address(to), year, amount)]
        (record,) = self.sender.send_checked(
            caller, allowances.transfer_intents(caller.address, transfers, caller.address),
            lambda: allowances.check_transfers(self.chain, self.suite, self.directory, caller.address, transfers),
            wait=wait)
        return Sent((record,))

    async def transfer_async(self, caller: Caller, to: str, year: int, amount: int, wait: bool = True) -> Sent[None]:
        """`transfer` for a request served on the event loop (see `Sender.send_async`)."""
        transfers = [Transfer(to_checksum_address(to), year, amount)]
        (record,) = await self.sender.send_async(
            caller, allowances.transfer_intents(caller.address, transfers, caller.address),
            lambda: allowances.check_transfers(self.chain, self.suite, self.directory, caller.address, transfers),
            wait=wait)
        return Sent((record,))

    def transfer_batch(self, caller: Caller, transfers: Sequence[Transfer], wait: bool = True) -> BatchSent:
        """Many transfers from the caller: checked together, written, signed and sent as one batch; a refused
        one does not stop the others."""
        largest = self.settings.batch_max
        if len(transfers) > largest:
            raise Refusal(422, "BatchTooLarge", f"at most {largest} transfers per batch", {"max": largest})
        self.sender.require_custodial(caller)
        receivers = {t.to: to_checksum_address(t.to) for t in transfers}  # a batch often repeats receivers
        checked = [Transfer(receivers[t.to], t.year, t.amount) for t in transfers]
        allowances.check_transfers(self.chain, self.suite, self.directory, caller.address, checked)
        return BatchSent(self.sender.send(caller, allowances.transfer_intents(caller.address, checked, caller.address),
                                          wait=wait, batch=True, refuse=False))

    def surrender(self, caller: Caller, compliance_year: int, vintages: Sequence[tuple[int, int]],
                  wait: bool = True) -> Sent[None]:
        """Surrender allowances of these vintages (year, amount) for a compliance year (earlier vintages count
        for later years only: the chain refuses otherwise)."""
        record = self.sender.send_one(caller, Intent(allowances.REGISTRY, "surrender",
                                                     (compliance_year, [y for y, _ in vintages],
                                                      [a for _, a in vintages]),
                                                     caller.address, requested_by=caller.address), wait=wait)
        return Sent((record,))

    # -------------------------------------------------------------- compliance

    def enterprise_status(self, caller: Caller, org_id: int, year: int) -> ComplianceStatus:
        require_sees_enterprise(self.directory, self.views, caller, org_id)
        return allowances.compliance_status(self.chain, self.suite, org_id, year)

    def park_status(self, caller: Caller, park_id: int, year: int) -> ParkStatus:
        """The park's total and the enterprises' rows the caller sees."""
        sees = self.views.park_viewer(caller, self.directory, park_id, "a park's compliance is visible to its members, "
                                      "the verifiers of its enterprises and regulators")
        total, each = allowances.park_status(self.chain, self.suite, self.directory, park_id, year)
        return ParkStatus(total, park_rows(sees, park_id, each, lambda s: s.org_id))

    def window_open(self, year: int) -> bool:
        return allowances.window_open(self.chain, self.suite, year)

    def set_window(self, caller: Caller, year: int, open_: bool, wait: bool = True) -> Sent[bool]:
        """Open or close a year's compliance window (regulator); the window as the chain holds it after."""
        record = self.sender.send_one(caller, allowances.window_intent(caller.address, year, open_), wait=wait)
        return Sent((record,), self.window_open(year))


def require_sees_enterprise(directory: Directory, views: IndexedViews, caller: Caller, org_id: int) -> None:
    """The rule of an enterprise's compliance figures: 404 for no such enterprise, 403 unless the caller is the
    enterprise, an administrator of its park, a verifier of its reports or a regulator."""
    org = directory.organisation(org_id)
    if org is None or org.kind != OrgKind.ENTERPRISE:
        raise not_found(f"organisation {org_id} is not a registered enterprise", "UnknownOrganisation", orgId=org_id)
    if not views.viewer(caller).can_see(org_id, org.parent_id):
        raise forbidden("compliance status is visible to the enterprise, its park's administrators, the "
                        "verifiers of its reports and regulators", "NotYourData", orgId=org_id)

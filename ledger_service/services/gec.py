"""Green electricity certificate use cases: issuance from anchored production, transfers, consumption claims,
Scope 2 both ways with the regulator's rule, and a batch traced from its production anchors to its claims.

The chain checks roles and states again when mined; what is checked here first (`RULES`, then the states) is
what the chain would otherwise refuse only after a nonce is spent: an anchor already certified, of another
enterprise or outside the production period, more certificates than the anchors hold, a receiver that cannot
transact, a balance too small, a frozen or non-enterprise consumer; and who may see an organisation's data
(`ledger_service.audit.access`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.suite import Suite
from ledger_service import gec
from ledger_service.audit.access import AccessDenied, asset_trace_for, member_orgs, park_of
from ledger_service.audit.asset_trace import trace_asset
from ledger_service.audit.results import AssetTrace
from ledger_service.gec import Batch, Consumption, Holding, OriginAnchor, Production, Scope2
from ledger_service.membership import Directory
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal, forbidden, not_found
from ledger_service.services.holders import TokenTransfers, require_holds, require_sees_holder
from ledger_service.services.outcomes import Sent, mined
from ledger_service.services.sending import Sender
from ledger_service.services.visibility import IndexedViews

# What the service checks before sending, by use case (the contract checks the same again).
RULES: dict[str, tuple[str, ...]] = {
    "issue": ("REGULATOR",),
    "set_scope2_rule": ("REGULATOR",),
    "transfer": ("ENTERPRISE", "TRADER"),
    "consume": ("ENTERPRISE",),
}


@dataclass(frozen=True)
class BatchTrace:
    """A batch from the generator's anchored production to its consumption claims: the anchors it cites (with
    the readings stored for each), the batch, every movement (issuance, transfers, listings, trades,
    consumptions) and the holders the caller sees, and every claim made on it."""

    batch: Batch
    origin: list[OriginAnchor]
    origin_wh: int
    trace: AssetTrace
    consumptions: list[Consumption]


@dataclass(frozen=True)
class GecService:
    chain: ChainClient
    suite: Suite
    directory: Directory
    sender: Sender
    views: IndexedViews
    production_abi: list[dict[str, Any]]

    def _require_role(self, caller: Caller, use_case: str) -> None:
        roles = RULES[use_case]
        if not any(caller.member.has_role(r) for r in roles):
            raise forbidden(f"{use_case} needs the role {' or '.join(roles)}", "MissingRole",
                            account=caller.address, roles=list(roles))

    # -------------------------------------------------------------- issuance

    def production(self, anchor_ids: list[int]) -> list[Production]:
        """Production anchors as the contract reads them, and whether each already backs a batch."""
        return gec.production(self.chain, self.suite, self.production_abi, anchor_ids)

    def issue(self, caller: Caller, generator: str, period_start: int, period_end: int, anchor_ids: list[int],
              amount: int | None = None, serial_start: int | None = None, wait: bool = True) -> Sent[Batch]:
        """Issue a batch to a generator from its production anchors (regulator): `amount` defaults to every
        whole MWh the anchors hold, serials right after the last issued unless given."""
        self._require_role(caller, "issue")
        holder = to_checksum_address(generator)
        org = self.directory.member(holder).org_id
        cited = self.production(anchor_ids)
        for p in cited:
            if p.certified:
                raise ContractRevert("AnchorAlreadyCertified", {"anchorId": p.anchor_id})
            if p.enterprise_org_id != org:
                raise ContractRevert("AnchorOfAnotherEnterprise", {"anchorId": p.anchor_id,
                                                                   "anchorOrgId": p.enterprise_org_id,
                                                                   "generatorOrgId": org})
            if p.window_start < period_start or p.window_end > period_end:
                raise ContractRevert("AnchorOutsidePeriod", {"anchorId": p.anchor_id, "windowStart": p.window_start,
                                                             "windowEnd": p.window_end})
        anchored = sum(p.wh for p in cited)
        amount = anchored // gec.WH_PER_CERTIFICATE if amount is None else amount
        if amount * gec.WH_PER_CERTIFICATE > anchored:
            raise ContractRevert("ExceedsAnchoredProduction", {"amount": amount, "anchoredWh": anchored})
        if amount == 0:
            raise Refusal(422, "NothingToCertify", f"the anchors hold {anchored} Wh: less than one MWh",
                          {"anchoredWh": anchored})
        first = serial_start or gec.next_serial(self.chain, self.suite)
        record = self.sender.send_one(caller, gec.issue_intent(
            caller.address, holder, period_start, period_end, anchor_ids, amount, first), wait=wait)
        if not mined(record):
            return Sent((record,))
        (batch_id,) = gec.issued_ids(self.chain, self.suite, str(record.tx_hash))
        return Sent((record,), self.batch(batch_id))

    def batch(self, batch_id: int) -> Batch:
        """A batch as issued (index) with what is left of it (chain); raises the contract's UnknownBatch."""
        _org, _first, _last, next_serial, supply = gec.chain_state(self.chain, self.suite, batch_id)
        self.views.fresh()
        with self.views.sessions() as session:
            issued = gec.indexed_batch(session, batch_id)
        if issued is None:  # mined but not indexed: cannot happen after `fresh`, but say so rather than guess
            raise not_found(f"GEC batch {batch_id} is not indexed yet", "UnknownBatch", batchId=batch_id)
        return replace(issued, next_serial=next_serial, supply=supply)

    def batches(self, offset: int, limit: int, generator_org_id: int | None = None) -> tuple[list[Batch], int]:
        self.views.fresh()
        with self.views.sessions() as session:
            return gec.batches(session, offset, limit, generator_org_id)

    # -------------------------------------------------------------- holders

    def holdings(self, caller: Caller, address: str) -> tuple[str, list[Holding]]:
        """A holder's certificates by batch (the holder, its organisation and regulators)."""
        holder = require_sees_holder(self.directory, caller, address, "certificate holdings")
        self.views.fresh()
        with self.views.sessions() as session:
            return holder, gec.holdings(session, holder)

    def transfer(self, caller: Caller, to: str, batch_id: int, amount: int, wait: bool = True) -> Sent[None]:
        """Move certificates to another member (see `TokenTransfers.transfer`)."""
        self._require_role(caller, "transfer")
        return self._transfers.transfer(caller, to, batch_id, amount, wait)

    async def transfer_async(self, caller: Caller, to: str, batch_id: int, amount: int,
                             wait: bool = True) -> Sent[None]:
        """`transfer` for a request served on the event loop."""
        self._require_role(caller, "transfer")
        return await self._transfers.transfer_async(caller, to, batch_id, amount, wait)

    @property
    def _transfers(self) -> TokenTransfers:
        return TokenTransfers(self.sender, self.directory, self.chain, self.suite, gec.call, gec.balance)

    # -------------------------------------------------------------- consumption

    def consume(self, caller: Caller, batch_id: int, amount: int, consumption_start: int, consumption_end: int,
                wait: bool = True) -> Sent[Consumption]:
        """Consume certificates for the caller's organisation's electricity in `[start, end)`; the claim (from
        the index) once mined."""
        self._require_role(caller, "consume")
        if not caller.member.can_transact:
            raise ContractRevert("AccountCannotTransact", {"account": caller.address})
        require_holds(gec.balance(self.chain, self.suite, caller.address, batch_id), caller, batch_id, amount)
        record = self.sender.send_one(caller, gec.call(caller.address, "consume", batch_id, amount,
                                                       consumption_start, consumption_end), wait=wait)
        if not mined(record):
            return Sent((record,))
        self.views.fresh()
        with self.views.sessions() as session:
            claim = next(c for c in gec.consumptions_of_batch(session, batch_id) if c.at.tx_hash == record.tx_hash)
        return Sent((record,), claim)

    # -------------------------------------------------------------- Scope 2

    def scope2_rule(self) -> bool:
        """Whether market-based Scope 2 counts for compliance (the regulator's on-chain rule)."""
        return gec.market_based_counts(self.chain, self.suite)

    def set_scope2_rule(self, caller: Caller, market_based_counts: bool, wait: bool = True) -> Sent[bool]:
        self._require_role(caller, "set_scope2_rule")
        record = self.sender.send_one(caller, gec.call(caller.address, "setMarketBasedScope2Counts",
                                                       market_based_counts), wait=wait)
        return Sent((record,), self.scope2_rule() if mined(record) else None)

    def scope2(self, caller: Caller, org_id: int, start: int, end: int) -> Scope2:
        """An enterprise's Scope 2 for `[start, end)`, location-based and market-based, with the certificates
        consumed for it; seen by whoever sees the enterprise's emissions (README: What each role sees)."""
        if end <= start:
            raise Refusal(422, "ValidationError", "end must be after start", {"start": start, "end": end})
        counts = self.scope2_rule()
        sees = self.views.viewer(caller)
        with self.views.sessions() as session:
            try:
                sees.require(org_id, park_of(session, org_id))
            except AccessDenied as exc:
                raise forbidden(str(exc), "NotYourData", orgId=org_id) from None
            return gec.scope2(session, org_id, start, end, counts)

    # -------------------------------------------------------------- trace

    def trace(self, caller: Caller, batch_id: int) -> BatchTrace:
        """A batch from its production anchors to its consumption claims. Open to whoever sees the generator's
        emissions data (its anchors and readings); the movements and holders shown are those the caller sees
        (holdings and trades rule), the claims all of them (a claim is made to be relied on by others)."""
        batch = self.batch(batch_id)
        sees = self.views.viewer(caller)
        with self.views.sessions() as session:
            try:
                sees.require(batch.generator_org_id, park_of(session, batch.generator_org_id))
            except AccessDenied as exc:
                raise forbidden(str(exc), "NotYourData", batchId=batch_id) from None
            anchors = gec.origin(session, batch_id)
            trace = trace_asset(session, gec.CONTRACT, batch_id)
            if not sees.regulator:
                trace = asset_trace_for(sees, trace, member_orgs(session))
            claims = gec.consumptions_of_batch(session, batch_id)
        return BatchTrace(batch, anchors, sum(a.wh or 0 for a in anchors), trace, claims)

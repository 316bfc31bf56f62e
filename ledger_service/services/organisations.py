"""Organisation use cases: registration (the caller is a regulator), look-up, hierarchy and members."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger_core.chain.outbox import Intent, TxRecord
from ledger_service.membership import Directory, MemberView, OrgKind, OrgView
from ledger_service.services.caller import Caller
from ledger_service.services.errors import not_found
from ledger_service.services.listing import Listed
from ledger_service.services.sending import Sender


@dataclass(frozen=True)
class Registered:
    organisation: OrgView
    record: TxRecord


@dataclass(frozen=True)
class OrgNode:
    organisation: OrgView
    children: list[OrgNode] = field(default_factory=list)


@dataclass(frozen=True)
class Hierarchy:
    organisation: OrgView
    ancestors: list[OrgView]  # parent first, up to the top-level organisation
    descendants: list[OrgNode]


@dataclass(frozen=True)
class OrganisationService:
    directory: Directory
    sender: Sender

    def organisation(self, org_id: int) -> OrgView:
        org = self.directory.organisation(org_id)
        if org is None:
            raise not_found(f"organisation {org_id} is not registered", "UnknownOrganisation", orgId=org_id)
        return org

    def top_level(self) -> list[OrgView]:
        """The organisations with no parent (parks, verification bodies, trading firms...), by id."""
        return self.directory.children(0)

    def register(self, caller: Caller, org_id: int, parent_id: int, kind: OrgKind, name: str) -> Registered:
        record = self.sender.send_one(caller, Intent("Membership", "registerOrganisation",
                                                     (org_id, parent_id, int(kind), name), caller.address,
                                                     requested_by=caller.address))
        return Registered(self.organisation(org_id), record)

    def _tree(self, org: OrgView, depth: int) -> OrgNode:
        children = self.directory.children(org.org_id) if depth > 0 else []
        return OrgNode(org, [self._tree(c, depth - 1) for c in children])

    def hierarchy(self, org_id: int, depth: int) -> Hierarchy:
        """The organisation, its ancestors and its descendants `depth` levels down."""
        org = self.organisation(org_id)
        return Hierarchy(org, self.directory.ancestors(org_id), self._tree(org, depth).children)

    def members(self, org_id: int, offset: int, limit: int) -> Listed[MemberView]:
        """The members admitted to the organisation, in the order of admission."""
        self.organisation(org_id)
        every = self.directory.member_addresses(org_id)
        chosen = Listed.slice(every, offset, limit)
        return Listed([self.directory.member(a) for a in chosen.items], chosen.total, offset, limit)

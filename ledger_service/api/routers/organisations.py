"""Organisations: registration (regulator), look-up, hierarchy and members (any member)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from ledger_service.api.deps import AnyMember, PageDep, Regulator, RuntimeDep
from ledger_service.api.errors import not_found
from ledger_service.api.schemas import MemberOut, OrgOut, PageInfo, TxOut
from ledger_service.api.sending import send
from ledger_service.api.types import Int64, OrgId, OrgIdField
from ledger_service.chain.outbox import Intent
from ledger_service.membership import OrgKind, OrgView
from ledger_service.runtime import Runtime

router = APIRouter(prefix="/organisations", tags=["organisations"])
KINDS = [k.name.lower() for k in OrgKind]


class OrgIn(BaseModel):
    org_id: OrgIdField
    parent_id: Int64 = Field(default=0, description="0 for a top-level organisation")
    kind: str = Field(description=f"one of {', '.join(KINDS)}", pattern="^(" + "|".join(KINDS) + ")$")
    name: str = Field(min_length=1, max_length=200)


class OrgCreated(BaseModel):
    organisation: OrgOut
    transaction: TxOut


class OrgNode(BaseModel):
    organisation: OrgOut
    children: list[OrgNode] = Field(default_factory=list)


class Hierarchy(BaseModel):
    organisation: OrgOut
    ancestors: list[OrgOut] = Field(description="parent first, up to the top-level organisation")
    descendants: list[OrgNode]


class MemberPage(BaseModel):
    items: list[MemberOut]
    page: PageInfo


def _org(runtime: Runtime, org_id: int) -> OrgView:
    org = runtime.directory.organisation(org_id)
    if org is None:
        raise not_found(f"organisation {org_id} is not registered", "UnknownOrganisation", orgId=org_id)
    return org


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrgCreated)
def register_organisation(body: OrgIn, caller: Regulator, runtime: RuntimeDep) -> OrgCreated:
    kind = OrgKind[body.kind.upper()]
    (record,) = send(runtime, caller, [Intent("Membership", "registerOrganisation",
                                              (body.org_id, body.parent_id, int(kind), body.name), caller.address,
                                              requested_by=caller.address)])
    return OrgCreated(organisation=OrgOut.of(_org(runtime, body.org_id)), transaction=TxOut.of(record))


@router.get("/{org_id}", response_model=OrgOut)
def get_organisation(org_id: OrgId, caller: AnyMember, runtime: RuntimeDep) -> OrgOut:
    return OrgOut.of(_org(runtime, org_id))


def _tree(runtime: Runtime, org: OrgView, depth: int) -> OrgNode:
    children = runtime.directory.children(org.org_id) if depth > 0 else []
    return OrgNode(organisation=OrgOut.of(org), children=[_tree(runtime, c, depth - 1) for c in children])


@router.get("/{org_id}/hierarchy", response_model=Hierarchy)
def get_hierarchy(org_id: OrgId, caller: AnyMember, runtime: RuntimeDep,
                  depth: Annotated[int, Query(ge=0, le=5)] = 3) -> Hierarchy:
    org = _org(runtime, org_id)
    tree = _tree(runtime, org, depth)
    return Hierarchy(organisation=OrgOut.of(org), ancestors=[OrgOut.of(a) for a in runtime.directory.ancestors(org_id)],
                     descendants=tree.children)


@router.get("/{org_id}/members", response_model=MemberPage)
def list_members(org_id: OrgId, caller: AnyMember, runtime: RuntimeDep, page: PageDep) -> MemberPage:
    _org(runtime, org_id)
    addresses = runtime.directory.member_addresses(org_id)
    chosen = addresses[page.offset:page.offset + page.limit]
    return MemberPage(items=[MemberOut.of(runtime.directory.member(a)) for a in chosen],
                      page=PageInfo(offset=page.offset, limit=page.limit, total=len(addresses)))

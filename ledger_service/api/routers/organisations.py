"""Organisations: registration (regulator), look-up, hierarchy and members (any member)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from ledger_service.api import API_PREFIX
from ledger_service.api.deps import AnyMember, PageDep, Regulator, ServicesDep
from ledger_service.api.schemas import MemberOut, OrgOut, PageInfo, TxOut
from ledger_service.api.types import Int64, OrgId, OrgIdField
from ledger_service.membership import OrgKind
from ledger_service.services import organisations

router = APIRouter(prefix=f"{API_PREFIX}/organisations", tags=["organisations"])
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


def _node(node: organisations.OrgNode) -> OrgNode:
    return OrgNode(organisation=OrgOut.model_validate(node.organisation), children=[_node(c) for c in node.children])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrgCreated)
def register_organisation(body: OrgIn, caller: Regulator, services: ServicesDep) -> OrgCreated:
    done = services.organisations.register(caller, body.org_id, body.parent_id, OrgKind[body.kind.upper()], body.name)
    return OrgCreated(organisation=OrgOut.model_validate(done.organisation),
                      transaction=TxOut.model_validate(done.record))


@router.get("/{org_id}", response_model=OrgOut)
def get_organisation(org_id: OrgId, caller: AnyMember, services: ServicesDep) -> OrgOut:
    return OrgOut.model_validate(services.organisations.organisation(org_id))


@router.get("/{org_id}/hierarchy", response_model=Hierarchy)
def get_hierarchy(org_id: OrgId, caller: AnyMember, services: ServicesDep,
                  depth: Annotated[int, Query(ge=0, le=5)] = 3) -> Hierarchy:
    found = services.organisations.hierarchy(org_id, depth)
    return Hierarchy(organisation=OrgOut.model_validate(found.organisation),
                     ancestors=[OrgOut.model_validate(a) for a in found.ancestors],
                     descendants=[_node(n) for n in found.descendants])


@router.get("/{org_id}/members", response_model=MemberPage)
def list_members(org_id: OrgId, caller: AnyMember, services: ServicesDep, page: PageDep) -> MemberPage:
    found = services.organisations.members(org_id, page.offset, page.limit)
    return MemberPage(items=[MemberOut.model_validate(m) for m in found.items],
                      page=PageInfo(offset=found.offset, limit=found.limit, total=found.total))

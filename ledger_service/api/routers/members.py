"""Members: admission and the regulator's sanctions (suspend, reinstate, revoke, freeze, unfreeze); look-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field, model_validator

from ledger_service.api import API_PREFIX
from ledger_service.api.deps import AnyMember, Regulator, ServicesDep
from ledger_service.api.schemas import MemberOut, TxOut
from ledger_service.api.types import OrgIdField
from ledger_service.membership import ROLE_IDS, ROLE_NAMES
from ledger_service.services import members

router = APIRouter(prefix=f"{API_PREFIX}/members", tags=["members"])
ADDRESS_PATTERN = "^0x[0-9a-fA-F]{40}$"
Address = Annotated[str, Path(pattern=ADDRESS_PATTERN)]


class AdmitIn(BaseModel):
    org_id: OrgIdField
    roles: list[str] = Field(min_length=1, description=f"any of {', '.join(ROLE_NAMES)}")
    address: str | None = Field(default=None, pattern=ADDRESS_PATTERN,
                                description="the member's own address (non-custodial); omit with custodial=true")
    custodial: bool = Field(default=False, description="the service creates and keeps the member's key")

    @model_validator(mode="after")
    def _one_source(self) -> AdmitIn:
        if self.custodial == (self.address is not None):
            raise ValueError("give either an address or custodial=true")
        unknown = [r for r in self.roles if r not in ROLE_IDS]
        if unknown:
            raise ValueError(f"unknown roles: {unknown}")
        return self


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="the decision; its keccak256 goes on chain")


class MemberChange(BaseModel):
    member: MemberOut
    transaction: TxOut


def _changed(change: members.MemberChange) -> MemberChange:
    member = MemberOut.model_validate(change.member).model_copy(update={"custodial": change.custodial})
    return MemberChange(member=member, transaction=TxOut.model_validate(change.record))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MemberChange)
def admit(body: AdmitIn, caller: Regulator, services: ServicesDep) -> MemberChange:
    return _changed(services.members.admit(caller, body.org_id, body.roles, body.address))


@router.get("/{address}", response_model=MemberOut)
def get_member(address: Address, caller: AnyMember, services: ServicesDep) -> MemberOut:
    found = services.members.member(address)
    return MemberOut.model_validate(found.view).model_copy(update={"custodial": found.custodial})


@router.post("/{address}/suspend", response_model=MemberChange)
def suspend(address: Address, body: ReasonIn, caller: Regulator, services: ServicesDep) -> MemberChange:
    return _changed(services.members.sanction(caller, address, "suspend", body.reason))


@router.post("/{address}/reinstate", response_model=MemberChange)
def reinstate(address: Address, caller: Regulator, services: ServicesDep) -> MemberChange:
    return _changed(services.members.sanction(caller, address, "reinstate"))


@router.post("/{address}/revoke", response_model=MemberChange)
def revoke(address: Address, body: ReasonIn, caller: Regulator, services: ServicesDep) -> MemberChange:
    return _changed(services.members.sanction(caller, address, "revoke", body.reason))


@router.post("/{address}/freeze", response_model=MemberChange)
def freeze(address: Address, body: ReasonIn, caller: Regulator, services: ServicesDep) -> MemberChange:
    return _changed(services.members.sanction(caller, address, "freeze", body.reason))


@router.post("/{address}/unfreeze", response_model=MemberChange)
def unfreeze(address: Address, caller: Regulator, services: ServicesDep) -> MemberChange:
    return _changed(services.members.sanction(caller, address, "unfreeze"))

"""Members: admission and the regulator's sanctions (suspend, reinstate, revoke, freeze, unfreeze); look-up."""

from __future__ import annotations

from typing import Annotated

from eth_utils import is_address, keccak, to_checksum_address
from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field, model_validator

from ledger_service.api.deps import AnyMember, Regulator, RuntimeDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import MemberOut, TxOut
from ledger_service.api.sending import send
from ledger_service.api.types import OrgIdField
from ledger_service.chain.outbox import Intent
from ledger_service.membership import ROLE_IDS, ROLE_NAMES

router = APIRouter(prefix="/members", tags=["members"])
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


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MemberChange)
def admit(body: AdmitIn, caller: Regulator, runtime: RuntimeDep) -> MemberChange:
    if body.custodial:
        account = runtime.keystore.create(label=f"member of organisation {body.org_id}")
        address = account.address
        if runtime.chain.embedded is not None:
            with runtime.chain.exclusive():
                runtime.chain.embedded.fund([address])
    else:
        address = to_checksum_address(body.address or "")
    (record,) = send(runtime, caller, [Intent("Membership", "admit", (address, body.org_id,
                                                                     [ROLE_IDS[r] for r in body.roles]),
                                              caller.address, requested_by=caller.address)])
    runtime.directory.forget(address)
    return MemberChange(member=MemberOut.of(runtime.directory.member(address), body.custodial),
                        transaction=TxOut.of(record))


@router.get("/{address}", response_model=MemberOut)
def get_member(address: Address, caller: AnyMember, runtime: RuntimeDep) -> MemberOut:
    view = runtime.directory.member(address)
    if view.org_id == 0:
        raise ApiError(404, "NotMember", f"{view.address} is not a member", {"account": view.address})
    return MemberOut.of(view, runtime.keystore.has(view.address))


def _sanction(runtime: RuntimeDep, caller: Regulator, address: str, function: str, *args: object) -> MemberChange:
    if not is_address(address):
        raise ApiError(422, "ValidationError", "not an address")
    target = to_checksum_address(address)
    (record,) = send(runtime, caller, [Intent("Membership", function, (target, *args), caller.address,
                                              requested_by=caller.address)])
    runtime.directory.forget(target)
    return MemberChange(member=MemberOut.of(runtime.directory.member(target)), transaction=TxOut.of(record))


@router.post("/{address}/suspend", response_model=MemberChange)
def suspend(address: Address, body: ReasonIn, caller: Regulator, runtime: RuntimeDep) -> MemberChange:
    return _sanction(runtime, caller, address, "suspend", keccak(text=body.reason))


@router.post("/{address}/reinstate", response_model=MemberChange)
def reinstate(address: Address, caller: Regulator, runtime: RuntimeDep) -> MemberChange:
    return _sanction(runtime, caller, address, "reinstate")


@router.post("/{address}/revoke", response_model=MemberChange)
def revoke(address: Address, body: ReasonIn, caller: Regulator, runtime: RuntimeDep) -> MemberChange:
    return _sanction(runtime, caller, address, "revoke", keccak(text=body.reason))


@router.post("/{address}/freeze", response_model=MemberChange)
def freeze(address: Address, body: ReasonIn, caller: Regulator, runtime: RuntimeDep) -> MemberChange:
    return _sanction(runtime, caller, address, "freeze", keccak(text=body.reason))


@router.post("/{address}/unfreeze", response_model=MemberChange)
def unfreeze(address: Address, caller: Regulator, runtime: RuntimeDep) -> MemberChange:
    return _sanction(runtime, caller, address, "unfreeze")

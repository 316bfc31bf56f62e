"""API keys: issued, rotated and revoked by a regulator; each is scoped to one member."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from ledger_service.api.deps import PageDep, Regulator, RuntimeDep
from ledger_service.api.errors import ApiError, not_found
from ledger_service.api.schemas import PageInfo
from ledger_service.api.types import UtcTime
from ledger_service.identity.api_keys import IssuedKey, KeyInfo

router = APIRouter(prefix="/api-keys", tags=["api keys"])
KeyId = Annotated[str, Path(min_length=1, max_length=32)]


class IssueIn(BaseModel):
    member: str = Field(pattern="^0x[0-9a-fA-F]{40}$")
    label: str = Field(default="", max_length=128)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class RotateIn(BaseModel):
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class IssuedOut(BaseModel):
    key_id: str
    token: str = Field(description="shown once; send as `Authorization: Bearer <token>`")
    member: str
    expires_at: UtcTime

    @classmethod
    def of(cls, key: IssuedKey) -> IssuedOut:
        return cls(key_id=key.key_id, token=key.token, member=key.member, expires_at=key.expires_at)


class KeyOut(BaseModel):
    key_id: str
    member: str
    label: str
    issued_by: str | None
    created_at: UtcTime
    expires_at: UtcTime
    revoked_at: UtcTime | None
    replaced_by: str | None

    @classmethod
    def of(cls, key: KeyInfo) -> KeyOut:
        return cls(key_id=key.key_id, member=key.member, label=key.label, issued_by=key.issued_by,
                   created_at=key.created_at, expires_at=key.expires_at, revoked_at=key.revoked_at,
                   replaced_by=key.replaced_by)


class KeyPage(BaseModel):
    items: list[KeyOut]
    page: PageInfo


def _lifetime(runtime: RuntimeDep, days: int | None) -> timedelta:
    return timedelta(days=days or runtime.settings.api_key_days)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedOut)
def issue(body: IssueIn, caller: Regulator, runtime: RuntimeDep) -> IssuedOut:
    member = runtime.directory.member(body.member)
    if member.org_id == 0:
        raise ApiError(404, "NotMember", f"{member.address} is not a member", {"account": member.address})
    return IssuedOut.of(runtime.api_keys.issue(member.address, _lifetime(runtime, body.expires_in_days), body.label,
                                               issued_by=caller.address))


@router.get("", response_model=KeyPage)
def list_keys(caller: Regulator, runtime: RuntimeDep, page: PageDep,
              member: Annotated[str | None, Query(pattern="^0x[0-9a-fA-F]{40}$")] = None) -> KeyPage:
    keys = runtime.api_keys.list(to_checksum_address(member) if member else None, page.offset, page.limit)
    return KeyPage(items=[KeyOut.of(k) for k in keys], page=PageInfo(offset=page.offset, limit=page.limit))


@router.post("/{key_id}/rotate", status_code=status.HTTP_201_CREATED, response_model=IssuedOut)
def rotate(key_id: KeyId, caller: Regulator, runtime: RuntimeDep, body: RotateIn | None = None) -> IssuedOut:
    issued = runtime.api_keys.rotate(key_id, _lifetime(runtime, body.expires_in_days if body else None),
                                     caller.address)
    if issued is None:
        raise not_found(f"no API key {key_id}", "UnknownApiKey", key_id=key_id)
    return IssuedOut.of(issued)


def _is_regulator(runtime: RuntimeDep, address: str) -> bool:
    member = runtime.directory.member(address)
    return member.active and member.has_role("REGULATOR")


@router.post("/{key_id}/revoke", response_model=KeyOut)
def revoke(key_id: KeyId, caller: Regulator, runtime: RuntimeDep) -> KeyOut:
    """Revoke a key; never the last live key of the last active regulator (nobody could admit or issue again)."""
    found = runtime.api_keys.get(key_id)
    if found is not None and found.revoked_at is None and _is_regulator(runtime, found.member) and not any(
            _is_regulator(runtime, m) for m in runtime.api_keys.members_with_live_keys(besides=key_id)):
        raise ApiError(409, "LastRegulatorKey", f"{key_id} is the last live API key of an active regulator: "
                       "revoking it would lock every regulator out; issue another regulator's key first",
                       {"key_id": key_id, "member": found.member})
    key = runtime.api_keys.revoke(key_id, revoked_by=caller.address)
    if key is None:
        raise not_found(f"no API key {key_id}", "UnknownApiKey", key_id=key_id)
    return KeyOut.of(key)

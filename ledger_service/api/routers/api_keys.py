"""API keys: issued, rotated and revoked by a regulator; each is scoped to one member."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ledger_service.api import API_PREFIX
from ledger_service.api.deps import PageDep, Regulator, ServicesDep
from ledger_service.api.schemas import PageInfo
from ledger_service.api.types import UtcTime

router = APIRouter(prefix=f"{API_PREFIX}/api-keys", tags=["api keys"])
KeyId = Annotated[str, Path(min_length=1, max_length=32)]


class IssueIn(BaseModel):
    member: str = Field(pattern="^0x[0-9a-fA-F]{40}$")
    label: str = Field(default="", max_length=128)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class RotateIn(BaseModel):
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class IssuedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    token: str = Field(description="shown once; send as `Authorization: Bearer <token>`")
    member: str
    expires_at: UtcTime


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    member: str
    label: str
    issued_by: str | None
    created_at: UtcTime
    expires_at: UtcTime
    revoked_at: UtcTime | None
    replaced_by: str | None


class KeyPage(BaseModel):
    items: list[KeyOut]
    page: PageInfo


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedOut)
def issue(body: IssueIn, caller: Regulator, services: ServicesDep) -> IssuedOut:
    return IssuedOut.model_validate(services.api_keys.issue(caller, body.member, body.label, body.expires_in_days))


@router.get("", response_model=KeyPage)
def list_keys(caller: Regulator, services: ServicesDep, page: PageDep,
              member: Annotated[str | None, Query(pattern="^0x[0-9a-fA-F]{40}$")] = None) -> KeyPage:
    keys = services.api_keys.list(member, page.offset, page.limit)
    return KeyPage(items=[KeyOut.model_validate(k) for k in keys], page=PageInfo(offset=page.offset, limit=page.limit))


@router.post("/{key_id}/rotate", status_code=status.HTTP_201_CREATED, response_model=IssuedOut)
def rotate(key_id: KeyId, caller: Regulator, services: ServicesDep, body: RotateIn | None = None) -> IssuedOut:
    return IssuedOut.model_validate(services.api_keys.rotate(caller, key_id, body.expires_in_days if body else None))


@router.post("/{key_id}/revoke", response_model=KeyOut)
def revoke(key_id: KeyId, caller: Regulator, services: ServicesDep) -> KeyOut:
    """Revoke a key; never the last live key of the last active regulator (nobody could admit or issue again)."""
    return KeyOut.model_validate(services.api_keys.revoke(caller, key_id))

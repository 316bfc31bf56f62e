"""The settlement token (tokenised CNY, 2 decimals): a settlement bank mints against deposits and
burns on redemption; balances are visible to the holder's organisation, banks and regulators."""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field, field_validator

from ledger_service import market
from ledger_service.api.deps import AnyMember, Caller, RuntimeDep, member
from ledger_service.api.errors import forbidden
from ledger_service.api.schemas import TxOut
from ledger_service.api.sending import send
from ledger_service.api.types import Cny
from ledger_service.chain.outbox import Intent
from ledger_service.db.models.outbox import OutboxStatus

router = APIRouter(prefix="/settlement", tags=["settlement"])
ADDRESS = "^0x[0-9a-fA-F]{40}$"
Bank = Annotated[Caller, Depends(member("SETTLEMENT_BANK", moves_assets=True))]
Wait = Annotated[bool, Query(description="wait for the receipt (otherwise answer 202 once sent)")]


class _Positive(BaseModel):
    amount: Cny

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: str) -> str:
        market.to_units(value)
        return value


class MintIn(_Positive):
    to: str = Field(pattern=ADDRESS)


class BurnIn(_Positive):
    pass


class BalanceOut(BaseModel):
    address: str
    balance: str = Field(description="CNY")
    units: int = Field(description="settlement-token units (fen)")


def _answer(intent: Intent, caller: Caller, runtime: RuntimeDep, response: Response, wait: bool) -> TxOut:
    (record,) = send(runtime, caller, [intent], wait=wait)
    if record.status != OutboxStatus.MINED:
        response.status_code = status.HTTP_202_ACCEPTED
    return TxOut.of(record)


@router.post("/mint", response_model=TxOut)
def mint(body: MintIn, caller: Bank, runtime: RuntimeDep, response: Response, wait: Wait = True) -> TxOut:
    """Mint settlement tokens to a member against a deposit."""
    intent = Intent(market.SETTLEMENT, "mint", (to_checksum_address(body.to), market.to_units(body.amount)),
                    caller.address, requested_by=caller.address)
    return _answer(intent, caller, runtime, response, wait)


@router.post("/burn", response_model=TxOut)
def burn(body: BurnIn, caller: Bank, runtime: RuntimeDep, response: Response, wait: Wait = True) -> TxOut:
    """Burn settlement tokens from the bank's own balance (a redemption paid out off-chain)."""
    intent = Intent(market.SETTLEMENT, "burn", (market.to_units(body.amount),), caller.address,
                    requested_by=caller.address)
    return _answer(intent, caller, runtime, response, wait)


@router.get("/balances/{address}", response_model=BalanceOut)
def balance(address: Annotated[str, Path(pattern=ADDRESS)], caller: AnyMember, runtime: RuntimeDep) -> BalanceOut:
    holder = runtime.directory.member(to_checksum_address(address))
    if not (caller.is_regulator or caller.member.has_role("SETTLEMENT_BANK") or holder.address == caller.address
            or (holder.org_id != 0 and holder.org_id == caller.member.org_id)):
        raise forbidden("settlement balances are visible to the holder, its organisation, banks and regulators",
                        "NotYourData", account=holder.address)
    units = market.settlement_balance(runtime.chain, runtime.suite, holder.address)
    return BalanceOut(address=holder.address, balance=market.to_cny(units), units=units)

"""The settlement token (tokenised CNY, 2 decimals): a settlement bank mints against deposits and
burns on redemption; balances are visible to the holder's organisation, banks and regulators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger_core.chain.outbox import TxRecord
from ledger_service import market
from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer, one_trip
from ledger_service.api.deps import AnyMember, Caller, ServicesDep, member
from ledger_service.api.schemas import TxOut
from ledger_service.api.types import Cny

router = APIRouter(prefix=f"{API_PREFIX}/settlement", tags=["settlement"])
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
    model_config = ConfigDict(from_attributes=True)

    address: str
    balance: str = Field(description="CNY")
    units: int = Field(description="settlement-token units (fen)")


def _answer(record: TxRecord, response: Response) -> TxOut:
    answer(response, record)
    return TxOut.model_validate(record)


@router.post("/mint", response_model=TxOut)
@one_trip
def mint(body: MintIn, caller: Bank, services: ServicesDep, response: Response, wait: Wait = True) -> TxOut:
    """Mint settlement tokens to a member against a deposit."""
    return _answer(services.settlement.mint(caller, body.to, market.to_units(body.amount), wait), response)


@router.post("/burn", response_model=TxOut)
@one_trip
def burn(body: BurnIn, caller: Bank, services: ServicesDep, response: Response, wait: Wait = True) -> TxOut:
    """Burn settlement tokens from the bank's own balance (a redemption paid out off-chain)."""
    return _answer(services.settlement.burn(caller, market.to_units(body.amount), wait), response)


@router.get("/balances/{address}", response_model=BalanceOut)
def balance(address: Annotated[str, Path(pattern=ADDRESS)], caller: AnyMember, services: ServicesDep) -> BalanceOut:
    return BalanceOut.model_validate(services.settlement.balance(caller, address))

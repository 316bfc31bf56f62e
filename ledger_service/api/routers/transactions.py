"""Transactions: follow an outbox entry; relay a transaction the client signed itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger_core.db.models.outbox import OutboxStatus
from ledger_service.api import API_PREFIX
from ledger_service.api.answers import answer, one_trip
from ledger_service.api.deps import AnyMember, PageDep, ServicesDep
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.types import RowId

router = APIRouter(prefix=f"{API_PREFIX}/transactions", tags=["transactions"])
STATUSES = [s.value for s in OutboxStatus]


class TxPage(BaseModel):
    items: list[TxOut]
    page: PageInfo


class RelayIn(BaseModel):
    raw_tx: str = Field(pattern="^0x([0-9a-fA-F]{2})+$", max_length=262_144,
                        description="the signed transaction, 0x-hex (whole bytes)")


class ContractOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    address: str
    abi_hash: str = Field(description="SHA-256 of the ABI as JSON with sorted keys, as in the deployment record")


class SigningInfo(BaseModel):
    """What a member that signs its own transactions needs to sign one the relay accepts."""

    model_config = ConfigDict(from_attributes=True)

    chain_id: int
    network: str
    account: str
    next_nonce: int = Field(description="the nonce the caller's next transaction takes (past those in flight)")
    free_gas: bool = Field(description="the network charges no gas: sign with zero fees")
    fees: dict[str, int] = Field(description="the fee fields the service itself signs with: maxFeePerGas and "
                                 "maxPriorityFeePerGas, or gasPrice on a chain without a base fee")
    contracts: dict[str, ContractOut]


@router.get("/signing", response_model=SigningInfo)
def signing_info(caller: AnyMember, services: ServicesDep) -> SigningInfo:
    """Chain id, fees, the caller's next nonce and the suite's contracts: all a wallet needs to sign for the relay.
    A contract's ABI is at `GET /api/v1/transactions/abi/{contract}`."""
    return SigningInfo.model_validate(services.transactions.signing_info(caller))


@router.get("/abi/{contract}", response_model=list[dict[str, Any]])
def contract_abi(contract: Annotated[str, Path(max_length=64)], caller: AnyMember,
                 services: ServicesDep) -> list[dict[str, Any]]:
    """The ABI of a contract of the suite, as compiled and deployed (its hash is in `/transactions/signing`)."""
    return services.transactions.abi(contract)


@router.get("/{outbox_id}", response_model=TxOut)
@one_trip
def get_transaction(outbox_id: RowId, caller: AnyMember, services: ServicesDep) -> TxOut:
    found = services.transactions.transaction(caller, outbox_id)
    return TxOut.model_validate(found.row).model_copy(update={"replaced_by": found.replaced_by,
                                                     "confirmations": found.confirmations})


@router.get("", response_model=TxPage)
def list_transactions(caller: AnyMember, services: ServicesDep, page: PageDep,
                      status_: Annotated[str | None, Query(alias="status", pattern="^(" + "|".join(STATUSES) + ")$")]
                      = None) -> TxPage:
    """Newest first: the caller's own transactions (all of them for a regulator)."""
    found = services.transactions.transactions(caller, page.offset, page.limit, status_)
    return TxPage(items=[TxOut.model_validate(r) for r in found.items],
                  page=PageInfo(offset=found.offset, limit=found.limit, total=found.total))


@router.post("/relay", response_model=TxOut)
@one_trip
def relay(body: RelayIn, caller: AnyMember, services: ServicesDep, response: Response,
          wait: Annotated[bool, Query()] = True) -> TxOut:
    """Relay a transaction the member signed with its own key: it must be signed by the caller, for this
    chain, to a contract of the suite, calling a function the caller's role allows. Recorded in the outbox;
    202 while it is on its way."""
    record = services.transactions.relay(caller, bytes.fromhex(body.raw_tx[2:]), wait)
    answer(response, record)
    return TxOut.model_validate(record)

"""Transactions: follow an outbox entry; relay a transaction the client signed itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ledger_service.api.deps import AnyMember, PageDep, RuntimeDep
from ledger_service.api.errors import ApiError, ChainBusy, TransactionRefused, forbidden, not_found
from ledger_service.api.schemas import PageInfo, TxOut
from ledger_service.api.types import RowId
from ledger_service.chain.outbox import SendDeferred
from ledger_service.chain.rawtx import MalformedTransaction, decode_signed
from ledger_service.db.models.outbox import OutboxStatus, OutboxTransaction
from ledger_service.relay import RelayRefused, check_relay

router = APIRouter(prefix="/transactions", tags=["transactions"])
STATUSES = [s.value for s in OutboxStatus]


class TxPage(BaseModel):
    items: list[TxOut]
    page: PageInfo


class RelayIn(BaseModel):
    raw_tx: str = Field(pattern="^0x([0-9a-fA-F]{2})+$", max_length=262_144,
                        description="the signed transaction, 0x-hex (whole bytes)")


class ContractOut(BaseModel):
    address: str
    abi_hash: str = Field(description="SHA-256 of the ABI as JSON with sorted keys, as in the deployment record")


class SigningInfo(BaseModel):
    """What a member that signs its own transactions needs to sign one the relay accepts."""

    chain_id: int
    network: str
    account: str
    next_nonce: int = Field(description="the nonce the caller's next transaction takes (past those in flight)")
    free_gas: bool = Field(description="the network charges no gas: sign with zero fees")
    fees: dict[str, int] = Field(description="the fee fields the service itself signs with: maxFeePerGas and "
                                 "maxPriorityFeePerGas, or gasPrice on a chain without a base fee")
    contracts: dict[str, ContractOut]


@router.get("/signing", response_model=SigningInfo)
def signing_info(caller: AnyMember, runtime: RuntimeDep) -> SigningInfo:
    """Chain id, fees, the caller's next nonce and the suite's contracts: all a wallet needs to sign for the relay.
    A contract's ABI is at `GET /api/v1/transactions/abi/{contract}`."""
    deployment = runtime.deployment
    fees = dict(runtime.chain.fees.fields)
    return SigningInfo(chain_id=runtime.chain.chain_id, network=deployment.network, account=caller.address,
                       next_nonce=runtime.outbox.next_nonce(caller.address), free_gas=runtime.chain.fees.max_price == 0,
                       fees=fees, contracts={name: ContractOut(address=address, abi_hash=deployment.abi_hashes.get(
                           name, runtime.artifacts[name].abi_hash)) for name, address in deployment.addresses.items()})


@router.get("/abi/{contract}", response_model=list[dict[str, Any]])
def contract_abi(contract: Annotated[str, Path(max_length=64)], caller: AnyMember,
                 runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The ABI of a contract of the suite, as compiled and deployed (its hash is in `/transactions/signing`)."""
    if contract not in runtime.deployment.addresses:
        raise not_found(f"{contract} is not a contract of the suite", "UnknownContract", contract=contract)
    return list(runtime.artifacts[contract].abi)


@router.get("/{outbox_id}", response_model=TxOut)
def get_transaction(outbox_id: RowId, caller: AnyMember, runtime: RuntimeDep) -> TxOut:
    with runtime.sessions() as session:
        row = session.get(OutboxTransaction, outbox_id)
        if row is None:
            raise not_found(f"no transaction {outbox_id}", "UnknownTransaction", id=outbox_id)
        if not caller.is_regulator and caller.address not in (row.requested_by, row.signer):
            raise forbidden("transactions are visible to whoever asked for or signed them, and to regulators",
                            "NotYourData", id=outbox_id)
        if row.status == OutboxStatus.SENT:
            runtime.outbox.await_receipts([runtime.outbox.record(outbox_id)], timeout=0)  # type: ignore[list-item]
            session.refresh(row)
        out = TxOut.of_row(row)
        out.replaced_by = session.scalar(select(OutboxTransaction.id).where(OutboxTransaction.replaces_id == row.id))
    if out.block_number is not None:
        head = runtime.chain_head()
        out.confirmations = None if head is None else max(head - out.block_number + 1, 0)
    return out


@router.get("", response_model=TxPage)
def list_transactions(caller: AnyMember, runtime: RuntimeDep, page: PageDep,
                      status_: Annotated[str | None, Query(alias="status", pattern="^(" + "|".join(STATUSES) + ")$")]
                      = None) -> TxPage:
    """Newest first: the caller's own transactions (all of them for a regulator)."""
    query = select(OutboxTransaction)
    count = select(func.count()).select_from(OutboxTransaction)
    if not caller.is_regulator:
        own = or_(OutboxTransaction.requested_by == caller.address, OutboxTransaction.signer == caller.address)
        query, count = query.where(own), count.where(own)
    if status_ is not None:
        wanted = OutboxTransaction.status == status_
        query, count = query.where(wanted), count.where(wanted)
    with runtime.sessions() as session:
        rows = session.scalars(query.order_by(OutboxTransaction.id.desc()).offset(page.offset).limit(page.limit)).all()
        total = int(session.scalar(count) or 0)
        return TxPage(items=[TxOut.of_row(r) for r in rows], page=PageInfo(offset=page.offset, limit=page.limit,
                                                                            total=total))


@router.post("/relay", response_model=TxOut)
def relay(body: RelayIn, caller: AnyMember, runtime: RuntimeDep, response: Response,
          wait: Annotated[bool, Query()] = True) -> TxOut:
    """Relay a transaction the member signed with its own key: it must be signed by the caller, for this
    chain, to a contract of the suite, calling a function the caller's role allows. Recorded in the outbox."""
    try:
        decoded = decode_signed(bytes.fromhex(body.raw_tx[2:]))
        checked = check_relay(decoded, caller.member, runtime.chain.chain_id, runtime.deployment.addresses,
                              runtime.encoder)
    except MalformedTransaction as exc:
        raise ApiError(422, "MalformedTransaction", str(exc)) from None
    except RelayRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    try:
        record = runtime.outbox.relay(checked, caller.address, wait=wait,
                                      timeout=runtime.settings.receipt_timeout_seconds, claim=caller.idempotency)
    except IntegrityError:
        raise ApiError(409, "NonceTaken", f"another transaction of {caller.address} with nonce {checked.nonce} "
                       "was relayed already", {"nonce": checked.nonce}) from None
    except SendDeferred as exc:
        raise ChainBusy(str(exc), exc.outbox_ids, getattr(exc, "dependency", "chain")) from None
    if record.status == OutboxStatus.FAILED:
        raise TransactionRefused(record, caller.address)
    if record.status != OutboxStatus.MINED:
        response.status_code = status.HTTP_202_ACCEPTED
    return TxOut.of(record)

"""Transaction use cases: follow what the service was asked to send (whoever asked for or signed a transaction,
and regulators, see it), what a client needs to find the suite (`discovery`) and to sign for the relay, and
relaying a transaction a member signed itself (`ledger_service.relay` says what is checked first; the contract
checks everything again)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.calldata import CallEncoder
from ledger_core.chain.client import ChainClient
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import Deployment
from ledger_core.chain.outbox import Outbox, SendDeferred, TxRecord
from ledger_core.chain.rawtx import MalformedTransaction, decode_signed
from ledger_core.config import Settings
from ledger_core.db.models.outbox import OutboxStatus, OutboxTransaction
from ledger_service.identity.signed_requests import RequestDomain
from ledger_service.relay import RelayRefused, check_relay
from ledger_service.services.caller import Caller
from ledger_service.services.errors import ChainBusy, Refusal, TransactionRefused, forbidden, not_found
from ledger_service.services.listing import Listed


@dataclass(frozen=True)
class SuiteContract:
    address: str
    abi_hash: str  # SHA-256 of the ABI as JSON with sorted keys, as in the deployment record


@dataclass(frozen=True)
class SigningInfo:
    """What a member that signs its own transactions needs to sign one the relay accepts."""

    chain_id: int
    network: str
    account: str
    next_nonce: int  # past the caller's transactions in flight
    free_gas: bool  # the network charges no gas: sign with zero fees
    fees: dict[str, int]  # the fee fields the service itself signs with
    contracts: dict[str, SuiteContract]


@dataclass(frozen=True)
class DeployedContract:
    address: str
    abi_hash: str  # as in SuiteContract
    version: int  # 1 as deployed with the suite; higher after each upgrade


@dataclass(frozen=True)
class ChainInfo:
    """What a client needs before it has any credentials: which chain, where the suite is, how it speaks."""

    chain_id: int
    network: str
    deployment_block: int
    contracts: dict[str, DeployedContract]
    confirmations: int  # blocks on top of a transaction's before the service calls it final
    index_confirmations: int  # blocks below the head before indexed rows are final
    free_gas: bool
    node_mode: str  # "embedded" or "node"
    node_kind: str | None  # "embedded", or the node's name from its client version ("anvil", "besu"); None: unknown
    node_client: str | None  # the node's web3_clientVersion; None if it did not answer (or embedded)
    request_domain: RequestDomain  # the EIP-712 domain of signed requests
    signed_request_window: int  # accepted clock skew of signed requests, in seconds


@dataclass(frozen=True)
class Followed:
    """An outbox entry as it stands, with what became of it."""

    row: OutboxTransaction
    replaced_by: int | None  # the row that repeats this dropped attempt
    confirmations: int | None  # blocks from its block to the head; None if not mined or the chain does not answer


@dataclass(frozen=True)
class TransactionService:
    sessions: sessionmaker[Session]
    outbox: Outbox
    chain: ChainClient
    deployment: Deployment
    artifacts: dict[str, Artifact]
    encoder: CallEncoder
    settings: Settings
    index_confirmations: int
    request_domain: RequestDomain

    def _abi_hash(self, contract: str) -> str:
        return self.deployment.abi_hashes.get(contract, self.artifacts[self.deployment.artifact_of(contract)].abi_hash)

    def discovery(self) -> ChainInfo:
        """Chain id, the suite's addresses and ABI hashes from the deployment record, the confirmation depths, the
        fee mode, the node and the signed requests' domain: public facts (anyone with the node reads the same)."""
        deployment = self.deployment
        client: str | None = None
        if self.chain.embedded is None:
            try:
                client = self.chain.client_version() or None
            except Exception:  # the node is away: everything else is still known
                client = None
        kind = "embedded" if self.chain.embedded is not None else client.split("/", 1)[0].lower() if client else None
        return ChainInfo(
            chain_id=self.chain.chain_id, network=deployment.network, deployment_block=deployment.block,
            contracts={name: DeployedContract(address, self._abi_hash(name), deployment.version_of(name).version)
                       for name, address in deployment.addresses.items()},
            confirmations=self.outbox.confirmations, index_confirmations=self.index_confirmations,
            free_gas=self.chain.fees.max_price == 0, node_mode=self.chain.mode, node_kind=kind, node_client=client,
            request_domain=self.request_domain, signed_request_window=self.settings.signed_request_window_seconds)

    def signing_info(self, caller: Caller) -> SigningInfo:
        """Chain id, fees, the caller's next nonce and the suite's contracts."""
        deployment = self.deployment
        return SigningInfo(
            chain_id=self.chain.chain_id, network=deployment.network, account=caller.address,
            next_nonce=self.outbox.next_nonce(caller.address), free_gas=self.chain.fees.max_price == 0,
            fees=dict(self.chain.fees.fields),
            contracts={name: SuiteContract(address, self._abi_hash(name))
                       for name, address in deployment.addresses.items()})

    def abi(self, contract: str) -> list[dict[str, Any]]:
        """The ABI of a contract of the suite, as compiled and deployed."""
        if contract not in self.deployment.addresses:
            raise not_found(f"{contract} is not a contract of the suite", "UnknownContract", contract=contract)
        return list(self.artifacts[self.deployment.artifact_of(contract)].abi)  # an upgraded one's own ABI

    def _head(self) -> int | None:
        try:
            return self.chain.block_number()
        except Exception:  # the confirmations are left out, the transaction is still shown
            return None

    def transaction(self, caller: Caller, outbox_id: int) -> Followed:
        """An entry of the outbox (a sent one's receipt looked up first)."""
        with self.sessions() as session:
            row = session.get(OutboxTransaction, outbox_id)
            if row is None:
                raise not_found(f"no transaction {outbox_id}", "UnknownTransaction", id=outbox_id)
            if not caller.is_regulator and caller.address not in (row.requested_by, row.signer):
                raise forbidden("transactions are visible to whoever asked for or signed them, and to regulators",
                                "NotYourData", id=outbox_id)
            if row.status == OutboxStatus.SENT:
                record = self.outbox.record(outbox_id)
                if record is not None:
                    self.outbox.await_receipts([record], timeout=0)
                session.refresh(row)
            replaced_by = session.scalar(select(OutboxTransaction.id).where(OutboxTransaction.replaces_id == row.id))
            session.expunge(row)
        confirmations = None
        if row.block_number is not None:
            head = self._head()
            confirmations = None if head is None else max(head - row.block_number + 1, 0)
        return Followed(row, replaced_by, confirmations)

    def transactions(self, caller: Caller, offset: int, limit: int,
                     status: str | None = None) -> Listed[OutboxTransaction]:
        """Newest first: the caller's own transactions (all of them for a regulator)."""
        query = select(OutboxTransaction)
        count = select(func.count()).select_from(OutboxTransaction)
        if not caller.is_regulator:
            own = or_(OutboxTransaction.requested_by == caller.address, OutboxTransaction.signer == caller.address)
            query, count = query.where(own), count.where(own)
        if status is not None:
            wanted = OutboxTransaction.status == status
            query, count = query.where(wanted), count.where(wanted)
        with self.sessions() as session:
            rows = session.scalars(query.order_by(OutboxTransaction.id.desc()).offset(offset).limit(limit)).all()
            total = int(session.scalar(count) or 0)
        return Listed(rows, total, offset, limit)

    def relay(self, caller: Caller, raw_tx: bytes, wait: bool = True) -> TxRecord:
        """Record and send a transaction the caller signed: for this chain, to a contract of the suite, calling a
        function the caller's role allows. A transaction the chain refused raises TransactionRefused; one still on
        its way is returned as it stands."""
        try:
            checked = check_relay(decode_signed(raw_tx), caller.member, self.chain.chain_id,
                                  self.deployment.addresses, self.encoder)
        except MalformedTransaction as exc:
            raise Refusal(422, "MalformedTransaction", str(exc)) from None
        except RelayRefused as exc:
            raise Refusal(exc.status, exc.code, exc.message) from None
        try:
            record = self.outbox.relay(checked, caller.address, wait=wait,
                                       timeout=self.settings.receipt_timeout_seconds, claim=caller.idempotency)
        except IntegrityError:
            raise Refusal(409, "NonceTaken", f"another transaction of {caller.address} with nonce {checked.nonce} "
                          "was relayed already", {"nonce": checked.nonce}) from None
        except SendDeferred as exc:
            raise ChainBusy(str(exc), exc.outbox_ids, getattr(exc, "dependency", "chain")) from None
        if record.status == OutboxStatus.FAILED:
            raise TransactionRefused(record, caller.address)
        return record

"""Discovery: which chain, where the suite's contracts are and how clients sign, before any credentials.

Open to everyone: everything here is public (the chain id, addresses and ABI hashes are on the chain and in the
committed deployment record; the rest is how the service counts finality and checks signatures), and a client
needs the chain id and Membership's address to sign its first EIP-712 request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ledger_service.api import API_PREFIX
from ledger_service.api.deps import ServicesDep
from ledger_service.identity.signed_requests import REQUEST_TYPES, SCHEMES

router = APIRouter(prefix=f"{API_PREFIX}/chain", tags=["chain"])


class ContractOut(BaseModel):
    address: str
    abi_hash: str = Field(description="SHA-256 of the ABI as canonical JSON, as in the deployment record "
                          "(README, Client kit: how to compute it)")
    version: int = Field(description="1 as deployed with the suite; one more for each upgrade")


class NodeOut(BaseModel):
    mode: str = Field(description="embedded (the service's in-process chain) or node (a JSON-RPC endpoint)")
    kind: str | None = Field(description="anvil, besu, geth, ... from the client version; embedded; None if unknown")
    client_version: str | None = Field(description="the node's web3_clientVersion, if it answered")


class SignedRequestsOut(BaseModel):
    schemes: list[str] = Field(description="values of the X-CL-Signature-Scheme header (absent: eip191)")
    window_seconds: int = Field(description="accepted clock skew of X-CL-Timestamp")
    eip712_domain: dict[str, Any] = Field(description="the EIP-712 domain: name, version, chainId, "
                                          "verifyingContract (Membership)")
    eip712_types: dict[str, list[dict[str, str]]] = Field(description="the struct signed (without EIP712Domain)")
    eip712_primary_type: str


class ChainOut(BaseModel):
    """Where the suite is and how to speak to it."""

    chain_id: int
    network: str
    deployment_block: int = Field(description="the block the suite was deployed in (the first worth reading)")
    contracts: dict[str, ContractOut]
    confirmations: int = Field(description="blocks on top of a transaction's before the service calls it final")
    index_confirmations: int = Field(description="blocks below the head before indexed rows are final")
    free_gas: bool = Field(description="the network charges no gas: sign with zero fees")
    node: NodeOut
    signed_requests: SignedRequestsOut


@router.get("", response_model=ChainOut)
def chain_info(services: ServicesDep) -> ChainOut:
    """The chain and the deployed suite: no credentials needed (nothing here is secret)."""
    info = services.transactions.discovery()
    return ChainOut(
        chain_id=info.chain_id, network=info.network, deployment_block=info.deployment_block,
        contracts={name: ContractOut(address=c.address, abi_hash=c.abi_hash, version=c.version)
                   for name, c in info.contracts.items()},
        confirmations=info.confirmations, index_confirmations=info.index_confirmations, free_gas=info.free_gas,
        node=NodeOut(mode=info.node_mode, kind=info.node_kind, client_version=info.node_client),
        signed_requests=SignedRequestsOut(
            schemes=list(SCHEMES), window_seconds=info.signed_request_window,
            eip712_domain=info.request_domain.as_dict(),
            eip712_types={k: v for k, v in REQUEST_TYPES.items() if k != "EIP712Domain"},
            eip712_primary_type="Request"))

"""One way in for the three chain modes: embedded eth-tester, a local node, any JSON-RPC URL."""

from __future__ import annotations

from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware

from ledger_core.chain.embedded import EmbeddedChain, start_embedded

EMBEDDED = "embedded"


def connect_rpc(url: str, timeout: float = 30.0) -> Web3:
    """A web3 handle on a JSON-RPC node (anvil, Besu QBFT, ...).

    The POA extra-data middleware lets web3 read blocks of QBFT/Clique networks,
    whose header extra-data is longer than mainnet's; it is harmless elsewhere.
    """
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def connect(chain: str) -> tuple[Web3, EmbeddedChain | None]:
    """`chain` is "embedded" (a new in-process chain) or an http(s) JSON-RPC URL."""
    if chain == EMBEDDED:
        embedded = start_embedded()
        return embedded.w3, embedded
    if chain.startswith(("http://", "https://")):
        return connect_rpc(chain), None
    raise ValueError(f"unknown chain {chain!r}: use 'embedded' or an http(s) JSON-RPC URL")

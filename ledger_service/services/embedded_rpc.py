"""The embedded chain's node interface, read-only: the few JSON-RPC methods that read state.

A service on the embedded chain is that chain's only node, so whoever checks its numbers against the chain
(`tools/verify/verify_proof.py --rpc`, `cast call`, a wallet reading state) asks the service. Only what reads
state is answered: the chain id, the head, contract code and `eth_call` at a block; nothing that sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3

from ledger_core.chain.client import ChainClient
from ledger_core.chain.errors import revert_data

MAX_BATCH = 100
INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, SERVER_ERROR, REVERTED = -32600, -32601, -32602, -32000, 3


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _block(params: list[Any], index: int) -> int | str:
    tag = params[index] if len(params) > index else "latest"
    if tag in ("latest", "pending", "safe", "finalized", "earliest"):
        return str(tag)
    if isinstance(tag, str) and tag.startswith("0x"):
        try:
            return int(tag, 16)
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"not a block: {tag!r}")


def _address(value: Any) -> ChecksumAddress:
    if not isinstance(value, str) or not Web3.is_address(value):
        raise RpcError(INVALID_PARAMS, f"not an address: {value!r}")
    return Web3.to_checksum_address(value)


def _call(w3: Web3, params: list[Any]) -> str:
    if not params or not isinstance(params[0], dict):
        raise RpcError(INVALID_PARAMS, "eth_call takes a call object and a block")
    call = params[0]
    try:
        tx: dict[str, Any] = {"to": _address(call.get("to")), "data": HexBytes(call.get("data") or call.get("input")
                                                                              or "0x")}
    except ValueError:
        raise RpcError(INVALID_PARAMS, "data is not hex") from None
    if call.get("from") is not None:
        tx["from"] = _address(call["from"])
    try:
        return "0x" + bytes(w3.eth.call(tx, block_identifier=_block(params, 1))).hex()  # type: ignore[arg-type]
    except RpcError:
        raise
    except Exception as exc:
        data = revert_data(exc)
        if data is None:
            raise RpcError(INVALID_PARAMS, str(exc)[:300]) from None
        raise RpcError(REVERTED, "execution reverted", "0x" + data.hex()) from None


def _code(w3: Web3, params: list[Any]) -> str:
    address = _address(params[0] if params else None)
    return "0x" + bytes(w3.eth.get_code(address, block_identifier=_block(params, 1))).hex()  # type: ignore[arg-type]


METHODS: dict[str, Callable[[Web3, list[Any]], Any]] = {
    "eth_chainId": lambda w3, _: hex(w3.eth.chain_id),
    "net_version": lambda w3, _: str(w3.eth.chain_id),
    "eth_blockNumber": lambda w3, _: hex(w3.eth.block_number),
    "eth_getCode": _code,
    "eth_call": _call,
}


def _answer(w3: Web3, message: Any) -> dict[str, Any]:
    ident = message.get("id") if isinstance(message, dict) else None
    try:
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            raise RpcError(INVALID_REQUEST, "not a JSON-RPC request")
        method = METHODS.get(message["method"])
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"{message['method']} is not answered here (read-only: "
                           f"{', '.join(sorted(METHODS))})")
        params = message.get("params") or []
        if not isinstance(params, list):
            raise RpcError(INVALID_PARAMS, "params must be a list")
        return {"jsonrpc": "2.0", "id": ident, "result": method(w3, params)}
    except Exception as exc:  # a block the chain does not have, say: the caller's error, answered as a node would
        if not isinstance(exc, RpcError):
            exc = RpcError(SERVER_ERROR, f"{type(exc).__name__}: {exc}"[:300])
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.data is not None:
            error["data"] = exc.data
        return {"jsonrpc": "2.0", "id": ident, "error": error}


@dataclass(frozen=True)
class EmbeddedRpc:
    chain: ChainClient

    def answer(self, body: Any) -> Any:
        """One JSON-RPC request or a batch (its first MAX_BATCH), each answered with a result or an error object."""
        with self.chain.exclusive():
            if isinstance(body, list):
                return [_answer(self.chain.w3, m) for m in body[:MAX_BATCH]]
            return _answer(self.chain.w3, body)

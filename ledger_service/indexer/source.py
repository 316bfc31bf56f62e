"""The chain as the indexer reads it: the head, logs of a block range, block headers.

`Web3Source` works with any web3 provider (the embedded chain); `RpcSource` talks JSON-RPC
over HTTP and fetches many block headers in one batch array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from hexbytes import HexBytes
from web3 import Web3

from ledger_service.indexer.catalog import RawLog, checksum


@dataclass(frozen=True)
class BlockHeader:
    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


class ChainSource(Protocol):
    def head(self) -> int: ...

    def logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]: ...

    def headers(self, numbers: Iterable[int]) -> dict[int, BlockHeader]:
        """Headers of the blocks that exist among `numbers` (missing ones are left out)."""
        ...


def _hex_bytes(value: Any) -> bytes:
    return bytes(HexBytes(value))


def _tx_hash(value: Any) -> str:
    return "0x" + _hex_bytes(value).hex()


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def raw_log(entry: Any) -> RawLog:
    return RawLog(
        address=checksum(_hex_bytes(entry["address"])),
        topics=tuple(_hex_bytes(t) for t in entry["topics"]),
        data=_hex_bytes(entry["data"]),
        block_number=_int(entry["blockNumber"]),
        block_hash=_hex_bytes(entry["blockHash"]),
        tx_hash=_tx_hash(entry["transactionHash"]),
        log_index=_int(entry["logIndex"]),
    )


def block_header(block: Any) -> BlockHeader:
    return BlockHeader(_int(block["number"]), _hex_bytes(block["hash"]), _hex_bytes(block["parentHash"]),
                       _int(block["timestamp"]))


class Web3Source:
    """Through a web3 handle: one request per header."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        entries = self.w3.eth.get_logs({"fromBlock": from_block, "toBlock": to_block,
                                        "address": list(addresses)})  # type: ignore[typeddict-item]
        return [raw_log(e) for e in entries]

    def headers(self, numbers: Iterable[int]) -> dict[int, BlockHeader]:
        head = self.head()
        found = {}
        for n in sorted(set(numbers)):
            if 0 <= n <= head:
                found[n] = block_header(self.w3.eth.get_block(n))
        return found


class GuardedSource:
    """Another source whose every call runs through `guard`, e.g. `ChainClient.request`, which
    serialises access to the embedded chain and retries transport failures."""

    def __init__(self, inner: ChainSource, guard: Callable[[Callable[[], Any]], Any]) -> None:
        self.inner = inner
        self.guard = guard

    def head(self) -> int:
        return int(self.guard(self.inner.head))

    def logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        found: list[RawLog] = self.guard(lambda: self.inner.logs(from_block, to_block, addresses))
        return found

    def headers(self, numbers: Iterable[int]) -> dict[int, BlockHeader]:
        wanted = list(numbers)
        found: dict[int, BlockHeader] = self.guard(lambda: self.inner.headers(wanted))
        return found


class RpcError(RuntimeError):
    pass


class RpcSource:
    """JSON-RPC over HTTP; headers are fetched in batch arrays of `batch_size` requests."""

    def __init__(self, url: str, batch_size: int = 500, timeout: float = 120) -> None:
        self.client = httpx.Client(base_url=url, timeout=timeout)
        self.batch_size = batch_size

    def _call(self, method: str, params: list[Any]) -> Any:
        reply = self.client.post("", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
        if "error" in reply:
            raise RpcError(f"{method}: {reply['error']}")
        return reply["result"]

    def head(self) -> int:
        return int(self._call("eth_blockNumber", []), 16)

    def logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        entries = self._call("eth_getLogs", [{"fromBlock": hex(from_block), "toBlock": hex(to_block),
                                               "address": list(addresses)}])
        return [raw_log(e) for e in entries]

    def headers(self, numbers: Iterable[int]) -> dict[int, BlockHeader]:
        wanted = sorted(set(numbers))
        found: dict[int, BlockHeader] = {}
        for start in range(0, len(wanted), self.batch_size):
            chunk = wanted[start:start + self.batch_size]
            body = [{"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
                    for i, n in enumerate(chunk)]
            replies = self.client.post("", json=body).json()
            for reply in replies:
                if "error" in reply:
                    raise RpcError(f"eth_getBlockByNumber: {reply['error']}")
                if reply.get("result"):
                    header = block_header(reply["result"])
                    found[header.number] = header
        return found

    def close(self) -> None:
        self.client.close()

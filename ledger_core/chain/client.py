"""One chain client for the three modes: embedded eth-tester, a local node, any JSON-RPC URL.

The client holds what does not change while the service runs (chain id, fee fields,
the suite's contracts) and wraps every request to the chain in retries with
exponential backoff: a node that is down or slow makes a request wait and retry,
then fail with `ChainUnavailable`, which the API answers with 503. On a node, many
raw transactions, receipts or calls go out as one JSON-RPC batch. The embedded chain
is not thread-safe, so requests to it are serialised by a lock.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar, overload

import requests
from eth.exceptions import BlockNotFound, HeaderNotFound, TransactionNotFound
from hexbytes import HexBytes
from web3 import Web3

from ledger_core.chain.embedded import EmbeddedChain
from ledger_core.chain.jsonrpc_http import TRANSPORT_ERRORS, JsonRpcHttp
from ledger_core.chain.sender import FeePolicy
from ledger_core.coalesce import Coalescer

T = TypeVar("T")

EMBEDDED_GAS_LIMIT = 15_000_000
# Messages with which nodes refuse a raw transaction they already hold or have mined.
KNOWN_TX_MARKERS = ("already known", "known transaction", "already imported", "transaction already exists")
EXPECTED_NONCE = re.compile(r"nonce: expected (\d+), but got (\d+)")
NONCE_TOO_LOW_MARKERS = ("nonce too low", "nonce is too low", "oldnonce", "nonce too small")


class Log(NamedTuple):
    """A log as `ChainClient.logs` gives it: its topics, its data and the transaction that emitted it (0x-hex,
    lower case)."""

    topics: list[bytes]
    data: bytes
    transaction_hash: str


class ChainUnavailable(RuntimeError):
    """The chain did not answer after every retry."""


class NonceHolderUnknown(RuntimeError):
    """The node cannot say which transaction spent a nonce (it keeps no state that far back)."""


class CallFailed(RuntimeError):
    """A node answered an eth_call with an error; `data` holds the revert data (0x-hex) if it gave any."""

    def __init__(self, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.data = data


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff: float = 0.2
    backoff_max: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.backoff
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * 2, self.backoff_max)


@dataclass(frozen=True)
class SendResult:
    """What the node said to one raw transaction: accepted (hash) or refused (message)."""

    tx_hash: str
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None

    @property
    def already_known(self) -> bool:
        return self.error is not None and any(m in self.error.lower() for m in KNOWN_TX_MARKERS)

    @property
    def nonce_too_high(self) -> bool:
        """Refused for arriving ahead of its predecessor (a node that does not queue future nonces)."""
        if self.error is None:
            return False
        message = self.error.lower()
        found = EXPECTED_NONCE.search(message)
        if found is not None:
            return int(found.group(2)) > int(found.group(1))
        return "nonce too high" in message

    @property
    def nonce_too_low(self) -> bool:
        if self.error is None:
            return False
        message = self.error.lower()
        found = EXPECTED_NONCE.search(message)  # py-evm: "Invalid transaction nonce: Expected 1, but got 0"
        if found is not None:
            return int(found.group(2)) < int(found.group(1))
        return any(m in message for m in NONCE_TOO_LOW_MARKERS)


@overload
def _call_result(reply: dict[str, Any], raise_failure: Literal[True]) -> bytes: ...
@overload
def _call_result(reply: dict[str, Any], raise_failure: bool = False) -> bytes | CallFailed: ...
def _call_result(reply: dict[str, Any], raise_failure: bool = False) -> bytes | CallFailed:
    """An eth_call's JSON-RPC reply: its result, or a CallFailed with the revert data (raised if asked)."""
    error = reply.get("error")
    if error is None:
        return bytes.fromhex(str(reply.get("result", "0x"))[2:])
    detail = error.get("data") if isinstance(error, dict) else None
    message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
    failure = CallFailed(message, detail if isinstance(detail, str) else None)
    if raise_failure:
        raise failure
    return failure


def _block_receipt(chain: Any, block: Any, index: int) -> dict[str, Any]:
    """The receipt of the `index`th transaction of a py-evm block (gas used from the cumulative gas)."""
    receipts = block.get_receipts(chain.chaindb)
    previous = receipts[index - 1].gas_used if index else 0
    return {"blockNumber": int(block.number), "blockHash": "0x" + bytes(block.hash).hex(),
            "gasUsed": receipts[index].gas_used - previous, "status": 1 if receipts[index].state_root == b"\x01" else 0}


def _is_transport_error(exc: BaseException) -> bool:
    return isinstance(exc, (*TRANSPORT_ERRORS, requests.ConnectionError, requests.Timeout))


class ChainClient:
    """The chain the service talks to."""

    def __init__(
        self,
        w3: Web3,
        embedded: EmbeddedChain | None = None,
        url: str | None = None,
        retry: RetryPolicy | None = None,
        gas_limit: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.w3 = w3
        self.embedded = embedded
        self.url = url
        self.retry = retry or RetryPolicy()
        self._lock: threading.RLock | None = threading.RLock() if embedded is not None else None
        self._http = JsonRpcHttp(url, timeout) if url else None
        self._reads: Coalescer[tuple[str, list[Any]], dict[str, Any]] = Coalescer(self._post_batch)
        self._ids = itertools.count(1)
        self._mined: dict[str, dict[str, Any]] = {}
        self._client_version: str | None = None
        self.gas_limit = gas_limit if gas_limit is not None else (EMBEDDED_GAS_LIMIT if embedded else None)
        self.chain_id: int = self.request(lambda: int(w3.eth.chain_id))
        self.fees: FeePolicy = self.request(lambda: FeePolicy.detect(w3))

    @property
    def mode(self) -> str:
        return "embedded" if self.embedded is not None else "node"

    def exclusive(self) -> AbstractContextManager[Any]:
        """Held around anything that must not interleave with other requests (the embedded chain)."""
        return self._lock if self._lock is not None else nullcontext()

    def request(self, fn: Callable[[], T]) -> T:
        """Run `fn` against the chain, retrying transport failures with backoff."""
        delays = self.retry.delays()
        while True:
            try:
                with self.exclusive():
                    return fn()
            except Exception as exc:
                if not _is_transport_error(exc):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise ChainUnavailable(f"chain not reachable: {exc}") from exc
                time.sleep(delay)

    def refresh_fees(self) -> None:
        self.fees = self.request(lambda: FeePolicy.detect(self.w3))

    def block_number(self) -> int:
        """The head's number. On a node, one read that concurrent threads' reads share."""
        if self._http is None:
            return self.request(lambda: int(self.w3.eth.block_number))
        (reply,) = self._rpc_batch([("eth_blockNumber", [])], coalesce=True)
        if "result" not in reply:
            raise ChainUnavailable(f"the node gave no block number: {reply.get('error')}")
        return int(reply["result"], 16)

    def head(self) -> tuple[int, bytes]:
        """The latest block's number and hash. On a node, read from the bare JSON-RPC answer: web3 would
        format every transaction hash of the block, milliseconds for a full block."""
        if self._http is None:
            block = self.request(lambda: self.w3.eth.get_block("latest"))
            return int(block["number"]), bytes(block["hash"])
        (reply,) = self._rpc_batch([("eth_getBlockByNumber", ["latest", False])])
        if "result" not in reply or not reply["result"]:
            raise ChainUnavailable(f"the node gave no latest block: {reply.get('error')}")
        return int(reply["result"]["number"], 16), bytes.fromhex(reply["result"]["hash"][2:])

    def block_hash(self, number: int) -> bytes | None:
        """The hash of the chain's block at `number` (None above the head)."""
        if self._http is None:
            try:
                block = self.request(lambda: self.w3.eth.get_block(number))
            except Exception as exc:
                if isinstance(exc, ChainUnavailable):
                    raise
                return None
            return bytes(block["hash"])
        (reply,) = self._rpc_batch([("eth_getBlockByNumber", [hex(number), False])])
        found = reply.get("result")
        return bytes.fromhex(found["hash"][2:]) if found else None

    def balance(self, address: str) -> int:
        """The address's ether balance at the latest block, in wei."""
        return self.request(lambda: int(self.w3.eth.get_balance(address)))  # type: ignore[arg-type]

    def pending_nonce(self, address: str) -> int:
        return self.request(lambda: int(self.w3.eth.get_transaction_count(address, "pending")))  # type: ignore[arg-type]

    def nonces(self, addresses: Sequence[str], block: int | str = "latest") -> list[int]:
        """Each address's transaction count at `block` ("latest", "pending" or a number): on a node one
        JSON-RPC batch of eth_getTransactionCount."""
        if not addresses:
            return []
        if self._http is None:
            return self.request(lambda: [
                int(self.w3.eth.get_transaction_count(a, block))  # type: ignore[arg-type]
                for a in addresses
            ])
        tag = block if isinstance(block, str) else hex(block)
        counts = []
        for address, reply in zip(
            addresses, self._rpc_batch([("eth_getTransactionCount", [a, tag]) for a in addresses]), strict=True
        ):
            if not isinstance(reply.get("result"), str):
                raise ChainUnavailable(f"the node gave no transaction count of {address}: {reply.get('error')}")
            counts.append(int(reply["result"], 16))
        return counts

    def client_version(self) -> str:
        """The node's `web3_clientVersion` (e.g. "anvil/v1.7.1", "besu/v25.7.0/..."), "" if it gives none; asked
        once. The embedded chain answers "embedded"."""
        if self._http is None:
            return "embedded"
        if self._client_version is None:
            (reply,) = self._rpc_batch([("web3_clientVersion", [])])
            self._client_version = str(reply.get("result") or "")
        return self._client_version

    def empties_stuck_pools(self) -> bool:
        """Whether the node is a local anvil node, whose pool can be emptied of a signer's transactions
        (`empty_pools`)."""
        return self._http is not None and self.client_version().lower().startswith("anvil")

    def nonce_holder(self, signer: str, nonce: int, spent_by: int) -> str | None:
        """The hash of the transaction of `signer`'s at `nonce` in the chain's blocks, whose count for the signer
        is past `nonce` at block `spent_by`; None when no block holds one (the node's state is ahead of its
        blocks: an anvil node restored from a dump taken while it mined). anvil answers from its blocks
        (`ots_getTransactionBySenderAndNonce`); other nodes by bisecting the signer's count over the blocks'
        states and reading the block where it passed `nonce`. Raises `NonceHolderUnknown` where the node keeps
        no state that far back."""
        if self.empties_stuck_pools():
            (reply,) = self._rpc_batch([("ots_getTransactionBySenderAndNonce", [signer, nonce])])
            if "error" in reply:
                raise NonceHolderUnknown(f"the node did not say: {reply['error']}")
            return reply.get("result") or None

        def count(block: int) -> int:
            try:
                return self.request(lambda: int(self.w3.eth.get_transaction_count(signer, block)))  # type: ignore[arg-type]
            except ChainUnavailable:
                raise
            except Exception as exc:  # no state kept for that block
                raise NonceHolderUnknown(f"no state at block {block}: {exc}") from exc

        low, high = 0, spent_by
        if count(high) <= nonce:
            raise NonceHolderUnknown(f"nonce {nonce} of {signer} is not spent at block {spent_by}")
        while low < high:
            middle = (low + high) // 2
            if count(middle) > nonce:
                high = middle
            else:
                low = middle + 1
        block = self.request(lambda: self.w3.eth.get_block(low, full_transactions=True))
        for tx in block["transactions"]:
            if isinstance(tx, Mapping) and str(tx["from"]).lower() == signer.lower() and int(tx["nonce"]) == nonce:
                return "0x" + bytes(tx["hash"]).hex()
        return None

    def empty_pools(self, signers: Sequence[str]) -> None:
        """Drop these signers' transactions from a local anvil node's pool (`anvil_removePoolTransactions`)."""
        for reply in self._rpc_batch([("anvil_removePoolTransactions", [s]) for s in signers]):
            if "error" in reply:
                raise ChainUnavailable(f"the node did not empty a pool: {reply['error']}")

    # ------------------------------------------------------------------ JSON-RPC batches (nodes)

    def _rpc_batch(self, calls: Sequence[tuple[str, list[Any]]], coalesce: bool = False) -> list[dict[str, Any]]:
        """One JSON-RPC batch. `coalesce`: reads that may share one HTTP request with other threads' reads
        sent meanwhile (concurrent requests' simulations, member reads and receipt polls), one post instead
        of one each."""
        if coalesce:
            return list(self._reads.run(calls))
        return self._post_batch(list(calls))

    def _post_batch(self, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        assert self._http is not None
        http = self._http
        payload = [{"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": p} for m, p in calls]

        def post() -> list[dict[str, Any]]:
            return list(http.post(payload))

        replies = self.request(post)
        by_id = {r.get("id"): r for r in replies}
        return [by_id.get(p["id"], {"error": {"message": "no reply"}}) for p in payload]

    # ------------------------------------------------------------------ raw transactions

    def send_raw(self, raw_txs: Sequence[str], hashes: Sequence[str]) -> list[SendResult]:
        """Broadcast signed transactions (hashes already known), in order."""
        if not raw_txs:
            return []
        if self._http is not None:
            results = []
            for reply, tx_hash in zip(
                self._rpc_batch([("eth_sendRawTransaction", [raw]) for raw in raw_txs]), hashes, strict=True
            ):
                error = reply.get("error")
                results.append(SendResult(tx_hash, None if error is None else str(error.get("message", error))))
            return results

        def send_each() -> list[SendResult]:
            out = []
            for raw, tx_hash in zip(raw_txs, hashes, strict=True):
                try:
                    self.w3.eth.send_raw_transaction(HexBytes(raw))
                    out.append(SendResult(tx_hash))
                except Exception as exc:
                    if _is_transport_error(exc):
                        raise
                    out.append(SendResult(tx_hash, str(exc)))
                    continue
                self._remember_mined_receipt(tx_hash)
            return out

        return self.request(send_each)

    def receipts(self, hashes: Sequence[str]) -> list[dict[str, Any] | None]:
        """Receipts of transactions (None where not mined yet), normalised to plain values: blockNumber,
        blockHash (0x-hex), gasUsed, status."""
        if not hashes:
            return []
        if self._http is not None:
            replies = self._rpc_batch([("eth_getTransactionReceipt", [h]) for h in hashes], coalesce=True)
            out: list[dict[str, Any] | None] = []
            for reply in replies:
                r = reply.get("result")
                out.append(
                    None
                    if not r
                    else {"blockNumber": int(r["blockNumber"], 16), "blockHash": str(r["blockHash"]).lower(),
                          "gasUsed": int(r["gasUsed"], 16), "status": int(r["status"], 16)}
                )
            return out

        def fetch() -> list[dict[str, Any] | None]:
            found: list[dict[str, Any] | None] = []
            for h in hashes:
                known = self._mined.pop(h, None)
                if known is not None:
                    found.append(known)
                    continue
                found.append(self._embedded_receipt(h))
            return found

        return self.request(fetch)

    def _remember_mined_receipt(self, tx_hash: str) -> None:
        """The embedded chain mines each transaction as it arrives, and eth-tester finds a receipt by
        scanning every block; the receipt is read here from the new head block instead."""
        if self.embedded is None:
            return
        chain = self.embedded.tester.backend.chain
        head = chain.get_canonical_head()
        block = chain.get_canonical_block_by_number(head.block_number)
        wanted = bytes.fromhex(tx_hash[2:])
        for index, tx in enumerate(block.transactions):
            if tx.hash == wanted:
                self._mined[tx_hash] = _block_receipt(chain, block, index)
                if len(self._mined) > 100_000:
                    self._mined.clear()
                return

    def _embedded_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """A receipt on the embedded chain, found through the chain database's index of canonical
        transactions (eth-tester's own look-up scans every block from the head down)."""
        assert self.embedded is not None
        chain = self.embedded.tester.backend.chain
        try:
            wanted = bytes.fromhex(tx_hash.removeprefix("0x"))
            number, index = chain.chaindb.get_transaction_index(wanted)
            block = chain.get_canonical_block_by_number(number)
        except (ValueError, TransactionNotFound, HeaderNotFound, BlockNotFound):
            return None
        # A snapshot reverted leaves the numbers above the new head (and their look-ups) in the database.
        if number > chain.get_canonical_head().block_number or index >= len(block.transactions) or (
            block.transactions[index].hash != wanted
        ):
            return None
        return _block_receipt(chain, block, index)

    def forget_receipts(self) -> None:
        """Drop remembered receipts (after the embedded chain was reverted to a snapshot)."""
        self._mined.clear()

    def call(self, tx: dict[str, Any], block: int | str = "latest") -> bytes:
        """eth_call; raises the node's exception on a revert (decode it with a RevertDecoder)."""
        return bytes(self.request(lambda: self.w3.eth.call(tx, block_identifier=block)))  # type: ignore[arg-type]

    def call_data(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        """eth_call of encoded calldata; on a node one bare JSON-RPC request (no web3 formatting).
        A revert raises CallFailed (node) or eth-tester's exception (embedded), both decodable."""
        if self._http is None:
            return self.call({"to": to, "data": HexBytes(data)}, block)
        tag = block if isinstance(block, str) else hex(block)
        (reply,) = self._rpc_batch([("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag])])
        return _call_result(reply, raise_failure=True)

    def calls(self, calls: Sequence[dict[str, Any]]) -> list[bytes | Exception]:
        """eth_calls of transaction dicts (from, to, data as bytes, value, gas) at the latest block, each
        answered with its result or the exception of its revert (decodable with a RevertDecoder); on a
        node one JSON-RPC batch."""
        if self._http is None:
            out: list[bytes | Exception] = []
            for call in calls:
                try:
                    out.append(self.call({**call, "data": HexBytes(call["data"])}))
                except ChainUnavailable:
                    raise
                except Exception as exc:
                    out.append(exc)
            return out
        params = []
        for call in calls:
            tx = {"to": call["to"], "data": "0x" + bytes(call["data"]).hex()}
            if call.get("from"):
                tx["from"] = call["from"]
            if call.get("value"):
                tx["value"] = hex(int(call["value"]))
            if call.get("gas"):
                tx["gas"] = hex(int(call["gas"]))
            params.append(("eth_call", [tx, "latest"]))
        return [_call_result(reply) for reply in (self._rpc_batch(params, coalesce=True) if params else [])]

    def call_many(self, to: str, calls: Sequence[bytes]) -> list[bytes]:
        """Several eth_calls to one contract at the latest block: one JSON-RPC batch on a node."""
        if self._http is None:
            return [self.call_data(to, data) for data in calls]
        replies = self._rpc_batch([("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"]) for data in calls],
                                  coalesce=True)
        return [_call_result(reply, raise_failure=True) for reply in replies]

    def logs(self, address: str, topics: Sequence[bytes | None], from_block: int, to_block: int) -> list[Log]:
        """One contract's logs in a block range whose leading topics match `topics` (None: any); on a node one
        bare eth_getLogs, decoded by the caller (web3's event filter formats and decodes every log, milliseconds
        a request)."""
        params = {"address": address, "fromBlock": hex(from_block), "toBlock": hex(to_block),
                  "topics": [None if t is None else "0x" + t.hex() for t in topics]}
        if self._http is None:
            entries = self.request(lambda: self.w3.eth.get_logs(params))  # type: ignore[arg-type]
            return [Log([bytes(t) for t in e["topics"]], bytes(e["data"]), "0x" + bytes(e["transactionHash"]).hex())
                    for e in entries]
        (reply,) = self._rpc_batch([("eth_getLogs", [params])])
        if "result" not in reply:
            raise ChainUnavailable(f"the node gave no logs: {reply.get('error')}")
        return [Log([bytes.fromhex(t[2:]) for t in e["topics"]], bytes.fromhex(e["data"][2:]),
                    str(e["transactionHash"]).lower()) for e in reply["result"]]

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        return self.request(lambda: int(self.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]

    def estimates(self, txs: Sequence[dict[str, Any]]) -> list[int | Exception]:
        """Gas estimates of transaction dicts (from, to, data as bytes, value) at the latest block, each
        answered with its estimate or the exception of its revert (decodable with a RevertDecoder); on a
        node one JSON-RPC batch."""
        if self._http is None:
            out: list[int | Exception] = []
            for tx in txs:
                try:
                    out.append(self.estimate_gas({**tx, "data": HexBytes(tx["data"])}))
                except ChainUnavailable:
                    raise
                except Exception as exc:
                    out.append(exc)
            return out
        params = [("eth_estimateGas", [{"from": tx["from"], "to": tx["to"], "data": "0x" + bytes(tx["data"]).hex(),
                                        "value": hex(int(tx.get("value") or 0))}]) for tx in txs]
        results: list[int | Exception] = []
        for reply in self._rpc_batch(params, coalesce=True) if params else []:
            failure = _call_result(reply) if "error" in reply else None  # a CallFailed with the revert data
            if isinstance(failure, CallFailed):
                results.append(failure)
            else:
                results.append(int(str(reply["result"]), 16))
        return results

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

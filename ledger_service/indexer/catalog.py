"""The events of a deployed suite: topic -> (contract, event, decoder), from the compiled ABIs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_utils import event_abi_to_log_topic

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import Deployment, EventSource


@dataclass(frozen=True)
class RawLog:
    """A log as the indexer needs it, independent of the RPC client."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class ChainEvent:
    """A decoded event with its position on chain (and its block's time, for events that leave it to the block)."""

    contract: str
    event: str
    args: dict[str, Any]
    block_number: int
    block_hash: bytes
    tx_hash: str
    log_index: int
    block_timestamp: int = 0


@dataclass(frozen=True)
class EventDecoder:
    name: str
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]
    # A struct argument's field names (as nested ABI inputs), so it decodes to a dict; None for other types.
    data_fields: tuple[Any, ...] = ()

    @classmethod
    def from_abi(cls, abi: Mapping[str, Any]) -> EventDecoder:
        inputs = abi["inputs"]
        data = [i for i in inputs if not i["indexed"]]
        return cls(
            name=abi["name"],
            indexed=tuple((i["name"], i["type"]) for i in inputs if i["indexed"]),
            data_names=tuple(i["name"] for i in data),
            data_types=tuple(_abi_type(i) for i in data),
            data_fields=tuple(i if i["type"] == "tuple" else None for i in data),
        )

    def decode(self, topics: tuple[bytes, ...], data: bytes) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for (name, typ), topic in zip(self.indexed, topics[1:], strict=True):
            args[name] = topic if _is_dynamic(typ) else _word(typ, topic)
        if self.data_types:
            if all(_is_static_word(t) for t in self.data_types):
                words = (data[i:i + 32] for i in range(0, 32 * len(self.data_types), 32))
                args.update((n, _word(t, w)) for n, t, w in zip(self.data_names, self.data_types, words, strict=True))
            else:
                values = decode(list(self.data_types), data)
                fields = self.data_fields or (None,) * len(values)
                args.update((n, _named(v, f) if f else _normalise(v))
                            for n, v, f in zip(self.data_names, values, fields, strict=True))
        return args


def _abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type of an ABI input: a struct's is its fields' types in parentheses."""
    typ = str(param["type"])
    if typ.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + typ[len("tuple"):]
    return typ


def _named(value: Any, param: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded struct as a dict by field name (nested structs too)."""
    return {c["name"]: _named(v, c) if c["type"] == "tuple" else _normalise(v)
            for v, c in zip(value, param["components"], strict=True)}


def _is_dynamic(typ: str) -> bool:
    return typ in ("string", "bytes") or typ.endswith("]") or typ.startswith("(")


def _is_static_word(typ: str) -> bool:
    return not _is_dynamic(typ) and (typ in ("address", "bool") or typ.startswith(("uint", "bytes")))


@lru_cache(maxsize=65536)
def checksum(raw: bytes) -> str:
    return str(to_checksum_address(raw))


def _word(typ: str, word: bytes) -> Any:
    """One 32-byte ABI word of a static type (the fast path for topics and static data)."""
    if typ == "address":
        return checksum(word[12:])
    if typ.startswith("uint"):
        return int.from_bytes(word, "big")
    if typ == "bool":
        return word[-1] != 0
    if typ.startswith("bytes"):
        return word[: int(typ[5:])]
    return decode([typ], word)[0]


def _normalise(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return checksum(bytes.fromhex(value[2:]))
    if isinstance(value, tuple):
        return [_normalise(v) for v in value]
    return value


class EventCatalog:
    """Decoders of every event of the suite's contracts, by (address, topic0).

    A contract upgraded to a new deployment has several addresses, each read over the blocks it served
    (`EventSource`); each address has its own checkpoint (`addresses` maps the checkpoint's key to it)."""

    def __init__(self, artifacts: Mapping[str, Artifact], addresses: Mapping[str, str] | None = None,
                 sources: Sequence[EventSource] | None = None) -> None:
        if sources is None:
            sources = [EventSource(name, addr, name, 1, 0, None) for name, addr in (addresses or {}).items()]
        sources = [s for s in sources if s.artifact in artifacts]
        self.addresses: dict[str, str] = {s.key: str(to_checksum_address(s.address)) for s in sources}
        self.contract_at: dict[str, str] = {str(to_checksum_address(s.address)): s.contract for s in sources}
        self.key_at: dict[str, str] = {addr: key for key, addr in self.addresses.items()}
        self.first_block: dict[str, int] = {s.key: s.from_block for s in sources}
        self._until: dict[str, int | None] = {str(to_checksum_address(s.address)): s.until_block for s in sources}
        self._decoders: dict[tuple[str, bytes], EventDecoder] = {}
        for source in sources:
            addr = str(to_checksum_address(source.address))
            for entry in artifacts[source.artifact].abi:
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    topic = bytes(event_abi_to_log_topic(entry))  # type: ignore[arg-type]
                    self._decoders[(addr, topic)] = EventDecoder.from_abi(entry)

    @classmethod
    def of_deployment(cls, artifacts: Mapping[str, Artifact], deployment: Deployment) -> EventCatalog:
        """Every address of every contract of `deployment`, earlier versions over the blocks they served."""
        return cls(artifacts, sources=deployment.event_sources())

    def serves(self, address: str, block: int) -> bool:
        """Whether `address` belonged to the suite at `block` (an earlier version only up to its last block)."""
        until = self._until.get(address)
        return address in self._until and (until is None or block <= until)

    def events_of(self, contract: str) -> list[str]:
        addr = self.addresses[contract]
        return sorted(d.name for (a, _), d in self._decoders.items() if a == addr)

    def decode(self, log: RawLog, block_timestamp: int = 0) -> ChainEvent | None:
        """The decoded event (stamped with its block's time, in seconds), or None for a log of another contract or
        an unknown event."""
        contract = self.contract_at.get(log.address)
        if contract is None or not log.topics:
            return None
        decoder = self._decoders.get((log.address, log.topics[0]))
        if decoder is None:
            return None
        return ChainEvent(contract, decoder.name, decoder.decode(log.topics, log.data), log.block_number,
                          log.block_hash, log.tx_hash, log.log_index, block_timestamp)

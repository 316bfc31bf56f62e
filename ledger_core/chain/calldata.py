"""Calldata of the suite's functions, encoded and decoded with cached selectors and types.

web3's contract-function objects re-resolve the ABI on every call; on the hot path of
the service (many transfers a second) the selector and argument types of each function
are looked up once and the arguments encoded straight with eth-abi.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.grammar import ABIType, TupleType, parse
from eth_utils import function_signature_to_4byte_selector

from ledger_core.chain.abi_fast import tuple_encoder
from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.errors import _abi_type

STATE_CHANGING = ("nonpayable", "payable")


class UnknownFunction(LookupError):
    """No function of that name (or selector) in the contract."""


@dataclass(frozen=True)
class FunctionDef:
    contract: str
    name: str
    types: tuple[str, ...]
    arg_names: tuple[str, ...]
    selector: bytes
    mutability: str
    outputs: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.types)})"

    @property
    def changes_state(self) -> bool:
        return self.mutability in STATE_CHANGING

    def encode(self, args: Sequence[Any]) -> bytes:
        fast = tuple_encoder(self.types)
        return self.selector + (fast(args) if fast is not None else abi_encode(list(self.types), list(args)))

    def decode_args(self, calldata: bytes) -> list[Any]:
        values = abi_decode(list(self.types), calldata[4:])
        return [_normalise(v, t) for v, t in zip(values, self.types, strict=True)]

    def decode_result(self, data: bytes) -> Any:
        """A call's answer as web3's contract call gives it: one output as itself, several as a list,
        addresses checksummed, a struct as a tuple, an array as a list."""
        values = [_as_web3(v, _parsed(t)) for v, t in zip(abi_decode(list(self.outputs), data), self.outputs,
                                                           strict=True)]
        return values[0] if len(values) == 1 else values


def _normalise(value: Any, abi_type: str) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "address[]":
        return [to_checksum_address(v) for v in value]
    if isinstance(value, tuple):
        return list(value)
    return value


@cache
def _parsed(abi_type: str) -> ABIType:
    return parse(abi_type)


def _as_web3(value: Any, abi_type: ABIType) -> Any:
    if abi_type.is_array:
        item = abi_type.item_type
        return [_as_web3(v, item) for v in value]
    if isinstance(abi_type, TupleType):
        return tuple(_as_web3(v, t) for v, t in zip(value, abi_type.components, strict=True))
    if abi_type.to_type_str() == "address":
        return to_checksum_address(value)
    return value


class CallEncoder:
    """The functions of each contract of a suite, by name, signature and selector."""

    def __init__(self, artifacts: Mapping[str, Artifact], contracts: Sequence[str]) -> None:
        self._by_name: dict[tuple[str, str], FunctionDef] = {}
        self._by_selector: dict[tuple[str, bytes], FunctionDef] = {}
        for contract in contracts:
            for item in artifacts[contract].abi:
                if item.get("type") != "function":
                    continue
                inputs = item.get("inputs", [])
                types = tuple(_abi_type(i) for i in inputs)
                signature = f"{item['name']}({','.join(types)})"
                fn = FunctionDef(
                    contract=contract,
                    name=str(item["name"]),
                    types=types,
                    arg_names=tuple(str(i.get("name") or f"arg{n}") for n, i in enumerate(inputs)),
                    selector=function_signature_to_4byte_selector(signature),
                    mutability=str(item.get("stateMutability", "nonpayable")),
                    outputs=tuple(_abi_type(o) for o in item.get("outputs", [])),
                )
                self._by_name[(contract, signature)] = fn
                # A bare name resolves only when it is not overloaded.
                key = (contract, fn.name)
                self._by_name[key] = fn if key not in self._by_name else _OVERLOADED
                self._by_selector[(contract, fn.selector)] = fn

    def function(self, contract: str, function: str) -> FunctionDef:
        fn = self._by_name.get((contract, function))
        if fn is None or fn is _OVERLOADED:
            raise UnknownFunction(f"{contract}.{function}")
        return fn

    def by_selector(self, contract: str, selector: bytes) -> FunctionDef:
        fn = self._by_selector.get((contract, selector))
        if fn is None:
            raise UnknownFunction(f"{contract}: selector 0x{selector.hex()}")
        return fn

    def encode(self, contract: str, function: str, args: Sequence[Any]) -> bytes:
        return self.function(contract, function).encode(args)


_OVERLOADED = FunctionDef("", "", (), (), b"", "")


def jsonable(value: Any) -> Any:
    """Arguments as JSON: bytes as 0x-hex, integers beyond 2^53 as decimal strings, tuples as lists."""
    # The plain types first, by exact type: a trace's proof bundles are mostly strings and small ints already
    # (a few hundred values each), and the checks below cost more than these.
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return value if -(2**53) < value < 2**53 else str(value)
    if kind is dict:
        return {k: jsonable(v) for k, v in value.items()}
    if kind is list:
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value

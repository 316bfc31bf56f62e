"""Turn a revert into the contract's custom error, by name and with its arguments.

Every custom error of every compiled contract is indexed by its 4-byte selector, so
a revert from any contract of the suite (including those raised by OpenZeppelin
bases) decodes to e.g. `MissingRole(account=0x.., role=0x..)` rather than
"execution reverted".
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.compiler import Artifact

_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")
_PANIC = function_signature_to_4byte_selector("Panic(uint256)")
_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def _abi_type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of a parameter, expanding tuples."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple'):]}"
    return kind


@dataclass(frozen=True)
class ErrorDef:
    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.types)})"


class ContractRevert(Exception):
    """A transaction or call reverted; `error` and `args` name the custom error when known."""

    def __init__(self, error: str, args: Mapping[str, Any] | None = None, raw: bytes = b"") -> None:
        self.error = error
        self.args_by_name: dict[str, Any] = dict(args or {})
        self.raw = raw
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.args_by_name.items())
        super().__init__(f"{error}({shown})")

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(self.args_by_name.values())


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def _normalise(value: Any, abi_type: str) -> Any:
    if abi_type == "address" and isinstance(value, str):
        return to_checksum_address(value)
    return value


@dataclass
class RevertDecoder:
    """Decodes revert data against the custom errors of a set of contracts."""

    errors: dict[bytes, ErrorDef] = field(default_factory=dict)

    @classmethod
    def from_artifacts(cls, artifacts: Iterable[Artifact]) -> RevertDecoder:
        decoder = cls()
        for art in artifacts:
            decoder.add_abi(art.abi)
        return decoder

    def add_abi(self, abi: Iterable[Mapping[str, Any]]) -> None:
        for item in abi:
            if item.get("type") != "error":
                continue
            inputs = item.get("inputs", [])
            definition = ErrorDef(
                name=str(item["name"]),
                names=tuple(str(i.get("name") or f"arg{n}") for n, i in enumerate(inputs)),
                types=tuple(_abi_type(i) for i in inputs),
            )
            self.errors[function_signature_to_4byte_selector(definition.signature)] = definition

    def decode(self, data: bytes) -> ContractRevert:
        selector, body = data[:4], data[4:]
        if not data:
            return ContractRevert("Reverted", raw=data)
        if selector == _ERROR_STRING:
            (reason,) = abi_decode(["string"], body)
            return ContractRevert("Error", {"reason": reason}, data)
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return ContractRevert("Panic", {"code": code, "meaning": _PANIC_CODES.get(code, "panic")}, data)
        definition = self.errors.get(selector)
        if definition is None:
            return ContractRevert("UnknownError", {"data": data}, data)
        values = abi_decode(list(definition.types), body)
        return ContractRevert(
            definition.name,
            {n: _normalise(v, t) for n, v, t in zip(definition.names, values, definition.types, strict=True)},
            data,
        )

    def from_exception(self, exc: BaseException) -> ContractRevert | None:
        """Decode a revert raised by web3 (node) or eth-tester (embedded); None if not a revert."""
        data = revert_data(exc)
        return None if data is None else self.decode(data)


def revert_data(exc: BaseException) -> bytes | None:
    """Raw revert data carried by a web3 or eth-tester exception, if any."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes):
        return data
    message = str(exc.args[0]) if exc.args else ""
    prefix = "execution reverted"
    if not message.startswith(prefix):
        return None
    tail = message[len(prefix):].lstrip(": ")
    if tail.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(tail)
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, bytes) else None
    if not tail:
        return b""
    # eth-tester already decoded an Error(string) into its text.
    from eth_abi import encode as abi_encode

    return _ERROR_STRING + abi_encode(["string"], [tail])

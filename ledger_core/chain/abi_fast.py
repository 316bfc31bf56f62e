"""ABI encoding of the argument types the suite's hot functions take, without eth-abi's per-value machinery.

eth-abi validates each value through generic list and type checks that cost more than the encoding itself
(about 80 µs for a transfer's five arguments, a fifth of a single request's time on the event loop). Here each
argument type gets one small function, chosen once per function signature: elementary types (address, bool,
uintN, intN, bytesN, bytes, string) and dynamic arrays of static elementary types. Anything else returns None
and is left to eth-abi. Values are checked as strictly as eth-abi checks them and refused with its errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from eth_abi.exceptions import EncodingTypeError, ValueOutOfBounds

Head = Callable[[Any], bytes]
_SIZED = re.compile(r"^(uint|int|bytes)(\d+)$")
_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")


def _address(value: Any) -> bytes:
    if isinstance(value, str) and _HEX40.fullmatch(value):  # any letter case, as eth-abi takes it; nothing around it
        return bytes(12) + bytes.fromhex(value[2:])
    if isinstance(value, bytes | bytearray) and len(value) == 20:
        return bytes(12) + bytes(value)
    raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as an address")


def _bool(value: Any) -> bytes:
    if not isinstance(value, bool):
        raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as a bool")
    return (1 if value else 0).to_bytes(32, "big")


def _uint(bits: int) -> Head:
    top = 1 << bits

    def encode(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as uint{bits}")
        if not 0 <= value < top:
            raise ValueOutOfBounds(f"Value {value!r} cannot be encoded in {bits} bits")
        return value.to_bytes(32, "big")

    return encode


def _int(bits: int) -> Head:
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)

    def encode(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as int{bits}")
        if not low <= value < high:
            raise ValueOutOfBounds(f"Value {value!r} cannot be encoded in {bits} bits")
        return value.to_bytes(32, "big", signed=True)

    return encode


def _fixed_bytes(size: int) -> Head:
    def encode(value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray):
            raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as bytes{size}")
        if len(value) > size:
            raise ValueOutOfBounds(f"Value {value!r} exceeds the {size} bytes of bytes{size}")
        return bytes(value).ljust(32, b"\0")

    return encode


def _padded(data: bytes) -> bytes:
    return len(data).to_bytes(32, "big") + data + bytes(-len(data) % 32)


def _bytes(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as bytes")
    return _padded(bytes(value))


def _string(value: Any) -> bytes:
    if not isinstance(value, str):
        raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as string")
    return _padded(value.encode())


def _static(abi_type: str) -> Head | None:
    if abi_type == "address":
        return _address
    if abi_type == "bool":
        return _bool
    sized = _SIZED.match(abi_type)
    if sized is None:
        return None
    kind, size = sized.group(1), int(sized.group(2))
    if kind == "bytes":
        return _fixed_bytes(size) if 1 <= size <= 32 else None
    if not (8 <= size <= 256 and size % 8 == 0):
        return None
    return _uint(size) if kind == "uint" else _int(size)


def _array(element: Head, abi_type: str) -> Head:
    def encode(value: Any) -> bytes:
        if not isinstance(value, list | tuple):
            raise EncodingTypeError(f"Value {value!r} of type {type(value)} cannot be encoded as {abi_type}")
        return len(value).to_bytes(32, "big") + b"".join(element(v) for v in value)

    return encode


def _part(abi_type: str) -> tuple[Head, bool] | None:
    """The encoder of one argument type and whether it is dynamic; None if not handled here."""
    if abi_type == "bytes":
        return _bytes, True
    if abi_type == "string":
        return _string, True
    if abi_type.endswith("[]"):
        element = _static(abi_type[:-2])
        return (_array(element, abi_type), True) if element is not None else None
    static = _static(abi_type)
    return (static, False) if static is not None else None


@lru_cache(maxsize=1024)
def tuple_encoder(types: tuple[str, ...]) -> Callable[[Sequence[Any]], bytes] | None:
    """The encoder of an argument list of these types (heads, then the dynamic tails), or None when a type is
    one this module leaves to eth-abi."""
    parts = [_part(t) for t in types]
    if any(p is None for p in parts):
        return None
    heads = [p for p in parts if p is not None]
    count = len(heads)

    def encode(args: Sequence[Any]) -> bytes:
        if len(args) != count:
            raise EncodingTypeError(f"{count} arguments expected, {len(args)} given")
        head: list[bytes] = []
        tail: list[bytes] = []
        offset = 32 * count
        for (encoder, dynamic), value in zip(heads, args, strict=True):
            data = encoder(value)
            if dynamic:
                head.append(offset.to_bytes(32, "big"))
                tail.append(data)
                offset += len(data)
            else:
                head.append(data)
        return b"".join(head) + b"".join(tail)

    return encode

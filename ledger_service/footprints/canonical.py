"""Canonical JSON of product footprints, and the keccak-256 commitment over it (COMMITMENTS.md, "Product footprints").

The encoding, written down once:

- a JSON value with object keys sorted (by code point), no whitespace at all (separators `,` and `:`), UTF-8,
  non-ASCII characters as themselves (no `\\u` escapes);
- integers are JSON numbers, written in full (no exponent);
- `Decimal` values are JSON strings in plain notation, without exponent and without trailing zeros after the point
  (`Decimal("1250.500")` -> `"1250.5"`, `Decimal("1E+3")` -> `"1000"`, `-0` -> `"0"`);
- `Fraction` values are JSON strings `"numerator/denominator"` in lowest terms (`"3/4"`, a whole number `"2/1"`);
- datetimes are JSON strings in UTC, `YYYY-MM-DDTHH:MM:SSZ` (a naive or non-UTC datetime is refused);
- bytes are JSON strings `0x` + lowercase hex;
- tuples and lists are arrays, in their order; `True`/`False`/`None` are `true`/`false`/`null`;
- floats, NaN and infinities are refused: a float cannot be reproduced exactly.

The commitment is `keccak256(canonical bytes)`, as 32 bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from eth_utils import keccak

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


class NotCanonical(TypeError):
    """A value has no canonical encoding (a float, a naive datetime, an unknown type)."""


def decimal_text(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros after the point."""
    if not value.is_finite():
        raise NotCanonical(f"{value} is not a finite decimal")
    if value.is_zero():
        return "0"
    text = format(value.normalize(), "f")
    return text


def fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
        raise NotCanonical(f"{moment.isoformat()} is not a UTC datetime")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def plain(value: Any) -> JsonValue:
    """The JSON value of `value` under the encoding above."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise NotCanonical(f"a float ({value!r}) has no canonical encoding: use int or Decimal")
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, Fraction):
        return fraction_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise NotCanonical("object keys must be strings")
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [plain(item) for item in value]
    raise NotCanonical(f"{type(value).__name__} has no canonical encoding")


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def commitment(value: Any) -> bytes:
    """keccak256 of the canonical bytes."""
    return bytes(keccak(canonical_bytes(value)))


def sha256(value: Any) -> bytes:
    return hashlib.sha256(canonical_bytes(value)).digest()

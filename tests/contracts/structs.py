"""Read contract views that return structs as dicts keyed by the ABI's field names."""

from __future__ import annotations

from typing import Any

from tests.support.ledger import Ledger


def _named(value: Any, param: dict[str, Any]) -> Any:
    kind = str(param["type"])
    if kind == "tuple":
        return {c["name"]: _named(v, c) for v, c in zip(value, param["components"], strict=True)}
    if kind == "tuple[]":
        item = {**param, "type": "tuple"}
        return [_named(v, item) for v in value]
    return value


def view(ledger: Ledger, contract: str, function: str, *args: Any) -> Any:
    """Call a view; a struct (or list of structs) comes back as a dict (or list of dicts).

    With several outputs, the result is a tuple of the converted outputs."""
    abi = next(
        item
        for item in ledger.artifacts[contract].abi
        if item.get("type") == "function" and item["name"] == function and len(item["inputs"]) == len(args)
    )
    result = ledger.call(contract, function, *args)
    outputs = abi["outputs"]
    if len(outputs) == 1:
        return _named(result, outputs[0])
    return tuple(_named(v, o) for v, o in zip(result, outputs, strict=True))

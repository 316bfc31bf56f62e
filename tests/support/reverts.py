"""Assert that a call reverts with a given custom error and arguments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ledger_core.chain.errors import ContractRevert


@contextmanager
def reverts(error: str, *args: Any, **kwargs: Any) -> Iterator[None]:
    """`with reverts("MissingRole", account, role):` — positional args match the error's
    arguments in order; keyword args match by name. Addresses compare case-insensitively."""
    with pytest.raises(ContractRevert) as info:
        yield
    revert = info.value
    assert revert.error == error, f"expected {error}, got {revert}"
    if args:
        assert len(args) == len(revert.values), f"{revert} has {len(revert.values)} arguments"
        for expected, actual in zip(args, revert.values, strict=True):
            assert _same(expected, actual), f"{revert}: expected {expected!r}"
    for name, expected in kwargs.items():
        assert name in revert.args_by_name, f"{revert} has no argument {name}"
        assert _same(expected, revert.args_by_name[name]), f"{revert}: expected {name}={expected!r}"


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.lower() == actual.lower()
    if isinstance(expected, str) and isinstance(actual, bytes):
        return expected.lower().removeprefix("0x") == actual.hex()
    return bool(expected == actual)

"""One deployed suite per test session; every test starts from the same snapshot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger_core.chain.anvil import AnvilNode, AnvilUnavailable, free_port
from ledger_core.chain.compiler import Artifact, build
from ledger_core.chain.embedded import start_embedded
from tests.support.ledger import Ledger


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    return build()


@pytest.fixture(scope="session")
def _session_ledger(artifacts: dict[str, Artifact]) -> Ledger:
    return Ledger(start_embedded(), artifacts)


@pytest.fixture
def ledger(_session_ledger: Ledger) -> Iterator[Ledger]:
    """The deployed suite with the cast admitted; state changes are undone after the test."""
    snap = _session_ledger.snapshot()
    yield _session_ledger
    _session_ledger.revert(snap)


@pytest.fixture
def anvil() -> Iterator[AnvilNode]:
    """A local anvil node of its own, on a free port (skips where anvil cannot run)."""
    try:
        node = AnvilNode(free_port()).start()
    except AnvilUnavailable as exc:
        pytest.skip(f"anvil cannot run here: {exc}")
    yield node
    node.stop()

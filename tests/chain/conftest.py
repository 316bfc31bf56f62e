"""A local node with the service over it, for the tests that need a real JSON-RPC node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_core.chain.anvil import free_port
from ledger_core.chain.compiler import Artifact
from tests.chain.node_service import NodeService, require_anvil


@pytest.fixture
def service(tmp_path: Path, artifacts: dict[str, Artifact]) -> Iterator[NodeService]:
    require_anvil()
    svc = NodeService(tmp_path, artifacts, free_port())
    yield svc
    svc.close()

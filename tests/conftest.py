"""One deployed suite per test session; every test starts from the same snapshot.

The suite runs on two workers (`pytest -n 2`), each taking whole groups of tests (`--dist loadfile` in
pyproject.toml, grouped by `ModuleGroups`): a group is a module, except the console's modules, which share one group
so that the demo's park they run on is told once. Groups are taken in collection order: the slowest are collected
first, so none is left running alone at the end.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator

import pytest

from ledger_core.chain.anvil import AnvilNode, AnvilUnavailable, free_port
from ledger_core.chain.compiler import Artifact, build
from ledger_core.chain.embedded import start_embedded
from ledger_core.paths import BUILD_DIR
from tests.support.ledger import Ledger

# Started first, slowest first; every other module keeps its place after them.
SLOWEST_FIRST = (
    "tests/faults/test_faults.py",  # real node, service and database processes, several scenarios
    "tests/test_typing.py",  # mypy from a cold cache; needs no contracts, so it runs while the other worker compiles
    "tests/audit/test_tamper.py",
    "tests/contracts/test_credit_market_properties.py",
    "tests/audit/test_outbox_check.py",
    "tests/test_scenario.py",
    "tests/service/test_api_fuzz.py",
    "tests/console/test_console_http.py",  # the demo's park, told once for every console module
    "tests/console/test_browser.py",
    "tests/clients/test_examples.py",  # a node, a deployment and a served service
)


# Modules under these folders run on one worker, one after another (they share session fixtures).
SHARED_GROUPS = ("tests/console/",)


def group_of(path: str) -> str:
    return next((folder for folder in SHARED_GROUPS if path.startswith(folder)), path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: the rest keep order


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Whole modules per worker, as `--dist loadfile`, with the modules of a shared folder as one unit."""
    from xdist.scheduler import LoadFileScheduling

    class ModuleGroups(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(super()._split_scope(nodeid))

    return ModuleGroups(config, log)


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    """The compiled contracts. One worker compiles while the other waits, then reads the cached build: two
    workers compiling side by side would each take as long as one."""
    BUILD_DIR.parent.mkdir(parents=True, exist_ok=True)
    with (BUILD_DIR.parent / ".compile.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
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

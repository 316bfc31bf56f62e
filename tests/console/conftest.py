"""The demo's park (`--small`: 4 weeks, 2 meters per enterprise) told through the same use cases as `./run demo`,
once per test session, plus one enterprise member holding its own key (non-custodial) to sign in with
Sign-In with Ethereum the way a wallet would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_core.chain.compiler import Artifact
from ledger_service.demo import cast as demo_cast
from ledger_service.demo import scenario
from ledger_service.runtime import Runtime
from ledger_service.services.wiring import build_services
from tests.service.conftest import service_settings

YEAR = scenario.YEAR
PARK = demo_cast.PARK
FIRST, SECOND = demo_cast.FIRST_ENTERPRISE, demo_cast.FIRST_ENTERPRISE + 1


@dataclass(frozen=True)
class Park:
    runtime: Runtime
    keys: dict[str, str]  # actor -> API key (regulator, enterprise-11, verifier, trader_a, bank, oracle)
    wallet: LocalAccount  # a non-custodial ENTERPRISE member of enterprise 11


@pytest.fixture(scope="session")
def park(artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Park]:
    run_dir: Path = tmp_path_factory.mktemp("console-park")
    runtime = Runtime.start(service_settings(run_dir, window="week"), artifacts=artifacts)
    try:
        outcome = scenario.tell(runtime, scenario.Options(data_dir=run_dir, weeks=4, devices=2, serve=False), run_dir,
                                time.perf_counter())
        wallet = Account.create()
        regulator = demo_cast.caller(runtime, runtime.bootstrap_regulator or "")
        build_services(runtime).members.admit(regulator, FIRST, ["ENTERPRISE"], address=wallet.address)
        yield Park(runtime, outcome.sign_in_keys, wallet)
    finally:
        runtime.close()

"""The demo's park (`--small`: 4 weeks, 2 meters per enterprise) told through the same use cases as `./run demo`,
once per test session, plus one enterprise member holding its own key (non-custodial) to sign in with
Sign-In with Ethereum the way a wallet would."""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_core.chain.compiler import Artifact
from ledger_core.paths import REPO_ROOT
from ledger_service.api.app import create_app
from ledger_service.demo import cast as demo_cast
from ledger_service.demo import scenario
from ledger_service.runtime import Runtime
from ledger_service.services.wiring import build_services
from tests.service.conftest import service_settings

YEAR = scenario.YEAR
PARK = demo_cast.PARK
FIRST, SECOND = demo_cast.FIRST_ENTERPRISE, demo_cast.FIRST_ENTERPRISE + 1
CHROMIUM = Path(os.environ.get("CARBONLEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CARBONLEDGER_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"


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


@pytest.fixture(scope="session")
def served(park: Park) -> Iterator[str]:
    """The service's application (API and console) over the park, served by uvicorn in a thread."""
    port = random.randint(20001, 60000)
    server = uvicorn.Server(uvicorn.Config(create_app(park.runtime), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail(f"the service did not start on port {port}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def shots() -> Path:
    """The screenshots folder, emptied once per worker's session (each module names its own files)."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def chrome() -> Iterator[Any]:
    from selenium import webdriver  # a dev extra, needed only where a browser test runs

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--lang=en-GB", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(15)  # a lookup right after a click waits for the page the click opens
    yield driver
    driver.quit()

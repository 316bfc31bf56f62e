"""The client examples (`clients/examples/`) run against a local node deployment set up as the README's "Client
kit" section says: `carbonledger chain start`, `deploy --dev-key`, `serve`, the regulator's requests (curl there),
then each example as a member holding its own key (TypeScript with viem, compiled by tsc; Python with web3.py)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger_core.chain.anvil import free_port
from ledger_core.paths import NODE_MODULES, REPO_ROOT
from tests.chain.node_service import require_anvil
from tests.clients.test_abi_kit import canonical

YEAR, AMOUNT, GRANT = 2025, 7, 100
TIMEOUT = 120
TS_BUILD = REPO_ROOT / "build" / "clients"


@dataclass
class LocalService:
    workdir: Path
    env: dict[str, str]  # what an example is given: the service, the node, the member's key, ...
    deployments: Path
    api: str
    member: str


def _clean_env() -> dict[str, str]:
    """The caller's environment without any CARBONLEDGER_ setting (the steps set their own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CARBONLEDGER_")}


def carbonledger(env: dict[str, str], *args: str) -> str:
    """One `carbonledger` command, as the README gives it."""
    done = subprocess.run([str(Path(sys.executable).parent / "carbonledger"), *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, f"carbonledger {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def as_regulator(api: str, key: str, path: str, body: dict[str, Any]) -> None:
    """One of the README's curl commands: a POST with the regulator's API key."""
    request = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
        assert reply.status in (200, 201)


def _started(serve: subprocess.Popen[str], api: str) -> str:
    """The regulator API key `serve` printed, once the service answers."""
    assert serve.stdout is not None
    key = ""
    deadline = time.monotonic() + TIMEOUT
    while not key and time.monotonic() < deadline:
        line = serve.stdout.readline()
        if not line and serve.poll() is not None:
            raise AssertionError(f"serve exited with {serve.returncode}")
        if line.startswith("API key: "):
            key = line.split(": ", 1)[1].strip()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2):
                return key
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the service did not answer")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    require_anvil()
    workdir = tmp_path_factory.mktemp("kit")
    data, deployments = workdir / "data", workdir / "deployments"
    node_port, api_port = free_port(), free_port()
    env = {**_clean_env(), "CARBONLEDGER_DATA_DIR": str(data)}
    carbonledger(env, "chain", "start", "--port", str(node_port))
    serve: subprocess.Popen[str] | None = None
    try:
        carbonledger(env, "deploy", "--network", "local", "--dev-key", "--deployments-dir", str(deployments))
        secret = data / "keys" / "service.secret"
        secret.write_text(os.urandom(32).hex() + "\n")
        secret.chmod(0o600)
        node, api = f"http://127.0.0.1:{node_port}", f"http://127.0.0.1:{api_port}"
        serve = subprocess.Popen(
            [str(Path(sys.executable).parent / "carbonledger"), "serve", "--port", str(api_port)], cwd=REPO_ROOT,
            env={**env, "CARBONLEDGER_CHAIN": node, "CARBONLEDGER_NETWORK": "local",
                 "CARBONLEDGER_DEPLOYMENTS_DIR": str(deployments), "CARBONLEDGER_KEY_SECRET_FILE": str(secret),
                 "CARBONLEDGER_BOOTSTRAP_REGULATOR_KEY": (data / "keys" / "deployer.key").read_text().strip()},
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        regulator = _started(serve, api)
        member, recipient = Account.create(), Account.create()
        as_regulator(api, regulator, "/api/v1/organisations", {"org_id": 10, "kind": "park", "name": "Green Valley"})
        as_regulator(api, regulator, "/api/v1/organisations",
                     {"org_id": 11, "parent_id": 10, "kind": "enterprise", "name": "Riverside Steel"})
        for account in (member, recipient):
            as_regulator(api, regulator, "/api/v1/members",
                         {"org_id": 11, "roles": ["ENTERPRISE"], "address": account.address})
        as_regulator(api, regulator, "/api/v1/allowances/allocations",
                     {"year": YEAR, "allocations": [{"holder": member.address, "amount": GRANT}]})
        yield LocalService(workdir, {**_clean_env(), "CARBONLEDGER_URL": api, "CARBONLEDGER_RPC_URL": node,
                                     "MEMBER_KEY": "0x" + member.key.hex().removeprefix("0x"),
                                     "RECIPIENT": recipient.address, "YEAR": str(YEAR), "AMOUNT": str(AMOUNT)},
                           deployments, api, member.address)
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=30)
        carbonledger(env, "chain", "stop")


def _summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _holds_what_it_did(found: dict[str, Any], member: str) -> None:
    """What either example must have done: the kit matches the deployment, the relayed transfer moved AMOUNT,
    and one allowance more than held is refused by the contract and by the service under the error's name."""
    assert found["chain_id"] == 31337 and found["free_gas"] is True
    assert found["abi_hashes_match"] is True, found["mismatched"]
    assert found["relayed"]["status"] == "mined" and found["relayed"]["tx_hash"].startswith("0x")
    before, after = int(found["balance_before"]), int(found["balance_after"])
    assert after == before - AMOUNT
    assert int(found["recipient_after"]) == GRANT - after  # everything the member no longer holds went there
    error = found["refused"]
    assert error["error"] == "ERC1155InsufficientBalance"
    assert [a.lower() for a in error["args"]] == [member.lower(), str(after), str(after + 1), str(YEAR)]
    assert found["service_refusal"] == {"status": 409, "error": "ERC1155InsufficientBalance"}


def test_discovery_on_the_local_node_names_anvil_and_the_recorded_suite(tsc: subprocess.Popen[str],
                                                                        local: LocalService):
    with urllib.request.urlopen(f"{local.api}/api/v1/chain", timeout=30) as reply:
        found = json.loads(reply.read())
    record = json.loads((local.deployments / "local.json").read_text())
    assert (found["chain_id"], found["deployment_block"]) == (record["chainId"], record["deploymentBlock"])
    assert {n: c["address"] for n, c in found["contracts"].items()} == record["contracts"]
    assert {n: c["abi_hash"] for n, c in found["contracts"].items()} == record["abiHashes"]
    assert found["node"]["kind"] == "anvil" and found["node"]["client_version"].startswith("anvil/")
    assert found["free_gas"] is True and found["confirmations"] == found["index_confirmations"] == 12


def test_a_recorded_abi_hash_is_the_recipe_applied_to_the_published_abi(local: LocalService):
    record = json.loads((local.deployments / "local.json").read_text())
    published = json.loads((REPO_ROOT / "clients" / "abi" / "CarbonMarket.json").read_text())
    assert hashlib.sha256(canonical(published).encode("ascii")).hexdigest() == record["abiHashes"]["CarbonMarket"]


@pytest.fixture(scope="module")
def tsc() -> Iterator[subprocess.Popen[str]]:
    """tsc started on the kit's TypeScript and the example as the README says (strict type-check, then compile):
    it runs while the local node and the service start."""
    job = subprocess.Popen([str(NODE_MODULES / ".bin" / "tsc"), "-p", "clients/tsconfig.json"], cwd=REPO_ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield job
    if job.poll() is None:
        job.kill()
        job.wait()


@pytest.fixture(scope="module")
def compiled_ts(tsc: subprocess.Popen[str]) -> Path:
    output, _ = tsc.communicate(timeout=TIMEOUT)
    assert tsc.returncode == 0, output
    return TS_BUILD / "examples" / "ts" / "client.js"


def test_the_typescript_kit_and_example_type_check(compiled_ts: Path):
    assert compiled_ts.exists()
    assert (TS_BUILD / "ts" / "index.js").exists()


def test_the_typescript_example_reads_signs_relays_and_decodes(local: LocalService, compiled_ts: Path):
    done = subprocess.run(["node", str(compiled_ts)], env=local.env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    found = _summary(done)
    assert found["client"] == "typescript-viem"
    _holds_what_it_did(found, local.member)


def test_the_python_example_reads_signs_relays_and_decodes(local: LocalService):
    done = subprocess.run([sys.executable, "clients/examples/python/client.py"], env=local.env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    found = _summary(done)
    assert found["client"] == "python-web3"
    _holds_what_it_did(found, local.member)

"""The service against a local anvil node (`LocalNode`, as `carbonledger chain start` runs it, free gas): the
suite deployed by a regulator that holds no ether, a runtime in node mode over a SQLite file, and a small cast
admitted through the HTTP API."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain.anvil import AnvilUnavailable, LocalNode, anvil_binary
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.deploy import deploy_suite, write_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.config import Settings
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_core.private_files import write_private
from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime

V1 = "/api/v1"
NETWORK = "node-test"
YEAR = 2025
PARK, STEEL, CEMENT, TRADERS = 10, 11, 12, 30
ORGS = ((PARK, 0, "park", "Green Valley Industrial Park"), (STEEL, PARK, "enterprise", "Riverside Steel"),
        (CEMENT, PARK, "enterprise", "Eastern Cement"), (TRADERS, 0, "trading_firm", "Harbour Carbon Trading"))
MEMBERS = {"steel": (STEEL, ["ENTERPRISE"]), "cement": (CEMENT, ["ENTERPRISE"]), "trader": (TRADERS, ["TRADER"])}


def require_anvil() -> None:
    try:
        anvil_binary()
    except AnvilUnavailable as exc:
        pytest.skip(f"anvil cannot run here: {exc}")


@dataclass
class NodeService:
    """A local node and the service over it; `restart_*` keep the database and the state file."""

    workdir: Path
    artifacts: dict[str, Artifact]
    port: int
    regulator: LocalAccount = field(default_factory=Account.create)
    node: LocalNode = field(init=False)
    runtime: Runtime | None = None
    client: TestClient | None = None
    addresses: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.node = LocalNode(self.workdir / "node")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_node(self, state_interval: int = 1) -> None:
        try:
            # No interval blocks: the tests count blocks and compare dumped heights exactly.
            self.node.start(port=self.port, state_interval=state_interval, sweep_seconds=None)
        except AnvilUnavailable as exc:
            pytest.skip(f"anvil cannot run here: {exc}")

    def deploy(self) -> None:
        sender = TransactionSender(connect_rpc(self.url), self.regulator,
                                   RevertDecoder.from_artifacts(self.artifacts.values()))
        write_deployment(deploy_suite(sender, self.artifacts, network=NETWORK), self.workdir / "deployments",
                         overwrite=True)

    def key_secret_file(self) -> Path:
        """The service's key secret, as a user keeps it on a node: a file of its own, mode 0600."""
        path = self.workdir / "key-secret"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(32) + "\n")
        return path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = dict(
            data_dir=self.workdir / "data", database_url=f"sqlite:///{self.workdir / 'service.db'}", chain=self.url,
            network=NETWORK, deployments_dir=self.workdir / "deployments", index_confirmations=0,
            bootstrap_regulator_key="0x" + bytes(self.regulator.key).hex(), retry_attempts=2,
            retry_backoff_seconds=0.05, key_secret_file=self.key_secret_file(),
        )
        values.update(overrides)
        return Settings(**values)

    def start_service(self, **overrides: Any) -> TestClient:
        self.runtime = Runtime.start(self.settings(**overrides), artifacts=self.artifacts)
        self.client = TestClient(create_app(self.runtime))
        if self.runtime.bootstrap_api_key is not None:
            self.tokens["regulator"] = self.runtime.bootstrap_api_key.token
        self.addresses["regulator"] = self.regulator.address
        return self.client

    def stop_service(self) -> None:
        if self.runtime is not None:
            self.runtime.close()
        self.runtime = self.client = None

    def close(self) -> None:
        self.stop_service()
        self.node.stop(hard=True)

    # ------------------------------------------------------------------ requests

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def post(self, name: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.client is not None
        reply = self.client.post(f"{V1}{path}", headers=self.auth(name), json=body)
        assert reply.status_code in (200, 201), reply.text
        data: dict[str, Any] = reply.json()
        return data

    def get(self, name: str, path: str, **params: Any) -> dict[str, Any]:
        assert self.client is not None
        reply = self.client.get(f"{V1}{path}", headers=self.auth(name), params=params)
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    def admit_cast(self) -> None:
        """Organisations and custodial members through the API, given API keys (the node charges no gas: the
        members hold no ether)."""
        assert self.runtime is not None
        for org_id, parent, kind, name in ORGS:
            self.post("regulator", "/organisations", {"org_id": org_id, "parent_id": parent, "kind": kind,
                                                      "name": name})
        for name, (org_id, roles) in MEMBERS.items():
            member = self.post("regulator", "/members", {"org_id": org_id, "roles": roles, "custodial": True})
            address = member["member"]["address"]
            self.addresses[name] = address
            self.tokens[name] = self.runtime.api_keys.issue(address, timedelta(hours=1), label=name).token

    def serve_cast(self, steel_allowances: int = 0) -> None:
        """The node started, the suite deployed, the service over them, the cast admitted and, if asked, steel
        allocated `steel_allowances` of YEAR."""
        self.start_node()
        self.deploy()
        self.start_service()
        self.admit_cast()
        if steel_allowances:
            self.post("regulator", "/allowances/allocations",
                      {"year": YEAR, "allocations": [{"holder": self.addresses["steel"], "amount": steel_allowances}]})

    def transfer(self, sender: str, receiver: str, amount: int) -> dict[str, Any]:
        tx = self.post(sender, "/allowances/transfers", {"to": self.addresses[receiver], "year": YEAR,
                                                         "amount": amount})
        assert tx["status"] == "mined", tx
        return tx

    def balances(self) -> dict[str, int]:
        """Allowance balances of the cast as the chain holds them, read through the API."""
        return {name: int(self.get("regulator", f"/allowances/balances/{self.addresses[name]}",
                                   years=[YEAR])["balances"][str(YEAR)])
                for name in MEMBERS}

    def outbox_rows(self) -> list[OutboxTransaction]:
        assert self.runtime is not None
        with self.runtime.sessions() as session:
            return list(session.scalars(select(OutboxTransaction).order_by(OutboxTransaction.id)))


def dumped_block(state_file: Path) -> int | None:
    """The head block recorded in anvil's state file (None while there is none or it is being written)."""
    try:
        best = json.loads(state_file.read_text())["best_block_number"]
    except (FileNotFoundError, ValueError, KeyError):
        return None
    return int(best, 16) if isinstance(best, str) else int(best)


def wait_for_dump(state_file: Path, block: int, timeout: float = 10.0) -> None:
    """Until the node's periodic dump holds `block`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = dumped_block(state_file)
        if found is not None and found >= block:
            return
        time.sleep(0.1)
    raise AssertionError(f"no state dump reached block {block} within {timeout} s")

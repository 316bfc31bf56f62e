"""Deploy the contract suite in dependency order, wire it together, and record it.

The suite is described once, as data (`SUITE`, `MIRRORS` and `WIRING`): what each contract's
constructor takes and which calls connect the contracts afterwards. The deployer
becomes the first regulator (a member of the authority organisation). Every contract gated
by Membership is registered as its permission mirror first (Membership pushes each change of
a member's permissions to it), and is given the deployer's word, which Membership set in its
constructor before any mirror existed.

Contracts are versioned deployments: the record keeps, per contract, its current version and
address and every earlier address with the blocks it served (`ContractVersion`), so the event
index follows a contract across upgrades (`ledger_core/chain/upgrade.py` moves the state).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from ledger_core.assets import AssetKind, surrenderable, tradeable
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.sender import TransactionSender
from ledger_core.paths import DEPLOYMENTS_DIR, REPO_ROOT

AUTHORITY_ORG_ID = 1
AUTHORITY_NAME = "Carbon Market Authority"
SETTLEMENT_NAME = "Settlement CNY"
SETTLEMENT_SYMBOL = "sCNY"

Addresses = dict[str, str]


@dataclass(frozen=True)
class ContractSpec:
    name: str
    constructor_args: Callable[[Addresses, str], list[Any]]


# Dependency order: every contract's constructor refers only to contracts above it.
SUITE: tuple[ContractSpec, ...] = (
    ContractSpec("Membership", lambda a, deployer: [deployer, AUTHORITY_ORG_ID, AUTHORITY_NAME]),
    ContractSpec("Upgrades", lambda a, d: [a["Membership"]]),
    ContractSpec("ComplianceLedger", lambda a, d: [a["Membership"]]),
    ContractSpec("EmissionRegistry", lambda a, d: [a["Membership"], a["ComplianceLedger"]]),
    ContractSpec("AllowanceRegistry", lambda a, d: [a["Membership"], a["ComplianceLedger"]]),
    ContractSpec("MeterAnchor", lambda a, d: [a["Membership"]]),
    ContractSpec("Notary", lambda a, d: [a["Membership"]]),
    ContractSpec("CreditRegistry", lambda a, d: [a["Membership"], a["ComplianceLedger"]]),
    ContractSpec("SettlementToken", lambda a, d: [a["Membership"], SETTLEMENT_NAME, SETTLEMENT_SYMBOL]),
    ContractSpec("CarbonMarket", lambda a, d: [a["Membership"], a["SettlementToken"], a["Upgrades"]]),
    ContractSpec("GreenCertificates", lambda a, d: [a["Membership"], a["MeterAnchor"]]),
    ContractSpec("ProductRegistry", lambda a, d: [a["Membership"]]),
    ContractSpec("EpdRegistry", lambda a, d: [a["Membership"], a["ProductRegistry"]]),
)

Wiring = tuple[str, str, Callable[[Addresses], list[Any]]]

# The contracts that check permissions from a local copy of Membership's words (`MembershipGated`).
MIRRORS: tuple[str, ...] = tuple(spec.name for spec in SUITE if spec.name != "Membership")


def _mirrored(name: str) -> Wiring:
    return ("Membership", "addMirror", lambda a: [a[name]])


def _registered(kind: AssetKind) -> Wiring:
    return ("ComplianceLedger", "setAssetRegistry", lambda a: [a[kind.contract], kind.compliance_kind])


def _enabled(kind: AssetKind) -> Wiring:
    return ("CarbonMarket", "setAssetEnabled", lambda a: [a[kind.contract], True])


# Calls made by the deployer (the first regulator) once everything is deployed:
# (contract, function, arguments from the address book). Which assets count towards compliance
# (under which ComplianceLedger.AssetKind) and which trade on the market is the asset kinds' data.
# The mirrors come first: the other calls are checked against the deployer's mirrored word.
WIRING: tuple[Wiring, ...] = (
    *(_mirrored(name) for name in MIRRORS),
    ("ComplianceLedger", "setObligationSource", lambda a: [a["EmissionRegistry"], True]),
    *(_registered(kind) for kind in surrenderable()),
    ("Membership", "setEscrowAgent", lambda a: [a["CarbonMarket"], True]),
    *(_enabled(kind) for kind in tradeable()),
)


@dataclass(frozen=True)
class PastAddress:
    """An earlier deployment of a contract and the blocks it served (both ends included)."""

    address: str
    version: int
    artifact: str
    from_block: int
    until_block: int

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "version": self.version, "artifact": self.artifact,
                "from_block": self.from_block, "until_block": self.until_block}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PastAddress:
        return cls(str(data["address"]), int(data["version"]), str(data["artifact"]), int(data["from_block"]),
                   int(data["until_block"]))


@dataclass(frozen=True)
class ContractVersion:
    """A contract's current version: which artifact it was built from, since which block it serves, and its
    earlier addresses (oldest first)."""

    version: int = 1
    artifact: str = ""
    from_block: int = 0
    history: tuple[PastAddress, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "artifact": self.artifact, "from_block": self.from_block,
                "history": [h.to_json() for h in self.history]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContractVersion:
        return cls(int(data["version"]), str(data["artifact"]), int(data["from_block"]),
                   tuple(PastAddress.from_json(h) for h in data.get("history", ())))


@dataclass(frozen=True)
class EventSource:
    """One address the event index reads for a contract, over the blocks it served (`until_block` None: still)."""

    contract: str
    address: str
    artifact: str
    version: int
    from_block: int
    until_block: int | None

    @property
    def key(self) -> str:
        """The index checkpoint's name: the contract's name for its first version (as before upgrades existed),
        "<name>@v<version>" for a later one."""
        return self.contract if self.version == 1 else f"{self.contract}@v{self.version}"


@dataclass
class Deployment:
    """Where the suite lives on one chain: the current address of every contract (`addresses`) and, per
    contract, its version and earlier addresses (`versions`; a contract missing there is version 1, deployed
    with the suite)."""

    network: str
    chain_id: int
    addresses: Addresses
    block: int
    deployer: str
    abi_hashes: dict[str, str] = field(default_factory=dict)
    compiler_version: str = ""
    source_hash: str = ""
    git_commit: str = ""
    deployed_at: str = ""
    versions: dict[str, ContractVersion] = field(default_factory=dict)

    def version_of(self, contract: str) -> ContractVersion:
        return self.versions.get(contract) or ContractVersion(1, contract, self.block)

    def artifact_of(self, contract: str) -> str:
        """The artifact the current deployment of `contract` was built from (its ABI binds the address)."""
        return self.version_of(contract).artifact or contract

    def event_sources(self) -> list[EventSource]:
        """Every address of every contract with the blocks it served, earlier versions first."""
        out: list[EventSource] = []
        for name, address in self.addresses.items():
            current = self.version_of(name)
            out.extend(EventSource(name, h.address, h.artifact, h.version, h.from_block, h.until_block)
                       for h in current.history)
            out.append(EventSource(name, address, self.artifact_of(name), current.version, current.from_block, None))
        return out

    def adopt(self, other: Deployment) -> None:
        """Take `other`'s contents in place (after an upgrade), so every holder of this record sees them."""
        self.__dict__.update(other.__dict__)

    def to_json(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "chainId": self.chain_id,
            "deployer": self.deployer,
            "deploymentBlock": self.block,
            "deployedAt": self.deployed_at,
            "contracts": self.addresses,
            "versions": {name: self.version_of(name).to_json() for name in self.addresses},
            "abiHashes": self.abi_hashes,
            "compilerVersion": self.compiler_version,
            "sourceHash": self.source_hash,
            "gitCommit": self.git_commit,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        """Read a record; one written before versions existed reads as every contract at version 1."""
        return cls(
            network=data["network"],
            chain_id=int(data["chainId"]),
            addresses=dict(data["contracts"]),
            block=int(data["deploymentBlock"]),
            deployer=data["deployer"],
            abi_hashes=dict(data.get("abiHashes", {})),
            compiler_version=data.get("compilerVersion", ""),
            source_hash=data.get("sourceHash", ""),
            git_commit=data.get("gitCommit", ""),
            deployed_at=data.get("deployedAt", ""),
            versions={name: ContractVersion.from_json(v) for name, v in data.get("versions", {}).items()},
        )


class DeploymentExists(Exception):
    """A record for this network exists; redeploying needs an explicit overwrite."""


def deployment_path(network: str, directory: Path = DEPLOYMENTS_DIR) -> Path:
    return directory / f"{network}.json"


def load_deployment(network: str, directory: Path = DEPLOYMENTS_DIR) -> Deployment:
    return Deployment.from_json(json.loads(deployment_path(network, directory).read_text()))


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def bind(w3: Web3, artifacts: dict[str, Artifact], addresses: Addresses,
         artifact_names: dict[str, str] | None = None) -> dict[str, Contract]:
    """web3 contract objects for a deployed suite, by contract name (bound with the ABI of the artifact each
    was built from, where `artifact_names` says it differs from the name)."""
    names = artifact_names or {}
    return {name: w3.eth.contract(address=addr, abi=artifacts[names.get(name, name)].abi)  # type: ignore[call-overload]
            for name, addr in addresses.items()}


def deploy_suite(
    sender: TransactionSender,
    artifacts: dict[str, Artifact],
    network: str,
    progress: Callable[[str], None] | None = None,
) -> Deployment:
    """Deploy every contract of `SUITE`, run `WIRING`, and describe the result."""
    w3 = sender.w3
    addresses: Addresses = {}
    first_block: int | None = None
    for spec in SUITE:
        art = artifacts[spec.name]
        factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = sender.deploy(factory, *spec.constructor_args(addresses, sender.address))
        addresses[spec.name] = str(receipt["contractAddress"])
        first_block = receipt["blockNumber"] if first_block is None else first_block
        if progress:
            progress(f"deployed {spec.name} at {addresses[spec.name]} (gas {receipt['gasUsed']})")
    contracts = bind(w3, artifacts, addresses)

    def wire(rows: tuple[Wiring, ...]) -> None:
        for contract_name, function, args in rows:
            sender.transact(contracts[contract_name].get_function_by_name(function)(*args(addresses)))
            if progress:
                progress(f"wired {contract_name}.{function}")

    wire(WIRING[:len(MIRRORS)])
    for name in MIRRORS:
        sender.transact(contracts[name].functions.refreshPermissions([sender.address]))
    wire(WIRING[len(MIRRORS):])
    any_art = artifacts[SUITE[0].name]
    return Deployment(
        network=network,
        chain_id=sender.chain_id,
        addresses=addresses,
        block=int(first_block or 0),
        deployer=sender.address,
        abi_hashes={name: artifacts[name].abi_hash for name in addresses},
        compiler_version=any_art.compiler_version,
        source_hash=any_art.source_hash,
        git_commit=_git_commit(),
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def write_deployment(deployment: Deployment, directory: Path = DEPLOYMENTS_DIR, overwrite: bool = False) -> Path:
    """Record a deployment as `deployments/<network>.json`; refuses to replace one unless asked."""
    path = deployment_path(deployment.network, directory)
    if path.exists() and not overwrite:
        raise DeploymentExists(f"{path} exists; pass --redeploy to replace it")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(deployment.to_json(), indent=2) + "\n")
    return path



class DeployError(Exception):
    """Deployment could not go ahead; the message says why and what to do."""


def deploy_network(
    network: str,
    rpc_url: str | None,
    deployer_key: str | None,
    deployments_dir: Path = DEPLOYMENTS_DIR,
    redeploy: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[Deployment, Path | None]:
    """Compile, deploy and (for a persistent network) record the suite; the record's path or None.

    `network` "embedded" deploys to a new in-process chain with a fresh funded deployer,
    which lives only as long as this process. Otherwise `rpc_url` and `deployer_key` are needed.
    """
    from eth_account import Account

    from ledger_core.chain.compiler import CompilationError, build
    from ledger_core.chain.connect import EMBEDDED, connect
    from ledger_core.chain.errors import ContractRevert, RevertDecoder

    embedded = network == EMBEDDED
    if not embedded:
        if not rpc_url:
            raise DeployError("a persistent network needs --rpc-url")
        if deployment_path(network, deployments_dir).exists() and not redeploy:
            raise DeploymentExists(f"{deployment_path(network, deployments_dir)} exists; pass --redeploy to replace it")
        if not deployer_key:
            raise DeployError("the deployer's private key is missing")
    try:
        artifacts = build()
    except CompilationError as exc:
        raise DeployError(f"contracts do not compile\n{exc}") from None
    w3, chain = connect(EMBEDDED if embedded else str(rpc_url))
    if chain is not None:
        account = Account.create()
        chain.fund([account.address])
    else:
        account = Account.from_key(deployer_key)
    sender = TransactionSender(w3, account, RevertDecoder.from_artifacts(artifacts.values()))
    try:
        deployment = deploy_suite(sender, artifacts, network, progress=progress)
    except ContractRevert as exc:
        raise DeployError(f"deployment reverted: {exc}") from None
    if embedded:
        return deployment, None
    return deployment, write_deployment(deployment, deployments_dir, overwrite=redeploy)

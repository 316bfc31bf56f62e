"""`carbonledger admin upgrade`: replace a contract of a recorded network by a new version, under two
regulators (propose, approve), then migrate its state and record the new version (run).

Each command acts with one regulator's private key (an environment variable) on the network of
`deployments/<network>.json`; `run` rewrites that record, and a service running on that network follows it
before its next index round."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_account import Account

from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.upgrade import UpgradeError
from ledger_core.paths import DEPLOYMENTS_DIR
from ledger_service.cli.output import console, emit, explained, fail

app = typer.Typer(help="Upgrade a contract: propose (regulator), approve (another regulator), run the migration.",
                  no_args_is_help=True)

Network = Annotated[str, typer.Option(help="The record (deployments/<network>.json).")]
RpcUrl = Annotated[str, typer.Option(help="JSON-RPC URL of a node of that network.")]
KeyEnv = Annotated[str, typer.Option(help="Env var with this regulator's private key.")]
Directory = Annotated[Path, typer.Option(help="Where records are kept.")]
Artifact = Annotated[str | None, typer.Option(help="The contract the new version is built from (default: same).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
HINTS: dict[type[BaseException], Any] = {
    UpgradeError: "nothing more was sent; see the message",
    ContractRevert: "the chain refused the call (named above); nothing more was sent",
    FileNotFoundError: "deploy the suite to this network first (`carbonledger deploy`)",
}


def _open(network: str, rpc_url: str, key_env: str, directory: Path) -> tuple[Any, Any]:
    from ledger_core.chain.compiler import build
    from ledger_core.chain.connect import connect_rpc
    from ledger_core.chain.deploy import load_deployment
    from ledger_core.chain.sender import TransactionSender
    from ledger_core.chain.suite import Suite

    key = os.environ.get(key_env)
    if not key:
        fail(f"{key_env} is not set", "put the regulator's private key in that variable, or name another")
    deployment = load_deployment(network, directory)
    w3 = connect_rpc(rpc_url)
    if w3.eth.chain_id != deployment.chain_id:
        fail(f"the node is chain {w3.eth.chain_id}, the record is for chain {deployment.chain_id}",
             "give the URL of a node of this network")
    suite = Suite(w3, build(), deployment)
    return suite, TransactionSender(w3, Account.from_key(key), suite.decoder)


@app.command("propose")
def propose(contract: Annotated[str, typer.Argument(help="The contract's name in the suite.")],
            network: Network = "local", rpc_url: RpcUrl = "http://127.0.0.1:8545",
            key_env: KeyEnv = "CARBONLEDGER_REGULATOR_KEY", deployments_dir: Directory = DEPLOYMENTS_DIR,
            artifact: Artifact = None, as_json: JsonOption = False) -> None:
    """Deploy the new version of CONTRACT and propose it; another regulator approves."""
    from ledger_core.chain.upgrade import propose_upgrade

    with explained(HINTS):
        suite, sender = _open(network, rpc_url, key_env, deployments_dir)
        proposal = propose_upgrade(sender, suite, contract, artifact, progress=None if as_json else console.print)
    emit(asdict(proposal), as_json, title=f"upgrade proposal {proposal.id}")


@app.command("approve")
def approve(proposal_id: Annotated[int, typer.Argument(help="The proposal.")],
            network: Network = "local", rpc_url: RpcUrl = "http://127.0.0.1:8545",
            key_env: KeyEnv = "CARBONLEDGER_REGULATOR_KEY", deployments_dir: Directory = DEPLOYMENTS_DIR,
            as_json: JsonOption = False) -> None:
    """Approve a proposal (a regulator other than its proposer)."""
    from ledger_core.chain.upgrade import approve_upgrade

    with explained(HINTS):
        suite, sender = _open(network, rpc_url, key_env, deployments_dir)
        proposal = approve_upgrade(sender, suite, proposal_id)
    emit(asdict(proposal), as_json, title=f"upgrade proposal {proposal.id}")


@app.command("run")
def run(proposal_id: Annotated[int, typer.Argument(help="The approved proposal.")],
        network: Network = "local", rpc_url: RpcUrl = "http://127.0.0.1:8545",
        key_env: KeyEnv = "CARBONLEDGER_REGULATOR_KEY", deployments_dir: Directory = DEPLOYMENTS_DIR,
        artifact: Artifact = None, as_json: JsonOption = False) -> None:
    """Seal the old contract, move its state, rewire the suite, verify every moved item and rewrite the record."""
    from ledger_core.chain.deploy import write_deployment
    from ledger_core.chain.upgrade import run_upgrade

    with explained(HINTS):
        suite, sender = _open(network, rpc_url, key_env, deployments_dir)
        record, report = run_upgrade(sender, suite, proposal_id, artifact, progress=None if as_json else console.print)
        path = write_deployment(record, deployments_dir, overwrite=True)
    emit({**asdict(report), "record": str(path)}, as_json, title=f"{report.contract} upgraded to v{report.version}")

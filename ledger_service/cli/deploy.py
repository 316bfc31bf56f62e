"""`carbonledger deploy`: compile, deploy and record the suite on a network."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account

from ledger_core.chain.connect import EMBEDDED
from ledger_core.chain.deploy import DeployError, DeploymentExists, deploy_network
from ledger_core.config import get_settings
from ledger_core.paths import DEPLOYMENTS_DIR
from ledger_core.private_files import private_dir, write_private
from ledger_service.cli.chain import local_node
from ledger_service.cli.output import console, emit, explained, fail


def dev_key(data_dir: Path) -> str:
    """A deployer key kept (owner-readable only) in the data directory, for a local development node."""
    path = data_dir / "keys" / "deployer.key"
    if not path.exists():
        private_dir(data_dir)
        private_dir(path.parent)
        write_private(path, Account.create().key.hex(), exclusive=True)  # 0600 from the first byte
    return path.read_text().strip()


def deploy(
    network: Annotated[str, typer.Option(help="Record name (deployments/<network>.json), or 'embedded'.")] = "local",
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC URL (default: the local node).")] = None,
    key_env: Annotated[str, typer.Option(help="Env var with the deployer's key.")] = "CARBONLEDGER_DEPLOYER_KEY",
    use_dev_key: Annotated[
        bool, typer.Option("--dev-key", help="Local node only: use a key kept in the data directory.")
    ] = False,
    redeploy: Annotated[bool, typer.Option(help="Replace an existing deployment record.")] = False,
    deployments_dir: Annotated[Path, typer.Option(help="Where records are kept.")] = DEPLOYMENTS_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Deploy the contract suite; the deployer becomes the first regulator."""
    if network != EMBEDDED and rpc_url is None:
        rec = local_node().record()
        if rec is None:
            fail("no --rpc-url and no local node running", "start one with `carbonledger chain start`")
        rpc_url = str(rec["url"])
    key = os.environ.get(key_env)
    if use_dev_key and network != EMBEDDED:
        key = dev_key(get_settings().data_dir)  # the local node charges no gas: the key needs no ether
    with explained(
        {
            DeploymentExists: "pass --redeploy to replace the record (the old contracts stay on chain)",
            DeployError: f"set {key_env} to the deployer's private key, or --dev-key on a local node",
        }
    ):
        deployment, path = deploy_network(
            network, rpc_url, key, deployments_dir, redeploy, progress=None if as_json else console.print
        )
    emit(
        {**deployment.to_json(), "record": str(path) if path else "(embedded: not recorded)"},
        as_json,
        title=f"deployment: {network}",
    )

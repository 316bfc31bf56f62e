"""`carbonledger besu allowlist-sync`: keep Besu nodes' local account allowlists in step with Membership."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.besu_allowlist import AllowlistError, BesuPermRpc, sync_allowlists
from ledger_core.chain.compiler import build
from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.deploy import load_deployment
from ledger_service.cli.output import emit, explained

app = typer.Typer(help="Operations on a Hyperledger Besu network.", no_args_is_help=True)


@app.command("allowlist-sync")
def allowlist_sync(
    network: Annotated[str, typer.Option(help="Deployment record (deployments/<network>.json).")],
    rpc_url: Annotated[str, typer.Option(help="A node to read Membership from.")],
    node: Annotated[list[str], typer.Option(help="A node's JSON-RPC URL with the PERM API (repeatable).")],
    keep: Annotated[list[str] | None, typer.Option(help="An account never to remove (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Report the changes without making them.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Allow exactly the active members (and system accounts) to send transactions on each node."""
    deployment = load_deployment(network)
    membership = connect_rpc(rpc_url).eth.contract(
        address=to_checksum_address(deployment.addresses["Membership"]), abi=build()["Membership"].abi
    )
    with explained({AllowlistError: "enable the PERM API and --permissions-accounts-config-file-enabled"}):
        changes = sync_allowlists(membership, deployment.block, [BesuPermRpc(u) for u in node], keep or [], dry_run)
    emit(
        [{"node": c.node, "added": ", ".join(c.added) or "-", "removed": ", ".join(c.removed) or "-"} for c in changes],
        as_json,
        title="allowlist changes" + (" (dry run)" if dry_run else ""),
    )

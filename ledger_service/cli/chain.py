"""`carbonledger chain start|stop|status`: a persistent local anvil node in the data directory."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger_core.chain.anvil import AnvilUnavailable, LocalNode
from ledger_core.config import get_settings
from ledger_service.cli.output import console, emit, explained

app = typer.Typer(help="A local node (anvil) whose state is saved in the data directory.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def local_node() -> LocalNode:
    return LocalNode(get_settings().data_dir)


@app.command()
def start(
    port: Annotated[int, typer.Option(help="Loopback port of the JSON-RPC endpoint.")] = 8545,
    state_interval: Annotated[int, typer.Option(help="Seconds between state dumps.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Start the node (it reloads its saved state); does nothing if it already runs."""
    node = local_node()
    with explained({AnvilUnavailable: "install the toolchain with `./run setup` (npm package @foundry-rs/anvil)"}):
        url = node.start(port=port, state_interval=state_interval)
    emit({"url": url, "state": str(node.state_file), "running": True}, as_json, title="local node")


@app.command()
def stop(
    hard: Annotated[bool, typer.Option(help="Kill without saving state (as a crash would).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Stop the node; a normal stop saves its state first."""
    stopped = local_node().stop(hard=hard)
    if as_json:
        emit({"stopped": stopped}, True)
    else:
        console.print("node stopped" if stopped else "no node was running")


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Whether the node runs, where, and where its state is kept."""
    node = local_node()
    rec = node.record() or {}
    emit(
        {"running": node.running(), "url": rec.get("url", ""), "state": str(node.state_file)},
        as_json,
        title="local node",
    )

"""`carbonledger chain start|stop|status`: a persistent local anvil node in the data directory."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger_core.chain.anvil import (
    RECOMMENDED_MAX_STATE_MB,
    AnvilUnavailable,
    LocalNode,
    NodeHistory,
    StateFileTruncated,
)
from ledger_core.config import get_settings
from ledger_service.cli.output import console, emit, errors, explained

app = typer.Typer(help="A local node (anvil) whose state is saved in the data directory.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def local_node() -> LocalNode:
    return LocalNode(get_settings().data_dir)


def parse_interval(value: str) -> int | None:
    """`auto` (None: chosen from the state file's size when the node starts) or whole seconds, at least 1."""
    if value == "auto":
        return None
    try:
        seconds = int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither `auto` nor a whole number of seconds") from None
    if seconds < 1:
        raise typer.BadParameter("at least 1 second")
    return seconds


@app.command()
def start(
    port: Annotated[int, typer.Option(help="Loopback port of the JSON-RPC endpoint.")] = 8545,
    state_interval: Annotated[str, typer.Option(
        help="Seconds between state dumps, or `auto`: chosen from the state file's size so that dumps take at "
             "most a tenth of the node's time (fixed until the node restarts).")] = "auto",
    history: Annotated[NodeHistory, typer.Option(
        help="Where the node keeps older blocks' states, for calls at past blocks: `disk` (about 3,600 blocks back; "
             "reconcile reads at the block the index has reached) or `memory` (500 blocks back and more memory, "
             "for half the node's CPU per transaction under load).")] = "disk",
    as_json: JsonOption = False,
) -> None:
    """Start the node (it reloads its saved state); does nothing if it already runs."""
    interval = parse_interval(state_interval)
    node = local_node()
    with explained({StateFileTruncated: "restore the data directory from a backup, or move the file aside to start "
                                        "an empty chain (and deploy again)",
                    AnvilUnavailable: "install the toolchain with `./run setup` (npm package @foundry-rs/anvil)"}):
        url = node.start(port=port, state_interval=interval, history=history)
    state_mb = node.state_bytes() / 1_000_000
    if state_mb > RECOMMENDED_MAX_STATE_MB:
        errors.print(f"[yellow]warning:[/yellow] the state file holds {state_mb:,.0f} MB, more than the "
                     f"{RECOMMENDED_MAX_STATE_MB} MB the local node is recommended for (README, Chain modes)")
    record = node.record() or {}
    emit({"url": url, "state": str(node.state_file), "running": True, "state_interval": record.get("state_interval"),
          "history": record.get("history"), "state_mb": round(state_mb, 1)},
         as_json, title="local node")


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
    """Whether the node runs, where, where its state is kept, and its dump interval (now and on a restart)."""
    node = local_node()
    rec = node.record() or {}
    emit(
        {"running": node.running(), "url": rec.get("url", ""), "state": str(node.state_file),
         "state_mb": round(node.state_bytes() / 1_000_000, 1), "state_interval": rec.get("state_interval"),
         "history": rec.get("history"),
         # The file grows while the node runs; a restart chooses the interval again from its size.
         "state_interval_on_restart": node.state_interval()},
        as_json,
        title="local node",
    )

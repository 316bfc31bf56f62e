"""`python -m oracles simulate|ingest|anchor|prove|revalue|serve`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oracles import commands
from oracles.ingest import IngestSummary
from oracles.proofs import ReadingNotCommitted, StoredDataInconsistent

app = typer.Typer(help="Meter-data oracle: signed readings in, verified emissions and anchored commitments out.",
                  no_args_is_help=True)
console = Console()

DbOption = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: CARBONLEDGER_DATABASE_URL).")]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def print_summary(summary: IngestSummary) -> None:
    table = Table(title=f"Ingestion run {summary.run_id}")
    table.add_column("outcome")
    table.add_column("readings", justify="right")
    table.add_row("accepted", str(summary.accepted))
    for reason, count in sorted(summary.quarantined.items()):
        table.add_row(f"quarantined: {reason}", str(count))
    table.add_row("messages", str(summary.messages))
    console.print(table)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Messages file (.jsonl or .csv).")] = Path("messages.jsonl"),
    layout: Annotated[Path, typer.Option(help="Park layout with device public keys.")] = Path("park.json"),
    enterprises: int = 2,
    devices: Annotated[int, typer.Option(help="Devices per enterprise.")] = 10,
    readings: Annotated[int, typer.Option(help="Readings per device.")] = 1440,
    interval: Annotated[int, typer.Option(help="Seconds between readings.")] = 60,
    per_message: Annotated[int, typer.Option(help="Readings per signed message.")] = 60,
    seed: int = 0,
    start: Annotated[str, typer.Option(help="First timestamp (ISO 8601 or epoch s).")] = "2024-01-01T00:00:00Z",
) -> None:
    """Simulate a park and write its signed meter messages."""
    result = commands.simulate(out, layout, enterprises, devices, readings, interval, per_message, seed,
                               commands.parse_utc(start))
    console.print(f"wrote {result.readings} readings in {result.messages} messages to {out}; layout in {layout}")


@app.command()
def ingest(
    path: Path,
    layout: Annotated[Path | None, typer.Option(help="Register this layout's devices first.")] = None,
    db: DbOption = None,
    factor_set: Annotated[str | None, typer.Option(
        help="Value every reading with this factor set (default: CARBONLEDGER_FACTOR_SET if set, else the dated "
             "set valid at each reading's time).")] = None,
    window: Annotated[str | None, typer.Option(help="hour or day (default: configured).")] = None,
    workers: Annotated[int | None, typer.Option(help="Verification processes.")] = None,
) -> None:
    """Verify, value, hash and store the messages of a JSONL or CSV file."""
    from ledger_core.config import WINDOW_SECONDS

    database = commands.open_database(db)
    with _progress() as bar:
        task = bar.add_task(f"ingesting {path.name}", total=None)
        summary = commands.ingest_file(
            database, path, layout, factor_set, WINDOW_SECONDS[window] if window else None, workers,
            progress=lambda n: bar.advance(task, n),
        )
    print_summary(summary)


@app.command()
def anchor(
    db: DbOption = None,
    build_only: Annotated[bool, typer.Option(help="Build ended windows, do not anchor.")] = False,
    closed_before: Annotated[str | None, typer.Option(help="Build windows ending by then (default now).")] = None,
    rpc: Annotated[str | None, typer.Option(help="Node URL.")] = None,
    network: Annotated[str, typer.Option(help="Deployment record name.")] = "local",
) -> None:
    """Build the trees of ended windows and anchor them in MeterAnchor (one transaction per window)."""
    database = commands.open_database(db)
    with _progress() as bar:
        task = bar.add_task("building windows", total=None)
        built = commands.build_windows(
            database, commands.parse_utc(closed_before) if closed_before else None,
            progress=lambda _b: bar.advance(task),
        )
    console.print(f"built {len(built)} windows")
    if build_only:
        return
    if rpc is None:
        console.print("[red]--rpc is needed to anchor (or pass --build-only)[/red]")
        raise typer.Exit(2)
    try:
        client = commands.connect_meter_anchor(rpc, network)
    except commands.NoOracleKey as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    outcomes = commands.anchor_windows(database, client, progress=lambda o: console.print(
        f"enterprise {o.enterprise_org_id} [{o.window_start}, {o.window_end}): anchor {o.anchor_id} ({o.action})"))
    console.print(f"{len(outcomes)} windows anchored or confirmed")


@app.command()
def prove(
    reading_id: int,
    db: DbOption = None,
    rpc: Annotated[str | None, typer.Option(help="Also verify through MeterAnchor.verifyReading.")] = None,
    network: str = "local",
) -> None:
    """Print the proof of a reading, with the device, workshop, facility and enterprise subtotals."""
    database = commands.open_database(db)
    # Checking through the contract's view needs no oracle key.
    client = commands.connect_meter_anchor(rpc, network, read_only=True) if rpc else None
    try:
        proof = commands.prove(database, reading_id, client)
    except ReadingNotCommitted as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except StoredDataInconsistent as exc:
        console.print(f"[red]StoredDataInconsistent: {exc.reason}[/red]")
        raise typer.Exit(3) from None
    console.print_json(json.dumps(proof))


@app.command()
def revalue(
    set_id: Annotated[str, typer.Option("--set", help="Factor set id to value the readings with.")],
    window: Annotated[str, typer.Option(help="Period START/END of reading times (ISO 8601 or epoch s, UTC).")],
    by: Annotated[str | None, typer.Option(help="Who asks (default: the login name).")] = None,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "",
    enterprise: Annotated[int | None, typer.Option(help="Only this enterprise's readings.")] = None,
    db: DbOption = None,
) -> None:
    """Value stored readings again with another factor set, as a separate recorded valuation (who, when, why,
    totals per window); committed readings, roots and anchors are never rewritten."""
    import getpass

    from oracles.factors import UnknownFactorSet
    from oracles.revalue import RevaluationRefused

    try:
        period = commands.parse_period(window)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    database = commands.open_database(db)
    try:
        report = commands.revalue(database, set_id, period, by or getpass.getuser(), reason, enterprise)
    except (UnknownFactorSet, RevaluationRefused) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print_json(json.dumps(report))


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: int = 8600,
) -> None:
    """Accept pushed batches of signed messages over HTTP (POST /v1/messages)."""
    import uvicorn

    from ledger_core.config import get_settings
    from oracles.http_push import create_app

    database = commands.open_database(db)
    uvicorn.run(create_app(database.sessions, get_settings()), host=host, port=port)


def main() -> None:
    app()

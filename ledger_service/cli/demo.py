"""`carbonledger demo`: a compliance year in one industrial park, told through the service's runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger_service.cli.output import fail


def demo(
    data_dir: Annotated[Path | None, typer.Option(
        help="An empty (or new) directory for the run's database and files; default: a new timestamped "
        "directory under <data dir>/demo.")] = None,
    small: Annotated[bool, typer.Option(help="A quick run: 4 weeks, 2 meters per enterprise.")] = False,
    weeks: Annotated[int | None, typer.Option(min=1, max=52, help="Weeks of meter data (default 52).")] = None,
    devices: Annotated[int | None, typer.Option(min=1, max=200, help="Meters per enterprise (default 12).")] = None,
    interval: Annotated[int, typer.Option(min=1, max=1440, help="Minutes between readings.")] = 60,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the HTTP API afterwards until Ctrl-C.")]
    = True,
    host: Annotated[str, typer.Option(help="Interface the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API.")] = 8000,
) -> None:
    """Run a compliance year in one industrial park on the embedded chain, then serve the API on it."""
    from ledger_core.config import Settings
    from ledger_service.demo.scenario import SMALL, DataDirInUse, Options, run

    preset = SMALL if small else {}
    options = Options(data_dir=data_dir, weeks=weeks or preset.get("weeks", 52),
                      devices=devices or preset.get("devices", 12), interval_minutes=interval, serve=serve,
                      host=host, port=port)
    try:
        run(options, Settings().data_dir)
    except DataDirInUse as exc:
        fail(str(exc), "give a new or empty directory, or leave --data-dir out for a fresh timestamped one")

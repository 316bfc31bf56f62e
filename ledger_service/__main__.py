"""`python -m ledger_service serve`: the HTTP service (embedded chain unless CARBONLEDGER_CHAIN is a URL)."""

from __future__ import annotations

import logging

import typer

from ledger_service.config import get_settings

cli = typer.Typer(add_completion=False, help="CarbonLedger service.")


@cli.command()
def serve(host: str | None = None, port: int | None = None) -> None:
    """Start the runtime (deploying the suite on the embedded chain) and serve the API with uvicorn."""
    import uvicorn

    from ledger_service.api.app import create_app
    from ledger_service.runtime import Runtime

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    runtime = Runtime.start(settings)
    if runtime.bootstrap_api_key is not None and settings.bootstrap_api_key is None:
        typer.echo(f"bootstrap regulator {runtime.bootstrap_regulator}\nAPI key: {runtime.bootstrap_api_key.token}")
    runtime.start_pump()
    runtime.start_indexer()
    try:
        uvicorn.run(create_app(runtime), host=host or settings.api_host, port=port or settings.api_port,
                    log_level="info")
    finally:
        runtime.close()


@cli.command()
def version() -> None:
    """Print the package version."""
    from importlib.metadata import version as pkg_version

    typer.echo(pkg_version("carbonledger"))


if __name__ == "__main__":
    cli()

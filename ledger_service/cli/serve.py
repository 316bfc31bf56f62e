"""`carbonledger serve`: the HTTP service (embedded chain unless CARBONLEDGER_CHAIN is a URL)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from ledger_core.config import get_settings
from ledger_service.cli.output import fail


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
) -> None:
    """Start the runtime (deploying the suite on the embedded chain) and serve the API with uvicorn."""
    import uvicorn

    from ledger_core.db.locks import DatabaseInUse
    from ledger_core.key_secret import KeySecretError
    from ledger_service.api.app import create_app
    from ledger_service.runtime import Runtime, freeze_heap

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per JSON-RPC post to the node
    # uvicorn's access log writes a record per request; neither its format nor ours shows the calling frame,
    # thread or process, so no record looks them up (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    settings = get_settings()
    try:
        runtime = Runtime.start(settings)
    except DatabaseInUse as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeySecretError as exc:
        fail(str(exc), exc.hint)
    if runtime.bootstrap_api_key is not None and settings.bootstrap_api_key is None:
        typer.echo(f"bootstrap regulator {runtime.bootstrap_regulator}\nAPI key: {runtime.bootstrap_api_key.token}")
    bound_host, bound_port = host or settings.api_host, port or settings.api_port
    typer.echo(f"OpenAPI docs: http://{bound_host}:{bound_port}/docs")
    typer.echo(f"web console: http://{bound_host}:{bound_port}/console/")
    runtime.pump.start()
    runtime.indexing.start()
    app = create_app(runtime)
    freeze_heap()
    try:
        uvicorn.run(app, host=bound_host, port=bound_port, log_level="info")
    finally:
        runtime.close()

"""`carbonledger abi export`: the suite's ABIs and TypeScript modules for clients (`clients/abi`, `clients/ts`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger_core.chain.abi_export import CLIENTS_DIR, export, stale_files
from ledger_core.chain.compiler import CompilationError, build
from ledger_service.cli.output import console, emit, explained, fail

app = typer.Typer(help="The contract interface published for clients.", no_args_is_help=True)


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option(help="The kit's folder (abi/ and ts/ are written in it).")] = CLIENTS_DIR,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if a file differs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Compile the contracts (cached) and write their ABIs and TypeScript modules, or check them (--check)."""
    with explained({CompilationError: "fix the Solidity sources, or run `./run setup` for the toolchain"}):
        artifacts = build()
    if check:
        stale = stale_files(artifacts, out)
        if stale:
            for path in stale:
                console.print(f"differs: {out / path}")
            fail(f"{len(stale)} file(s) of the client kit differ from the contracts",
                 "run `carbonledger abi export` and commit the result")
        emit({"folder": str(out), "up_to_date": True}, as_json, title="client kit")
        return
    written = export(artifacts, out)
    emit({"folder": str(out), "written": len(written), "files": ", ".join(written) or "(none: up to date)"},
         as_json, title="client kit")

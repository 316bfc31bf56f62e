"""`carbonledger reconcile`: the event index checked against the chain's own views."""

from __future__ import annotations

import typer

from ledger_service.cli.output import console, emit
from ledger_service.cli.remote import DEFAULT, JsonOption, KeyOption, UrlOption, service, table

DIFFERENCES_EXIT = 3


def reconcile(ctx: typer.Context, url: UrlOption = DEFAULT, api_key: KeyOption = None,
              as_json: JsonOption = False) -> None:
    """Check the service's event index against the chain (regulator); exit status 3 on differences.

    Balances, supplies, organisations, members, devices, anchors, reports and notarizations are
    compared at the indexed block."""
    with service(ctx, url, api_key) as api:
        report = api.get("/audit/reconcile")
    if as_json:
        emit(report, True)
    else:
        console.print(table(f"checked at block {report['block']}", ("kind", "records"),
                            sorted(report["checked"].items())))
        if report["differences"]:
            console.print(table("differences", ("kind", "key", "field", "index", "chain"),
                                [(d["kind"], d["key"], d["field"], d["index"], d["chain"])
                                 for d in report["differences"]]))
        console.print("[green]the index agrees with the chain[/green]" if report["ok"]
                      else f"[red]{len(report['differences'])} differences[/red]")
    if not report["ok"]:
        raise typer.Exit(DIFFERENCES_EXIT)

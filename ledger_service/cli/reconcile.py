"""`carbonledger reconcile`: the event index and the outbox checked against the chain."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from ledger_service.cli.output import console, emit
from ledger_service.cli.remote import DEFAULT, JsonOption, KeyOption, UrlOption, service, table

DIFFERENCES_EXIT = 3


def reconcile(ctx: typer.Context, url: UrlOption = DEFAULT, api_key: KeyOption = None,
              as_json: JsonOption = False) -> None:
    """Check the service's event index and outbox against the chain (regulator); exit status 3 on differences.

    Balances, supplies, organisations, members, devices, anchors, reports and notarizations are
    compared at the indexed block; the outbox's transactions with their receipts and every signer's
    nonces with the chain's count, at the head."""
    with service(ctx, url, api_key) as api:
        report = api.get("/audit/reconcile")
    if as_json:
        emit(report, True)
    else:
        console.print(table(f"checked at block {report['block']}", ("kind", "records"),
                            sorted(report["checked"].items())))
        if report["differences"]:
            console.print(_differences("differences", report["differences"]))
        console.print("[green]the index agrees with the chain[/green]" if not report["differences"]
                      else f"[red]{len(report['differences'])} differences[/red]")
        outbox = report.get("outbox")
        if outbox is not None:
            console.print(table("outbox checked at the head", ("kind", "records"), sorted(outbox["checked"].items())))
            if outbox["pending"]:
                console.print(_differences("settling (recent, still in flight)", outbox["pending"], "outbox"))
            if outbox["differences"]:
                console.print(_differences("outbox differences", outbox["differences"], "outbox"))
            console.print("[green]the outbox agrees with the chain[/green]" if outbox["ok"]
                          else f"[red]{len(outbox['differences'])} outbox differences[/red]")
    if not report["ok"]:
        raise typer.Exit(DIFFERENCES_EXIT)


def _differences(title: str, differences: list[dict[str, Any]], side: str = "index") -> Table:
    return table(title, ("kind", "key", "field", side, "chain"),
                 [(d["kind"], d["key"], d["field"], d["index"], d["chain"]) for d in differences])

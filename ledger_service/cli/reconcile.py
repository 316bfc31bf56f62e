"""`carbonledger reconcile`: the event index and the outbox checked against the chain."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ledger_service.cli.output import DIFFERENCES_EXIT, console, emit
from ledger_service.cli.remote import DEFAULT, JsonOption, KeyOption, UrlOption, seconds, service, table


def reconcile(ctx: typer.Context, url: UrlOption = DEFAULT, api_key: KeyOption = None,
              as_json: JsonOption = False,
              since: Annotated[str | None, typer.Option(
                  "--since", help="Meter data: only windows starting at or after this UTC time (ISO date or time, "
                  "or Unix seconds).")] = None,
              sample: Annotated[int | None, typer.Option(
                  "--sample", min=1, help="Meter data: check this many anchored windows, drawn at random.")] = None,
              seed: Annotated[int | None, typer.Option(
                  "--seed", min=0, help="The sample's seed (default: a fresh one, shown in the output).")] = None,
              ) -> None:
    """Check the service's event index and outbox against the chain (regulator); exit status 3 on differences.

    Balances, supplies, organisations, members, devices, anchors, reports and notarizations are
    compared at the indexed block; the outbox's transactions with their receipts and every signer's
    nonces with the chain's count, at the head. Every anchored window's root is recomputed from its stored
    readings and compared with the chain, and every stored document's hash; `--since` and `--sample` (with
    `--seed`) narrow the meter check for routine runs."""
    params: dict[str, Any] = {k: v for k, v in (("since", None if since is None else seconds(since)),
                                                 ("sample", sample), ("seed", seed)) if v is not None}
    with service(ctx, url, api_key) as api:
        report = api.get("/audit/reconcile", params=params or None)
    if as_json:
        emit(report, True)
    else:
        console.print(table(f"checked at block {report['block']}", ("kind", "records"),
                            sorted(report["checked"].items())))
        meters = report.get("meters")
        if meters is not None:
            scope = (f"{meters['windows_checked']} of {meters['windows_anchored']} anchored windows, "
                     f"{meters['readings']:,} readings recomputed")
            if meters.get("since"):
                scope += f"; windows from {meters['since']}"
            if meters.get("sample") is not None:
                scope += f"; sample of {meters['sample']}, seed {meters['seed']}"
            console.print(f"meter data: {scope}")
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
    return table(title, ("kind", "key", "field", side, "chain", "where"),
                 [(d["kind"], d["key"], d["field"], d["index"], d["chain"], _where(d.get("where")))
                  for d in differences])


def _where(where: dict[str, Any] | None) -> str:
    """The device and reading a meter difference points at, and why."""
    if not where:
        return ""
    parts = [f"{k} {where[k]}" for k in ("device", "reading_id", "sequence") if where.get(k) is not None]
    return ", ".join(parts + ([str(where["cause"])] if where.get("cause") else []))

"""`carbonledger allowance`: allocation, balances, transfers (one or a CSV batch), surrender; compliance status and
the early-warning forecast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ledger_service.cli.output import console, emit, errors, fail
from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    NoWaitOption,
    UrlOption,
    csv_rows,
    pairs,
    service,
    show,
    show_tx,
    table,
    tx_line,
    whole_tonnes,
)

app = typer.Typer(help="Allowances: allocate, balance, transfer, transfer-batch, surrender; compliance status and "
                  "forecast.",
                  no_args_is_help=True)
compliance_app = typer.Typer(help="Compliance status: obligation, surrendered, shortfall; the projected shortfall.",
                             no_args_is_help=True)
app.add_typer(compliance_app, name="compliance")

ALLOCATION_MAX = 500
Year = Annotated[int, typer.Option(min=1, max=65535, help="The vintage (compliance year) of the allowances.")]


def progress(hidden: bool) -> Progress:
    """A progress bar on the terminal (never in JSON output or when stderr is not a terminal)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=errors,
                    disable=hidden or not errors.is_terminal, transient=True)


@app.command()
def allocate(
    ctx: typer.Context,
    year: Year,
    csv_file: Annotated[Path | None, typer.Option("--csv", exists=True, dir_okay=False,
                                                  help="A CSV file of address,amount rows.")] = None,
    grant: Annotated[list[str] | None, typer.Option(help="ADDRESS=AMOUNT (repeatable).")] = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Allocate allowances of a vintage to members (regulator); 500 holders per transaction."""
    grants = pairs(grant or [], "ADDRESS")
    if csv_file is not None:
        grants += [(row["address"], whole_tonnes(row["amount"])) for row in csv_rows(csv_file, ("address", "amount"))]
    if not grants:
        fail("nothing to allocate", "give --csv FILE (address,amount rows) or --grant ADDRESS=AMOUNT")
    chunks = [grants[i:i + ALLOCATION_MAX] for i in range(0, len(grants), ALLOCATION_MAX)]
    transactions: list[dict[str, Any]] = []
    with service(ctx, url, api_key) as api, progress(as_json or len(chunks) == 1) as bar:
        task = bar.add_task("allocating", total=len(grants))
        for chunk in chunks:
            transactions.append(api.post("/allowances/allocations", params={"wait": not no_wait}, json={
                "year": year, "allocations": [{"holder": h, "amount": a} for h, a in chunk]}))
            bar.advance(task, len(chunk))
    result = {"year": year, "holders": len(grants), "total": sum(a for _, a in grants), "transactions": transactions}
    if as_json:
        emit(result, True)
        return
    console.print(table(f"allocation of vintage {year}", ("holder", "amount"), grants))
    console.print(f"{result['holders']} holders, {result['total']} tCO2e")
    for tx in transactions:
        console.print(tx_line(tx))


@app.command()
def balance(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The holder.")],
    year: Annotated[list[int], typer.Option(min=1, max=65535, help="A vintage (repeatable).")],
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """A holder's allowances by vintage."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/allowances/balances/{address}", params=[("years", y) for y in year])
    if as_json:
        emit(answer, True)
    else:
        emit([{"vintage": y, "allowances": v} for y, v in answer["balances"].items()], False,
             f"allowances of {answer['address']}")


@app.command()
def transfer(
    ctx: typer.Context,
    to: Annotated[str, typer.Argument(help="The receiver's address.")],
    amount: Annotated[str, typer.Argument(help="Whole tCO2e.")],
    year: Year,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Transfer allowances of a vintage to another member."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/allowances/transfers", params={"wait": not no_wait},
                          json={"to": to, "year": year, "amount": whole_tonnes(amount)})
    show_tx(answer, as_json)


@app.command("transfer-batch")
def transfer_batch(
    ctx: typer.Context,
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                             help="A CSV file of to,amount rows (with --year) or to,year,amount.")],
    year: Annotated[int | None, typer.Option(min=1, max=65535, help="The vintage of every row.")] = None,
    chunk: Annotated[int, typer.Option(min=1, max=1000, help="Transfers per request.")] = 100,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Many transfers from the caller, sent in batches; exits non-zero if any transfer failed."""
    if year is not None:
        rows = [{"to": r["to"], "year": year, "amount": whole_tonnes(r["amount"])}
                for r in csv_rows(csv_file, ("to", "amount"))]
    else:
        rows = [{"to": r["to"], "year": int(whole_tonnes(r["year"], "year")), "amount": whole_tonnes(r["amount"])}
                for r in csv_rows(csv_file, ("to", "year", "amount"))]
    if not rows:
        fail(f"{csv_file} has no transfers")
    transactions: list[dict[str, Any]] = []
    counts = {"mined": 0, "failed": 0, "pending": 0}
    with service(ctx, url, api_key) as api, progress(as_json) as bar:
        task = bar.add_task("transferring", total=len(rows))
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            answer = api.post("/allowances/transfers/batch", params={"wait": not no_wait}, json={"transfers": part})
            transactions += answer["transactions"]
            for key in counts:
                counts[key] += answer[key]
            bar.advance(task, len(part))
    if as_json:
        emit({"transactions": transactions, **counts}, True)
    else:
        console.print(table("transfers", ("#", "to", "year", "amount", "outbox", "status", "error"), [
            (i, r["to"], r["year"], r["amount"], t["id"], t["status"], (t.get("error") or {}).get("name"))
            for i, (r, t) in enumerate(zip(rows, transactions, strict=True), start=1)]))
        console.print(f"{counts['mined']} mined, {counts['failed']} failed, {counts['pending']} pending")
    if counts["failed"]:
        raise typer.Exit(1)


@app.command()
def surrender(
    ctx: typer.Context,
    compliance_year: Annotated[int, typer.Option(min=1, max=65535, help="The year the surrender counts for.")],
    vintage: Annotated[list[str], typer.Option(help="VINTAGE=AMOUNT (repeatable); earlier vintages are banked.")],
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Surrender allowances towards the caller's organisation's obligation (enterprise)."""
    vintages = [{"year": int(whole_tonnes(y, "vintage")), "amount": a} for y, a in pairs(vintage, "VINTAGE")]
    with service(ctx, url, api_key) as api:
        answer = api.post("/allowances/surrenders", params={"wait": not no_wait},
                          json={"compliance_year": compliance_year, "vintages": vintages})
    show_tx(answer, as_json)


STATUS_KEYS = ("org_id", "year", "obligation", "allowances_surrendered", "credits_surrendered", "shortfall",
               "finalized")


@compliance_app.command()
def enterprise(ctx: typer.Context, org_id: Annotated[int, typer.Argument(help="The enterprise.")],
               year: Annotated[int, typer.Argument(help="The compliance year.")], url: UrlOption = DEFAULT,
               api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """An enterprise's obligation, surrenders and shortfall for a year."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/compliance/enterprises/{org_id}/{year}"), as_json, f"compliance {year}", STATUS_KEYS)


@compliance_app.command()
def park(ctx: typer.Context, park_id: Annotated[int, typer.Argument(help="The park.")],
         year: Annotated[int, typer.Argument(help="The compliance year.")], url: UrlOption = DEFAULT,
         api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Each enterprise of a park and the park's total for a year."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/compliance/parks/{park_id}/{year}")
    total = answer["park"]
    park_table(answer, as_json, f"park {park_id}: compliance {year}", STATUS_KEYS,
               ["park " + str(total["org_id"]), *[total[k] for k in STATUS_KEYS[1:]]])


def park_table(answer: dict[str, Any], as_json: bool, title: str, keys: tuple[str, ...],
               total: list[Any] | None = None) -> None:
    """A park's answer: as JSON, or a row per enterprise (and the park's total, if given)."""
    if as_json:
        emit(answer, True)
        return
    rows = [[e[k] for k in keys] for e in answer["enterprises"]]
    console.print(table(title, keys, rows + ([total] if total else [])))


FORECAST_KEYS = ("org_id", "method", "data_to", "anchored_t", "projected_t", "cover_t", "projected_shortfall_t")


@compliance_app.command()
def forecast(ctx: typer.Context, org_id: Annotated[int, typer.Argument(help="The enterprise.")],
             year: Annotated[int, typer.Argument(help="The compliance year.")], url: UrlOption = DEFAULT,
             api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The year's emissions projected from the anchored meter data so far (method stated) against the allowances
    and credits held and surrendered: the projected shortfall."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/compliance/enterprises/{org_id}/{year}/forecast")
    show(answer, as_json, f"forecast {year}: {answer['method']}", tuple(k for k in answer if k != "method_note"))


@compliance_app.command("park-forecast")
def park_forecast(ctx: typer.Context, park_id: Annotated[int, typer.Argument(help="The park.")],
                  year: Annotated[int, typer.Argument(help="The compliance year.")], url: UrlOption = DEFAULT,
                  api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Every enterprise of a park with its projection for the year, largest projected shortfall first."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/compliance/parks/{park_id}/{year}/forecast")
    park_table(answer, as_json, f"park {park_id}: forecast {year}", FORECAST_KEYS)

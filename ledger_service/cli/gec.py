"""`carbonledger gec`: green electricity certificates (1 = 1 MWh): issuance from production anchors, batches,
holdings, transfers, consumption claims, Scope 2 both ways and the regulator's rule, a batch's trace."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger_service.cli.output import console, emit
from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    LimitOption,
    NoWaitOption,
    OffsetOption,
    UrlOption,
    day,
    flat,
    seconds,
    service,
    show,
    show_action,
    show_page,
    show_tx,
    table,
    wait_param,
    whole_tonnes,
)

app = typer.Typer(help="Green electricity certificates: issue, batches, transfer, consume, Scope 2, trace.",
                  no_args_is_help=True)

BatchId = Annotated[int, typer.Argument(min=1, help="The GEC batch.")]
Amount = Annotated[str, typer.Argument(help="Whole MWh (certificates).")]
Time = Annotated[str, typer.Argument(help="Unix seconds or an ISO date/time (UTC).")]
BATCH_KEYS = ["batch_id", "generator", "generator_org_id", "period_start", "period_end", "amount", "serial_start",
              "serial_end", "anchored_wh", "anchor_ids", "supply", "next_serial"]
CLAIM_KEYS = ["batch_id", "beneficiary_org_id", "amount", "serial_start", "serial_end", "consumption_start",
              "consumption_end", "holder"]
SCOPE2_KEYS = ["org_id", "start", "end", "electricity_kwh", "reading_count", "certificates_mwh", "covered_kwh",
               "location_based_kg", "market_based_kg", "compliance_basis", "compliance_kg"]


@app.command()
def issue(
    ctx: typer.Context,
    generator: Annotated[str, typer.Argument(help="The renewable generator's account.")],
    period_start: Time,
    period_end: Time,
    anchors: Annotated[list[int], typer.Option("--anchor", min=1, help="A production anchor (repeat).")],
    amount: Annotated[str | None, typer.Option(help="Whole MWh (default: all the anchors hold).")] = None,
    serial_start: Annotated[int | None, typer.Option(min=1, help="First serial (default: the next free one).")]
    = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Issue certificates to a generator from its anchored production (regulator)."""
    body: dict[str, Any] = {"generator": generator, "period_start": seconds(period_start),
                            "period_end": seconds(period_end), "anchor_ids": anchors}
    if amount is not None:
        body["amount"] = whole_tonnes(amount)
    if serial_start is not None:
        body["serial_start"] = serial_start
    with service(ctx, url, api_key) as api:
        answer = api.post("/gec/batches", params=wait_param(no_wait), json=body)
    show_action(answer, "batch", as_json, "GEC batch issued", BATCH_KEYS)


@app.command()
def batches(
    ctx: typer.Context,
    generator_org: Annotated[int | None, typer.Option(min=1, help="Only this generator organisation's.")] = None,
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """The issued batches."""
    params: dict[str, Any] = {"offset": offset, "limit": limit}
    if generator_org is not None:
        params["generator_org_id"] = generator_org
    with service(ctx, url, api_key) as api:
        answer = api.get("/gec/batches", params=params)
    show_page(answer, as_json, "GEC batches", BATCH_KEYS[:9])


@app.command()
def batch(ctx: typer.Context, batch_id: BatchId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
          as_json: JsonOption = False) -> None:
    """A batch: generator, production period, serials, the anchors it cites, what is left."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/gec/batches/{batch_id}"), as_json, f"GEC batch {batch_id}", BATCH_KEYS)


@app.command()
def holdings(ctx: typer.Context, address: Annotated[str, typer.Argument(help="The holder's address.")],
             url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """A holder's certificates by batch."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/gec/holdings/{address}")
    show_page(answer, as_json, f"certificates held by {answer['address']}", items="holdings")


@app.command()
def transfer(
    ctx: typer.Context,
    to: Annotated[str, typer.Argument(help="The receiver's address.")],
    batch_id: BatchId,
    amount: Amount,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Transfer certificates of a batch to another member."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/gec/transfers", params=wait_param(no_wait),
                          json={"to": to, "batch_id": batch_id, "amount": whole_tonnes(amount)})
    show_tx(answer, as_json)


@app.command()
def consume(
    ctx: typer.Context,
    batch_id: BatchId,
    amount: Amount,
    consumption_start: Time,
    consumption_end: Time,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Consume certificates to claim renewable electricity for your organisation and a period (enterprise)."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/gec/consumptions", params=wait_param(no_wait), json={
            "batch_id": batch_id, "amount": whole_tonnes(amount), "consumption_start": seconds(consumption_start),
            "consumption_end": seconds(consumption_end)})
    show_action(answer, "consumption", as_json, "certificates consumed", CLAIM_KEYS)


@app.command()
def scope2(
    ctx: typer.Context,
    org_id: Annotated[int, typer.Argument(min=1, help="The enterprise organisation.")],
    start: Time,
    end: Time,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """An enterprise's Scope 2 for [start, end): location-based and market-based, and which one counts."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/gec/scope2/{org_id}", params={"start": seconds(start), "end": seconds(end)})
    if as_json:
        emit(answer, True)
        return
    show(answer, False, f"Scope 2 of organisation {org_id}", SCOPE2_KEYS)
    if answer["consumptions"]:
        emit([flat(c, CLAIM_KEYS) for c in answer["consumptions"]], False, "certificates consumed")


@app.command()
def rule(
    ctx: typer.Context,
    market_based: Annotated[bool | None, typer.Option(
        "--market-based/--location-based", help="Set which Scope 2 figure counts for compliance (regulator).",
        show_default=False)] = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Which Scope 2 figure counts for compliance; with an option, set it (regulator)."""
    with service(ctx, url, api_key) as api:
        if market_based is None:
            show(api.get("/gec/scope2-rule"), as_json, "Scope 2 rule")
            return
        answer = api.post("/gec/scope2-rule", params=wait_param(no_wait), json={"market_based_counts": market_based})
    show_action(answer, "rule", as_json, "Scope 2 rule set")


@app.command()
def trace(ctx: typer.Context, batch_id: BatchId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
          as_json: JsonOption = False) -> None:
    """A batch from the generator's production anchors through its movements to its consumption claims."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/gec/batches/{batch_id}/trace")
    if as_json:
        emit(answer, True)
        return
    b = answer["batch"]
    console.print(f"GEC batch {b['batch_id']}: {b['amount']} MWh, serials {b['serial_start']}-{b['serial_end']}, "
                  f"generator organisation {b['generator_org_id']}, production {day(b['period_start'])} to "
                  f"{day(b['period_end'])}; anchors hold {answer['origin_wh']:,} Wh")
    console.print(table("production anchors", ["anchor", "window", "Wh", "readings", "stored", "tx"], [
        (a["anchor_id"], f"{day(a['window_start'])} to {day(a['window_end'])}", a["wh"], a["reading_count"],
         a["stored_readings"], (a["at"] or {}).get("tx_hash")) for a in answer["origin"]]))
    console.print(table("movements", ["kind", "from", "to", "MWh", "serials", "block"], [
        (h["kind"], h["from_address"], h["to_address"], h["amount"],
         f"{h['serial_start']}-{h['serial_end']}" if h.get("serial_start") else "", h["at"]["block_number"])
        for h in answer["hops"]]))
    emit([flat(c, CLAIM_KEYS) for c in answer["consumptions"]], False, "consumption claims")
    console.print(f"issued {answer['issued']}, consumed {answer['consumed']}, outstanding {answer['outstanding']}")

"""`carbonledger credit`: offset-credit projects, verifications, issuance, transfers, retirements with their
certificates, compliance surrenders, holdings."""

from __future__ import annotations

from pathlib import Path
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
    seconds,
    service,
    show,
    show_action,
    show_page,
    show_tx,
    wait_param,
    whole_tonnes,
)

app = typer.Typer(help="Offset credits: projects, verification, issue, transfer, retire, certificates, holdings.",
                  no_args_is_help=True)
project_app = typer.Typer(help="Credit projects: register, list, show.", no_args_is_help=True)
app.add_typer(project_app, name="project")

ProjectId = Annotated[str, typer.Argument(help="The 32-byte project id, 0x-hex.")]
BatchId = Annotated[int, typer.Argument(min=1, help="The credit batch.")]
Amount = Annotated[str, typer.Argument(help="Whole tCO2e.")]
Time = Annotated[str, typer.Option(help="Unix seconds or an ISO date/time (UTC).")]
HtmlOption = Annotated[Path | None, typer.Option("--html", dir_okay=False,
                                                 help="Save the printable certificate (HTML) to this file.")]
PROJECT_KEYS = ["project_id", "owner", "status", "methodology", "location", "document_hash", "last_period_end"]
BATCH_KEYS = ["batch_id", "project_id", "vintage", "period_start", "period_end", "amount", "serial_start",
              "serial_end", "supply", "retired", "cancelled", "surrendered"]
CERTIFICATE_KEYS = ["retirement_id", "beneficiary", "purpose", "jurisdiction", "amount", "serial_start", "serial_end",
                    "batch_id", "project_id", "methodology", "location", "vintage", "holder", "tx_hash",
                    "block_number", "block_time", "pending", "registry", "chain_id"]


# ------------------------------------------------------------------ projects


@project_app.command("register")
def register_project(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The programme's project code (the id is its keccak256).")],
    owner: Annotated[str, typer.Option(help="The member that receives the project's credits.")],
    methodology: Annotated[str, typer.Option(help="The methodology, e.g. CCER-14-001-V01.")],
    location: Annotated[str, typer.Option(help="Where the project is, e.g. CN-GS.")],
    document: Annotated[str, typer.Option(help="The design document's hash (0x-hex) or a reference.")] = "",
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Register a credit project (regulator)."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/credits/projects", params=wait_param(no_wait), json={
            "code": code, "owner": owner, "methodology": methodology, "document": document, "location": location})
    show_action(answer, "project", as_json, "project registered", PROJECT_KEYS)


@project_app.command("list")
def list_projects(ctx: typer.Context, offset: OffsetOption = 0, limit: LimitOption = 100, url: UrlOption = DEFAULT,
                  api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The registered projects."""
    with service(ctx, url, api_key) as api:
        answer = api.get("/credits/projects", params={"offset": offset, "limit": limit})
    show_page(answer, as_json, "credit projects", PROJECT_KEYS[:5])


@project_app.command("show")
def show_project(ctx: typer.Context, project_id: ProjectId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
                 as_json: JsonOption = False) -> None:
    """A project as the registry holds it."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/credits/projects/{project_id}"), as_json, "credit project", PROJECT_KEYS)


# ------------------------------------------------------------------ verification and issuance


@app.command()
def verification(
    ctx: typer.Context,
    project_id: ProjectId,
    period_start: Time,
    period_end: Time,
    tonnes: Annotated[str, typer.Option(help="Verified reductions, whole tCO2e.")],
    statement: Annotated[str, typer.Option(help="The statement's hash (0x-hex) or a reference.")],
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Record a verification statement for a project's monitoring period (verifier)."""
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/credits/projects/{project_id}/verifications", params=wait_param(no_wait), json={
            "period_start": seconds(period_start), "period_end": seconds(period_end),
            "verified_tonnes": whole_tonnes(tonnes, "tonnes"), "statement": statement})
    show_tx(answer, as_json)


@app.command()
def issue(
    ctx: typer.Context,
    project_id: ProjectId,
    period_start: Time,
    period_end: Time,
    vintage: Annotated[int, typer.Option(min=1900, max=65535, help="The credits' vintage year.")],
    amount: Annotated[str, typer.Option(help="Whole tCO2e, at most the verified quantity.")],
    serial_start: Annotated[int | None, typer.Option(min=1, help="First serial (default: the next free one).")]
    = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Issue a batch of credits for a verified period to the project's owner (regulator)."""
    body: dict[str, Any] = {"project_id": project_id, "period_start": seconds(period_start),
                            "period_end": seconds(period_end), "vintage": vintage, "amount": whole_tonnes(amount)}
    if serial_start is not None:
        body["serial_start"] = serial_start
    with service(ctx, url, api_key) as api:
        answer = api.post("/credits/batches", params=wait_param(no_wait), json=body)
    show_action(answer, "batch", as_json, "credit batch issued", BATCH_KEYS)


@app.command()
def batches(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project's batches.")] = None,
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """The issued batches."""
    params: dict[str, Any] = {"offset": offset, "limit": limit}
    if project:
        params["project_id"] = project
    with service(ctx, url, api_key) as api:
        answer = api.get("/credits/batches", params=params)
    show_page(answer, as_json, "credit batches", BATCH_KEYS[:9])


@app.command()
def batch(ctx: typer.Context, batch_id: BatchId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
          as_json: JsonOption = False) -> None:
    """A batch: project, vintage, serial range; supply, retired, cancelled, surrendered."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/credits/batches/{batch_id}"), as_json, f"credit batch {batch_id}")


# ------------------------------------------------------------------ holders


@app.command()
def transfer(
    ctx: typer.Context,
    to: Annotated[str, typer.Argument(help="The receiver's address.")],
    batch_id: BatchId,
    amount: Amount,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Transfer credits of a batch to another member."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/credits/transfers", params=wait_param(no_wait),
                          json={"to": to, "batch_id": batch_id, "amount": whole_tonnes(amount)})
    show_tx(answer, as_json)


def _certificate(answer: dict[str, Any], as_json: bool, html: Path | None, page: str | None) -> None:
    if html is not None and page is not None:
        html.write_text(page, encoding="utf-8")
    if as_json:
        emit(answer, True)
        return
    cert = answer.get("certificate", answer)
    if cert:
        cert = {**cert, "consumption": f"{day(cert['consumption_start'])} to {day(cert['consumption_end'])}"
                if cert["consumption_start"] or cert["consumption_end"] else "not stated"}
        show(cert, False, f"retirement certificate #{cert['retirement_id']}", [*CERTIFICATE_KEYS[:4], "consumption",
                                                                              *CERTIFICATE_KEYS[4:]])
    if answer.get("transaction"):
        show_action({"transaction": answer["transaction"]}, None, False, "")
    if html is not None and page is not None:
        console.print(f"printable certificate saved to {html}")


@app.command()
def retire(
    ctx: typer.Context,
    batch_id: BatchId,
    amount: Amount,
    beneficiary: Annotated[str, typer.Option(help="On whose behalf the credits are retired.")],
    purpose: Annotated[str, typer.Option(help="Why, e.g. voluntary offsetting of 2024 emissions.")],
    jurisdiction: Annotated[str, typer.Option(help="Where the claim is made, e.g. CN.")],
    consumption_start: Annotated[str | None, typer.Option(help="Start of the consumption period offset.")] = None,
    consumption_end: Annotated[str | None, typer.Option(help="End of the consumption period offset.")] = None,
    html: HtmlOption = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Retire credits for a beneficiary; prints the retirement certificate (and saves the printable page)."""
    body = {"batch_id": batch_id, "amount": whole_tonnes(amount), "beneficiary": beneficiary, "purpose": purpose,
            "jurisdiction": jurisdiction, "consumption_start": seconds(consumption_start) if consumption_start else 0,
            "consumption_end": seconds(consumption_end) if consumption_end else 0}
    with service(ctx, url, api_key) as api:
        answer = api.post("/credits/retirements", params=wait_param(no_wait), json=body)
        cert = answer.get("certificate")
        page = api.text(f"/credits/retirements/{cert['retirement_id']}/certificate.html") if html and cert else None
    _certificate(answer, as_json, html, page)


@app.command()
def certificate(ctx: typer.Context, retirement_id: Annotated[int, typer.Argument(min=1, help="The retirement.")],
                html: HtmlOption = None, url: UrlOption = DEFAULT, api_key: KeyOption = None,
                as_json: JsonOption = False) -> None:
    """A retirement certificate (and its printable page with --html)."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/credits/retirements/{retirement_id}")
        page = api.text(f"/credits/retirements/{retirement_id}/certificate.html") if html else None
    _certificate(answer, as_json, html, page)


@app.command()
def surrender(
    ctx: typer.Context,
    batch_id: BatchId,
    amount: Amount,
    compliance_year: Annotated[int, typer.Option(min=1, max=65535, help="The year the surrender counts for.")],
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Surrender credits towards the caller's organisation's obligation, within the offset cap (enterprise)."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/credits/surrenders", params=wait_param(no_wait), json={
            "batch_id": batch_id, "amount": whole_tonnes(amount), "compliance_year": compliance_year})
    show_tx(answer, as_json)


@app.command()
def holdings(ctx: typer.Context, address: Annotated[str, typer.Argument(help="The holder.")],
             url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """A holder's credits by batch, with their projects, vintages and serial ranges."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/credits/holdings/{address}")
    if as_json:
        emit(answer, True)
    else:
        show(answer["holdings"], False, f"credits held by {answer['address']}")

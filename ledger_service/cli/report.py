"""`carbonledger report`: emission reports submitted with their document, verified or rejected, finalized."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger_service.cli.output import console, emit, fail
from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    LimitOption,
    OffsetOption,
    UrlOption,
    day,
    service,
    show,
    show_action,
    show_page,
    table,
)

app = typer.Typer(help="Emission reports: submit, verify, reject, finalize, show, history, list.",
                  no_args_is_help=True)

ReportId = Annotated[int, typer.Argument(min=1, help="The report's id.")]
Document = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The document file.")]
HASH_HELP = "its SHA-256 or other 32-byte hash, 0x-hex, instead of the document"
REPORT_KEYS = ["report_id", "org_id", "year", "version", "status", "reported_kg_co2e", "verified_kg_co2e",
               "obligation_tonnes", "document_hash", "anchors_root", "anchored_mg", "reading_count", "submitter",
               "verifier", "finalizer", "previous_report_id", "documents"]
LIST_KEYS = ["report_id", "version", "status", "reported_kg_co2e", "verified_kg_co2e", "obligation_tonnes",
             "document_hash"]


def _file(path: Path) -> tuple[str, bytes, str]:
    return path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _document_or_hash(field: str, path: Path | None, digest: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if (path is None) == (digest is None):
        fail(f"give either the {field} file or --{field}-hash")
    if path is not None:
        return {field: _file(path)}, {}
    return {}, {f"{field}_hash": digest}


def _action(answer: dict[str, Any], as_json: bool, title: str) -> None:
    show_action(answer, "report", as_json, title, REPORT_KEYS)


@app.command()
def submit(
    ctx: typer.Context,
    document: Document,
    year: Annotated[int, typer.Option(min=1, max=65535, help="The reporting year.")],
    reported_kg: Annotated[int, typer.Option(min=0, help="Reported emissions, whole kgCO2e.")],
    anchors_root: Annotated[str | None, typer.Option(help="The commitment's root (0x-hex); default: computed "
                                                     "from the year's anchored meter data.")] = None,
    anchored_mg: Annotated[int | None, typer.Option(min=0, help="The committed mgCO2e (with --anchors-root).")]
    = None,
    reading_count: Annotated[int | None, typer.Option(min=0, help="The committed readings (with --anchors-root).")]
    = None,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Submit the caller's organisation's report for a year with its document (kept sealed by the service)."""
    data: dict[str, Any] = {"year": year, "reported_kg_co2e": reported_kg}
    given = {"anchors_root": anchors_root, "anchored_mg": anchored_mg, "reading_count": reading_count}
    data |= {k: v for k, v in given.items() if v is not None}
    with service(ctx, url, api_key) as api:
        answer = api.post("/emissions/reports", data=data, files={"document": _file(document)})
    if "error" in answer:
        console.print(f"{answer['message']} (outbox {answer.get('args', {}).get('outbox_id')})")
        return
    _action(answer, as_json, "report submitted")
    if not as_json:
        c = answer["commitment"]
        console.print(f"commitment ({c['source']}): root {c['anchors_root']}, {c['anchored_mg']} mgCO2e, "
                      f"{c['reading_count']} readings, anchors {', '.join(map(str, c['anchor_ids'])) or '-'}")


@app.command()
def verify(
    ctx: typer.Context,
    report_id: ReportId,
    verified_kg: Annotated[int, typer.Option(min=0, help="Verified emissions, whole kgCO2e.")],
    statement: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                   help="The verification statement.")] = None,
    statement_hash: Annotated[str | None, typer.Option(help=f"The statement's hash: {HASH_HELP}.")] = None,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Verify a submitted report (verifier)."""
    files, data = _document_or_hash("statement", statement, statement_hash)
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/emissions/reports/{report_id}/verification",
                          data={"verified_kg_co2e": verified_kg, **data}, files=files or None)
    _action(answer, as_json, "report verified")


@app.command()
def reject(
    ctx: typer.Context,
    report_id: ReportId,
    reason: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="The reasons document.")] = None,
    reason_hash: Annotated[str | None, typer.Option(help=f"The reasons' hash: {HASH_HELP}.")] = None,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Reject a submitted report (verifier); the enterprise may submit a new version."""
    files, data = _document_or_hash("reason", reason, reason_hash)
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/emissions/reports/{report_id}/rejection", data=data, files=files or None)
    _action(answer, as_json, "report rejected")


@app.command()
def finalize(ctx: typer.Context, report_id: ReportId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
             as_json: JsonOption = False) -> None:
    """Finalize a verified report: its verified kgCO2e, rounded to tonnes, becomes the obligation (regulator)."""
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/emissions/reports/{report_id}/finalization")
    _action(answer, as_json, "report finalized")


@app.command("show")
def show_report(ctx: typer.Context, report_id: ReportId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
                as_json: JsonOption = False,
                save: Annotated[Path | None, typer.Option(help="Also save the report document to this file.")]
                = None) -> None:
    """A report: status, figures, commitment, who submitted, verified and finalized it."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/emissions/reports/{report_id}")
        content = api.content(f"/emissions/reports/{report_id}/documents/report")[0] if save else None
    show(answer, as_json, f"report {report_id}", REPORT_KEYS)
    if save is not None and content is not None:
        save.write_bytes(content)
        if not as_json:
            console.print(f"document saved to {save} ({len(content)} bytes)")


@app.command()
def history(ctx: typer.Context, report_id: ReportId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
            as_json: JsonOption = False) -> None:
    """Submission, review and finalization of every version of the report's enterprise and year."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/emissions/reports/{report_id}/history")
    if as_json:
        emit(answer, True)
        return
    console.print(table(f"enterprise {answer['org_id']}, {answer['year']}: latest report {answer['latest_report_id']}",
                        ("report", "version", "event", "time (UTC)", "by", "details"),
                        [(e["report_id"], e["version"], e["event"], day(e["at"]), e["by"], e["details"])
                         for e in answer["events"]]))


@app.command("list")
def list_reports(
    ctx: typer.Context,
    org_id: Annotated[int, typer.Argument(min=1, help="The enterprise.")],
    year: Annotated[int, typer.Option(min=1, max=65535, help="The reporting year.")],
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Every version of an enterprise's report for a year, oldest first."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/emissions/enterprises/{org_id}/reports",
                         params={"year": year, "offset": offset, "limit": limit})
    show_page(answer, as_json, f"reports of enterprise {org_id} for {year}", LIST_KEYS, items="reports")

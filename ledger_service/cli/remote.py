"""What the business commands share: connection options, error handling, quantities, times, rendering."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from ledger_service.cli.output import console, emit, fail
from ledger_service.cli.service_client import DEFAULT_URL, KEY_ENV, URL_ENV, ServiceClient, ServiceError

UrlOption = Annotated[str, typer.Option("--url", envvar=URL_ENV, help="The service's base URL.")]
KeyOption = Annotated[str | None, typer.Option("--api-key", envvar=KEY_ENV, show_default=False,
                                               help="The member's API key (sent as a Bearer token).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
OffsetOption = Annotated[int, typer.Option(min=0, help="Skip this many items.")]
LimitOption = Annotated[int, typer.Option(min=1, max=500, help="At most this many items.")]
NoWaitOption = Annotated[bool, typer.Option("--no-wait", help="Answer once sent, without waiting for the receipt.")]
DEFAULT = DEFAULT_URL


@contextmanager
def service(ctx: typer.Context, url: str, api_key: str | None) -> Iterator[ServiceClient]:
    """A client of the service; its refusals end the command with one line and a hint.

    An `httpx.Client` given as the root context's `obj` is used as the transport (an application in
    process, for instance)."""
    root = ctx.find_root().obj
    http = root if isinstance(root, httpx.Client) else None
    try:
        yield ServiceClient(url, api_key, http=http)
    except ServiceError as exc:
        fail(exc.message, exc.hint)


def wait_param(no_wait: bool) -> dict[str, bool]:
    """The `wait` query parameter of a sending command (`--no-wait`: answer once sent)."""
    return {"wait": not no_wait}


def whole_tonnes(text: str, what: str = "amount") -> int:
    """A positive whole number (\"1200\", \"1_200\" or \"1200.0\"); never a float."""
    try:
        value = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        raise typer.BadParameter(f"{what} {text!r} is not a number") from None
    if value != value.to_integral_value() or value <= 0:
        raise typer.BadParameter(f"{what} {text!r} is not a positive whole number")
    return int(value)


def seconds(text: str) -> int:
    """Unix seconds, or an ISO date or time (UTC unless it says otherwise)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither Unix seconds nor an ISO date (2025-01-31)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def day(value: int | None) -> str:
    if not value:
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def pairs(values: Sequence[str], what: str) -> list[tuple[str, int]]:
    """`KEY=AMOUNT` options as (key, amount) pairs."""
    out = []
    for value in values:
        key, sep, amount = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{value!r}: expected {what}=AMOUNT")
        out.append((key.strip(), whole_tonnes(amount)))
    return out


def csv_rows(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV file with the given columns, in that order; a header row naming them is skipped."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [[c.strip() for c in row] for row in csv.reader(handle) if row and any(c.strip() for c in row)]
    if rows and [c.lower() for c in rows[0]] == list(columns):
        rows = rows[1:]
    out = []
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise typer.BadParameter(f"{path}: row {number} has {len(row)} columns, expected {', '.join(columns)}")
        out.append(dict(zip(columns, row, strict=True)))
    return out


def text(value: Any) -> str:
    """A value for a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(text(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={text(v)}" for k, v in value.items()) or "-"
    return str(value)


def flat(record: Mapping[str, Any], keys: Sequence[str] | None = None) -> dict[str, str]:
    return {k: text(record.get(k)) for k in (keys or list(record))}


def tx_line(tx: Mapping[str, Any]) -> str:
    line = f"transaction {tx['id']} {tx['contract']}.{tx['function']}: {tx['status']}"
    if tx.get("tx_hash"):
        line += f" {tx['tx_hash']}"
    if tx.get("block_number") is not None:
        line += f" (block {tx['block_number']})"
    if tx.get("error"):
        line += f" - {tx['error']['name']}: {tx['error']['message']}"
    return line


def show_tx(tx: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        emit(tx, True)
    else:
        console.print(tx_line(tx))


def show(body: Any, as_json: bool, title: str | None = None, keys: Sequence[str] | None = None) -> None:
    """One record or a list of records; nested values are flattened for the table."""
    if as_json:
        emit(body, True)
    elif isinstance(body, Mapping):
        emit(flat(body, keys), False, title)
    else:
        emit([flat(item, keys) for item in body], False, title)


def show_action(body: Mapping[str, Any], key: str | None, as_json: bool, title: str,
                keys: Sequence[str] | None = None) -> None:
    """An answer made of a record (`key`, may be absent while pending) and its transaction(s)."""
    if as_json:
        emit(body, True)
        return
    record = body.get(key) if key else None
    if record:
        emit(flat(record, keys), False, title)
    txs = body.get("transactions") or ([body["transaction"]] if body.get("transaction") else [])
    for tx in txs:
        console.print(tx_line(tx))


def show_page(answer: Mapping[str, Any], as_json: bool, title: str, keys: Sequence[str] | None = None,
              items: str = "items") -> None:
    """A paginated answer: as JSON, or its `items` as a table with a line saying where the page is."""
    if as_json:
        emit(answer, True)
        return
    rows, page = answer[items], answer.get("page")
    emit([flat(item, keys) for item in rows], False, title)
    if page and page.get("total") is not None and page["total"] > len(rows):
        first = page["offset"] + 1 if rows else page["offset"]
        console.print(f"[dim]{first}-{page['offset'] + len(rows)} of {page['total']} "
                      f"(--offset/--limit for more)[/dim]")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    out = Table(title=title)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(text(v) for v in row))
    return out

"""How the command line speaks: readable tables, `--json` for scripts, one-line errors with a hint."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Column, Table

DIFFERENCES_EXIT = 3  # reconcile found differences; a trace failed a check

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}")
    if hint:
        errors.print(f"[dim]hint:[/dim] {hint}")
    raise typer.Exit(code)


def emit(data: Mapping[str, Any] | Sequence[Mapping[str, Any]], as_json: bool, title: str | None = None) -> None:
    """Print a record or a list of records: a table for people, JSON for scripts."""
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    rows = [data] if isinstance(data, Mapping) else list(data)
    if not rows:
        console.print("(nothing)")
        return
    if isinstance(data, Mapping):
        table = Table("field", Column("value", overflow="fold"), title=title)
        for key, value in data.items():
            table.add_row(str(key), str(value))
    else:
        table = Table(title=title)
        for key in rows[0]:
            table.add_column(str(key), overflow="fold")
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
    console.print(table)


@contextmanager
def explained(hints: Mapping[type[BaseException], str | Callable[[BaseException], str]]) -> Iterator[None]:
    """Turn the listed exceptions into a one-line error with a hint and a non-zero exit."""
    try:
        yield
    except tuple(hints) as exc:  # type: ignore[misc]
        hint = next(h for kind, h in hints.items() if isinstance(exc, kind))
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, hint(exc) if callable(hint) else hint)

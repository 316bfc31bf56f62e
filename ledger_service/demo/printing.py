"""How the demo talks: one console, a rule per chapter, tables, refusals and progress bars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ledger_core.chain.errors import ContractRevert
from ledger_service.api.reverts import describe

console = Console(width=120, soft_wrap=True, highlight=False)


def chapter(title: str) -> None:
    console.rule(f"[bold]{title}")


def say(text: str) -> None:
    console.print(text)


def table(*columns: str, title: str | None = None) -> Table:
    return Table(*columns, title=title, title_justify="left")


def show(t: Table) -> None:
    console.print(t)


def refused(what: str, revert: ContractRevert) -> None:
    """A transaction the chain refused, with its decoded custom error and the service's plain message."""
    console.print(f"{what}: refused with {revert} - {describe(revert.error, revert.args_by_name)}")


def tonnes(value: int) -> str:
    return f"{value:,}"


def kg_from_mg(mg: int) -> str:
    return f"{mg / 1_000_000:,.3f}"


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A progress display; on a terminal it redraws in place, otherwise it prints once at the end."""
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as progress:
        yield progress

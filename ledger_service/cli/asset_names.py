"""Asset names as the command line takes them: the registered asset kinds' names (`ledger_core.assets`), as
the choices of an argument."""

from __future__ import annotations

from enum import StrEnum
from typing import cast


def names_enum(name: str, names: tuple[str, ...]) -> type[StrEnum]:
    """A str enum whose members are `names` (typer shows and checks them as the argument's choices)."""
    # The functional API builds a class; mypy reads its result as a member.
    return cast(type[StrEnum], StrEnum(name, [(n, n) for n in names]))


def choices(names: tuple[str, ...]) -> str:
    """The names as help text: "allowance or credit"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"

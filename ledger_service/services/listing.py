"""A page of a longer list, as use cases answer it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Listed(Generic[T]):
    """`items` from `offset` (at most `limit`) of `total`."""

    items: Sequence[T]
    total: int
    offset: int
    limit: int

    @classmethod
    def slice(cls, every: Sequence[T], offset: int, limit: int) -> Listed[T]:
        return cls(every[offset:offset + limit], len(every), offset, limit)

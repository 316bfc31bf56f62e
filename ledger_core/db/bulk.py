"""Bulk inserts of plain tuples through the driver's executemany.

SQLAlchemy's per-row parameter processing costs several microseconds a row; for tables
filled by the million (readings) the rows are handed to the DBAPI cursor directly, in
the column order given. Values must already be of the driver's native types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert

_MARKERS = {"qmark": lambda i: "?", "format": lambda i: "%s", "pyformat": lambda i: "%s", "numeric": lambda i: f":{i}"}


def insert_sql(connection: Connection, table: Table, columns: Sequence[str]) -> str | None:
    """`INSERT INTO table (columns) VALUES (markers)` in the driver's parameter style; None if unsupported."""
    dialect = connection.dialect
    marker = _MARKERS.get(dialect.paramstyle)
    if marker is None:
        return None
    quote = dialect.identifier_preparer.quote
    cols = ", ".join(quote(c) for c in columns)
    values = ", ".join(marker(i + 1) for i in range(len(columns)))
    return f"INSERT INTO {quote(table.name)} ({cols}) VALUES ({values})"


def bulk_insert(connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert `rows` (tuples in `columns` order) with one executemany."""
    if not rows:
        return
    sql = insert_sql(connection, table, columns)
    if sql is None:
        connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    connection.exec_driver_sql(sql, list(rows))

"""`column IN (values)` whose statement text does not change with the number of values.

SQLAlchemy writes an `IN` list with one parameter per value, so on PostgreSQL a statement asked with 17 ids and
one asked with 18 are different texts: the server plans each anew (about a millisecond for a trace's larger
statements) and psycopg never prepares them (it prepares a text it has run five times). As one array parameter
(`column = ANY(:values)`) the text is the same for any number of values. SQLite plans in the client library, a
few microseconds, so it keeps the plain `IN`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session


def in_values(db: Session | Connection, column: InstrumentedAttribute[Any] | ColumnElement[Any],
              values: Collection[Any], name: str | None = None) -> ColumnElement[bool]:
    """`column IN values`, as `column = ANY(:name)` on PostgreSQL (an array of the column's type; an empty
    collection matches nothing either way). `name` tells the parameter apart when one statement has two such
    lists on the same column."""
    if dialect_of(db) != "postgresql":
        return column.in_(values)
    key = name or f"{column.key}_values"
    return column == any_(bindparam(key, sorted(values), type_=ARRAY(column.type)))


def in_param(dialect: str, column: InstrumentedAttribute[Any] | ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`in_values` for a statement built once for `dialect` and run many times: its values are given when it runs,
    as parameter `name` (a list)."""
    if dialect != "postgresql":
        return column.in_(bindparam(name, expanding=True))
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


def dialect_of(db: Session | Connection) -> str:
    """The name of the database's dialect ("postgresql", "sqlite")."""
    if isinstance(db, Connection):
        return db.dialect.name
    return db.get_bind().dialect.name

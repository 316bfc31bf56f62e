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

from sqlalchemy import BigInteger, ColumnElement, Connection, LargeBinary, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import TypeEngine

_ELEMENT_TYPES: dict[str, TypeEngine[Any]] = {"int": BigInteger(), "str": String(), "bytes": LargeBinary()}


def in_values(db: Session | Connection, column: InstrumentedAttribute[Any] | ColumnElement[Any],
              values: Collection[Any], name: str | None = None) -> ColumnElement[bool]:
    """`column IN values`, as `column = ANY(:name)` on PostgreSQL. The values are ints, strs or bytes (one kind;
    an empty collection matches nothing either way); `name` tells the parameter apart when one statement has
    two such lists on the same column."""
    if _dialect(db) != "postgresql":
        return column.in_(values)
    ordered = sorted(values)
    kind = type(ordered[0]).__name__ if ordered else "int"
    element = _ELEMENT_TYPES.get(kind)
    if element is None:
        raise TypeError(f"in_values: values of {kind} have no array type here")
    key = name or f"{column.key}_values"
    return column == any_(bindparam(key, ordered, type_=ARRAY(element)))


def _dialect(db: Session | Connection) -> str:
    if isinstance(db, Connection):
        return db.dialect.name
    return db.get_bind().dialect.name

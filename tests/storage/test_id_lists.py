"""`column IN (values)` as the trace statements write it (`ledger_core.db.lists.in_values`): the same rows on
SQLite and PostgreSQL for ints, strings and bytes, and on PostgreSQL one statement text whatever the number of
values, so that the server can reuse its plan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import BigInteger, Column, Engine, LargeBinary, MetaData, String, Table, event, insert, select

from ledger_core.db.lists import in_values
from ledger_core.db.session import make_engine, session_factory

ROWS = Table("id_list_rows", MetaData(), Column("id", BigInteger, primary_key=True), Column("name", String(16)),
             Column("digest", LargeBinary(32)))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    ROWS.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(ROWS), [{"id": i, "name": f"n{i}", "digest": bytes([i]) * 32} for i in range(1, 31)])
    yield engine
    engine.dispose()


def texts_of(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *_: seen.append(statement))
    return seen


@pytest.mark.parametrize("column, value", [("id", lambda i: i), ("name", lambda i: f"n{i}"),
                                           ("digest", lambda i: bytes([i]) * 32)])
def test_rows_whose_column_is_among_the_values(engine, column, value):
    with session_factory(engine)() as session:
        for wanted in ([], [7], [3, 30, 12], list(range(1, 40))):
            found = session.scalars(select(ROWS.c.id).where(
                in_values(session, ROWS.c[column], [value(i) for i in wanted]))).all()
            assert sorted(found) == [i for i in sorted(wanted) if i <= 30]


def test_on_postgresql_any_number_of_values_is_one_statement_text(engine):
    seen = texts_of(engine)
    with engine.connect() as conn:
        for wanted in ([5], [1, 2, 3], list(range(1, 18)), list(range(1, 19))):
            assert len(conn.execute(select(ROWS.c.name).where(in_values(conn, ROWS.c.id, wanted))).all()) == len(
                wanted)
    if engine.dialect.name == "postgresql":
        assert len(set(seen)) == 1 and "ANY" in seen[0]
    else:
        assert len(set(seen)) == 4  # SQLite plans in the client library: the plain IN list, a text per length


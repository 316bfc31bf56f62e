"""Small steps the API tests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from ledger_core.chain.outbox import Intent
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast

V1 = "/api/v1"


def allocate(client: TestClient, cast: Cast, grants: dict[str, int], year: int = YEAR) -> dict[str, Any]:
    reply = client.post(f"{V1}/allowances/allocations", headers=cast.auth("regulator"), json={
        "year": year, "allocations": [{"holder": cast.addresses[n], "amount": a} for n, a in grants.items()]})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def balance(client: TestClient, cast: Cast, name: str, year: int = YEAR) -> int:
    reply = client.get(f"{V1}/allowances/balances/{cast.addresses[name]}", params={"years": [year]},
                       headers=cast.auth("regulator"))
    assert reply.status_code == 200, reply.text
    return int(reply.json()["balances"][str(year)])


def sanction(client: TestClient, cast: Cast, name: str, action: str) -> None:
    body = {"reason": f"{action} {name}"} if action in ("suspend", "revoke", "freeze") else None
    reply = client.post(f"{V1}/members/{cast.addresses[name]}/{action}", headers=cast.auth("regulator"), json=body)
    assert reply.status_code == 200, reply.text


def transfer(client: TestClient, cast: Cast, sender: str, receiver: str, amount: int, year: int = YEAR) -> Any:
    return client.post(f"{V1}/allowances/transfers", headers=cast.auth(sender),
                       json={"to": cast.addresses[receiver], "year": year, "amount": amount})


def submit(runtime: Runtime, *intents: Intent) -> list[str]:
    """Straight through the outbox (setting up what a test is not about); every transaction must be mined.
    Their hashes."""
    records = runtime.outbox.submit(list(intents))
    assert all(r.status == "mined" for r in records), [(r.function, r.error_name) for r in records]
    return [str(r.tx_hash) for r in records]


def view(runtime: Runtime, contract: str, function: str, *args: Any) -> Any:
    return runtime.chain.request(lambda: runtime.suite.function(contract, function, *args).call())


@contextmanager
def counted_commits(runtime: Runtime) -> Iterator[list[int]]:
    """The database commits made in the block, counted (one entry each) in the list yielded."""
    commits: list[int] = []

    def listener(_connection: object) -> None:
        commits.append(1)

    event.listen(runtime.engine, "commit", listener)
    try:
        yield commits
    finally:
        event.remove(runtime.engine, "commit", listener)


@contextmanager
def counted_statements(runtime: Runtime, verb: str) -> Iterator[list[str]]:
    """The SQL statements beginning with `verb` (SELECT, UPDATE, ...) run in the block, in the list yielded."""
    statements: list[str] = []

    def listener(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith(verb):
            statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)

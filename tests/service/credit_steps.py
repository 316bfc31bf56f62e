"""Steps the credit and market API tests share: projects, verified batches, a settlement bank, clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from ledger_core.chain.outbox import Intent
from ledger_service.membership import ROLE_IDS, OrgKind
from ledger_service.runtime import Runtime
from tests.service.cast import Cast, account_of
from tests.service.helpers import V1

PERIOD_2024 = (1_704_067_200, 1_735_689_599)
H1_2025 = (1_735_689_600, 1_751_327_999)
BANK_ORG = 45  # beside the cast's organisations (the oracle operator is 40)


def register_project(client: TestClient, cast: Cast, code: str = "CCER-1234-WIND-GANSU",
                     owner: str = "enterprise_a") -> str:
    reply = client.post(f"{V1}/credits/projects", headers=cast.auth("regulator"), json={
        "code": code, "owner": cast.addresses[owner], "methodology": "CCER-14-001-V01",
        "document": "project design document v3", "location": "CN-GS"})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["project"]["project_id"])


def verify(client: TestClient, cast: Cast, project_id: str, tonnes: int = 1_000,
           period: tuple[int, int] = PERIOD_2024) -> Any:
    return client.post(f"{V1}/credits/projects/{project_id}/verifications", headers=cast.auth("verifier"), json={
        "period_start": period[0], "period_end": period[1], "verified_tonnes": tonnes,
        "statement": "verification statement 2024"})


def issue(client: TestClient, cast: Cast, project_id: str, amount: int = 1_000,
          period: tuple[int, int] = PERIOD_2024, vintage: int = 2024) -> Any:
    return client.post(f"{V1}/credits/batches", headers=cast.auth("regulator"), json={
        "project_id": project_id, "period_start": period[0], "period_end": period[1], "vintage": vintage,
        "amount": amount})


def verified_batch(client: TestClient, cast: Cast, amount: int = 1_000, owner: str = "enterprise_a",
                   code: str = "CCER-1234-WIND-GANSU") -> dict[str, Any]:
    """A registered project, a verified 2024 period and its issued batch; the batch as the API shows it."""
    project_id = register_project(client, cast, code, owner)
    assert verify(client, cast, project_id, amount).status_code == 200
    reply = issue(client, cast, project_id, amount)
    assert reply.status_code == 201, reply.text
    return reply.json()["batch"]  # type: ignore[no-any-return]


def admit_bank(runtime: Runtime, cast: Cast) -> None:
    """A custodial settlement bank ("bank") with an API key; the chain part is undone with the test."""
    bank = account_of("bank")
    regulator = cast.addresses["regulator"]
    if not runtime.keystore.has(bank.address):
        runtime.keystore.store(bank, label="bank")
    assert runtime.chain.embedded is not None
    with runtime.chain.exclusive():
        runtime.chain.embedded.fund([bank.address])
    records = runtime.outbox.submit([
        Intent("Membership", "registerOrganisation", (BANK_ORG, 0, int(OrgKind.BANK), "Settlement Bank"), regulator),
        Intent("Membership", "admit", (bank.address, BANK_ORG, [ROLE_IDS["SETTLEMENT_BANK"]]), regulator)])
    assert all(r.status == "mined" for r in records), records
    cast.addresses["bank"] = bank.address
    cast.tokens["bank"] = runtime.api_keys.issue(bank.address, timedelta(days=1), label="bank").token
    runtime.directory.forget(bank.address)


def mint(client: TestClient, cast: Cast, name: str, cny: str) -> None:
    reply = client.post(f"{V1}/settlement/mint", headers=cast.auth("bank"), json={"to": cast.addresses[name],
                                                                                 "amount": cny})
    assert reply.status_code == 200, reply.text


def credit_balance(runtime: Runtime, cast: Cast, name: str, batch_id: int) -> int:
    fn = runtime.suite.contract("CreditRegistry").functions.balanceOf
    return int(runtime.chain.request(lambda: fn(cast.addresses[name], batch_id).call()))


def chain_now(runtime: Runtime) -> int:
    return int(runtime.chain.request(lambda: runtime.chain.w3.eth.get_block("latest"))["timestamp"])


def travel(runtime: Runtime, seconds: int) -> None:
    """Move the embedded chain's clock forward and mine a block at the new time."""
    assert runtime.chain.embedded is not None
    tester = runtime.chain.embedded.tester
    with runtime.chain.exclusive():
        tester.time_travel(chain_now(runtime) + seconds)
        tester.mine_blocks(1)

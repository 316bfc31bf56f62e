"""Offset credit use cases called directly: the issuance the API and the demo share, retirement with its
certificate and printable page, and what is refused before anything is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger_core.chain.errors import ContractRevert
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.runtime import Runtime
from ledger_service.services.credits import Retirement, project_key
from tests.service.acting import acting, refused, services
from tests.service.cast import Cast

PERIOD_2024 = (1_704_067_200, 1_735_689_599)


def issued_batch(runtime: Runtime, cast: Cast, amount: int = 1_000) -> int:
    """A project owned by enterprise_a, its 2024 period verified, and one batch issued; the batch id."""
    use = services(runtime).credits
    regulator = acting(runtime, cast, "regulator")
    project = use.register_project(regulator, "CCER-USE-CASE-1", cast.addresses["enterprise_a"], "CCER-14-001-V01",
                                   "design document", "CN-GS").value
    assert project is not None and project.status == "active"
    use.submit_verification(acting(runtime, cast, "verifier"), project_key(project.project_id), *PERIOD_2024, amount,
                            "statement")
    batch = use.issue_batch(regulator, project_key(project.project_id), *PERIOD_2024, 2024, amount).value
    assert batch is not None
    return batch.batch_id


def outbox_rows(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxTransaction)) or 0)


def test_an_issued_batch_is_read_back_from_the_chain_with_serials_after_the_last(runtime: Runtime, cast: Cast):
    use = services(runtime).credits
    first = use.batch(issued_batch(runtime, cast))
    assert (first.amount, first.vintage, first.supply, first.serial_end - first.serial_start + 1) == (
        1_000, 2024, 1_000, 1_000)
    items, total = use.batches(0, 10)
    assert total >= 1 and items[-1].batch_id == first.batch_id and items[-1].supply is None  # the index: issuance only


def test_a_retirement_answers_its_certificate_and_a_page_that_matches_the_chain(runtime: Runtime, cast: Cast):
    use = services(runtime).credits
    batch_id = issued_batch(runtime, cast)
    holder = acting(runtime, cast, "enterprise_a")
    cert = use.retire(holder, Retirement(batch_id, 25, "Harbour Logistics", "travel 2024", "CN")).value
    assert cert is not None and (cert.amount, cert.holder, cert.beneficiary) == (25, holder.address,
                                                                                 "Harbour Logistics")
    assert cert.html == f"/api/v1/credits/retirements/{cert.retirement_id}/certificate.html"
    page = use.certificate_page(acting(runtime, cast, "enterprise_a2"), cert.retirement_id)  # same organisation
    assert page.matches_chain and "Harbour Logistics" in page.html and "record matches this certificate" in page.html


def test_a_holder_s_certificate_and_holdings_are_not_shown_to_another_organisation(runtime: Runtime, cast: Cast):
    use = services(runtime).credits
    batch_id = issued_batch(runtime, cast)
    cert = use.retire(acting(runtime, cast, "enterprise_a"), Retirement(batch_id, 5, "B", "P", "CN")).value
    assert cert is not None
    stranger = acting(runtime, cast, "enterprise_b")
    refused(403, "NotYourData", use.certificate, stranger, cert.retirement_id)
    refused(403, "NotYourData", use.holdings, stranger, cast.addresses["enterprise_a"])
    refused(404, "UnknownRetirement", use.certificate, stranger, 10_000)


def test_a_transfer_beyond_the_balance_is_refused_before_anything_is_sent(runtime: Runtime, cast: Cast):
    use = services(runtime).credits
    batch_id = issued_batch(runtime, cast, amount=10)
    before = outbox_rows(runtime)
    with pytest.raises(ContractRevert) as caught:
        use.transfer(acting(runtime, cast, "enterprise_a"), cast.addresses["trader"], batch_id, 11)
    assert (caught.value.error, caught.value.args_by_name["balance"]) == ("ERC1155InsufficientBalance", 10)
    assert outbox_rows(runtime) == before

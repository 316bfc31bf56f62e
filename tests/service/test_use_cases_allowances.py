"""Allowance and compliance use cases called directly."""

from __future__ import annotations

from ledger_service.allowances import Transfer
from ledger_service.runtime import Runtime
from tests.service.acting import acting, refused, services
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_C, PARK, YEAR, Cast
from tests.service.helpers import counted_commits


def test_allocated_allowances_are_transferred_in_a_batch_and_counted(runtime: Runtime, cast: Cast):
    use = services(runtime).allowances
    a, b = cast.addresses["enterprise_a"], cast.addresses["enterprise_b"]
    assert use.allocate(acting(runtime, cast, "regulator"), YEAR, [(a, 100)]).record.status == "mined"
    sent = use.transfer_batch(acting(runtime, cast, "enterprise_a"), [Transfer(b, YEAR, 30), Transfer(b, YEAR, 20)])
    assert (sent.mined, sent.failed, sent.pending) == (2, 0, 0)
    assert use.balances(acting(runtime, cast, "regulator"), a, [YEAR]) == (a, {YEAR: 50})


def test_a_batch_is_written_signed_and_recorded_mined_in_three_commits(runtime: Runtime, cast: Cast):
    """Written, signed (durable before anything is sent), then recorded sent and mined with the receipts."""
    use = services(runtime).allowances
    a, b = cast.addresses["enterprise_a"], cast.addresses["enterprise_b"]
    use.allocate(acting(runtime, cast, "regulator"), YEAR, [(a, 100)])
    caller = acting(runtime, cast, "enterprise_a")
    with counted_commits(runtime) as commits:
        sent = use.transfer_batch(caller, [Transfer(b, YEAR, 1)] * 5)
    assert (sent.mined, len(commits)) == (5, 3)


def test_balances_and_compliance_are_refused_to_other_organisations(runtime: Runtime, cast: Cast):
    use = services(runtime).allowances
    other = acting(runtime, cast, "enterprise_c")
    refused(403, "NotYourData", use.balances, other, cast.addresses["enterprise_a"], [YEAR])
    refused(403, "NotYourData", use.enterprise_status, other, ENTERPRISE_A, YEAR)
    refused(403, "NotYourData", use.park_status, other, PARK, YEAR)
    refused(404, "UnknownOrganisation", use.park_status, other, ENTERPRISE_C, YEAR)
    assert use.enterprise_status(other, ENTERPRISE_C, YEAR).obligation == 0


def test_a_batch_larger_than_the_setting_is_refused(runtime: Runtime, cast: Cast):
    use = services(runtime).allowances
    transfers = [Transfer(cast.addresses["enterprise_b"], YEAR, 1)] * (runtime.settings.batch_max + 1)
    refused(422, "BatchTooLarge", use.transfer_batch, acting(runtime, cast, "enterprise_a"), transfers)


def test_a_regulator_opens_a_compliance_window(runtime: Runtime, cast: Cast):
    use = services(runtime).allowances
    assert use.set_window(acting(runtime, cast, "regulator"), YEAR + 1, True).value is True
    assert use.window_open(YEAR + 1) is True

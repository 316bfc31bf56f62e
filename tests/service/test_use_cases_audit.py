"""Audit use cases called directly: the reconciliation a regulator runs, and what a trace or drill-down refuses."""

from __future__ import annotations

from ledger_service.runtime import Runtime
from tests.service.acting import acting, refused, services
from tests.service.cast import ENTERPRISE_A, PARK, Cast


def test_the_index_and_the_outbox_of_a_fresh_ledger_agree_with_the_chain(runtime: Runtime, cast: Cast):
    found = services(runtime).audit.reconcile()
    assert found.report.ok, found.report.differences
    assert found.report.outbox is not None and found.report.outbox.ok


def test_a_drill_down_asks_for_a_year_or_a_window_of_a_park_its_caller_may_see(runtime: Runtime, cast: Cast):
    audit = services(runtime).audit
    enterprise = acting(runtime, cast, "enterprise_a")
    refused(422, "ValidationError", audit.park_drilldown, enterprise, PARK, 2025, 0, 10)
    refused(422, "ValidationError", audit.park_drilldown, enterprise, PARK, None, 10, 10)
    refused(404, "UnknownOrganisation", audit.park_drilldown, enterprise, ENTERPRISE_A, 2025)
    refused(403, "NotYourData", audit.park_drilldown, acting(runtime, cast, "enterprise_c"), PARK, 2025)
    tree = audit.park_drilldown(enterprise, PARK, 2025).tree
    assert (tree.level, tree.sum_mg) == ("park", 0)


def test_an_unknown_report_has_no_trace(runtime: Runtime, cast: Cast):
    refused(404, "UnknownReport", services(runtime).audit.report_trace, acting(runtime, cast, "regulator"), 9_999)

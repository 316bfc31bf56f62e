"""The gas snapshot: no operation costs more than its budget, or more than 2% above `.gas-snapshot`
unless the same change updates the snapshot (`bench/gas.py --snapshot`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.budgets import (
    BUDGETS,
    OVER_BUDGET,
    SNAPSHOT,
    above_snapshot,
    format_snapshot,
    over_budget,
    read_snapshot,
)
from bench.service_processes import BENCH_OPERATIONS, GAS


def test_the_snapshot_is_in_the_repository_with_one_line_per_measured_operation(
    gas_figures: dict[str, int],
) -> None:
    snapshot = read_snapshot()
    assert set(snapshot) == set(gas_figures), "run `bench/gas.py --snapshot` after adding or removing an operation"
    assert SNAPSHOT.read_text() == format_snapshot(snapshot)


def test_no_operation_costs_more_than_two_percent_above_its_snapshot(gas_figures: dict[str, int]) -> None:
    assert above_snapshot(gas_figures, read_snapshot()) == {}


def test_every_operation_within_its_budget_stays_within_it(gas_figures: dict[str, int]) -> None:
    offenders = over_budget(gas_figures)
    assert set(BUDGETS) <= set(gas_figures)
    assert {k: v for k, v in offenders.items() if k not in OVER_BUDGET} == {}


def test_the_list_of_operations_still_over_budget_is_exact(gas_figures: dict[str, int]) -> None:
    # An operation that fits its budget leaves OVER_BUDGET, so the budget guards it from then on.
    assert set(over_budget(gas_figures)) == OVER_BUDGET


def test_a_dearer_operation_fails_the_snapshot_check_until_the_snapshot_is_updated() -> None:
    snapshot = {"anchor": 50_000, "notarize": 40_000}
    assert above_snapshot({"anchor": 51_000, "notarize": 40_000}, snapshot) == {}
    assert above_snapshot({"anchor": 51_001, "notarize": 40_000}, snapshot) == {"anchor": (51_001, 50_000)}
    assert above_snapshot({"anchor": 51_001}, {"anchor": 51_001}) == {}


def test_an_operation_over_its_budget_is_reported() -> None:
    assert over_budget({"anchor": 60_000, "notarize": 50_001}) == {"notarize": (50_001, 50_000)}


def test_a_malformed_snapshot_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".gas-snapshot"
    path.write_text("anchor (gas: 50000)\nnotarize 40000\n")
    with pytest.raises(ValueError, match="2: expected"):
        read_snapshot(path)


def test_the_throughput_benchmarks_fixed_gas_limit_covers_what_they_send() -> None:
    """A fixed limit below a transaction's cost reverts it: the benchmarks' admissions failed once the suite gained
    permission mirrors (admit_member 361,271 -> 416,927 gas against a limit of 400,000)."""
    snapshot = read_snapshot()
    assert all(snapshot[op] * 5 // 4 <= GAS for op in BENCH_OPERATIONS), {op: snapshot[op] for op in BENCH_OPERATIONS}
